# bash completion for guardctl: its commands, their options, policy files
# for check, and the running daemon's service names (guardctl status
# --json), which it leaves out quietly when no daemon answers.
# Installed as share/bash-completion/completions/guardctl.

# The services of the daemon this command line talks to (its --socket).
_guardctl_services()
{
	local cmd=$1; shift
	# timeout: a stalled daemon must not hang the shell; 2 s is far above
	# a status answer, which guardian gives at once.
	timeout 2 "$cmd" "$@" status --json 2>/dev/null |
		sed -n 's/^ *"name": "\(.*\)",\{0,1\}$/\1/p' | sed 's|\\/|/|g'
}

_guardctl()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		# bash-completion's: keeps a service name like a:b one word.
		_init_completion -n : || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands="check status start stop restart reload log explain top"
	local i command= socket=()
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket) socket=(--socket "${words[i + 1]}"); ((i++)) ;;
		--timeout) ((i++)) ;;
		-*) ;;
		*) command=${words[i]}; break ;;
		esac
	done

	COMPREPLY=()
	case $prev in
	--interval|--timeout) return ;; # a number of seconds, a duration
	--socket|--file)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac

	if [ -z "$command" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--socket --timeout --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local options= service=
	case $command in
	check)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	status) options="--json"; service=1 ;;
	start|stop|restart) service=1 ;;
	log) options="--json --follow --file"; service=1 ;;
	explain) options="--json"; service=1 ;;
	top) options="--interval" ;;
	reload) ;;
	esac
	# One SERVICE per command: none once it is given.
	if [ -n "$service" ]; then
		for ((i = i + 1; i < cword; i++)); do
			case ${words[i]} in
			--file) ((i++)) ;;
			-*) ;;
			*) service= ;;
			esac
		done
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$options" -- "$cur"))
	elif [ -n "$service" ]; then
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(_guardctl_services "${words[0]}" "${socket[@]}")" -- "$cur"))
		declare -F __ltrim_colon_completions >/dev/null && __ltrim_colon_completions "$cur"
	fi
}
complete -F _guardctl guardctl
