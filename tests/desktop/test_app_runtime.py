"""The app makes one Runtime (its main window's workspace) and hands it to every job it submits:
the batch, a single photo, the export and the mask review all use the same loaded models."""

from __future__ import annotations

from tests.desktop.test_guided_flow import wait_idle


def test_batch_photo_job_export_and_masks_share_the_windows_runtime(qtbot, make_window, app_settings, photos_dir,
                                                                     tmp_path, monkeypatch):
    from packshot.core.generation import loaded

    built = []

    class CountingLoaded(loaded.LoadedModels):
        def __init__(self, *args, **kwargs):
            built.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(loaded, "LoadedModels", CountingLoaded)
    window = make_window(app_settings)
    submitted = []
    real_submit = window.queue.submit
    monkeypatch.setattr(window.queue, "submit", lambda job: submitted.append(job) or real_submit(job))
    assert window.open_folder(photos_dir)
    runtime = window.workspace.runtime

    window.select_photo(photos_dir / "a_mug.png")
    assert window.try_on_current() is not None
    wait_idle(qtbot, window)
    assert window.run_on_all()
    wait_idle(qtbot, window)
    assert window.export_chosen("square-1000", tmp_path / "export") is not None
    wait_idle(qtbot, window)

    kinds = [type(job).__name__ for job in submitted]
    assert kinds == ["PhotoRunJob", "BatchRunJob", "ExportJob"], kinds
    assert all(job.runtime is runtime for job in submitted)
    assert window.mask_panel.editor.context.runtime is runtime  # the review's masker too
    assert len(built) == 1, "the photo job, the batch and the export loaded the models once between them"
    assert {r.status for r in window.session.photos()} == {"done"}

    other = make_window(app_settings)  # another window: a runtime of its own
    assert other.workspace.runtime is not runtime
