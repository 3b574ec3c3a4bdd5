#!/usr/bin/env bash
# make install (PREFIX, DESTDIR) puts every file where it belongs with its mode, the units
# name the installed binary, systemd accepts them, the man pages render without a
# warning, the installed completion offers commands and the configuration's targets, make
# uninstall removes it all; the Debian package (built without its tests) ships the same.
. "$(dirname "$0")/lib.sh"

command -v make >/dev/null || skip_all "make not installed"
[ -x "$REPO_ROOT/petrel" ] || skip_all "no ./petrel: run make first"
plan 51

# The make of this test is no child of make check's (no jobserver, no variables: make
# exports those of its command line, and a package build runs make check DEPS=no), and
# never rebuilds ./petrel (-o): it installs what the suite tests.
unset MAKEFLAGS MFLAGS MAKELEVEL DEPS
mk() { make -s -C "$REPO_ROOT" -o petrel "$@"; }

VERSION=$("$REPO_ROOT/petrel" --version | sed 's/^petrel //')
ADAPTERS="albatross exec systemd"
UNITS="petrel-audit.service petrel-audit.timer petrel-gc.service petrel-gc.timer petrel.service"

# expected_files PREFIX UNITDIR EXAMPLEDIR — what make install writes, one "MODE PATH" a line.
expected_files() {
	{
		echo "755 $1/bin/petrel"
		for a in $ADAPTERS; do echo "755 $1/lib/petrel/orchestrators/$a"; done
		for u in $UNITS; do echo "644 $2/$u"; done
		echo "644 $1/share/man/man8/petrel.8"
		echo "644 $1/share/man/man5/petrel.conf.5"
		echo "644 $1/share/doc/petrel/README.md"
		echo "644 $3/petrel.conf.example"
		echo "644 $1/share/bash-completion/completions/petrel"
	} | sort -k2
}

# installed_files DIR — "MODE PATH" of every file under DIR, PATH relative to it.
installed_files() {
	(cd "$1" && find . -type f -printf '%m %P\n' | sed 's| | /|' | sort -k2)
}

# ---- PREFIX=/usr
D=$T/dest
run mk install DESTDIR="$D" PREFIX=/usr
is "$rc" 0 "make install DESTDIR PREFIX=/usr: exit 0"
is "$err" "" "... nothing on stderr"
is "$(installed_files "$D")" \
	"$(expected_files /usr /usr/lib/systemd/system /usr/share/doc/petrel)" \
	"every file, nothing else, binary and adapters 0755, the rest 0644"
run "$D/usr/bin/petrel" --version
is "$out" "petrel $VERSION" "the installed binary runs"
for s in petrel petrel-gc petrel-audit; do
	like "$(grep '^ExecStart=' "$D/usr/lib/systemd/system/$s.service")" "^ExecStart=/usr/bin/petrel " \
		"$s.service: ExecStart names PREFIX/bin/petrel"
done
nok "no template placeholder is left" grep -rq '@[A-Z]*@' "$D/usr/lib/systemd/system"
like "$(grep '^orchestrator' "$D/usr/share/doc/petrel/petrel.conf.example")" \
	"^orchestrator = /usr/lib/petrel/orchestrators/albatross$" \
	"the example configuration names the installed adapters"
cmp -s "$D/usr/share/bash-completion/completions/petrel" "$REPO_ROOT/contrib/completion/petrel.bash"
is "$?" 0 "the completion is the generated one"
cmp -s "$D/usr/share/man/man8/petrel.8" "$REPO_ROOT/contrib/petrel.8"
is "$?" 0 "petrel.8 is the generated one"

# ---- systemd accepts the installed units (the binary and the man pages they name are
# looked up where DESTDIR has them)
if command -v systemd-analyze >/dev/null && command -v man >/dev/null; then
	mkdir -p "$T/units"
	for u in $UNITS; do
		sed "s|^ExecStart=/usr/bin/petrel |ExecStart=$D/usr/bin/petrel |" \
			"$D/usr/lib/systemd/system/$u" >"$T/units/$u"
	done
	for u in $UNITS; do
		run env MANPATH="$D/usr/share/man" systemd-analyze verify "$T/units/$u"
		is "$rc $out$err" "0 " "systemd-analyze verify accepts the installed $u"
	done
else
	skip "systemd-analyze or man not installed" 5
fi

# ---- the man pages: no warning from man or groff, every configuration key described
for page in man8/petrel.8 man5/petrel.conf.5; do
	if command -v man >/dev/null; then
		run sh -c 'man --warnings -l "$1" >/dev/null' _ "$D/usr/share/man/$page"
		is "$rc $out$err" "0 " "man --warnings: $page renders without a word"
	else
		skip "man not installed"
	fi
	if command -v groff >/dev/null; then
		run groff -ww -man -z "$D/usr/share/man/$page"
		is "$rc $out$err" "0 " "groff -ww -man: $page without a warning"
	else
		skip "groff not installed"
	fi
done
# every key of README's configuration table, e.g. "| target | `window` | ..."
keys=$(sed -n 's/^| \(petrel\|server\|target\) | \(.*\) |.*|.*|$/\2/p' "$REPO_ROOT/README.md" |
	cut -d'|' -f1 | grep -o '`[a-z_]*`' | tr -d '`' | sort -u)
# the terms of the page: the line after each .TP
terms=$(grep -A1 '^\.TP$' "$D/usr/share/man/man5/petrel.conf.5" | grep -v '^\.TP$\|^--$')
missing=""
for k in $keys; do
	printf '%s\n' "$terms" | grep -qw -- "$k" || missing="$missing $k"
done
ok "README's table lists keys" [ "$(echo $keys | wc -w)" -gt 30 ]
is "$missing" "" "petrel.conf(5) describes every key of README's table"
like "$(cat "$D/usr/share/man/man5/petrel.conf.5")" '^\.TH PETREL\.CONF 5 "" "petrel '"$VERSION"'"' \
	"petrel.conf(5) names this version"

# ---- the installed completion: commands, options, the configuration's targets
cat >"$T/petrel.conf" <<EOF
[server "bw"]
url = http://127.0.0.1:9
[target "alpha"]
server = bw
job = alpha
path = $T/alpha
  [ target "beta.2" ] ; spaces and a comment
server = bw
job = beta
path = $T/beta
EOF
complete_() {
	bash --norc -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _petrel
		printf "%s\n" "${COMPREPLY[*]}"' _ "$D/usr/share/bash-completion/completions/petrel" "$@"
}
is "$(complete_ petrel "")" "check fetch status list pin unpin upgrade revert history log audit fsck gc daemon export import help" \
	"completion: every command"
is "$(complete_ petrel f)" "fetch fsck" "completion: commands by prefix"
is "$(complete_ petrel gc --)" "--config --json --quiet --verbose --help --version --man --completion --dry-run" \
	"completion: a command's options"
is "$(complete_ petrel -c "$T/petrel.conf" revert "")" "alpha beta.2" \
	"completion: the targets of -c FILE"
is "$(complete_ petrel --config = "$T/petrel.conf" status b)" "beta.2" \
	"completion: the targets of --config=FILE (as bash splits it)"
is "$(PETREL_CONFIG=$T/petrel.conf complete_ petrel upgrade "")" "alpha beta.2" \
	"completion: the targets of \$PETREL_CONFIG"
is "$(PETREL_CONFIG=$T/nope.conf complete_ petrel upgrade "")" "" \
	"completion: no configuration, no targets (and no error)"
is "$(PETREL_CONFIG=$T/petrel.conf complete_ petrel fsck "")" "" "completion: fsck takes no target"

# ---- make uninstall takes it all back
run mk uninstall DESTDIR="$D" PREFIX=/usr
is "$rc" 0 "make uninstall: exit 0"
is "$(cd "$D" && find . -type f)" "" "make uninstall: no file is left"
ok "make uninstall: the directories of petrel are gone" \
	test ! -e "$D/usr/lib/petrel" -a ! -e "$D/usr/share/doc/petrel"

# ---- another PREFIX, the Debian layout's variables
D=$T/opt
run mk install DESTDIR="$D" PREFIX=/opt/petrel
is "$rc" 0 "make install PREFIX=/opt/petrel: exit 0"
is "$(installed_files "$D")" \
	"$(expected_files /opt/petrel /opt/petrel/lib/systemd/system /opt/petrel/share/doc/petrel)" \
	"PREFIX=/opt/petrel: every file under it"
like "$(grep '^ExecStart=' "$D/opt/petrel/lib/systemd/system/petrel.service")" \
	"^ExecStart=/opt/petrel/bin/petrel -c /etc/petrel/petrel.conf daemon --metrics " \
	"PREFIX=/opt/petrel: ExecStart names /opt/petrel/bin/petrel"
like "$(grep '^orchestrator' "$D/opt/petrel/share/doc/petrel/petrel.conf.example")" \
	"^orchestrator = /opt/petrel/lib/petrel/orchestrators/albatross$" \
	"PREFIX=/opt/petrel: the example names its adapters"
D=$T/deb
run mk install DESTDIR="$D" PREFIX=/usr UNITDIR=/lib/systemd/system EXAMPLEDIR=/usr/share/doc/petrel/examples
is "$rc" 0 "make install with UNITDIR and EXAMPLEDIR: exit 0"
is "$(installed_files "$D")" \
	"$(expected_files /usr /lib/systemd/system /usr/share/doc/petrel/examples)" \
	"UNITDIR and EXAMPLEDIR move the units and the example"

# ---- DEPS=no: make check installs nothing
run mk -n check DEPS=no
unlike "$out" "install-deps" "make check DEPS=no does not run contrib/install-deps.sh"
run mk -n check
like "$out" "install-deps" "make check runs it"

# ---- debian/: the changelog and control parse; the package, built without its tests
if ! command -v dpkg-parsechangelog >/dev/null; then
	skip "dpkg-dev not installed" 9
	exit 0
fi
run dpkg-parsechangelog -l "$REPO_ROOT/debian/changelog" -S Version
is "$out" "$VERSION" "debian/changelog: the version petrel --version prints"
run dpkg-parsechangelog -l "$REPO_ROOT/debian/changelog" -S Distribution
is "$rc" 0 "debian/changelog parses"
run sh -c 'cd "$1" && dpkg-checkbuilddeps -P nocheck' _ "$REPO_ROOT"
deps_ok=$rc
like "$err" "^$|Unmet build dependencies" "debian/control parses (dpkg-checkbuilddeps)"
ok "debian/rules is executable" [ -x "$REPO_ROOT/debian/rules" ]
if [ "$deps_ok" != 0 ]; then
	skip "build dependencies missing: $err" 5
	exit 0
fi

# a copy of the tree: dpkg-buildpackage writes into the parent directory and cleans
mkdir -p "$T/pkg/src"
tar -C "$REPO_ROOT" --exclude=./.git --exclude=./.build --exclude=./.build-san --exclude=./.build-fuzz \
	--exclude=./petrel -cf - . | tar -C "$T/pkg/src" -xf -
# a clean environment: inside make check of a package build too, this one is on its own
run env -i PATH="$PATH" HOME="$T" TMPDIR="${TMPDIR:-/tmp}" LC_ALL=C.UTF-8 \
	DEB_BUILD_OPTIONS=nocheck sh -c 'cd "$1" && dpkg-buildpackage -us -uc -b -Pnocheck' _ "$T/pkg/src"
is "$rc" 0 "dpkg-buildpackage -b (nocheck): exit 0"
[ "$rc" = 0 ] || diag "$(printf '%s\n' "$out$err" | tail -20)"
DEB=$T/pkg/petrel_${VERSION}_$(dpkg --print-architecture).deb
ok "it writes petrel_${VERSION}_ARCH.deb" [ -f "$DEB" ]
files=$(dpkg-deb -c "$DEB" 2>/dev/null | awk '{ print substr($1, 2), $6 }' | grep -v '^d' |
	sed 's|^\([rwx-]*\) \./|\1 /|')
missing=""
for f in "rwxr-xr-x /usr/bin/petrel" \
	"rwxr-xr-x /usr/lib/petrel/orchestrators/albatross" \
	"rwxr-xr-x /usr/lib/petrel/orchestrators/exec" \
	"rwxr-xr-x /usr/lib/petrel/orchestrators/systemd" \
	"rw-r--r-- /lib/systemd/system/petrel.service" \
	"rw-r--r-- /lib/systemd/system/petrel-gc.timer" \
	"rw-r--r-- /lib/systemd/system/petrel-audit.timer" \
	"rw-r--r-- /usr/share/man/man8/petrel.8.gz" \
	"rw-r--r-- /usr/share/man/man5/petrel.conf.5.gz" \
	"rw-r--r-- /usr/share/bash-completion/completions/petrel" \
	"rw-r--r-- /usr/share/doc/petrel/examples/petrel.conf.example"; do
	printf '%s\n' "$files" | grep -qxF -- "$f" || missing="$missing $f"
done
is "$missing" "" "the .deb holds the binary, adapters, units, man pages, completion, example"
mkdir -p "$T/pkg/x"
dpkg-deb -x "$DEB" "$T/pkg/x"
like "$(grep '^ExecStart=' "$T/pkg/x/lib/systemd/system/petrel.service")" "^ExecStart=/usr/bin/petrel " \
	"the .deb's unit runs /usr/bin/petrel"
if command -v lintian >/dev/null; then
	run lintian "$T/pkg/petrel_${VERSION}_$(dpkg --print-architecture).changes"
	unlike "$out" "^[EW]: " "lintian: no error, no warning"
else
	skip "lintian not installed"
fi
