"""``packshot``: subcommands registered by feature modules (and, through entry points, by desktop)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Optional, Sequence

from packshot.core import __version__, logfile
from packshot.core.errors import Cancelled, PackshotError, user_message

log = logging.getLogger("packshot.core.cli")
FILE_ONLY = logfile.FILE_ONLY

# Each module exposes ``register(subparsers)``; the GUI's ``gui`` command arrives through the
# ``packshot.commands`` entry point group so that core never imports desktop.
COMMAND_MODULES = ("packshot.core.cli.batch_cmd", "packshot.core.cli.masks_cmd", "packshot.core.cli.models_cmd", "packshot.core.cli.eval_cmd",
                   "packshot.core.cli.replay_cmd", "packshot.core.cli.export_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="packshot",
        description="New, text-prompted backgrounds behind product photos, by the folder, without changing the product.",
    )
    parser.add_argument("--version", action="version", version=f"packshot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for ep in sorted(entry_points(group="packshot.commands"), key=lambda e: e.name):
        try:
            ep.load()(subparsers)
        except ImportError as exc:  # e.g. Qt missing on a headless server: the rest still works
            logging.getLogger(__name__).debug("command %s unavailable: %s", ep.name, exc)
    return parser


class StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal, ``kill``, a scheduler's stop): handled exactly like Ctrl-C, so
    finished work is kept, the run is marked stopped and the same command resumes."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.status = "stopped"  # what a batch records as its run's end


STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
# Core's own commands stop on those signals like Ctrl-C; others (the app's ``gui``, with its own event
# loop) keep the default behaviour.
STOPPABLE_COMMANDS = frozenset({"batch", "masks", "models", "eval", "replay", "export"})


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise ``StopSignal`` in the main thread (as Ctrl-C raises
    KeyboardInterrupt); the handlers there before are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise StopSignal(signal.Signals(signum).name)

    before = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Our own bars show downloads and jobs; the libraries' per-file "loading weights" bars are noise.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _escape_undecodable(sys.stdout)  # a file name that is not UTF-8 must never end a run with UnicodeEncodeError
    parser = build_parser()
    args = parser.parse_args(argv)
    log_path = setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if args.command not in STOPPABLE_COMMANDS:
            return int(args.func(args) or 0)
        with stop_on_signals():
            return int(args.func(args) or 0)
    except Cancelled as exc:  # not an error: the user asked for it
        said = str(exc) or "Cancelled."
        if "resume" not in said:
            said += " Finished work is kept; run the same command again to resume."
        print(f"packshot: {said}", file=sys.stderr)
        return 130
    except KeyboardInterrupt as exc:
        why = f"stopped by {exc.name}" if isinstance(exc, StopSignal) else "interrupted"
        print(f"packshot: {why}; finished work is kept and the next run resumes.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line out, the story in the log
        return report(exc, args, log_path)


def _escape_undecodable(stream) -> None:
    """Print bytes that are not UTF-8 (from odd file names) as ``\\xNN`` instead of failing (stderr does so already)."""
    if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # a closed or odd stream: messages use display_name anyway
            pass


def setup_logging(verbose: bool) -> Optional[Path]:
    """Warnings (details with -v) to stderr; everything from INFO, tracebacks included, to the log file."""
    root = logging.getLogger()
    if not any(getattr(h, "_packshot_stderr", False) for h in root.handlers):
        stderr = _StderrHandler()
        stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        stderr._packshot_stderr = True  # type: ignore[attr-defined]
        stderr.addFilter(logfile.not_file_only)
        root.addHandler(stderr)
    for handler in root.handlers:
        if getattr(handler, "_packshot_stderr", False):
            handler.setLevel(logging.INFO if verbose else logging.WARNING)
    return logfile.setup_file_logging()


class _StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (which tests and wrappers replace), not the one at creation."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def report(exc: BaseException, args: argparse.Namespace, log_path: Optional[Path]) -> int:
    """Print one line for ``exc``; a failure we do not recognise also leaves its traceback in the log."""
    command = " ".join(str(getattr(args, a)) for a in ("command", "models_command") if getattr(args, a, None))
    if isinstance(exc, PackshotError):  # written for people: the message is the story
        log.error("packshot %s: %s", command, exc, extra=FILE_ONLY)
    else:
        log.error("packshot %s failed", command, exc_info=(type(exc), exc, exc.__traceback__), extra=FILE_ONLY)
    logfile.flush()
    print(f"packshot: error: {user_message(exc, log_path)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
