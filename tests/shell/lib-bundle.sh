# tests/shell/lib-bundle.sh — two hosts for the bundle tests (source it after lib.sh).
# src ARGS… runs petrel on the exporting host ($T/src.conf: its own state and deploy
# directories); the default petrel is the importing host ($T/petrel.conf).

src() { timeout -k 5 "$PETREL_TIMEOUT" "$PETREL" -c "$T/src.conf" "$@"; }

# bundle_hosts SIZE1 SIZE2 — starts the look-alike, key pub1, both configurations, and
# two signed builds of hello (B1, B2: $T/b1.hvt, $T/b2.hvt; uuids U1, U2).
bundle_hosts() {
	start_server
	make_key pub1
	write_config
	sed "s|$T/state|$T/src-state|; s|$T/deploy/|$T/src-deploy/|" "$T/petrel.conf" >"$T/src.conf"
	mkdir -p "$T/src-deploy"
	make_file "$T/b1.hvt" "$1" b1
	make_file "$T/b2.hvt" "$2" b2
	U1=$(add_build hello "$T/b1.hvt" --filename hello.hvt --finish-time 1700000000)
	sign_build hello "$U1" pub1 || BAIL_OUT "sign B1"
	U2=$(add_build hello "$T/b2.hvt" --filename hello.hvt --finish-time 1700001000)
	sign_build hello "$U2" pub1 || BAIL_OUT "sign B2"
}

# signed_build NAME SIZE FINISH — $T/NAME.hvt of SIZE bytes as a build of hello finished
# at FINISH (epoch), signed with pub1; sets ${NAME}U to its uuid.
signed_build() {
	make_file "$T/$1.hvt" "$2" "$1"
	local u
	u=$(add_build hello "$T/$1.hvt" --filename hello.hvt --finish-time "$3") || BAIL_OUT add_build
	sign_build hello "$u" pub1 || BAIL_OUT sign_build
	printf -v "${1}U" '%s' "$u"
}
