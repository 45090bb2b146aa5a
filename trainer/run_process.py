"""Entry point of a training process: ``python -m packshot.trainer.run_process JOB.json``.

The desktop app starts this with ``subprocess`` so that a crash, an out-of-memory kill or a CUDA
fault in training cannot take the app down. JOB.json holds the TrainConfig, how to build the model
store, and the paths of the events file (JSON lines, see ``packshot.trainer.events``), the cancel file
(its existence asks the run to stop after the current step, keeping a checkpoint) and the log.
The last event is ``done``, ``cancelled`` or ``error``; without one the process died.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

from packshot.core.progress import CancelToken


class FileCancelToken(CancelToken):
    """Cancelled when asked in this process or when the cancel file appears (asked by another one)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)

    @property
    def cancelled(self) -> bool:
        return super().cancelled or self.path.exists()


def store_from_json(data: dict):
    from packshot.core.models.store import ModelStore

    return ModelStore(data.get("models_dir"), offline=data.get("offline"), download_dir=data.get("download_dir"),
                      use_hf_cache=data.get("use_hf_cache", True))


def store_to_json(store) -> dict:
    return {"models_dir": str(store.models_dir) if store.models_dir else None,
            "download_dir": str(store.download_dir), "offline": store.offline, "use_hf_cache": store.use_hf_cache}


def run_job(job: dict) -> int:
    from packshot.core.errors import Cancelled, PackshotError
    from packshot.trainer.events import EventWriter
    from packshot.trainer.train import TrainConfig, estimate_run, train_controlnet

    events = EventWriter(Path(job["events"]))
    cancel = FileCancelToken(Path(job["cancel_file"]))
    try:
        config = TrainConfig.from_json(job["config"])
        from packshot.core.runtime import Runtime

        runtime = Runtime(store=store_from_json(job["store"]))  # this process's own models

        def progress(p) -> None:
            events({"event": "progress", "stage": p.stage, "done": p.done, "total": p.total, "message": p.message})

        kwargs = dict(progress=progress, cancel=cancel, restart=bool(job.get("restart")), report=events)
        if job.get("estimate_only"):
            estimate = estimate_run(config, runtime, **kwargs)
            events({"event": "done", "estimate": estimate.to_dict(), "text": estimate.text()})
        else:
            folder = train_controlnet(config, runtime, **kwargs)
            events({"event": "done", "folder": str(folder)})
        return 0
    except Cancelled as exc:
        events({"event": "cancelled", "message": str(exc)})
        return 0
    except PackshotError as exc:
        logging.getLogger(__name__).warning("Training refused or failed: %s", exc)
        events({"event": "error", "message": str(exc)})
        return 1
    except Exception as exc:  # a bug or a library failure: the traceback goes to the log, a sentence to the app
        logging.getLogger(__name__).exception("Training failed")
        events({"event": "error", "message": f"Training failed: {type(exc).__name__}: {exc}. "
                                             f"Details are in {job.get('log', 'the log')}."})
        return 1
    finally:
        events.close()


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m packshot.trainer.run_process JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if job.get("log"):
        logging.basicConfig(filename=job["log"], level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_job(job)


if __name__ == "__main__":
    sys.exit(main())
