"""core's modules import each other without a circle, and the runtime imports no domain.

The graph is read from the source with ``ast``: module-level imports only (an import inside a
function runs later, one under ``if TYPE_CHECKING`` never), each edge to the module named (a
package's ``__init__`` is its own node; importing ``packshot.core.a.b`` is not counted as
importing ``packshot.core.a``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import packshot.core

CORE = Path(packshot.core.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    return ".".join(["packshot", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(node: ast.stmt, module: str, is_package: bool) -> list[str]:
    """The module names an import statement names (a ``from x import y`` names x.y when y is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against this module's package
            package = module.split(".") if is_package else module.split(".")[:-1]
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        return [base] + [f"{base}.{alias.name}" for alias in node.names]
    return []


def _top_level_imports(body: list[ast.stmt]) -> list[ast.stmt]:
    """Import statements that run when the module is imported: module level and under plain if/try, not
    in functions or classes' methods, not under TYPE_CHECKING."""
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                found += _top_level_imports(node.body)
            found += _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found += _top_level_imports(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            found += _top_level_imports(node.body)
    return found


def _all_imports(tree: ast.Module) -> list[ast.stmt]:
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def core_modules() -> dict[str, tuple[Path, ast.Module]]:
    return {_module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"), str(p))) for p in CORE.rglob("*.py")}


def import_graph(modules: dict[str, tuple[Path, ast.Module]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, (path, tree) in modules.items():
        is_package = path.name == "__init__.py"
        targets = {t for node in _top_level_imports(tree.body) for t in _imported(node, name, is_package)}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as [a, b, ..., a], or [] when there is none (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return []


def test_the_graph_sees_module_level_imports_and_finds_a_circle():
    """The checker itself: a planted circle is found; imports in functions and TYPE_CHECKING are not edges."""
    source = ("from typing import TYPE_CHECKING\nimport packshot.core.b\nif TYPE_CHECKING:\n"
              "    import packshot.core.c\ndef f():\n    import packshot.core.c\n")
    modules = {"packshot.core.a": (Path("a.py"), ast.parse(source)),
               "packshot.core.b": (Path("b.py"), ast.parse("from packshot.core import a\n")),
               "packshot.core.c": (Path("c.py"), ast.parse("import packshot.core.a\n"))}
    graph = import_graph(modules)
    assert graph == {"packshot.core.a": {"packshot.core.b"}, "packshot.core.b": {"packshot.core.a"}, "packshot.core.c": {"packshot.core.a"}}
    assert find_cycle(graph) in (["packshot.core.a", "packshot.core.b", "packshot.core.a"], ["packshot.core.b", "packshot.core.a", "packshot.core.b"])
    assert find_cycle({"packshot.core.a": {"packshot.core.b"}, "packshot.core.b": set()}) == []


def test_core_has_no_import_circle():
    graph = import_graph(core_modules())
    assert len(graph) > 50  # the whole package was read
    cycle = find_cycle(graph)
    assert not cycle, "import circle in core: " + " -> ".join(cycle)


def test_the_runtime_imports_no_domain_module_at_all():
    """Not even inside a function: the runtime manages lifetimes; domains key and load their own models."""
    modules = core_modules()
    path, tree = modules["packshot.core.runtime"]
    named = {t for node in _all_imports(tree) for t in _imported(node, "packshot.core.runtime", False)}
    from_core = {t for t in named if t.startswith("packshot.core.") and t in modules}
    assert from_core <= {"packshot.core.models.store"}, f"core/runtime.py imports domain modules: {sorted(from_core)}"
