#!/usr/bin/env bash
# guardctl's bash completion, as bash runs it: source the script, set
# COMP_WORDS and COMP_CWORD, call the function, read COMPREPLY. The
# commands and each command's options must be those of `guardctl --help`,
# service names come from a daemon answering `status` on the socket of
# the command line (a stand-in speaking guardian's protocol), and with no
# daemon there are none and nothing is printed. Run with and without
# bash-completion's helpers, which the packaged script meets on a real
# system. zsh's completion likewise, in an interactive zsh on a
# pseudo-terminal (tests/tools/zsh-complete.zsh).
# Usage: completion.sh GUARDCTL SOURCE-ROOT
set -u
guardctl=$1 src=$2
bash_comp=$src/tools/completion/guardctl.bash
zsh_comp=$src/tools/completion/_guardctl
t=$(mktemp -d)
standin=
trap '[ -n "$standin" ] && kill "$standin" 2>/dev/null; rm -rf "$t"' EXIT
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }

# A daemon that answers every request as guardian answers `status`, with
# a watched cgroup's path (json-c writes its / as \/) and a name with ':'.
mkfifo "$t/ready"
python3 - "$t/sock" >"$t/ready" <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
print("ready", flush=True)
reply = {"ok": True, "version": "0", "services": [
    {"name": "web", "state": "running"},
    {"name": "worker", "state": "running", "kubernetes": None},
    {"name": "system.slice/nginx.service", "state": "running", "watched": True},
    {"name": "app@1:blue", "state": "stopped"}]}
while True:
    c, _ = s.accept()
    c.makefile().readline()
    c.sendall((json.dumps(reply) + "\n").replace("/", "\\/").encode())
    c.close()
PY
standin=$!
read -r -t 30 line <"$t/ready"
desc="the stand-in daemon listens"; ok [ "${line:-}" = ready ]
desc="guardctl reads its services"; ok eval '"$guardctl" --socket "$t/sock" status >/dev/null'

# complete_words [--with-bash-completion] WORD... : COMPREPLY for the
# last WORD, one per line, sorted; COMP_LINE is the words joined by
# spaces (or $LINE); bash's own stderr goes to $t/stderr.
complete_words() {
	local pre=
	if [ "$1" = --with-bash-completion ]; then
		shift
		pre='. /usr/share/bash-completion/bash_completion;'
	fi
	LINE=${LINE:-$*} bash --norc --noprofile -c "$pre"'
		. "$0"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE=$LINE COMP_POINT=${#LINE}
		_guardctl "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' "$bash_comp" "$@" 2>"$t/stderr" | sed '/^$/d' | LC_ALL=C sort
}
# expect WORD... -- EXPECTED... : completing the last WORD gives exactly EXPECTED.
expect() {
	local words=() got want
	while [ "$1" != -- ]; do words+=("$1"); shift; done
	shift
	got=$(complete_words "${words[@]}")
	want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort)
	desc="'${words[*]:1}' completes to: $(echo $want)"
	ok [ "$got" = "$want" ]
	[ "$got" = "$want" ] || echo "#   got: $(echo $got)"
}

help=$("$guardctl" --help)
mapfile -t commands < <(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' <<<"$help")
mapfile -t globals < <(sed -n '/^Options:/,$p' <<<"$help" | grep -o -- '--[a-z-]*')
desc="guardctl --help lists commands and options (${#commands[@]}, ${#globals[@]})"
ok [ "${#commands[@]}" -ge 8 ] && [ "${#globals[@]}" -ge 3 ]

expect "$guardctl" '' -- "${commands[@]}"
expect "$guardctl" --socket "$t/sock" '' -- "${commands[@]}"
expect "$guardctl" - -- "${globals[@]}"
expect "$guardctl" re -- reload restart
expect "$guardctl" t -- top
for c in "${commands[@]}"; do
	[ "$c" = check ] && continue # check takes files
	# The command's options as its line in --help gives them.
	mapfile -t opts < <(grep -E "^  $c( |$)" <<<"$help" | grep -o -- '--[a-z-]*')
	expect "$guardctl" "$c" - -- "${opts[@]}"
done

services=(web worker system.slice/nginx.service app@1:blue)
expect "$guardctl" --socket "$t/sock" start '' -- "${services[@]}"
expect "$guardctl" --socket "$t/sock" explain w -- web worker
expect "$guardctl" --socket "$t/sock" log --json sys -- system.slice/nginx.service
expect "$guardctl" --socket "$t/sock" stop web '' --
expect "$guardctl" --socket "$t/sock" reload '' --
# top takes no SERVICE, and --interval a number, not a file.
expect "$guardctl" --socket "$t/sock" top '' --
expect "$guardctl" --socket "$t/sock" top --interval '' --
got=$(GUARDIAN_SOCKET=$t/sock complete_words "$guardctl" restart '' | xargs)
desc="GUARDIAN_SOCKET names the daemon without --socket"
ok [ "$got" = "$(printf '%s\n' "${services[@]}" | LC_ALL=C sort | xargs)" ]

# No daemon: nothing to offer, and nothing on the terminal.
expect "$guardctl" --socket "$t/none" stop '' --
desc="no daemon: the completion prints nothing"; ok [ ! -s "$t/stderr" ]

# check and --file complete files.
mkdir "$t/policies"
touch "$t/policies/web.yaml" "$t/policies/worker.yaml"
expect "$guardctl" check "$t/policies/w" -- "$t/policies/web.yaml" "$t/policies/worker.yaml"
expect "$guardctl" log --file "$t/policies/we" -- "$t/policies/web.yaml"

# With bash-completion's helpers, as an installed system runs it: bash
# splits "app@1:" at the colon, and the reply is the rest after it.
if [ -r /usr/share/bash-completion/bash_completion ]; then
	got=$(LINE="$guardctl --socket $t/sock start app@1:" \
		complete_words --with-bash-completion "$guardctl" --socket "$t/sock" start app@1 : '')
	desc="bash-completion: 'start app@1:' completes to 'blue' ($got)"; ok [ "$got" = blue ]
	got=$(complete_words --with-bash-completion "$guardctl" - | xargs)
	desc="bash-completion: the global options ($got)"
	ok [ "$got" = "$(printf '%s\n' "${globals[@]}" | LC_ALL=C sort | xargs)" ]
else
	desc="bash-completion is installed (tools/install-deps)"; ok false
fi

# zsh's completion, as an interactive zsh offers it on a pseudo-terminal.
if command -v zsh >/dev/null; then
	desc="zsh parses _guardctl"; ok zsh -n "$zsh_comp"
	zexpect() { # LINE EXPECTED...
		local line=$1 got want; shift
		got=$(timeout 20 zsh -f "$src/tests/tools/zsh-complete.zsh" "$(dirname "$zsh_comp")" "$line" | LC_ALL=C sort)
		want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort)
		desc="zsh: '${line#"$guardctl"}' completes to: $(echo $want)"
		ok [ "$got" = "$want" ]
		[ "$got" = "$want" ] || echo "#   got: $(echo $got)"
	}
	zexpect "$guardctl " "${commands[@]}"
	zexpect "$guardctl re" reload restart
	zexpect "$guardctl -" "${globals[@]}"
	mapfile -t opts < <(grep -E "^  log( |$)" <<<"$help" | grep -o -- '--[a-z-]*')
	zexpect "$guardctl log -" "${opts[@]}" -f
	zexpect "$guardctl --socket $t/sock stop " "${services[@]}"
	zexpect "$guardctl --socket $t/sock log --json w" web worker
	zexpect "$guardctl --socket $t/none start "
	zexpect "$guardctl check $t/policies/we" web.yaml
	zexpect "$guardctl t" top
	zexpect "$guardctl top -" --interval
else
	desc="zsh is installed (tools/install-deps)"; ok false
fi
exit $fail
