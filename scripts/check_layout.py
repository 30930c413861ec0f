#!/usr/bin/env python3
"""Checks that the repository's layout is what docs/architecture.md says it is.

  scripts/check_layout.py [ROOT]

1. The folder table in docs/architecture.md names every top-level folder of the tree, and only
   those; the README's layout table names the same folders.
2. Each folder's CMakeLists.txt links only the ensweep_* libraries of the folders the table says it
   depends on (so the dependencies stay one-way).
3. Only worker/ (and the tests and benchmarks of the trainer) include torch headers.
4. No function is longer than 80 lines unless a comment starting with "// Long:" in the three
   lines above its first line says why.

Prints one line per problem and exits 1 if there is any, 0 otherwise.
"""
import os
import re
import sys

MAX_FUNCTION_LINES = 80
ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
SKIP_DIRS = {".git", "node_modules", "corpus"}
# Library name -> the folder that builds it.
LIBRARY_FOLDER = {
    "ensweep_core": "core", "ensweep_search": "search", "ensweep_objectives": "objectives",
    "ensweep_orchestrator": "orchestrator", "ensweep_mpi": "orchestrator",
    "ensweep_worker": "worker", "ensweep_torch": "worker", "ensweep_datagen": "datagen",
    "ensweep_ensemble": "ensemble", "ensweep_audit": "audit", "ensweep_cli": "apps", "ensweep_collective": "collective",
    "ensweep_analysis": "analysis", "ensweep_dashboard": "dashboard",
    "ensweep_dashboard_assets": "dashboard",
}
TORCH_ALLOWED = ("worker/", "tests/worker/", "bench/trainer/")

problems = []


def tree_folders():
    out = []
    for name in sorted(os.listdir(ROOT)):
        path = os.path.join(ROOT, name)
        if not os.path.isdir(path) or name.startswith(".") or name.startswith("build"):
            continue
        if name in ("data", "runs", "node_modules"):  # made by the quickstart, not in git
            continue
        out.append(name)
    return out


def table_rows(path, heading):
    """Rows of the first markdown table after the line `heading`: a list of cell lists."""
    lines = open(path, encoding="utf-8").read().split("\n")
    try:
        start = lines.index(heading)
    except ValueError:
        problems.append(f"{os.path.relpath(path, ROOT)}: no '{heading}' section")
        return []
    rows, in_table = [], False
    for line in lines[start + 1:]:
        if line.startswith("|"):
            in_table = True
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= set("-: "):
                rows.append(cells)
        elif in_table:
            break
    return rows[1:]  # without the header row


def folder_name(cell):
    match = re.fullmatch(r"`([a-z_]+)/`", cell)
    return match.group(1) if match else None


def check_tables():
    actual = set(tree_folders())
    arch = os.path.join(ROOT, "docs", "architecture.md")
    deps = {}
    for cells in table_rows(arch, "## Folders"):
        name = folder_name(cells[0])
        if name is None:
            problems.append(f"docs/architecture.md: folder cell {cells[0]!r} is not like `name/`")
            continue
        deps[name] = {d for d in re.findall(r"`([a-z_]+)/`", cells[1])} if len(cells) > 1 else set()
    for name, source in (("docs/architecture.md", set(deps)),
                         ("README.md", {folder_name(c[0]) for c in table_rows(os.path.join(ROOT, "README.md"), "## Layout")})):
        for missing in sorted(actual - source):
            problems.append(f"{name}: folder {missing}/ is in the tree but not in the folder table")
        for extra in sorted(source - actual - {None}):
            problems.append(f"{name}: folder table names {extra}/, which is not in the tree")
    return deps


def check_dependencies(deps):
    for folder, allowed in deps.items():
        cmake = os.path.join(ROOT, folder, "CMakeLists.txt")
        if not os.path.exists(cmake) or folder == "tests":
            continue
        text = open(cmake, encoding="utf-8").read()
        for block in re.findall(r"target_link_libraries\(([^)]*)\)", text):
            for lib in re.findall(r"\bensweep_[a-z_]+\b", block):
                used = LIBRARY_FOLDER.get(lib)
                if used and used != folder and used not in allowed:
                    problems.append(f"{folder}/CMakeLists.txt links {lib} ({used}/), which the "
                                    f"folder table does not list as a dependency of {folder}/")
    # The table's own dependencies must not form a cycle.
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(deps.get(node, ())):
            if state.get(nxt) == 1:
                problems.append("docs/architecture.md: dependency cycle " + " -> ".join(stack + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(deps):
        if node not in state:
            visit(node, [node])


def source_files():
    for directory, dirs, files in os.walk(ROOT):
        rel_dir = os.path.relpath(directory, ROOT)
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(("build", "."))
                   and not (rel_dir == "." and d in ("data", "runs"))]
        for f in files:
            if f.endswith((".cc", ".cpp", ".h")):
                yield os.path.relpath(os.path.join(directory, f), ROOT).replace(os.sep, "/")


def check_torch(path, lines):
    if path.startswith(TORCH_ALLOWED):
        return
    for number, line in enumerate(lines, 1):
        if re.match(r'\s*#\s*include\s*[<"](torch|ATen|c10)/', line):
            problems.append(f"{path}:{number}: includes a torch header outside worker/")


def function_starts(lines):
    """Yields (first line index, index of the line ending with '{') of top-level definitions."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if (line and not line[0].isspace() and "(" in line
                and not line.startswith(("#", "//", "}"))
                and not re.match(r"(namespace|struct|class|enum|extern|union|using|static_assert|typedef)\b", line)):
            for k in range(i, min(i + 6, len(lines))):
                text = lines[k].rstrip()
                if text.endswith(";"):
                    break
                if text.endswith("{"):
                    yield i, k
                    break
        i += 1


def check_function_lengths(path, lines):
    i_skip = -1
    for first, brace in function_starts(lines):
        if first <= i_skip:
            continue
        end = brace + 1
        while end < len(lines) and not lines[end].startswith("}"):
            end += 1
        i_skip = end
        length = end - first + 1
        if length <= MAX_FUNCTION_LINES:
            continue
        above = lines[max(0, first - 3):first]
        if any(l.strip().startswith("// Long:") for l in above):
            continue
        problems.append(f"{path}:{first + 1}: function is {length} lines long (limit "
                        f"{MAX_FUNCTION_LINES}); split it or say why in a '// Long:' comment above it")


def main():
    deps = check_tables()
    check_dependencies(deps)
    for path in source_files():
        lines = open(os.path.join(ROOT, path), encoding="utf-8", errors="replace").read().split("\n")
        check_torch(path, lines)
        check_function_lengths(path, lines)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layout: {len(problems)} problem(s)")
        return 1
    print("check_layout: folders, dependencies, torch includes and function lengths as documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
