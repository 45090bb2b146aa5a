"""What recipes record about the models: absolute folders and honest revisions."""

from __future__ import annotations

import os

from packshot.core.jobs import JobContext, JobSettings
from packshot.core.models.integrity import write_lock
from packshot.core.models.store import ModelStore
from packshot.core.runtime import Runtime


def test_recipe_models_are_absolute_and_a_plain_local_folder_is_revision_local(tmp_path, monkeypatch):
    folder = tmp_path / "models" / "photo-background-generation"
    for part in ("unet", "controlnet", "vae", "text_encoder", "tokenizer", "scheduler"):
        (folder / part).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    store = ModelStore("models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    monkeypatch.setattr(store, "locate", lambda model_id: store.models_dir / model_id)  # layout checks aside
    ctx = JobContext(JobSettings(engine="si2-controlnet"), runtime=Runtime(store=store))
    info = ctx.model_info()["photo-background-generation"]
    assert info["path"] == str(folder.resolve()) and os.path.isabs(info["path"])
    assert info["revision"] == "local"  # not the manifest's "main": these files never came from the hub
    write_lock(folder, "photo-background-generation", {}, commit="0123abcd")  # downloaded by Packshot
    assert ctx.model_info()["photo-background-generation"]["revision"] == "0123abcd"
    snapshot = tmp_path / "hub" / "snapshots" / "feedbeef"
    snapshot.mkdir(parents=True)
    monkeypatch.setattr(store, "locate", lambda model_id: snapshot)
    assert ctx.model_info()["photo-background-generation"]["revision"] == "feedbeef"  # HF cache commit
