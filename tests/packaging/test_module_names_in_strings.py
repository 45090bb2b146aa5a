"""Code that names a module in a string (``python -c "from core..."``, ``[python, "-m", "core.warmup"]``,
a command in a README) uses the installed names, packshot.core and so on. The rename's import rewrite
did not reach these: the old name still imports from a checkout's root, so a test passed while it
checked a second copy of the module, and an installed app would fail."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("core", "desktop", "trainer", "resources")
OLD = "|".join(TOPS)
# an import statement or a -m command inside text (not prose such as "from core's jobs"), and a string
# that is nothing but a module path
CODE_IN_TEXT = re.compile(rf"\bfrom\s+(?:{OLD})(?:\.\w+)*\s+import\b"
                          rf"|\bimport\s+(?:[\w.]+\s*,\s*)*(?:{OLD})(?:\.[a-z_]\w*)+"
                          rf"|\bimport\s+(?:[\w.]+\s*,\s*)*(?:{OLD})\s*(?:[,;]|$)"
                          rf"|(?:^|\s)-m\s+(?:{OLD})\b(?![/\w-])", re.MULTILINE)
MODULE_ONLY = re.compile(rf"^(?:{OLD})(?:\.[a-z_][a-z0-9_]*)+$")


def _python_files() -> list[Path]:
    return [p for top in (*TOPS, "tests", "packaging") for p in (ROOT / top).rglob("*.py")
            if "__pycache__" not in p.parts and p != Path(__file__).resolve()]  # this file holds examples


def _stale(text: str) -> bool:
    return bool(CODE_IN_TEXT.search(text)) or bool(MODULE_ONLY.match(text.strip("\"'")))


def test_strings_in_the_code_name_modules_by_their_installed_names():
    found = []
    for path in _python_files():
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        found += [f"{path.relative_to(ROOT)}:{t.start[0]}: {t.string[:80]}" for t in tokens
                  if t.type == tokenize.STRING and _stale(t.string)]
    assert not found, "\n".join(found)


def test_the_readmes_start_modules_by_their_installed_names():
    readmes = [ROOT / "README.md", *(ROOT / top / "README.md" for top in ("desktop", "packaging"))]
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}" for path in readmes
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if CODE_IN_TEXT.search(line)]
    assert not found, "\n".join(found)


def test_the_check_sees_the_old_names():
    assert _stale('"import sys; from core.generation.matting import warm_up"')
    assert _stale('"core.warmup"') and _stale("'desktop'") is False
    assert CODE_IN_TEXT.search("accelerate launch -m core.cli.main batch IN")
    assert not _stale('"-m packshot.core.warmup"') and not _stale('"from packshot.core.jobs import BatchJob"')
    assert not _stale('"core/jobs/batch.py"') and not _stale('"the core of it"')
    assert _stale('"-c import core, desktop, torch"') and _stale('"import sys, core.masking; print(1)"') and not _stale('"what the app uses from core beyond jobs"')
