#!/bin/sh
# upload-hook-sign.sh — builder-web upload hook: signs each uploaded main binary with
# minisign so that petrel (trust = signed) can verify it.
#
# Install it with mode 0755 as <configdir>/upload-hooks/upload-hook-sign.sh (configdir is
# /etc/builder-web on Debian, /usr/local/etc/builder-web on FreeBSD). builder-web runs
# only regular files there whose name ends in .sh and that have all three execute bits:
# 0700 or 0744 is skipped without a word. After every upload with a main binary, a
# manual POST /job/J/platform/P/upload included (so the publisher key signs whatever any
# authorised uploader posts), it runs
#   upload-hook-sign.sh --build-time=YYYYMMDDhhmmss --sha256=HEX --job=J --uuid=U
#       --platform=P [--cache-dir=D] [--data-dir=D] --main-binary-filepath=F ARTIFACT
# as `/bin/sh -c '... &'`: in the background, exit status ignored, output to builder-web's
# own stdout and stderr, in builder-web's own environment, working directory /. ARTIFACT
# is the content-addressed DATADIR/_artifacts/XX/HEX.
# It checks that the binary hashes to --sha256, signs it with the trusted comment
#   timestamp:EPOCH<TAB>file:NAME<TAB>job:J<TAB>uuid:U<TAB>sha256:HEX
# (EPOCH is --build-time, the build's START time, in seconds since 1970 UTC) and writes
# the .minisig atomically to $PETREL_SIGN_OUTDIR/LAYOUT, ready for any static web server.
#
# Portable to every builder-web host, Debian and FreeBSD: POSIX sh (dash is /bin/sh on
# Debian), EPOCH computed in shell arithmetic (no date(1): GNU's parses with -d,
# FreeBSD's with -j -f), sha256sum where present, else FreeBSD's sha256 -q, and only
# POSIX options of grep, tr, cut, head, dirname, mkdir, mv, rm.
#
# Environment (it must reach builder-web's own environment: a systemd drop-in, or, on
# any system, a wrapper upload-hooks/sign.sh with mode 0755 that exports the variables
# and runs `exec /usr/local/libexec/petrel/upload-hook-sign.sh "$@"`, this script being
# kept outside upload-hooks/, where a second copy would run twice):
#   PETREL_SIGN_KEY            minisign secret key file (required; readable by the user
#                              builder-web runs as)
#   PETREL_SIGN_OUTDIR         directory the signatures go to (required, must exist;
#                              give it absolute: the hook runs in /)
#   PETREL_SIGN_LAYOUT         path below it, default {job}/{uuid}/{filename}.minisig;
#                              placeholders {job} {uuid} {filename} {sha256} {platform}.
#                              petrel's signatures template is then
#                              https://sigs.example.org/{job}/{uuid}/{filename}.minisig
#   PETREL_SIGN_PASSWORD_FILE  file holding the key's password (first line); without
#                              it the key must have none (minisign -G -W)
#   MINISIGN                   the minisign binary (default: minisign)
# Exit 0 when the signature is written; 1 with one line on stderr otherwise (builder-web
# ignores the status: that line in its log is all the operator sees).
set -eu

prog=upload-hook-sign.sh
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

build_time='' sha256='' job='' uuid='' platform='' data_dir='' filepath='' artifact=''
for arg in "$@"; do
	case $arg in
	--build-time=*) build_time=${arg#*=} ;;
	--sha256=*) sha256=${arg#*=} ;;
	--job=*) job=${arg#*=} ;;
	--uuid=*) uuid=${arg#*=} ;;
	--platform=*) platform=${arg#*=} ;;
	--data-dir=*) data_dir=${arg#*=} ;;
	--cache-dir=*) ;;
	--main-binary-filepath=*) filepath=${arg#*=} ;;
	--*) ;;		# options a newer builder-web may add
	*) artifact=$arg ;;
	esac
done

[ -n "${PETREL_SIGN_KEY:-}" ] || die "set PETREL_SIGN_KEY to the minisign secret key file"
[ -n "${PETREL_SIGN_OUTDIR:-}" ] || die "set PETREL_SIGN_OUTDIR to the directory for signatures"
layout=${PETREL_SIGN_LAYOUT:-'{job}/{uuid}/{filename}.minisig'}
minisign=${MINISIGN:-minisign}

# sha256_file FILE — its SHA-256 in hex: sha256sum (Debian, FreeBSD 14), else FreeBSD's
# sha256 -q. Looked for first, so that a host with neither fails before anything else.
if command -v sha256sum >/dev/null 2>&1; then
	hash_tool=sha256sum
	sha256_file() { sha256sum <"$1" | cut -d' ' -f1; }
elif command -v sha256 >/dev/null 2>&1; then
	hash_tool='sha256 -q'
	sha256_file() { sha256 -q "$1"; }
else
	die "neither sha256sum nor sha256 (FreeBSD) is in PATH ($PATH): cannot check the binary, not signing"
fi

# Names end up in paths and in the trusted comment: same rules as petrel's.
safe_name() {
	case $2 in
	'' | . | .. | *[!A-Za-z0-9._+-]*) die "--$1='$2' is not a safe name" ;;
	esac
}
safe_name job "$job"
[ -z "$platform" ] || safe_name platform "$platform"
printf '%s\n' "$uuid" | grep -Eqx '[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}' ||
	die "--uuid='$uuid' is not a uuid"
printf '%s\n' "$sha256" | grep -Eqx '[0-9a-fA-F]{64}' || die "--sha256='$sha256' is not 64 hex digits"
sha256=$(printf '%s' "$sha256" | tr 'A-F' 'a-f')
[ -n "$filepath" ] || die "no --main-binary-filepath: nothing to sign"
filename=${filepath##*/}
safe_name main-binary-filepath "$filename"

# epoch_of YYYYMMDDhhmmss — that UTC time in seconds since 1970, from the days since
# 0000-03-01 of the proleptic Gregorian calendar (H. Hinnant's days_from_civil) in shell
# arithmetic: date(1) cannot parse portably. Fails for a time before 1970 or that does
# not exist (20270229, 24:00:00; no leap seconds, builder-web's clock has none).
epoch_of() {
	s=$1
	y=${s%??????????}; s=${s#????}
	mo=${s%????????}; s=${s#??}
	d=${s%??????}; s=${s#??}
	h=${s%????}; s=${s#??}
	mi=${s%??}; s=${s#??}
	# a leading 1 keeps "08" from being read as octal
	y=$((1$y - 10000)) mo=$((1$mo - 100)) d=$((1$d - 100))
	h=$((1$h - 100)) mi=$((1$mi - 100)) s=$((1$s - 100))
	case $mo in
	1 | 3 | 5 | 7 | 8 | 10 | 12) mdays=31 ;;
	4 | 6 | 9 | 11) mdays=30 ;;
	2) mdays=$((28 + ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))) ;;
	*) return 1 ;;
	esac
	[ "$y" -ge 1970 ] && [ "$d" -ge 1 ] && [ "$d" -le "$mdays" ] &&
		[ "$h" -le 23 ] && [ "$mi" -le 59 ] && [ "$s" -le 59 ] || return 1
	y=$((y - (mo <= 2)))		# years start on 1 March: the leap day ends them
	days=$((y * 365 + y / 4 - y / 100 + y / 400 + (153 * ((mo + 9) % 12) + 2) / 5 + d - 1 - 719468))
	echo $((days * 86400 + h * 3600 + mi * 60 + s))
}

# The build time: builder-web's YYYYMMDDhhmmss (UTC), or already seconds since 1970.
case $build_time in
[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
	timestamp=$(epoch_of "$build_time") || die "--build-time='$build_time' is not a time" ;;
'' | *[!0-9]*) die "--build-time='$build_time' is neither YYYYMMDDhhmmss nor seconds" ;;
*) timestamp=$build_time ;;
esac

# The main binary: an absolute path, else below --data-dir, else beside the artifact.
binary=
for cand in "$filepath" "${data_dir:+$data_dir/$filepath}" \
	"${artifact:+$(dirname -- "$artifact")/$filepath}" "$artifact"; do
	case $cand in /*) [ -f "$cand" ] && { binary=$cand; break; } ;; esac
done
[ -n "$binary" ] || die "main binary '$filepath' not found (absolute, below --data-dir, or beside '$artifact')"
got=$(sha256_file "$binary") || got=
printf '%s\n' "$got" | grep -Eqx '[0-9a-f]{64}' || die "$binary: $hash_tool failed: cannot check its sha256"
[ "$got" = "$sha256" ] || die "$binary: sha256 is $got, builder-web announced $sha256: not signing"

# Where the signature goes: the layout with its placeholders replaced.
rel=$layout
for kv in "job=$job" "uuid=$uuid" "filename=$filename" "sha256=$sha256" "platform=$platform"; do
	k=${kv%%=*} v=${kv#*=}
	while :; do
		case $rel in *"{$k}"*) rel=${rel%%"{$k}"*}$v${rel#*"{$k}"} ;; *) break ;; esac
	done
done
case $rel in
/* | *..* | *'{'* | *'}'*) die "PETREL_SIGN_LAYOUT '$layout' gives '$rel': must be relative, no '..', known placeholders only" ;;
esac
[ -d "$PETREL_SIGN_OUTDIR" ] || die "PETREL_SIGN_OUTDIR '$PETREL_SIGN_OUTDIR' is not a directory"
out=$PETREL_SIGN_OUTDIR/$rel
mkdir -p -- "$(dirname -- "$out")" || die "cannot create $(dirname -- "$out")"

tab=$(printf '\t')
tc="timestamp:$timestamp${tab}file:$filename${tab}job:$job${tab}uuid:$uuid${tab}sha256:$sha256"
tmp=$out.tmp.$$
trap 'rm -f -- "$tmp"' EXIT
if [ -n "${PETREL_SIGN_PASSWORD_FILE:-}" ]; then
	[ -r "$PETREL_SIGN_PASSWORD_FILE" ] || die "cannot read PETREL_SIGN_PASSWORD_FILE '$PETREL_SIGN_PASSWORD_FILE'"
	head -n 1 -- "$PETREL_SIGN_PASSWORD_FILE" |
		"$minisign" -S -s "$PETREL_SIGN_KEY" -m "$binary" -x "$tmp" -t "$tc" >/dev/null 2>"$tmp.err" ||
		die "minisign failed for $binary: $(tr '\n' ' ' <"$tmp.err"; rm -f -- "$tmp.err")"
else
	"$minisign" -S -s "$PETREL_SIGN_KEY" -m "$binary" -x "$tmp" -t "$tc" </dev/null >/dev/null 2>"$tmp.err" ||
		die "minisign failed for $binary (a key with a password needs PETREL_SIGN_PASSWORD_FILE): $(tr '\n' ' ' <"$tmp.err"; rm -f -- "$tmp.err")"
fi
rm -f -- "$tmp.err"
mv -f -- "$tmp" "$out" || die "cannot write $out"
trap - EXIT
printf '%s: signed %s %s (%s) into %s\n' "$prog" "$job" "$uuid" "$filename" "$out"
