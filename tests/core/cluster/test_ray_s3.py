"""``packshot batch s3://… --out s3://… --ray``: photos and outputs in an object store (a local S3 API).

Against the local batch on the same photos: the same names, pixels, EXIF, ICC and recipes; resume
by the recipes on S3; a corrupt object named in failures.csv on S3; clear lines for what is missing.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from packshot.core.cli.main import main
from packshot.core.cluster.storage import Tree, parse_storage_options
from packshot.core.errors import PackshotError
from packshot.core.jobs import BatchSummary, JobSettings
from packshot.core.recipe import RECIPE_KEY, read_recipe
from tests.core.batch_helpers import product_photo, srgb_icc, write_photos

pytest.importorskip("ray")
pytest.importorskip("s3fs")
# The local batch's own bookkeeping (SQLite's -wal/-shm files live while a worker thread's connection does).
STORE_FILES = (".packshot/project.sqlite", ".packshot/batch.lock")


ICC = srgb_icc()  # once: lcms stamps each profile it makes with the time


def _rotated_with_metadata(path: Path) -> None:
    """A JPEG stored on its side (EXIF orientation 6) with camera EXIF and an ICC profile."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS R5", 6
    exif[0x8769] = {0x9003: "2024:05:06 07:08:09"}
    Image.fromarray(np.ascontiguousarray(np.rot90(product_photo(120, 90), 1))).save(
        path, exif=exif, icc_profile=ICC, quality=95)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _segments(data: bytes) -> list[bytes]:
    """A PNG's chunks or a JPEG's marker segments (then the scan), with lengths and CRCs left out, so two
    files compare segment by segment after a string inside one segment was replaced."""
    if data.startswith(b"\x89PNG"):
        out, i = [], 8
        while i < len(data):
            (n,) = struct.unpack(">I", data[i:i + 4])
            out.append(data[i + 4:i + 8 + n])
            i += 12 + n
        return out
    assert data.startswith(b"\xff\xd8"), "neither PNG nor JPEG"
    out, i = [], 2
    while data[i + 1] != 0xDA:  # up to the start of scan; the rest is pixels
        (n,) = struct.unpack(">H", data[i + 2:i + 4])
        out.append(data[i:i + 2] + data[i + 4:i + 2 + n])
        i += 2 + n
    return [*out, data[i:]]


def test_s3_batch_equals_the_local_batch_names_failures_and_resumes_from_s3(local_ray, bucket, tmp_path, capsys):
    photos = tmp_path / "in"
    write_photos(photos, 2, size=(120, 90))
    write_photos(photos, 1, size=(100, 80), fmt="png", prefix="flat")
    _rotated_with_metadata(photos / "shot.jpg")
    (photos / "notes.txt").write_text("not a photo")
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    for path in photos.iterdir():
        bucket.fs.put_file(str(path), f"{bucket.name}/photos/{path.name}")
    bucket.fs.put_file(str(photos / "shot.jpg"), f"{bucket.name}/photos/nested/skipped.jpg")  # not listed: as locally

    assert main(["batch", str(photos), "--out", str(tmp_path / "local"), "--engine", "white", "--format", "auto",
                 "--no-progress"]) == 1  # auto: JPEG in, JPEG out (recipe in XMP); PNG in, PNG out (iTXt)
    argv = ["batch", bucket.uri("photos"), "--out", bucket.uri("out/"), "--engine", "white", "--format", "auto", "--ray",
            "--no-progress", *bucket.cli_options]
    assert main(argv) == 1  # broken.jpg failed; the rest finished
    said = capsys.readouterr().out
    assert "Done: 4   Skipped (already done): 0   Failed: 1" in said and "broken.jpg" in said, said
    failures = bucket.fs.cat_file(f"{bucket.name}/out/.packshot/failures.csv").decode()
    assert failures.splitlines()[0] == "file,reason" and failures.splitlines()[1].startswith("broken.jpg,")
    assert len(failures.splitlines()) == 2 and "not an image" in failures

    bucket.fs.get(f"{bucket.name}/out/", str(tmp_path / "fetched"), recursive=True)
    local, remote = _files(tmp_path / "local"), _files(tmp_path / "fetched")
    assert sorted(remote) == sorted({n for n in local if not n.startswith(STORE_FILES)} | {".packshot/failures.csv"})  # the same names, masks included
    outputs = [name for name in remote if "/" not in name]
    assert sorted(outputs) == ["flat_000.png", "item_000.jpg", "item_001.jpg", "shot.jpg"]
    for name in sorted(set(remote) - {".packshot/failures.csv"}):
        if name not in outputs:
            assert remote[name] == local[name], name  # masks: byte for byte
            continue
        ours, theirs = read_recipe(tmp_path / "fetched" / name), read_recipe(tmp_path / "local" / name)
        assert ours.input_path == bucket.uri(f"photos/{name}")
        assert ours.job_key and ours.job_key == theirs.job_key
        theirs.input_path = ours.input_path  # the one field that differs: where the original lives
        assert ours == theirs, name
        # Every other byte is the local batch's: pixels, EXIF, ICC, the recipe's other fields.
        local_path = json.dumps(str((photos / name).resolve()))[1:-1].encode()
        uri = json.dumps(bucket.uri(f"photos/{name}"))[1:-1].encode()
        assert [s.replace(uri, local_path) for s in _segments(remote[name])] == _segments(local[name]), name
    with Image.open(tmp_path / "fetched" / "shot.jpg") as im:
        assert im.size == (120, 90) and im.getexif().get(0x010F) == "Canon"  # upright, EXIF kept
        assert im.info.get("icc_profile") == ICC
    with Image.open(tmp_path / "fetched" / "flat_000.png") as im:
        assert RECIPE_KEY in im.info

    # Resume: nothing is rendered again; a lost output (and only it) is made again.
    before = {name: bucket.fs.info(f"{bucket.name}/out/{name}")["LastModified"] for name in outputs}
    bucket.fs.rm_file(f"{bucket.name}/out/item_001.jpg")
    assert main(argv) == 1
    said = capsys.readouterr().out
    assert "Done: 1   Skipped (already done): 3   Failed: 1" in said, said
    for name in outputs:
        info = bucket.fs.info(f"{bucket.name}/out/{name}", refresh=True)
        assert (info["LastModified"] == before[name]) == (name != "item_001.jpg"), name
    assert bucket.fs.cat_file(f"{bucket.name}/out/item_001.jpg") == remote["item_001.jpg"]


def test_an_object_gone_between_listing_and_reading_fails_that_photo_by_its_uri(bucket, tmp_path):
    from packshot.core.cluster.remote import RemotePhotoJob
    from packshot.core.jobs.context import JobContext
    from tests.core.batch_helpers import no_models_runtime

    inputs, outputs = Tree.at(bucket.uri("photos"), bucket.options), Tree.at(bucket.uri("out"), bucket.options)
    context = JobContext(JobSettings.from_flat(dict(engine="white")), runtime=no_models_runtime(tmp_path))
    job = RemotePhotoJob(inputs.mirror / "gone.jpg", outputs.mirror, context, stem="gone", inputs=inputs,
                         outputs=outputs)
    assert not job.done_by_recipe()
    outcome = job.guarded(job.read)
    assert outcome.status == "failed" and f"{bucket.uri('photos/gone.jpg')}: not found" in outcome.message


def _stages_in_process(inp, out, options: dict, store) -> BatchSummary:
    """Each photo through the four stage objects the Ray actors are, in turn, here in this process."""
    from packshot.core.cluster.ray_batch import MaskStage, RayBatch, ReadStage, RenderStage, SaveStage

    batch = RayBatch(inp, out, JobSettings.from_flat(dict(engine="white")), storage_options=options,
                     runtime=store)
    batch.prepare()
    stages = [stage(**batch.stage_kwargs(threads=0)) for stage in (ReadStage, MaskStage, RenderStage, SaveStage)]
    summary = BatchSummary(engine="white")
    for row in batch.rows():
        for stage in stages:
            row = stage(row)
        summary.record(pickle.loads(row["outcome"]))
    batch.write_failures(summary)
    batch.batch.release()
    return summary


def test_one_side_local_the_other_on_s3(bucket, tmp_path):
    """S3 in, a local folder out (failures.csv there); a local folder in, S3 out: the local batch's outputs."""
    from packshot.core.jobs import BatchJob
    from tests.core.batch_helpers import no_models_runtime

    store = no_models_runtime(tmp_path)
    photos = write_photos(tmp_path / "in", 2, size=(120, 90))
    for path in photos:
        bucket.fs.put_file(str(path), f"{bucket.name}/photos/{path.name}")
    bucket.fs.pipe_file(f"{bucket.name}/photos/broken.jpg", b"not a jpeg at all")
    assert BatchJob(tmp_path / "in", tmp_path / "local", JobSettings.from_flat(dict(engine="white")),
                    runtime=store).run().ok

    summary = _stages_in_process(bucket.uri("photos"), tmp_path / "out", bucket.options, store)
    assert len(summary.done) == 2 and [n for n, _ in summary.failed] == ["broken.jpg"]
    assert "broken.jpg" in (tmp_path / "out" / ".packshot" / "failures.csv").read_text()
    summary = _stages_in_process(tmp_path / "in", bucket.uri("out"), bucket.options, store)
    assert len(summary.done) == 2 and not summary.failed
    assert bucket.fs.ls(f"{bucket.name}/out/.packshot/masks/used")
    (tmp_path / "fetched").mkdir()
    for path in photos:
        name = path.with_suffix(".png").name
        local = read_recipe(tmp_path / "local" / name)
        assert read_recipe(tmp_path / "out" / name).input_path == bucket.uri(f"photos/{path.name}")
        bucket.fs.get_file(f"{bucket.name}/out/{name}", str(tmp_path / "fetched" / name))
        assert read_recipe(tmp_path / "fetched" / name) == local  # the same input path: byte for byte
        assert (tmp_path / "fetched" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
        with Image.open(tmp_path / "out" / name) as a, Image.open(tmp_path / "local" / name) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))
    summary = _stages_in_process(tmp_path / "in", bucket.uri("out"), bucket.options, store)
    assert len(summary.skipped) == 2 and not summary.done  # resumed from the recipes in the bucket


def _error_line(argv: list[str], capsys) -> str:
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_missing_bucket_or_prefix_is_one_clear_line(bucket, tmp_path, capsys):
    opts = bucket.cli_options
    err = _error_line(["batch", "s3://no-such-bucket-packshot/photos", "--out", str(tmp_path / "o"), "--ray",
                       *opts], capsys)
    assert "s3://no-such-bucket-packshot/photos" in err and "no bucket 'no-such-bucket-packshot'" in err
    err = _error_line(["batch", bucket.uri("nothing-here"), "--out", str(tmp_path / "o"), "--ray", *opts], capsys)
    assert bucket.uri("nothing-here") in err and "nothing at that key or prefix" in err
    write_photos(tmp_path / "in", 1)
    err = _error_line(["batch", str(tmp_path / "in"), "--out", "s3://no-such-bucket-packshot/out", "--ray",
                       *opts], capsys)
    assert "s3://no-such-bucket-packshot/out" in err and "no bucket" in err


def test_missing_credentials_are_one_line_saying_where_they_come_from(s3_endpoint, tmp_path, monkeypatch,
                                                                      capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask for, offline
    err = _error_line(["batch", "s3://some-bucket/photos", "--out", str(tmp_path / "o"), "--ray",
                       "--storage-option", f"endpoint_url={s3_endpoint}", "--storage-option",
                       "skip_instance_cache=true"], capsys)
    assert "s3://some-bucket/photos" in err and "no credentials" in err and "AWS_ACCESS_KEY_ID" in err


def test_a_scheme_without_its_fsspec_package_says_what_to_install(tmp_path, capsys):
    err = _error_line(["batch", "foo://bucket/photos", "--out", str(tmp_path / "o"), "--ray"], capsys)
    assert "foo://bucket/photos" in err and "no fsspec implementation" in err and "s3fs" in err
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        err = _error_line(["batch", "gs://bucket/photos", "--out", str(tmp_path / "o"), "--ray"], capsys)
        assert "gs://bucket/photos" in err and "pip install gcsfs" in err


def test_the_local_batch_points_uris_to_ray(tmp_path, capsys):
    err = _error_line(["batch", "s3://bucket/photos", "--out", str(tmp_path / "o")], capsys)
    assert "s3://bucket/photos" in err and "--ray" in err


def test_storage_reads_the_endpoint_from_the_environment_and_names_missing_objects(bucket, monkeypatch):
    bucket.fs.pipe_file(f"{bucket.name}/photos/a.jpg", b"x")
    bucket.fs.pipe_file(f"{bucket.name}/photos/.hidden.jpg", b"x")
    bucket.fs.pipe_file(f"{bucket.name}/photos/b.TIFF", b"x")
    monkeypatch.setenv("AWS_ENDPOINT_URL", bucket.endpoint)  # how MinIO users point s3fs at their server
    tree = Tree.at(bucket.uri("photos/"), {"skip_instance_cache": True})
    assert [p.name for p in tree.list_photos()] == ["a.jpg", "b.TIFF"]
    assert tree.uri_of(tree.mirror / "a.jpg") == bucket.uri("photos/a.jpg")
    with pytest.raises(PackshotError, match=rf"{bucket.uri('photos/gone.jpg')}: not found"):
        tree.read_bytes(tree.mirror / "gone.jpg")
    assert tree.read_if_exists(tree.mirror / "gone.jpg") is None


def test_storage_options_are_key_value_pairs_with_json_values():
    assert parse_storage_options(["endpoint_url=http://minio:9000", "anon=true", 'client_kwargs={"a": 1}']) == \
        {"endpoint_url": "http://minio:9000", "anon": True, "client_kwargs": {"a": 1}}
    with pytest.raises(PackshotError, match="KEY=VALUE"):
        parse_storage_options(["endpoint_url"])
