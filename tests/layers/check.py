#!/usr/bin/env python3
"""The layering of guardian/ as a test: every quoted #include of a file in
guardian/LAYER/ resolves to its own layer or a lower one (the build's
include paths enforce it too; this names the offending line), and no
header takes part in an include cycle. Usage: check.py SOURCE_ROOT"""
import os
import re
import sys

LAYERS = ["base", "policy", "kernel", "decide", "observe", "service", "daemon"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(root):
    guardian = os.path.join(root, "guardian")
    where = {}  # header name -> layer
    files = []
    for layer in LAYERS:
        d = os.path.join(guardian, layer)
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                files.append((layer, name))
                if name.endswith(".h"):
                    if name in where:
                        print(f"guardian/{layer}/{name}: the same header name is also in {where[name]}/")
                        return 1
                    where[name] = layer
    stray = [n for n in os.listdir(guardian) if n.endswith((".c", ".h"))]
    if stray:
        print(f"guardian/: sources outside a layer folder: {', '.join(sorted(stray))}")
        return 1
    bad = 0
    graph = {}
    for layer, name in files:
        text = open(os.path.join(guardian, layer, name)).read()
        deps = graph.setdefault(name, [])
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            dep_layer = where.get(inc)
            if dep_layer is None:
                continue  # bpf/ headers, generated skeletons
            line = text.count("\n", 0, m.start()) + 1
            if LAYERS.index(dep_layer) > LAYERS.index(layer):
                print(f"guardian/{layer}/{name}:{line}: includes {dep_layer}/{inc}, a higher layer")
                bad += 1
            deps.append(inc)
    # Cycles among headers (a .c file is never included).
    state = {}

    def visit(n, path):
        nonlocal bad
        state[n] = 1
        for d in graph.get(n, []):
            if state.get(d) == 1:
                cycle = path[path.index(d):] + [d] if d in path else [n, d]
                print("include cycle: " + " -> ".join(cycle))
                bad += 1
            elif not state.get(d):
                visit(d, path + [d])
        state[n] = 2

    for n in sorted(graph):
        if not state.get(n):
            visit(n, [n])
    n_files = len(files)
    print(f"{n_files} files in {len(LAYERS)} layers: {'ok' if not bad else f'{bad} problem(s)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
