"""The package has no import cycles (issue 20): every `from . import` / `from .x import` in
hbn/, at module level or inside a function, is an edge; a cycle among them fails."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hbn"


def import_graph(package: Path) -> dict[str, set[str]]:
    """{module: modules of the same package it imports}, from the source's AST."""
    names = {p.stem for p in package.glob("*.py")}
    graph = {}
    for path in package.glob("*.py"):
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    edges.add(node.module.split(".")[0])
                else:  # from . import a, b
                    edges.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package.name + "."):
                edges.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                edges.update(a.name.split(".")[1] for a in node.names
                             if a.name.startswith(package.name + "."))
        graph[path.stem] = {e for e in edges if e in names and e != path.stem}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), each as a path a -> ... -> a."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group) + [sorted(group)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_hbn_has_no_import_cycles():
    assert cycles(import_graph(PACKAGE)) == []


def test_a_planted_cycle_is_found(tmp_path):
    pkg = tmp_path / "hbn"
    pkg.mkdir()
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text("import hbn.a\n")
    assert cycles(import_graph(pkg)) == [["a", "b", "a"]]


def test_cpu_tag_is_a_file_name_part():
    from hbn.runs import cpu_tag
    tag = cpu_tag()
    assert tag and all(c.isalnum() or c == "-" for c in tag) and tag == tag.lower()
