"""No module-level registries of loaded things in core/ or desktop/: the Runtime (and the app's
Workspace) own them. A static check with ``ast``, with a self-test showing what it catches."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "desktop")

# Names the old registries had: never again at module level, whatever they hold.
REGISTRY_NAMES = {"_ENGINES", "_ENTRIES", "_LOADED", "_SESSIONS", "_TINY", "_STORES", "_MASK_CONTEXTS",
                  "_RESOLVED", "_CACHE", "_MODELS"}
CONTAINERS = {"dict", "set", "list", "OrderedDict", "defaultdict", "WeakValueDictionary", "WeakKeyDictionary"}
OWNERS = {"Runtime", "LoadOnce", "ModelStore", "Workspace", "ProjectStore"}  # never one per module
MUTATORS = {"setdefault", "update", "pop", "popitem", "clear", "append", "add", "extend", "insert", "remove",
            "discard", "__setitem__"}
# Module-level state that is not a model registry, each with why it may stay.
ALLOWED_MEMOS = {
    ("core/models/manifest.py", "load_manifest"): "the bundled manifest JSON, not a model",
    ("core/images.py", "_heif_opener"): "registers pillow-heif's opener with Pillow once (a process-wide hook)",
    ("core/images.py", "_icc_parses"): "a yes/no per ICC profile's bytes, bounded (32), not a model",
    ("core/options.py", "_hints"): "a settings class's resolved annotations, not a model",
}
ALLOWED_STATE = {
    ("core/logfile.py", "_log_file"): "the process's one log file handler",
    ("core/masking/backdrop.py", "_LUT"): "a 256-entry sRGB table, computed once: a constant",
    ("desktop/errors.py", "_relay"): "Qt's excepthook relay, one per application",
    ("desktop/workers.py", "_live"): "running Qt workers, kept referenced until they finish",
}


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return ""


def _is_container(value: ast.AST) -> bool:
    return isinstance(value, (ast.Dict, ast.Set, ast.List, ast.DictComp, ast.SetComp, ast.ListComp)) \
        or _call_name(value) in CONTAINERS


def problems_in(source: str, name: str) -> list[str]:
    """What in one module's source looks like a per-process registry (``file:line: why``)."""
    tree = ast.parse(source)
    found, containers = [], {}
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] \
            if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else []
        value = getattr(stmt, "value", None)
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            if target.id in REGISTRY_NAMES:
                found.append(f"{name}:{stmt.lineno}: module-level {target.id} (a registry's name)")
            if value is not None and _is_container(value):
                containers[target.id] = stmt.lineno
            if value is not None and _call_name(value) in OWNERS:
                found.append(f"{name}:{stmt.lineno}: a module-level {_call_name(value)}() is a hidden global")
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in stmt.decorator_list:
                deco_name = _call_name(deco) or getattr(deco, "attr", getattr(deco, "id", ""))
                if deco_name in ("lru_cache", "cache") and (name, stmt.name) not in ALLOWED_MEMOS:
                    found.append(f"{name}:{stmt.lineno}: @{deco_name} on {stmt.name} caches per process")
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Global):
                found += [f"{name}:{node.lineno}: `global {g}` in {func.name}" for g in node.names
                          if (name, g) not in ALLOWED_STATE]
            target = None
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                for t in getattr(node, "targets", None) or [node.target]:
                    if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                        target = t.value.id
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in MUTATORS and isinstance(node.func.value, ast.Name):
                target = node.func.value.id
            if target in containers and not _shadowed(func, target) and (name, target) not in ALLOWED_STATE:
                found.append(f"{name}:{node.lineno}: {func.name} fills the module-level {target} "
                             f"(line {containers[target]}): a per-process cache")
    return found


def _shadowed(func: ast.AST, name: str) -> bool:
    """``name`` is a local of ``func`` (a parameter or assigned there), not the module's."""
    args = func.args
    params = {a.arg for a in args.args + args.kwonlyargs + args.posonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    assigned = {t.id for node in ast.walk(func) if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    return name in params or name in assigned


def test_no_module_level_model_registries_in_core_or_desktop():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            found += problems_in(path.read_text(encoding="utf-8"), rel)
    assert not found, "Loaded things belong to a Runtime (core/runtime.py), not to a module:\n" + "\n".join(found)


def test_the_check_catches_the_old_patterns_and_lets_constants_through():
    old = '''
_ENTRIES = {}
LOADED: dict = {}
RUNTIME = Runtime()

def get(key):
    if key not in LOADED:
        LOADED[key] = object()
    return LOADED[key]

def forget():
    LOADED.clear()

def swap():
    global RUNTIME
'''
    found = problems_in(old, "old.py")
    assert any("_ENTRIES" in f for f in found)
    assert any("get fills the module-level LOADED" in f for f in found)
    assert any("forget fills the module-level LOADED" in f for f in found)
    assert any("Runtime()" in f for f in found) and any("global RUNTIME" in f for f in found)
    constants = '''
SAM_ARCHS = {"vit_b": 1}
PRIORS = {name: name for name in ("a", "b")}

def arch(name):
    table = {}
    table[name] = SAM_ARCHS[name]
    return table

def pick(PRIORS):
    PRIORS.update(x=1)
'''
    assert problems_in(constants, "constants.py") == []
    memo = "from functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef load_model():\n    return 1\n"
    assert problems_in(memo, "memo.py") and not problems_in(memo.replace("load_model", "load_manifest"),
                                                            "core/models/manifest.py")
