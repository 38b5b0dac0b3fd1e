#!/usr/bin/env bash
# What `meson install` lays out, in a DESTDIR: the binaries, the systemd
# unit pointing at them, the man pages (found by man, no groff warning),
# the completions, the example policies (valid for the installed
# guardctl where their users exist) and the empty policy directory; and systemd-analyze verify
# has nothing to say about the unit.
# Usage: install.sh BUILD-ROOT
set -u
build=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }

DESTDIR=$t/root meson install -C "$build" --no-rebuild >"$t/log" 2>&1
rc=$?
desc="meson install into a DESTDIR ($rc)"; ok [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/# /' "$t/log"
eval "$(meson introspect "$build" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
for k in ("prefix", "bindir", "sbindir", "mandir", "datadir", "systemdunitdir"):
    print(f"{k}={o[k]!r}")')"
p=$t/root$prefix
unitdir=${systemdunitdir:-$prefix/lib/systemd/system}
unit=$t/root$unitdir/guardian.service

(cd "$t/root" && find . -mindepth 1 | LC_ALL=C sort | sed 's/^\./# /')
desc="guardian in $sbindir"; ok [ -x "$p/$sbindir/guardian" ]
desc="guardctl in $bindir"; ok [ -x "$p/$bindir/guardctl" ]
desc="the unit in $unitdir"; ok [ -f "$unit" ]
for m in man8/guardian.8 man8/guardctl.8 man5/guardian.policy.5; do
	desc="man page $m"; ok [ -s "$p/$mandir/$m" ]
done
desc="bash completion"; ok [ -f "$p/$datadir/bash-completion/completions/guardctl" ]
desc="zsh completion"; ok [ -f "$p/$datadir/zsh/vendor-completions/_guardctl" ]
desc="README in the docs"; ok [ -f "$p/$datadir/doc/guardian/README.md" ]
desc="the Grafana dashboard"; ok python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["panels"]' "$p/$datadir/guardian/grafana/guardian.json"
examples=$p/$datadir/doc/guardian/examples
desc="the example policies"; ok [ "$(ls "$examples"/*.yaml 2>/dev/null | wc -l)" = 4 ]
# guardctl check resolves each policy's user on this machine, and the
# examples name their services' own (recorder, sidekiq, ...). Each example
# is either ok or refused only for a user this machine lacks, which the
# loader looks up only once the rest of the file is right.
for f in "$examples"/*.yaml; do "$p/$bindir/guardctl" check "$f"; done >"$t/check" 2>&1
sed 's/^/# /' "$t/check"
desc="each example passes the installed guardctl check but for a user this machine lacks"
ok eval '[ "$(grep -cE -e ": ok \(service " -e "^[^:]+:[0-9]+:[0-9]+: user: no such user '"'[a-z-]+'"'\$" "$t/check")" = 4 ] &&
	[ "$(wc -l <"$t/check")" = 4 ]'
# ... and all pass where those users exist: a private mount namespace
# whose /etc/passwd and /etc/group have them (this machine's are untouched).
with_example_users() {
	local id=61000 u
	cp /etc/passwd "$t/passwd" && cp /etc/group "$t/group" || return 1
	for u in $(sed -n 's/^user: *//p' "$examples"/*.yaml | sort -u); do
		getent passwd "$u" >/dev/null && continue
		echo "$u:x:$id:$id::/nonexistent:/usr/sbin/nologin" >>"$t/passwd"
		echo "$u:x:$id:" >>"$t/group"
		id=$((id + 1))
	done
	unshare --mount --propagation private sh -c \
		'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"' \
		sh "$t/passwd" "$t/group" "$@"
}
if [ "$(id -u)" = 0 ]; then
	desc="the examples pass the installed guardctl check where their users exist"
	ok eval 'with_example_users "$p/$bindir/guardctl" check "$examples" >"$t/check-users" 2>&1'
	sed 's/^/# /' "$t/check-users"
else
	echo "# not root: the check with the examples' users (a private mount namespace) is left out"
fi
desc="an empty /etc/guardian/policies.d"
ok eval '[ -d "$t/root/etc/guardian/policies.d" ] && [ -z "$(ls -A "$t/root/etc/guardian/policies.d")" ]'

# The unit runs what was installed, where it was installed.
mapfile -t execs < <(sed -n 's/^Exec[A-Za-z]*=\([^ ]*\).*/\1/p' "$unit")
desc="the unit's commands (${execs[*]}) are the installed binaries"
ok eval 'for e in "${execs[@]}"; do [ -x "$t/root$e" ] || exit 1; done'
desc="the unit delegates its cgroup subtree"; ok grep -qx 'Delegate=yes' "$unit"

for m in "$p/$mandir"/man*/*; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$m" >/dev/null 2>"$t/warn"
	desc="man renders $(basename "$m") without a warning"; ok [ ! -s "$t/warn" ]
	sed 's/^/# /' "$t/warn"
done

# systemd-analyze checks the directives and that the commands and the
# man: pages exist: point it at the DESTDIR's binaries and man pages.
if command -v systemd-analyze >/dev/null; then
	mkdir "$t/verify"
	sed "s|=$prefix/|=$t/root$prefix/|" "$unit" >"$t/verify/guardian.service"
	MANPATH=$p/$mandir systemd-analyze verify "$t/verify/guardian.service" >"$t/verify.log" 2>&1
	rc=$?
	desc="systemd-analyze verify: clean ($rc)"; ok eval '[ "$rc" = 0 ] && [ ! -s "$t/verify.log" ]'
	sed 's/^/# /' "$t/verify.log"
else
	echo "# systemd-analyze not installed: the unit is not verified"
fi
exit $fail
