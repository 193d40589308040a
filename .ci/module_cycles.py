#!/usr/bin/env python3
"""No two sibling modules of a crate may import each other, directly or through a cycle.

Usage: python3 .ci/module_cycles.py [crate-root-file ...]
(default: src/lib.rs, src/main.rs and crates/*/src/lib.rs). Exit status 1 when a cycle exists.

For every `.rs` file it reads the module paths it names (`crate::a::b`, `super::x`,
`self::y`, `use` trees with braces), resolves them against the file's own module path, and
draws an edge between the two siblings under their deepest common ancestor: `ui::state` naming
`ui::render::ladder::Row` is an edge state -> render under `ui`. Then it reports every group of
siblings that reach each other (strongly connected components of more than one module), at
every level of every crate: top-level modules and the submodules inside them.

A textual check, not a compiler: comments are skipped, macros and paths spelled through
re-exports of the crate root (`use crate::Foo` where `Foo` is defined in `lib.rs`) count as
edges to the root, which is never part of a cycle here.
"""

import glob
import os
import re
import sys
from collections import defaultdict

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE = re.compile(r"\buse\s+((?:crate|super|self)\b[^;]*);", re.S)
MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def module_files(root_file):
    """(module path, file) for the crate whose root is `root_file`, following `mod x;`."""
    out = []

    def visit(path, f, dir_for_children):
        out.append((path, f))
        text = strip_comments(open(f, encoding="utf-8").read())
        for name in MOD.findall(text):
            for cand in (
                os.path.join(dir_for_children, name + ".rs"),
                os.path.join(dir_for_children, name, "mod.rs"),
            ):
                if os.path.isfile(cand):
                    child_dir = (
                        os.path.dirname(cand)
                        if cand.endswith("mod.rs")
                        else os.path.join(dir_for_children, name)
                    )
                    visit(path + [name], cand, child_dir)
                    break

    visit([], root_file, os.path.dirname(root_file))
    return out


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e'] (good enough for module paths)."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1 : i]
                parts, d, last = [], 0, 0
                for j, c in enumerate(inner):
                    if c == "{":
                        d += 1
                    elif c == "}":
                        d -= 1
                    elif c == "," and d == 0:
                        parts.append(inner[last:j])
                        last = j + 1
                parts.append(inner[last:])
                res = []
                for p in parts:
                    if p in ("", "self"):
                        res.append(prefix.rstrip(":"))
                    else:
                        res.extend(expand_use(prefix + p))
                return res
    return [tree.split(" as ")[0]]


def resolve(base, here_is_mod_file, segments):
    """Absolute module path of `segments` (starting with crate/super/self) seen from `base`."""
    path = list(base)
    first = True
    for s in segments:
        if s == "crate" and first:
            path = []
        elif s == "self" and first:
            pass
        elif s == "super":
            path = path[:-1]
        else:
            return path + segments[segments.index(s) :]
        first = False
    return path


def edges_of(files):
    known = {tuple(p) for p, _ in files}
    edges = defaultdict(set)  # parent -> {(a, b)}
    for path, f in files:
        text = strip_comments(open(f, encoding="utf-8").read())
        refs = []
        for m in USE.finditer(text):
            refs.extend(expand_use(m.group(1)))
        for m in PATH.finditer(text):
            refs.append(m.group(1) + m.group(2))
        for r in refs:
            segs = [s for s in r.split("::") if s]
            if not segs or segs[0] not in ("crate", "super", "self"):
                continue
            target = resolve(path, f.endswith("mod.rs"), segs)
            # Keep the longest prefix that is a known module.
            while target and tuple(target) not in known:
                target = target[:-1]
            common = 0
            while common < min(len(path), len(target)) and path[common] == target[common]:
                common += 1
            if common < len(path) and common < len(target):
                parent = tuple(path[:common])
                edges[parent].add((path[common], target[common]))
    return edges


def cycles(pairs):
    graph = defaultdict(set)
    for a, b in pairs:
        graph[a].add(b)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            strong(v)
    return out


def main(roots):
    found = False
    for root in roots:
        files = module_files(root)
        for parent, pairs in sorted(edges_of(files).items()):
            for comp in cycles(pairs):
                found = True
                where = "::".join(parent) or "(crate root)"
                links = sorted((a, b) for a, b in pairs if a in comp and b in comp)
                print(f"{root}: cycle under {where}: {' <-> '.join(comp)}  edges {links}")
    if not found:
        print(f"no module cycles in {len(roots)} crate roots")
    return 1 if found else 0


if __name__ == "__main__":
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    os.chdir(here)
    roots = sys.argv[1:] or (
        [p for p in ("src/lib.rs", "src/main.rs") if os.path.isfile(p)]
        + sorted(glob.glob("crates/*/src/lib.rs"))
    )
    sys.exit(main(roots))
