#!/usr/bin/zsh -f
# zsh-complete.zsh COMPDIR LINE: the matches zsh's completion offers at
# the end of LINE, one a line, from an interactive zsh on a pseudo-terminal
# (zsh/zpty) with COMPDIR first in its fpath. tests/tools/completion.sh uses it.
compdir=$1 line=$2
out=$(mktemp) || exit 1 # removed at the end: an EXIT trap would also run in zpty's child
zmodload zsh/zpty || exit 1
zpty -b z zsh -f -i
zpty -w z "PS1=''; fpath=(${(q)compdir} \$fpath); autoload -Uz compinit; compinit -u -D"
# compadd reports what it adds (calls with -O, -A or -D only ask).
zpty -w z "compadd() { if (( \${@[(I)-[OAD]*]} )); then builtin compadd \"\$@\"; return; fi; local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) && print -rl -- \$m >> ${(q)out}; builtin compadd \"\$@\"; }"
# Once completion is done: list and insert nothing, and say so.
zpty -w z "__done() { compstate[list]=''; compstate[insert]=''; print -n '<''DONE>' }; comppostfuncs=(__done); bindkey '^I' complete-word"
zpty -w -n z "$line"$'\t'
zpty -r z got '*<DONE>*' || exit 1
zpty -d z
cat $out; rm -f $out
