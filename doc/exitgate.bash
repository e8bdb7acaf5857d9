# bash completion for exitgate(1): commands, each command's options, and files where a
# command takes them. Installed as share/bash-completion/completions/exitgate.
_exitgate()
{
	local cur prev cmd opts
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "decode triage check test run replay show ctl help --help --version" -- "$cur"))
		return
	fi
	case $cmd in
	decode)
		case $prev in
		--arch) COMPREPLY=($(compgen -W "x86_64 arm64 riscv64 s390x ppc64 loongarch64" -- "$cur")); return ;;
		--hw) COMPREPLY=($(compgen -W "vmx svm none auto" -- "$cur")); return ;;
		--hex) return ;;
		esac
		opts="--arch --hw --json --hex --help --version" ;;
	triage | show) opts="--json --help --version" ;;
	check) opts="--timeout --help --version" ;;
	test) opts="--help --version" ;;
	run)
		case $prev in
		--timeout|--record-max) return ;;
		--log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
		esac
		opts="--ctl --stats --timeout --watch --quiet --no-progress --log-format --paused -S --metrics --record --record-max --help --version" ;;
	replay) opts="--policy --all --json --help --version" ;;
	ctl)
		# the command is the second word after ctl that is not --json
		local i pos=0
		for ((i = 2; i < COMP_CWORD; i++)); do
			[ "${COMP_WORDS[i]}" = --json ] || pos=$((pos + 1))
		done
		if [ "$pos" -eq 1 ] && [[ $cur != -* ]]; then
			COMPREPLY=($(compgen -W "status resume suspend stop dump reload metrics" -- "$cur"))
			return
		fi
		opts="--json --help --version" ;;
	help)
		COMPREPLY=($(compgen -W "decode triage check test run replay show ctl" -- "$cur"))
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -F _exitgate exitgate
