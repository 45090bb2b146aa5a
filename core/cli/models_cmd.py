"""``packshot models list | download | verify | path``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from packshot.core.progress import Progress

if TYPE_CHECKING:
    from packshot.core.models.store import ModelStore

MODELS_DIR_HELP = "folder holding models as <dir>/<model id>/ (default: data dir)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, download, verify and locate model weights")
    parser.add_argument("--models-dir", help=MODELS_DIR_HELP)
    # Every action accepts --models-dir too (`packshot models list --models-dir X`). SUPPRESS as its
    # default, so an action that does not repeat it keeps the value given before the action.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models-dir", default=argparse.SUPPRESS, help=MODELS_DIR_HELP)
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    sub.add_parser("list", parents=[common], help="every model Packshot can use and where it is"
                   ).set_defaults(func=_list)
    dl = sub.add_parser("download", parents=[common], help="download models (with progress; resumes)")
    dl.add_argument("ids", nargs="+", metavar="MODEL")
    dl.set_defaults(func=_download)
    ver = sub.add_parser("verify", parents=[common], help="re-check sizes and checksums of local models")
    ver.add_argument("ids", nargs="*", metavar="MODEL", help="default: every model found locally")
    ver.set_defaults(func=_verify)
    path = sub.add_parser("path", parents=[common], help="print the local folder of a model")
    path.add_argument("id", metavar="MODEL")
    path.set_defaults(func=_path)


def _store(args: argparse.Namespace) -> ModelStore:
    """The store of this command's runtime (models commands look models up; they load none)."""
    from packshot.core.runtime import Runtime

    return Runtime(args.models_dir).store


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = [("MODEL", "SIZE", "LICENCE", "WHERE")]
    for spec in store.list_models():
        folder = store.locate(spec.id)
        rows.append((spec.id, spec.size_text, spec.licence or "-", str(folder) if folder else "missing"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
    print(f"\nDownloads go to {store.download_dir}; set --models-dir or PACKSHOT_MODELS_DIR to use your own folder.")
    return 0


def _download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    store = _store(args)
    for model_id in args.ids:
        spec = store.spec(model_id)
        # delay: a download that fails at once (offline) shows its one-line error, not an empty bar
        with tqdm(total=spec.approx_bytes or None, unit="B", unit_scale=True, desc=model_id, delay=1.0) as bar:
            def show(p: Progress, bar=bar) -> None:
                bar.total = p.total or bar.total
                bar.update(p.done - bar.n)

            folder = store.ensure(model_id, progress=show)
        print(f"{model_id}: ready in {folder}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    store = _store(args)
    ids = args.ids or [s.id for s in store.list_models() if store.locate(s.id) or _has_folder(store, s.id)]
    if not ids:
        print("No models found locally; nothing to verify.")
        return 0
    failed = 0
    for model_id in ids:
        report = store.verify(model_id)
        status = "ok" if report.ok else "FAILED"
        print(f"{model_id}: {status} ({report.checked} files hashed) {report.folder or ''}")
        for note in report.notes:
            print(f"  note: {note}")
        for problem in report.problems:
            print(f"  {problem}")
        failed += not report.ok
    return 1 if failed else 0


def _has_folder(store: ModelStore, model_id: str) -> bool:
    return any(f.is_dir() for f in store.candidates(model_id))


def _path(args: argparse.Namespace) -> int:
    print(_store(args).path(args.id))
    return 0
