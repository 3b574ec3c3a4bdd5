#!/usr/bin/env bash
# The command line comes from one table (cli/commands.c): every command's help, the usage,
# the man page and the bash completion are made from it, the parser obeys it, and a usage
# error names the option before any configuration is read or state created.
. "$(dirname "$0")/lib.sh"

COMMANDS="check fetch status list pin unpin upgrade revert history log audit fsck gc daemon export import help"
MAN="$REPO_ROOT/contrib/petrel.8"
COMPLETION="$REPO_ROOT/contrib/completion/petrel.bash"

plan 273


mkdir -p "$T/deploy"
cat >"$T/petrel.conf" <<EOF
[petrel]
state_dir = $T/state

[server "bw"]
url = http://127.0.0.1:9

[target "hello"]
server = bw
job = hello
path = $T/deploy/hello.hvt
trust = server

[target "world"]
server = bw
job = world
path = $T/deploy/world.hvt
trust = server
EOF

# options_of CMD — one "--NAME" or "--NAME METAVAR" line per option CMD's help lists.
options_of() {
	"$PETREL" help "$1" | sed -n '/^options:$/,/^$/p' | grep -E '^  (-[a-z], |    )--' |
		sed -E 's/^  (-[a-z], |    )//; s/   .*//; s/, /\n/g'
}

# with_value "--NAME [METAVAR]" — the option as arguments, a value made up for METAVAR.
with_value() {
	case $1 in
	*" SHELL") echo "${1% *} bash" ;;
	*" "*) echo "${1% *} $T/value" ;;
	*) echo "$1" ;;
	esac
}

ALL_OPTIONS=$(for c in $COMMANDS; do options_of "$c"; done | sed 's/ .*//' | sort -u)
is "$(echo $ALL_OPTIONS)" "--all --allow-downgrade --dry-run --follow --lines --metrics --no-rehash --now --offline-ok --once --online --quick --short --since --to --uuid" \
	"the commands' helps list their options (as this script reads them)"

# ---- every command: its help, an unknown option, the table and the parser agree
for c in $COMMANDS; do
	run "$PETREL" help "$c"
	is "$rc" 0 "help $c: exit 0"
	like "$out" "^usage: petrel $c( |\$)" "help $c: starts with its synopsis"
	help_out=$out help_err=$err
	run "$PETREL" "$c" --help
	is "$out" "$help_out" "$c --help prints what help $c prints"
	ok "help $c: at most 40 lines" [ "$(printf '%s\n' "$out" | wc -l)" -le 40 ]
	is "$help_err$err" "" "help $c, $c --help: nothing on stderr"

	run "$PETREL" -c "$T/nope.conf" "$c" --frobnicate
	is "$rc" 2 "$c --frobnicate: exit 2"
	like "$err" "unknown option '--frobnicate' for $c" "$c --frobnicate: names the option and the command"
	unlike "$err" "nope.conf" "$c --frobnicate: said before the missing configuration"
	ok "$c --frobnicate: one line" one_line
	run petrel "$c" --frobnicate=1
	ok "$c --frobnicate: nothing created in the state directory" [ ! -e "$T/state" ]

	bad=""
	mine=$(options_of "$c")
	while IFS= read -r o; do
		[ -n "$o" ] || continue
		# shellcheck disable=SC2046
		"$PETREL" "$c" $(with_value "$o") --help >/dev/null 2>&1 || bad="$bad $o"
	done <<<"$mine"
	is "$bad" "" "$c accepts every option its help lists"
	bad=""
	for o in $ALL_OPTIONS; do
		printf '%s\n' "$mine" | grep -qx -- "$o\( .*\)\?" && continue
		run "$PETREL" "$c" "$o" --help
		[ "$rc" = 2 ] && [[ $err == *"unknown option '$o' for $c"* ]] || bad="$bad $o"
	done
	is "$bad" "" "$c refuses the options of other commands"
done

# ---- the full usage: petrel help, petrel --help
run "$PETREL" help
is "$rc" 0 "help: exit 0"
usage=$out
run "$PETREL" --help
is "$out" "$usage" "--help prints what help prints"
missing=""
for c in $COMMANDS; do
	printf '%s\n' "$usage" | grep -qE "^  $c( |\$)" || missing="$missing $c"
done
is "$missing" "" "the usage lists every command"
missing=""
for o in $ALL_OPTIONS; do
	printf '%s\n' "$usage" | grep -q -- "$o" || missing="$missing $o"
done
is "$missing" "" "the usage describes every command's options"
for s in "^options:" "^exit status:" "^configuration:" "^  100 +update available" "window = HH:MM"; do
	like "$usage" "$s" "the usage has '$s'"
done
bad=""
while IFS= read -r o; do
	[ -n "$o" ] || continue
	# shellcheck disable=SC2046
	"$PETREL" $(with_value "$o") status --help >/dev/null 2>&1 || bad="$bad $o"
done < <(printf '%s\n' "$usage" | sed -n '/^options:$/,/^$/p' | grep -E '^  (-[a-z], |    )--' |
	 sed -E 's/^  (-[a-z], |    )//; s/   .*//')
is "$bad" "" "every global option the usage lists is accepted before a command"
run "$PETREL" status --help -q --json -c "$T/nope.conf"
is "$rc" 0 "global options may stand after the command"

# ---- no command: a short usage on stderr
run "$PETREL"
is "$rc" 2 "no command: exit 2"
is "$out" "" "no command: nothing on stdout"
like "$err" "^usage: petrel \[-c FILE\]" "no command: the synopsis"
like "$err" "commands: $COMMANDS\$" "no command: every command named"
like "$err" "petrel help COMMAND" "no command: where to read more"
ok "no command: a few lines" [ "$(printf '%s\n' "$err" | wc -l)" -le 6 ]

# ---- unknown command, unknown help topic
run "$PETREL" -c "$T/nope.conf" frobnicate
is "$rc" 2 "unknown command: exit 2"
like "$err" "^petrel: unknown command 'frobnicate'; commands: check, fetch" "unknown command: named, with the commands"
ok "unknown command: one line" one_line
run "$PETREL" help frobnicate
is "$rc" 2 "help of an unknown command: exit 2"
like "$err" "unknown command 'frobnicate'" "help of an unknown command: named"
run "$PETREL" --bogus check
is "$rc" 2 "an unknown option before the command: exit 2"
like "$err" "^petrel: unknown option '--bogus'; see petrel help" "an unknown option before the command: named"

# ---- options and their values
run "$PETREL" -c "$T/nope.conf" upgrade hello --to
is "$rc" 2 "upgrade --to without a value: exit 2"
like "$err" "^petrel: option '--to' needs a value \(UUID\); usage: petrel upgrade \[TARGET\]" \
	"upgrade --to without a value: says so, before the missing configuration"
run petrel upgrade hello --to --allow-downgrade
is "$rc" 2 "upgrade --to followed by an option: exit 2"
like "$err" "option '--to' needs a value \(UUID\)" "upgrade --to followed by an option: needs a value"
run petrel upgrade hello --to=
is "$rc" 2 "upgrade --to= (empty): exit 2"
like "$err" "option '--to' needs a value \(UUID\)" "upgrade --to=: needs a value"
run petrel daemon --metrics
is "$rc" 2 "daemon --metrics without a value: exit 2"
like "$err" "option '--metrics' needs a value \(FILE\)" "daemon --metrics: needs a value (FILE)"
run petrel gc --dry-run=yes
is "$rc" 2 "a flag given a value: exit 2"
like "$err" "option '--dry-run' takes no value" "a flag given a value: says so"
run "$PETREL" --completion zsh
is "$rc" 2 "--completion for another shell: exit 2"
like "$err" "option '--completion' takes bash, not 'zsh'" "--completion zsh: says which shells"
run petrel upgrade
is "$rc" 2 "upgrade without TARGET: exit 2"
like "$err" "^petrel: upgrade needs a TARGET, or --all$" "upgrade without TARGET: says so"
run petrel upgrade hello --all
is "$rc" 2 "upgrade TARGET --all: exit 2"
like "$err" "^petrel: upgrade --all names no target$" "upgrade TARGET --all: says so"
run petrel pin
is "$rc" 2 "pin without TARGET: exit 2"
like "$err" "pin needs a TARGET; usage: petrel pin TARGET \[UUID\]" "pin without TARGET: says so"
run petrel history hello world
is "$rc" 2 "history with two targets: exit 2"
like "$err" "history: unexpected argument 'world'" "history with two targets: names the extra one"
run petrel daemon hello
is "$rc" 2 "daemon with an argument: exit 2"
ok "usage errors create no state directory" [ ! -e "$T/state" ]
run petrel status -- --frobnicate
is "$rc" 2 "after --, --frobnicate is a target name"
like "$err" "no target '--frobnicate'" "... and named as one"

# ---- the man page, made from the same tables
run "$PETREL" --man
is "$rc" 0 "--man: exit 0"
man_out=$out
like "$out" '^\.TH PETREL 8 .*"System Administration"$' "--man: roff, section 8"
if cmp -s <(printf '%s\n' "$out") "$MAN"; then pass "contrib/petrel.8 is what --man prints"; else
	fail "contrib/petrel.8 is what --man prints"
	diag "  regenerate it: ./petrel --man >contrib/petrel.8"
fi
run "$PETREL" help --man
is "$out" "$man_out" "help --man prints the man page too"
like "$man_out" '^\.BR petrel\.conf \(5\),$' "the man page points to petrel.conf(5)"
missing=""
for c in $COMMANDS; do
	printf '%s\n' "$man_out" | grep -q "^\\\\fBpetrel\\\\fR \\\\fB$c\\\\fR" || missing="$missing $c"
done
is "$missing" "" "the man page describes every command"
if command -v groff >/dev/null; then
	run groff -man -Tutf8 -ww -z "$MAN"
	is "$rc$err" "0" "groff renders the man page without a warning"
else
	skip "no groff"
fi

# ---- bash completion, made from the same tables
run "$PETREL" --completion bash
is "$rc" 0 "--completion bash: exit 0"
if cmp -s <(printf '%s\n' "$out") "$COMPLETION"; then
	pass "contrib/completion/petrel.bash is what --completion bash prints"
else
	fail "contrib/completion/petrel.bash is what --completion bash prints"
	diag "  regenerate it: ./petrel --completion bash >contrib/completion/petrel.bash"
fi
run bash -c "source '$COMPLETION' && complete -p petrel"
is "$out" "complete -F _petrel petrel" "the completion script loads in bash"

# complete WORD… — what the script offers for the last word.
complete_() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _petrel
		printf "%s\n" "${COMPREPLY[*]}"' _ "$COMPLETION" "$@"
}
is "$(complete_ petrel up)" "upgrade" "completes a command"
is "$(complete_ petrel -c "$T/petrel.conf" upgrade "")" "hello world" \
	"completes target names from -c FILE's [target] lines"
is "$(PETREL_CONFIG=$T/petrel.conf complete_ petrel status w)" "world" \
	"... or from \$PETREL_CONFIG's"
is "$(complete_ petrel audit --)" \
	"--config --json --quiet --verbose --help --version --man --completion --online --no-rehash --quick --metrics" \
	"completes a command's options and the global ones"
is "$(complete_ petrel help da)" "daemon" "help completes command names"
is "$(complete_ petrel --completion "")" "bash" "completes --completion's shells"
is "$(cd "$T" && complete_ petrel daemon --metrics pet)" "petrel.conf" "completes --metrics FILE as a file"

# ---- global options anywhere; help written to a full disk is a failure
run "$PETREL" status --json -c "$T/petrel.conf" hello
is "$rc" 0 "global options after the command and its target"
like "$out" '^\{"targets":\[\{"name":"hello"' "... --json taken"
if [ -w /dev/full ]; then
	run sh -c "'$PETREL' --man >/dev/full"
	is "$rc" 1 "--man to a full disk: exit 1"
else
	skip "no /dev/full"
fi
