"""The app reaches core through a narrow front door: at most these six modules (issue 22, item 5)."""

from __future__ import annotations

import ast
from pathlib import Path

import packshot.desktop

CORE = "packshot.core"
ALLOWED = {f"packshot.core.{name}" for name in ("jobs", "errors", "images", "progress", "runtime", "app_api")}


def core_imports(source: str) -> set[str]:
    """The core modules a file's source imports (``from packshot.core import x`` imports ``packshot.core.x``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == CORE or a.name.startswith(CORE + "."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == CORE:
                found.update(f"{CORE}.{a.name}" for a in node.names)
            elif node.module.startswith(CORE + "."):
                found.add(node.module)
    return found


def test_desktop_imports_at_most_the_six_allowed_core_modules():
    used: dict[str, list[str]] = {}
    for path in sorted(Path(packshot.desktop.__file__).parent.rglob("*.py")):
        for module in core_imports(path.read_text(encoding="utf-8")):
            used.setdefault(module, []).append(path.name)
    outside = {m: files for m, files in used.items() if m not in ALLOWED}
    assert not outside, f"desktop reaches past core's front door: {outside}"
    assert len(ALLOWED) <= 6


def test_the_walk_sees_every_import_form():
    source = ("import packshot.core\nimport packshot.core.naming\nfrom packshot.core import options\n"
              "from packshot.core.jobs.settings import X\ndef f():\n    from packshot.core.project import P\n")
    assert core_imports(source) == {CORE, f"{CORE}.naming", f"{CORE}.options", f"{CORE}.jobs.settings", f"{CORE}.project"}


def test_every_name_the_door_lists_resolves():
    import packshot.core.app_api as door

    for name in door.__all__:
        assert getattr(door, name) is not None, name
