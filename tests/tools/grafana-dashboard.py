#!/usr/bin/env python3
"""grafana-dashboard.py DASHBOARD.json METRICS_FAMILIES: every metric that a
panel or a template variable of the Grafana dashboard queries is one that
guardian exports (the "NAME TYPE" lines METRICS_FAMILIES prints; a
histogram NAME also gives NAME_bucket, NAME_sum and NAME_count), every
panel but a row has at least one query, and every query parses as PromQL
(promtool check rules, with Grafana's variables filled in)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan", "atan2",
}
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def metric_names(expr):
    """The metric names a PromQL expression selects."""
    e = strip_strings(expr)
    e = re.sub(r"\{[^{}]*\}", " ", e)             # label matchers
    e = re.sub(r"\[[^\[\]]*\]", " ", e)           # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)            # Grafana variables
    names = set()
    for m in IDENT.finditer(e):
        word = m.group(0)
        if word.lower() in KEYWORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # 1e3, 0.5's tail
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or an aggregation
        names.add(word)
    return names


def self_test():
    cases = {
        'sum by (service, rule) (increase(guardian_actions_total{service=~"$service",x="a{b}"}[$__rate_interval]))':
            {"guardian_actions_total"},
        'histogram_quantile(0.99, sum by (le) (rate(guardian_decision_latency_seconds_bucket[5m])))':
            {"guardian_decision_latency_seconds_bucket"},
        'max by (service, state) (guardian_service_state) == 1 and on(service) guardian_up':
            {"guardian_service_state", "guardian_up"},
        'rate(foo_total[1m]) * 1e3 / bar': {"foo_total", "bar"},
    }
    for expr, want in cases.items():
        got = metric_names(expr)
        if got != want:
            sys.exit(f"grafana-dashboard.py: self-test: {expr!r} gave {sorted(got)}, want {sorted(want)}")


def exported(families_exe):
    out = subprocess.run([families_exe], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        name, kind = line.split()
        names.add(name)
        if kind == "histogram":
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
    if not names:
        sys.exit("grafana-dashboard.py: the exposition lists no metric families")
    return names


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def queries(dash, errors):
    """(where, PromQL) for every panel target and query variable."""
    for p in walk_panels(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        where = f"panel {p.get('id')} '{p.get('title')}'"
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{where}: no queries")
        for t in targets:
            expr = t.get("expr")
            if not expr:
                errors.append(f"{where}: target {t.get('refId')} has no expr")
                continue
            yield where, expr
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        where = f"variable '{v.get('name')}'"
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q or "")
        if not m:
            errors.append(f"{where}: query {q!r} is not label_values(METRIC, LABEL)")
            continue
        yield where, m.group(1)


def promql_parses(exprs):
    """promtool check rules on a recording rule per query (it parses the PromQL)."""
    promtool = shutil.which("promtool")
    if not promtool:
        sys.exit("grafana-dashboard.py: promtool not found (tools/install-deps installs prometheus)")
    subst = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
    rules = []
    for i, (_, expr) in enumerate(exprs):
        for k, v in subst.items():
            expr = expr.replace(k, v)
        expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
        rules.append({"record": f"check:q{i}", "expr": expr})
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rules.json")  # JSON is YAML
        with open(path, "w") as f:
            json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("grafana-dashboard.py: a query does not parse:\n" + r.stdout + r.stderr)


def main():
    dash_path, families_exe = sys.argv[1], sys.argv[2]
    self_test()
    names = exported(families_exe)
    with open(dash_path) as f:
        dash = json.load(f)
    errors = []
    exprs = list(queries(dash, errors))
    used = set()
    for where, expr in exprs:
        found = metric_names(expr)
        if not found:
            errors.append(f"{where}: {expr!r} selects no metric")
        for n in sorted(found - names):
            errors.append(f"{where}: {n} is not a metric guardian exports ({expr!r})")
        used |= found
    if errors:
        sys.exit("\n".join(f"{dash_path}: {e}" for e in errors))
    promql_parses(exprs)
    unused = sorted(n for n in names if n not in used and not any(u.startswith(n + "_") for u in used)
                    and not re.search(r"_(bucket|sum|count)$", n))
    print(f"{len(exprs)} queries use {len(used)} metrics, all exported; "
          f"not on the dashboard: {', '.join(unused) or 'none'}")


if __name__ == "__main__":
    main()
