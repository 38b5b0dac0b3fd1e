#!/usr/bin/env python3
"""The docs say what the programs do, checked against the programs.

- every option of `guardian --help` is an option of guardian(8);
- every command and option of `guardctl --help` is in guardctl(8);
- every key the policy loader accepts (the FIELD/REQUIRED tables of
  guardian/policy/policy-*.c, and the rlimit names) is a key of
  guardian.policy(5), which lists no key the loader does not accept,
  and is in policies/README.md under its parent.

Usage: docs-check.py SOURCE-ROOT GUARDIAN GUARDCTL
"""
import re
import subprocess
import sys

# Tables in functions that are not a field's handler: where they sit.
# A new table elsewhere is an error until it is added here.
PARENTS = {
    ("rlimit_entry", "fields"): "rlimits.NAME",
    ("health_item", "fields"): "health[]",
    ("health_kind", "http"): "health[].http",
    ("health_kind", "tcp"): "health[].tcp",
    ("rule_item", "fields"): "rules[]",
    ("rule_when", "fields"): "rules[].when",
    # one table for both lists of hooks
    ("hook_item", "fields"): ["hooks.after[]", "hooks.before[]"],
}
ROOT = "policy_compile"

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def functions(text):
    """Function name -> body, for top-level C function definitions."""
    out = {}
    for m in re.finditer(r"^[a-z][\w \*]*?\b(\w+)\([^;{]*\)\s*\{(.*?)^\}", text, re.S | re.M):
        out[m.group(1)] = m.group(2)
    return out


def loader_keys(src):
    tables = []  # (function, table name, [(key, handler)])
    rlimits = []
    for name in ("policy-compile.c", "policy-checks.c", "policy-hooks.c"):
        text = open(f"{src}/guardian/policy/{name}").read()
        for fn, body in functions(text).items():
            for t in re.finditer(r"static const struct field (\w+)\[\] = \{(.*?)\};", body, re.S):
                entries = re.findall(r"(?:FIELD|REQUIRED)\(\"([^\"]+)\",\s*(\w+)", t.group(2))
                tables.append((fn, t.group(1), entries))
        m = re.search(r"rlimit_names\[\] = \{(.*?)\};", text, re.S)
        if m:
            rlimits = re.findall(r"\{ \"(\w+)\", RLIMIT_", m.group(1))
    if not tables or not rlimits:
        fail("found no field tables or rlimit names in guardian/policy: has the loader changed shape?")
    handlers = {h: (fn, key) for fn, _, entries in tables for key, h in entries}

    def path_of(fn, table):
        if fn == ROOT:
            return ""
        if (fn, table) in PARENTS:
            return PARENTS[(fn, table)]
        if fn in handlers:
            parent_fn, key = handlers[fn]
            parent = path_of(parent_fn, None)
            return f"{parent}.{key}" if parent else key
        raise KeyError(f"{fn} ({table})")

    keys = set()
    for fn, table, entries in tables:
        try:
            parents = path_of(fn, table)
        except KeyError as e:
            fail(f"cannot tell where the field table in {e} sits: add it to PARENTS in {__file__}")
            continue
        for parent in parents if isinstance(parents, list) else [parents]:
            keys.update(f"{parent}.{k}" if parent else k for k, _ in entries)
    keys.update(f"rlimits.{r}" for r in rlimits)
    return keys


def man_terms(text):
    """The bold words of scdoc's definition lines: a line that starts with
    a bold term and is followed by its tab-indented definition."""
    terms = set()
    lines = text.split("\n")
    for line, after in zip(lines, lines[1:]):
        if line.startswith("*") and after.startswith("\t"):
            terms.update(re.findall(r"\*([^*\s]+)\*", line))
    return terms


def readme_sections(text):
    """Heading text or `key` bullet -> the text it introduces."""
    lines = text.split("\n")
    out = {}
    for i, line in enumerate(lines):
        h = re.match(r"(#+) (.*)", line)
        b = re.match(r"- `(\w+)`", line)
        if h:
            level = len(h.group(1))
            end = next((j for j in range(i + 1, len(lines))
                        if re.match(r"#{1,%d} " % level, lines[j])), len(lines))
            out.setdefault(h.group(2), "\n".join(lines[i:end]))
        elif b:
            end = next((j for j in range(i + 1, len(lines))
                        if not lines[j].startswith("  ")), len(lines))
            out.setdefault("bullet " + b.group(1), "\n".join(lines[i:end]))
    return out


def readme_has(sections, key):
    parts = key.replace("[]", "").split(".")
    name = parts[-1]
    if len(parts) == 1:
        return re.search(r"^\| `%s` \|" % re.escape(name), sections.get("Top-level keys", ""), re.M)
    for n in range(len(parts) - 1, 0, -1):
        parent = ": ".join(p for p in parts[:n] if p != "NAME")
        body = [v for k, v in sections.items()
                if k == "bullet " + parent or re.match(re.escape(parent) + r"(\W|$)", k)]
        if body:
            return re.search(r"`%s`|\b%s:" % (re.escape(name), re.escape(name)), body[0])
    return False


def help_text(exe):
    return subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout


def check_options(page, options, what):
    terms = man_terms(open(page).read())
    missing = sorted(o for o in options if o not in terms)
    if missing:
        fail(f"{page}: {what} not documented: {' '.join(missing)}")
    else:
        print(f"ok: {page} documents all {len(options)} {what}")


def main():
    src, guardian, guardctl = sys.argv[1:4]
    man = f"{src}/docs/man"

    opts = set(re.findall(r"^\s+(--[a-z-]+)", help_text(guardian), re.M))
    if len(opts) < 10:
        fail(f"guardian --help lists only {len(opts)} options: has its format changed?")
    check_options(f"{man}/guardian.8.scd", opts, "options of guardian --help")

    h = help_text(guardctl)
    commands = set(re.findall(r"^  ([a-z]+) ", h.split("Options:")[0].split("Commands:")[1], re.M))
    copts = set(re.findall(r"(--[a-z-]+)", h))
    if len(commands) < 8:
        fail(f"guardctl --help lists only {len(commands)} commands: has its format changed?")
    check_options(f"{man}/guardctl.8.scd", commands, "commands of guardctl --help")
    check_options(f"{man}/guardctl.8.scd", copts, "options of guardctl --help")

    keys = loader_keys(src)
    page = f"{man}/guardian.policy.5.scd"
    text = open(page).read()
    keys_part = text.split("# KEYS")[1].split("\n# ")[0] if "# KEYS" in text else ""
    documented = man_terms(keys_part)
    if documented - keys:
        fail(f"{page}: keys the loader does not accept: {' '.join(sorted(documented - keys))}")
    if keys - documented:
        fail(f"{page}: keys the loader accepts but the page does not list: {' '.join(sorted(keys - documented))}")
    if documented == keys:
        print(f"ok: {page} lists the loader's {len(keys)} keys, and no other")

    sections = readme_sections(open(f"{src}/policies/README.md").read())
    missing = sorted(k for k in keys if not readme_has(sections, k))
    if missing:
        fail(f"policies/README.md: keys not in the section of their parent: {' '.join(missing)}")
    else:
        print(f"ok: policies/README.md has the loader's {len(keys)} keys, each under its parent")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
