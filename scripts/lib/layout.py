"""Checks the shape of the code: which files of a crate import which, circles
among them, file sizes, and that the domain crate depends on no I/O crate.

    python3 scripts/lib/layout.py            # every crate: a table and the checks
    python3 scripts/lib/layout.py --graph CRATE   # one crate's file imports, as lines

A file's imports are the `crate::…`, `super::…` and `self::…` paths in its code
outside `#[cfg(test)]` modules, resolved to the file that defines the module they
name (through `pub use` re-exports of the crate root and of `mod.rs` files).
Only a file's shipped part counts towards its size: test modules (inline, or in
files of their own declared under `#[cfg(test)]`) do not.
"""

import os
import re
import sys

try:
    import tomllib
except ImportError:  # Python before 3.11: read the few keys used here by hand.
    tomllib = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MAX_FILE_LINES = 350
# Crates whose split is still to come: reported, not enforced.
PENDING = {}
# A domain crate must not depend on any of these.
IO_CRATES = {"lambda_http", "lambda_runtime", "mongodb", "bson", "reqwest", "tokio", "hyper",
             "hyper-util", "aws_lambda_events", "http"}
DOMAIN_CRATES = {"shop-domain"}


def load_toml(path):
    """The parts of a Cargo.toml used here: workspace members, the package
    name, the `[lints]` table and the `[dependencies]` keys."""
    if tomllib is not None:
        return tomllib.load(open(path, "rb"))
    out, table = {}, None
    for line in open(path):
        line = line.split("#")[0].strip()
        if line.startswith("[["):  # arrays of tables ([[bin]]) are not needed
            table = None
            continue
        header = re.match(r"^\[([^\]]+)\]$", line)
        if header:
            table = header.group(1)
            continue
        m = re.match(r'^([A-Za-z0-9_.-]+)\s*=\s*(.*)$', line)
        if not m or table is None:
            continue
        key, value = m.groups()
        section = out
        for part in table.split("."):
            section = section.setdefault(part, {})
        if key == "members":
            value = re.findall(r'"([^"]+)"', value)
        elif value == "true":
            value = True
        elif value.startswith('"'):
            value = value.strip('"')
        section[key.split(".")[0]] = value
    return out


def members():
    """(name, directory) of every workspace member with a src/."""
    workspace = load_toml(os.path.join(ROOT, "Cargo.toml"))
    out = []
    for pattern in workspace["workspace"]["members"]:
        dirs = ([os.path.join(pattern[:-2], d) for d in sorted(os.listdir(os.path.join(ROOT, pattern[:-2])))]
                if pattern.endswith("/*") else [pattern])
        for d in dirs:
            manifest = os.path.join(ROOT, d, "Cargo.toml")
            if os.path.exists(manifest) and os.path.isdir(os.path.join(ROOT, d, "src")):
                out.append((load_toml(manifest)["package"]["name"], d))
    return out


TEST_MODULE_FILE = re.compile(r"^\s*#\[cfg\(test\)\]\s*(?:#\[path = \"([^\"]+)\"\]\s*)?mod (\w+);", re.M)
TEST_MODULE = re.compile(r"^\s*#\[cfg\(test\)\]\s*mod \w+ \{", re.M)


def shipped_part(text):
    """The text before its inline test module (`#[cfg(test)] mod tests { … }`),
    without the declarations of test modules kept in files of their own."""
    cut = TEST_MODULE.search(text)
    return TEST_MODULE_FILE.sub("", text[: cut.start()] if cut else text)


def test_files(mods):
    """The files declared as `#[cfg(test)] mod name;`: tests, not shipped code."""
    out = set()
    for module, path in mods.items():
        for m in TEST_MODULE_FILE.finditer(open(path).read()):
            directory = os.path.dirname(path)
            if os.path.basename(path) in ("lib.rs", "main.rs", "mod.rs"):
                child = os.path.join(directory, m.group(1) or f"{m.group(2)}.rs")
            else:
                stem = os.path.splitext(os.path.basename(path))[0]
                child = os.path.join(directory, m.group(1) or os.path.join(stem, f"{m.group(2)}.rs"))
            out.add(os.path.normpath(child))
    return out


def code_part(text):
    """The shipped part of a file, without comments and strings."""
    code = shipped_part(text)
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', code)
    return code


def modules(src):
    """Module path (tuple) → file, for every .rs file under src/ (not bin/)."""
    out = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[0] == "bin":
                continue
            if parts[-1] in ("lib", "main", "mod"):
                parts = parts[:-1]
            out[tuple(parts)] = os.path.join(dirpath, f)
    return out


def reexports(mods):
    """(module, name) → module it is re-exported from, for `pub use a::{X, Y}`."""
    out = {}
    for module, path in mods.items():
        code = code_part(open(path).read())
        for m in re.finditer(r"pub(?:\([a-z]+\))? use ((?:self::|crate::)?[a-z_][a-z0-9_:]*)::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)", code):
            source = [p for p in m.group(1).split("::") if p not in ("self",)]
            base = list(module) if source[0] != "crate" else []
            target = tuple(base + [p for p in source if p != "crate"])
            for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(2)):
                out[(module, name)] = target
    return out


def resolve(path, mods, reexp):
    """The defining module of an absolute module path (a tuple of names)."""
    for _ in range(8):
        best = max((m for m in mods if path[: len(m)] == m), key=len, default=())
        rest = path[len(best):]
        if rest and (best, rest[0]) in reexp:
            path = reexp[(best, rest[0])] + rest[1:]
            continue
        return best
    return best


def imports(module, path, mods, reexp):
    code = code_part(open(path).read())
    # `use a::{b, c::{d}}` is expanded into one path per leaf.
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        paths += expand(m.group(1).replace(" ", "").replace("\n", ""))
    paths += re.findall(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", code)
    targets = set()
    is_dir_module = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
    for p in paths:
        parts = p.split("::")
        if parts[0] == "crate":
            absolute = parts[1:]
        elif is_dir_module and tuple(module) + (parts[0],) in mods:
            # `use child::Item` in a mod.rs names its own child module.
            absolute = list(module) + parts
        elif parts[0] in ("super", "self"):
            base = list(module)
            while parts and parts[0] in ("super", "self"):
                if parts[0] == "super" and not is_dir_module:
                    base = base[:-1]
                elif parts[0] == "super":
                    base = base[:-1]
                parts = parts[1:]
            absolute = base + parts
        else:
            continue
        target = resolve(tuple(absolute), mods, reexp)
        if target != module:
            targets.add(target)
    return targets


def expand(tree):
    """`a::{b,c::{d,e}}` → [a::b, a::c::d, a::c::e]."""
    m = re.match(r"^([^{]*)\{(.*)\}$", tree)
    if not m:
        return [tree]
    prefix, inner = m.groups()
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in filter(None, parts):
        out += [prefix + q for q in expand(p)] if p != "self" else [prefix.rstrip(":")]
    return out


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def name(module):
    return "::".join(module) or "(root)"


def main():
    args = sys.argv[1:]
    failures = []
    rows = []
    for crate, directory in members():
        src = os.path.join(ROOT, directory, "src")
        mods = modules(src)
        tests = test_files(mods)
        mods = {m: p for m, p in mods.items() if os.path.normpath(p) not in tests}
        reexp = reexports(mods)
        graph = {m: imports(m, p, mods, reexp) for m, p in mods.items()}
        if args[:1] == ["--graph"]:
            if crate == args[1]:
                for m in sorted(graph):
                    print(f"{name(m)} -> {', '.join(name(t) for t in sorted(graph[m])) or '-'}")
            continue
        problems = []
        for circle in cycles(graph):
            problems.append("import circle: " + " ↔ ".join(name(m) for m in circle))
        biggest = 0
        for m, p in mods.items():
            lines = shipped_part(open(p).read()).count("\n")
            biggest = max(biggest, lines)
            if lines > MAX_FILE_LINES:
                problems.append(f"{os.path.relpath(p, ROOT)}: {lines} lines outside tests (limit {MAX_FILE_LINES})")
        manifest = load_toml(os.path.join(ROOT, directory, "Cargo.toml"))
        if crate in DOMAIN_CRATES:
            for dep in sorted(set(manifest.get("dependencies", {})) & IO_CRATES):
                problems.append(f"the domain crate depends on the I/O crate {dep}")
        if manifest.get("lints", {}).get("workspace") is not True:
            problems.append("does not inherit the workspace lints ([lints] workspace = true)")
        status = "ok" if not problems else ("pending" if crate in PENDING else "FAIL")
        rows.append((crate, len(mods), sum(len(t) for t in graph.values()), biggest, status))
        for problem in problems:
            print(f"{crate}: {problem}")
        if problems and crate not in PENDING:
            failures.append(crate)
        elif problems:
            print(f"{crate}: pending ({PENDING[crate]})")
    if args[:1] == ["--graph"]:
        return 0
    print(f"\n{'crate':<20} {'files':>5} {'imports':>7} {'largest':>7}  status")
    for crate, files, edges, biggest, status in rows:
        print(f"{crate:<20} {files:>5} {edges:>7} {biggest:>7}  {status}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
