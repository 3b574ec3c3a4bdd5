# bash completion for petrel, made by 'petrel --completion bash' from cli/commands.c.
# Target names come from the [target "NAME"] lines of the configuration: the one of
# -c FILE, else $PETREL_CONFIG, else /etc/petrel/petrel.conf.

_petrel_targets()
{
	local conf=${PETREL_CONFIG:-/etc/petrel/petrel.conf} i

	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c|--config)
			conf=${COMP_WORDS[i + 1]}
			[[ $conf == = ]] && conf=${COMP_WORDS[i + 2]}
			;;
		esac
	done
	conf=${conf/#\~/$HOME}
	[[ -r $conf ]] || return 0
	sed -n 's/^[[:space:]]*\[[[:space:]]*target[[:space:]]*"\([^"]*\)"[[:space:]]*\].*/\1/p' \
		"$conf"
}

_petrel()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local i cmd= opts= args= files=

	# bash splits --metrics=FILE into "--metrics" "=" "FILE"
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi

	case $prev in
	-c|--config)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--completion)
		mapfile -t COMPREPLY < <(compgen -W 'bash' -- "$cur")
		return
		;;
	--to)
		return
		;;
	-n|--lines)
		return
		;;
	--since)
		return
		;;
	--metrics)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--uuid)
		return
		;;
	esac

	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c|--config|--completion|--to|-n|--lines|--since|--metrics|--uuid)
			((i += 1))
			[[ ${COMP_WORDS[i]} == = ]] && ((i += 1))
			;;
		-*|=) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	opts='-c --config --json -q --quiet -v --verbose -h --help --version --man --completion'
	case $cmd in
	'')
		args='check fetch status list pin unpin upgrade revert history log audit fsck gc daemon export import help'
		;;
	check)
		args=$(_petrel_targets)
		;;
	fetch)
		args=$(_petrel_targets)
		;;
	status)
		opts+=' --short'
		args=$(_petrel_targets)
		;;
	list)
		args=$(_petrel_targets)
		;;
	pin)
		args=$(_petrel_targets)
		;;
	unpin)
		args=$(_petrel_targets)
		;;
	upgrade)
		opts+=' --all --dry-run --to --allow-downgrade'
		args=$(_petrel_targets)
		;;
	revert)
		args=$(_petrel_targets)
		;;
	history)
		args=$(_petrel_targets)
		;;
	log)
		opts+=' -n --lines --since -f --follow'
		args=$(_petrel_targets)
		;;
	audit)
		opts+=' --online --no-rehash --quick --metrics'
		args=$(_petrel_targets)
		;;
	fsck)
		;;
	gc)
		opts+=' --dry-run'
		args=$(_petrel_targets)
		;;
	daemon)
		opts+=' --once --now --metrics'
		;;
	export)
		opts+=' --uuid'
		args=$(_petrel_targets)
		files=1
		;;
	import)
		opts+=' --offline-ok --allow-downgrade'
		files=1
		;;
	help)
		args='check fetch status list pin unpin upgrade revert history log audit fsck gc daemon export import help'
		;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -W "$args" -- "$cur")
		[[ $files ]] && mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
	fi
}

complete -F _petrel petrel
