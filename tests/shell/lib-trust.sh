# tests/shell/lib-trust.sh — helpers for the trust-policy tests (t12*). Source after lib.sh.

TAB=$'\t'
# the publisher's trusted comment: timestamp, file, job, uuid, sha256
TC_FORMAT='timestamp:%s\tfile:%s\tjob:%s\tuuid:%s\tsha256:%s'

# tc_for JOB UUID [FIELD=VALUE]… — the publisher's trusted comment for a build of the
# server $BW_DATA, with fields replaced (timestamp file job uuid sha256).
tc_for() {
	local job=$1 u=$2 kv fin name sha; shift 2
	kv=$(build_field "$job" "$u" finish_epoch filename sha256) || return 1
	{ read -r fin; read -r name; read -r sha; } <<<"$kv"
	local -A f=([timestamp]=$fin [file]=$name [job]=$job [uuid]=$u [sha256]=$sha)
	for kv in "$@"; do f[${kv%%=*}]=${kv#*=}; done
	printf "$TC_FORMAT" "${f[timestamp]}" "${f[file]}" "${f[job]}" "${f[uuid]}" "${f[sha256]}"
}

# sign_as KEY SIGNER JOB UUID [TC] — Debian's minisign signs the build's bytes into
# $BW_DATA/sigs/SIGNER/JOB/UUID/FILENAME.minisig (served under $BW_URL/sigs/SIGNER/…).
sign_as() {
	local key=$1 signer=$2 job=$3 u=$4 name path fin sha tc dir
	tc=$(build_field "$job" "$u" filename path finish_epoch sha256) || return 1
	{ read -r name; read -r path; read -r fin; read -r sha; } <<<"$tc"
	if [ -n "${5:-}" ]; then tc=$5; else printf -v tc "$TC_FORMAT" "$fin" "$name" "$job" "$u" "$sha"; fi
	dir="$BW_DATA/sigs/$signer/$job/$u"
	mkdir -p "$dir"
	"$MINISIGN" -S -s "$T/$key.sec" -m "$path" \
		-x "$dir/$name.minisig" -t "$tc" </dev/null >/dev/null
}

# sig_templates SIGNER… — a "signatures = …" line, one template a signer, each on an
# indented continuation line (inih reads at most 200 bytes a line). Pass it to
# write_config after "-signatures".
sig_templates() {
	local s out="signatures ="
	for s in "$@"; do out="$out${out:+$'\n'  }$BW_URL/sigs/$s/{job}/{uuid}/{filename}.minisig,"; done
	printf '%s\n' "${out%,}"
}

pyj() { "${PY[@]}" -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# refused_upgrade NAME ERE — upgrade hello must exit 3 with a message matching ERE,
# download nothing and leave store, database and deployed file as they were.
refused_upgrade() {
	snapshot_state
	clear_requests
	run petrel upgrade hello
	note "$1: $err"
	is "$rc" 3 "$1: exit 3"
	like "$err" "$2" "$1: the message names the cause"
	state_unchanged "$1: nothing stored or deployed"
	is "$(request_count '/f/')" 0 "$1: refused before downloading"
}
