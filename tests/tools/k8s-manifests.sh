#!/usr/bin/env bash
# tools/kubernetes as a cluster would take it: every manifest passes
# yamllint and Kubernetes' API schemas with no unknown key
# (tests/tools/k8s/check.mjs), a typo in a field fails that check, and
# the ConfigMap's policies, laid out as the kubelet lays out a ConfigMap
# volume, pass guardctl check at the path the DaemonSet gives guardian.
# Usage: k8s-manifests.sh GUARDCTL SOURCE-ROOT BUILD-ROOT
set -u
guardctl=$1 src=$2 build=$3
check=$src/tests/tools/k8s/check.mjs
npm_dir=$build/k8s-npm
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# The validator's npm packages, pinned by tests/tools/k8s/package-lock.json.
if ! "$src/tools/install-deps" --npm "$npm_dir" >"$t/deps" 2>&1; then
	cat "$t/deps"
	echo "FAIL: cannot install the validator (tools/install-deps --npm $npm_dir)"
	exit 1
fi

mapfile -t manifests < <(find "$src/tools/kubernetes" -name '*.yaml' | LC_ALL=C sort)
fail=0
ok() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fail=1; fi; }
show() { sed 's/^/# /' "$1"; }

# Kubernetes reads YAML 1.1: `on` or `yes` would be booleans there.
lint='{extends: default, rules: {line-length: {max: 100},
  truthy: {allowed-values: ["true", "false"]}, document-start: {present: true}}}'
desc="yamllint: ${#manifests[@]} manifests"
ok yamllint -s -f parsable -d "$lint" "${manifests[@]}"

node "$check" validate "$npm_dir" "${manifests[@]}" >"$t/valid" 2>&1
rc=$?
desc="every manifest is valid against the API schemas, with no unknown key ($rc)"; ok [ "$rc" = 0 ]
show "$t/valid"

# mutated NAME SED-SCRIPT: the manifests with daemonset.yaml edited by
# the script, through the check (its output in $t/NAME.out); its status.
mutated() {
	mkdir "$t/$1" && cp "${manifests[@]}" "$t/$1/" && sed -i "$2" "$t/$1/daemonset.yaml" || return 99
	node "$check" validate "$npm_dir" "$t/$1"/*.yaml >"$t/$1.out" 2>&1
}

# The check must catch what a schema alone lets through.
mutated typo 's/^\( *\)hostPID: true/\1hostPid: true/'
rc=$?
desc="hostPid for hostPID fails the check ($rc)"; ok [ "$rc" = 1 ]
desc="and the check names the key, its line and the right one"
ok grep -qE "daemonset.yaml:[0-9]+: spec.template.spec.hostPid: unknown key 'hostPid'.*did you mean 'hostPID'" "$t/typo.out"
show "$t/typo.out"

# A scrape that would find nothing: the port guardian listens on is not
# the container's.
mutated port 's/^\( *containerPort:\) 9464/\1 9465/'
rc=$?
desc="a containerPort other than --metrics-listen's fails the check ($rc)"; ok [ "$rc" = 1 ]
desc="and the check names the argument"
ok grep -qE "daemonset.yaml:[0-9]+: .*--metrics-listen port 9464 is not among the container's ports" "$t/port.out"
show "$t/port.out"

# The policies volume as the kubelet writes it: the volume directory
# 0777, the files in a ..TIMESTAMP directory behind the ..data link.
policies=$(node "$check" project-policies "$npm_dir" "$t/vol" "${manifests[@]}" 2>"$t/project.err")
desc="the DaemonSet's --policies is on the ConfigMap volume"; ok [ -n "$policies" ]
show "$t/project.err"
"$guardctl" check "$policies" >"$t/check.out" 2>&1
rc=$?
desc="guardctl check ${policies#"$t/"}: exits 0 ($rc)"; ok [ "$rc" = 0 ]
desc="every policy of the ConfigMap is checked"
ok [ "$(grep -c ': ok ' "$t/check.out")" = "$(find -L "$policies" -maxdepth 1 -name '*.yaml' | wc -l)" ]
show "$t/check.out"
ls -la "$t/vol" | sed 's/^/# vol: /'
# For the record, what the volume's own directory gets (refused as root:
# mode 0777; tools/kubernetes/README.md, "Policies").
"$guardctl" check "$t/vol" 2>&1 | sed "s|$t/||; s/^/# the volume itself: /"
exit $fail
