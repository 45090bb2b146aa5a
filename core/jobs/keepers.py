"""Which result of a photo is its keeper, and a batch folder's keepers as files to export.

The project store marks one chosen result per photo and settings (job key): the batch picks the
best variant, the app's "pick" changes it. After a "regenerate" with other settings two may be
marked; the one made with the photo's latest settings wins, else the newest marked one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from packshot.core.errors import PackshotError
from packshot.core.naming import unique_stems
from packshot.core.project import STORE_DIRNAME, STORE_FILENAME, PhotoRecord, ProjectStore, ResultRecord


def keeper(results: Sequence[ResultRecord], current_key: Optional[str]) -> Optional[ResultRecord]:
    """The one result of a photo that counts as chosen (see the module's note); None when none is."""
    chosen = [r for r in results if r.chosen]
    if not chosen:
        return None
    current = [r for r in chosen if r.job_key == current_key]
    return (current or sorted(chosen, key=lambda r: r.id))[-1]


def keepers(store: ProjectStore) -> list[tuple[PhotoRecord, ResultRecord]]:
    """Every photo's keeper whose file still exists, in the store's photo order."""
    found = []
    for record in store.photos():
        best = keeper(store.results(record.id), record.job_key)
        if best is not None and best.output_path.is_file():
            found.append((record, best))
    return found


def is_project_folder(folder: Path) -> bool:
    return (Path(folder) / STORE_DIRNAME / STORE_FILENAME).is_file()


def keeper_files(out_dir: Path | str) -> list[tuple[Path, str]]:
    """(output file, export stem) of each keeper of the batch folder ``out_dir``.

    The stem is the photo's (unique among the project's photos, like the batch names them), so
    ``shoe-v2.png`` exports as ``shoe``."""
    out_dir = Path(out_dir)
    if not is_project_folder(out_dir):
        raise PackshotError(f"{out_dir} is not a Packshot output folder (no {STORE_DIRNAME}/{STORE_FILENAME}); "
                            "name the output files instead.")
    store = ProjectStore(out_dir, create=False)
    try:
        chosen = keepers(store)
        stems = unique_stems([record.path for record in store.photos()])
        return [(result.output_path, stems.get(record.path, record.path.stem)) for record, result in chosen]
    finally:
        store.close()
