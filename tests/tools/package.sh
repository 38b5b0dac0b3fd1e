#!/usr/bin/env bash
# The Debian package as a user installs it: debian/control builds on what
# tools/install-deps installs, dpkg-buildpackage builds guardian_*.deb
# from a copy of the sources, lintian finds no error or warning, and the
# package holds the binaries, the unit (which dh_installsystemd enables),
# the man pages, the completions and the example policies, with BPF built
# in. The unit suite has just run on the same sources, so the package is
# built with DEB_BUILD_OPTIONS=nocheck (debian/rules runs it otherwise).
# Usage: package.sh SOURCE-ROOT BUILD-ROOT
set -u
src=$1 build=$2
work=$build/package
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }
show() { sed 's/^/# /' "$@"; }

# Build-Depends, name for name, is install-deps' build list.
python3 - "$src" >"$work.deps" 2>&1 <<'PY'
import re, sys
src = sys.argv[1]
control = open(f"{src}/debian/control").read()
field = re.search(r"^Build-Depends:(.*?)^\S", control, re.S | re.M).group(1)
deps = {re.match(r"\s*([\w.+-]+)", d).group(1) for d in field.split(",") if d.strip()}
deps.discard("debhelper-compat")
script = open(f"{src}/tools/install-deps").read()
body = re.search(r"^build=\((.*?)^\)", script, re.S | re.M).group(1)
build = {w for line in body.split("\n") for w in line.split("#")[0].split()}
print("Build-Depends:", " ".join(sorted(deps)))
if deps != build:
    print("only in debian/control:", " ".join(sorted(deps - build)) or "-")
    print("only in tools/install-deps:", " ".join(sorted(build - deps)) or "-")
    sys.exit(1)
PY
rc=$?
desc="debian/control's Build-Depends are tools/install-deps' build packages"; ok [ "$rc" = 0 ]
show "$work.deps"

version=$(meson introspect "$build" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
desc="debian/changelog's version is the project's ($version)"
ok [ "$(dpkg-parsechangelog -l "$src/debian/changelog" -SVersion)" = "$version" ]

# A copy of the sources (tracked and new files, not build trees), since
# dpkg-buildpackage builds in the source tree and writes beside it.
rm -rf "$work"
mkdir -p "$work/guardian"
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$src" && xargs -0 cp --parents -t "$work/guardian")
(cd "$work/guardian" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -b -uc -us) >"$work/build.log" 2>&1
rc=$?
desc="dpkg-buildpackage -b -uc -us ($rc)"; ok [ "$rc" = 0 ]
[ "$rc" = 0 ] || tail -n 40 "$work/build.log" | show
deb=$(ls "$work"/guardian_*.deb 2>/dev/null | head -n 1)
desc="it built ${deb:-no guardian_*.deb}"; ok [ -n "$deb" ]
[ -n "$deb" ] || exit 1

lintian -I --pedantic --fail-on error,warning "$work"/guardian_*.changes >"$work/lintian.log" 2>&1
rc=$?
desc="lintian: no error or warning ($rc)"; ok [ "$rc" = 0 ]
show "$work/lintian.log"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents"
dpkg-deb -I "$deb" >"$work/info"
show "$work/info"
for f in /usr/sbin/guardian /usr/bin/guardctl /lib/systemd/system/guardian.service \
	/usr/share/man/man8/guardian.8.gz /usr/share/man/man8/guardctl.8.gz \
	/usr/share/man/man5/guardian.policy.5.gz \
	/usr/share/bash-completion/completions/guardctl /usr/share/zsh/vendor-completions/_guardctl \
	/usr/share/doc/guardian/examples/recorder.yaml /usr/share/doc/guardian/examples/web.yaml \
	/usr/share/doc/guardian/examples/worker.yaml /usr/share/doc/guardian/examples/unicorn.yaml \
	/usr/share/guardian/grafana/guardian.json /etc/guardian/policies.d/; do
	desc="dpkg-deb -c lists $f"; ok grep -qxF "$f" "$work/contents"
done
dpkg-deb -x "$deb" "$work/root"
unit=$work/root/lib/systemd/system/guardian.service
for doc in $(sed -n 's/^Documentation=//p' "$unit"); do
	case $doc in
	file://*) desc="the unit's $doc is in the package"; ok [ -f "$work/root${doc#file://}" ] ;;
	man:*) page=${doc#man:} page=${page%)} name=${page%(*} sec=${page#*(}
		desc="the unit's $doc is in the package"; ok [ -f "$work/root/usr/share/man/man$sec/$name.$sec.gz" ] ;;
	esac
done
desc="guardian links libbpf: the BPF observers are built in"; ok grep -q '^ Depends:.*libbpf' "$work/info"
mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
desc="postinst enables and starts guardian.service (dh_installsystemd)"
ok eval "grep -q \"deb-systemd-helper enable 'guardian.service'\" '$work/control/postinst' &&
	grep -q \"deb-systemd-invoke \\\$_dh_action 'guardian.service'\" '$work/control/postinst'"

# The packaged unit, verified against the packaged binaries and man pages.
if command -v systemd-analyze >/dev/null; then
	mkdir "$work/verify"
	sed "s|=/usr/|=$work/root/usr/|" "$unit" >"$work/verify/guardian.service"
	MANPATH=$work/root/usr/share/man systemd-analyze verify "$work/verify/guardian.service" >"$work/verify.log" 2>&1
	rc=$?
	desc="systemd-analyze verify on the packaged unit: clean ($rc)"
	ok eval '[ "$rc" = 0 ] && [ ! -s "$work/verify.log" ]'
	show "$work/verify.log"
fi
exit $fail
