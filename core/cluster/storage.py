"""Where a Ray batch reads its photos and writes its outputs: a local folder, or any URI fsspec opens.

A remote folder (``s3://bucket/photos``, ``gs://…``, ``az://…``) is named inside the jobs by a local
*mirror* path, so that the local batch's naming code (stems, name templates, the mask path a recipe
records relative to its output) runs unchanged; every read and write of a mirror path goes to the URI
at the same relative place. Object stores make a single PUT visible whole or not at all, so remote
writes go straight to their final key; local folders keep the temp-file-and-rename of
``packshot.core.images.write_atomic``.

Credentials are whatever the fsspec implementation finds (for S3: ``AWS_*`` variables, ``~/.aws``, an
instance role; ``AWS_ENDPOINT_URL`` for MinIO and the like), plus the ``--storage-option`` values.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from packshot.core.errors import ImageReadError, ImageWriteError, PackshotError, UnsafeWriteError
from packshot.core.images import is_image_path

HEAD_BYTES = 1 << 18  # enough for an output's header chunks, where its recipe is
CREDENTIAL_HINTS = {
    "s3": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, ~/.aws/credentials, an instance "
          "role), or pass --storage-option key=... --storage-option secret=...",
    "gs": "set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`",
    "az": "set AZURE_STORAGE_CONNECTION_STRING, or pass --storage-option account_name=... account_key=...",
}
CREDENTIAL_HINTS.update(s3a=CREDENTIAL_HINTS["s3"], gcs=CREDENTIAL_HINTS["gs"], abfs=CREDENTIAL_HINTS["az"])


def is_uri(where: str | Path) -> bool:
    """A URI with a scheme fsspec would open (``file://`` counts: it is read as the local path)."""
    return "://" in str(where)


def local_path_of(where: str | Path) -> Optional[Path]:
    """The local path ``where`` names (a plain path or ``file://``), None for a remote URI."""
    text = str(where)
    if not is_uri(text):
        return Path(text)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    return None


def parse_storage_options(items: Optional[list[str]]) -> dict:
    """``KEY=VALUE`` pairs for fsspec; a VALUE that is JSON (true, 3, {...}) is read as such."""
    options: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PackshotError(f"--storage-option {item!r}: expected KEY=VALUE (e.g. endpoint_url=http://minio:9000).")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def open_filesystem(uri: str, options: dict) -> tuple[Any, str]:
    """fsspec's file system for ``uri`` and the path inside it, or a clear error saying what to install."""
    try:
        import fsspec
        from fsspec.registry import known_implementations
    except ImportError:
        raise PackshotError(f"{uri}: object-store URIs need fsspec: pip install 'packshot[cluster]'.") from None
    protocol = uri.split("://", 1)[0]
    try:
        return fsspec.core.url_to_fs(uri, **options)
    except ImportError as exc:
        known = known_implementations.get(protocol, {})
        package = str(known.get("class", "")).split(".")[0] or "the package that implements it"
        raise PackshotError(f"{uri}: reading {protocol}:// needs {package}, which is not installed: "
                            f"pip install {package} ({exc}).") from None
    except ValueError as exc:
        if "Protocol not known" not in str(exc):
            raise PackshotError(f"{uri}: {exc}") from None
        raise PackshotError(f"{uri}: no fsspec implementation is installed for {protocol}:// (fsspec knows "
                            "s3:// from s3fs, gs:// from gcsfs, az:// from adlfs); install the package that "
                            f"provides {protocol}://, or use a local or mounted path.") from None
    except TypeError as exc:  # an option the file system does not take
        raise PackshotError(f"{uri}: a --storage-option is not accepted: {exc}.") from None


def _mirror_root(uri: str) -> Path:
    """The local stand-in path of a remote folder: the same on every node (jobs pass it in rows)."""
    digest = hashlib.sha1(uri.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()).resolve() / "packshot-ray" / digest


@dataclass
class Tree:
    """A folder of a batch: local (``uri`` None, ``mirror`` is the folder) or remote (``uri``)."""

    mirror: Path
    uri: Optional[str] = None
    options: dict = field(default_factory=dict)
    _fs: Any = field(default=None, repr=False, compare=False)
    # URIs of input folders: nothing is written into them (an object store has no links or inodes, so the
    # text of a URI is its identity; local folders go through packshot.core.write_guard instead).
    protected: tuple[str, ...] = ()

    @classmethod
    def at(cls, where: str | Path, options: Optional[dict] = None) -> Tree:
        local = local_path_of(where)
        if local is not None:
            return cls(local.resolve())
        uri = str(where).rstrip("/")
        return cls(_mirror_root(uri), uri, dict(options or {}))

    @property
    def remote(self) -> bool:
        return self.uri is not None

    @property
    def where(self) -> str:
        return self.uri or str(self.mirror)

    def to_dict(self) -> dict:
        return {"mirror": str(self.mirror), "uri": self.uri, "options": self.options,
                "protected": list(self.protected)}

    @classmethod
    def from_dict(cls, data: dict) -> Tree:
        return cls(Path(data["mirror"]), data.get("uri"), dict(data.get("options") or {}),
                   protected=tuple(data.get("protected") or ()))

    # -- names ---------------------------------------------------------------------------
    def uri_of(self, local: Path) -> str:
        """The URI of a mirror path (the local path itself for a local folder)."""
        if self.uri is None:
            return str(local)
        rel = Path(local).relative_to(self.mirror).as_posix()
        return self.uri if rel == "." else f"{self.uri}/{rel}"

    @property
    def fs(self) -> tuple[Any, str]:
        if self._fs is None:
            assert self.uri is not None, "a local Tree has no fsspec file system"
            self._fs = open_filesystem(self.uri, self.options)
        return self._fs

    def _key(self, local: Path) -> str:
        fs, root = self.fs
        rel = Path(local).relative_to(self.mirror).as_posix()
        return root if rel == "." else f"{root.rstrip('/')}/{rel}"

    # -- reading -------------------------------------------------------------------------
    def list_photos(self) -> list[Path]:
        """The photos directly in the folder, as mirror paths, sorted: the local batch's rule and order."""
        fs, root = self.fs
        try:
            fs.invalidate_cache(root)  # a listing cached by an earlier run in this process may be stale
            entries = fs.ls(root, detail=True)
        except Exception as exc:
            raise self.error(exc, self.uri or "", reading=True) from None
        names = [str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"]
        return sorted(p for p in (self.mirror / n for n in names if n) if is_image_path(p))

    def read_bytes(self, local: Path, *, head: Optional[int] = None) -> bytes:
        """The object's bytes (the first ``head`` only, if given); errors name its URI."""
        fs, _ = self.fs
        try:
            return fs.cat_file(self._key(local), start=0 if head else None, end=head)
        except Exception as exc:
            raise self.error(exc, self.uri_of(local), reading=True) from None

    def read_if_exists(self, local: Path, *, head: Optional[int] = None) -> Optional[bytes]:
        try:
            return self.read_bytes(local, head=head)
        except _NotFound:
            return None

    # -- writing -------------------------------------------------------------------------
    def check_write(self, local: Path) -> str:
        """The URI ``local`` is written to, or ``UnsafeWriteError`` when it lies in an input folder (from its
        own folder up to this tree's root, as ``packshot.core.write_guard`` judges local folders)."""
        uri = self.uri_of(local)
        folder, root = uri.rsplit("/", 1)[0], self.where
        while True:
            if folder in self.protected:
                raise UnsafeWriteError(f"Refusing to write {uri}: it is inside the input folder {folder}; originals "
                                       "are never written. Choose an --out and a --name apart from the photos.")
            if folder == root or "/" not in folder or not folder.startswith(root):
                return uri
            folder = folder.rsplit("/", 1)[0]

    def write_bytes(self, local: Path, data: bytes) -> str:
        """One PUT to the final key: the object appears whole or not at all."""
        self.check_write(local)
        fs, _ = self.fs
        try:
            fs.pipe_file(self._key(local), data)
        except Exception as exc:
            raise self.error(exc, self.uri_of(local), reading=False) from None
        return self.uri_of(local)

    def remove(self, local: Path) -> None:
        fs, _ = self.fs
        try:
            fs.rm_file(self._key(local))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self.error(exc, self.uri_of(local), reading=False) from None

    def check_writable(self) -> None:
        """Before any work: the bucket exists and takes writes (a probe object, removed again)."""
        probe = self.mirror / ".packshot" / f".probe-{uuid.uuid4().hex[:12]}"
        self.write_bytes(probe, b"")
        self.remove(probe)

    # -- errors --------------------------------------------------------------------------
    def error(self, exc: BaseException, uri: str, *, reading: bool) -> PackshotError:
        """One line naming ``uri`` and what to do; a ``_NotFound`` for a missing object."""
        if isinstance(exc, PackshotError):
            return exc
        kind = ImageReadError if reading else ImageWriteError
        protocol = uri.split("://", 1)[0]
        name = type(exc).__name__
        if isinstance(exc, FileNotFoundError):
            return _NotFound(f"{uri}: not found ({self._missing_what()}).")
        if isinstance(exc, PermissionError) or "Credentials" in name:
            hint = CREDENTIAL_HINTS.get(protocol, "check the credentials fsspec uses for it")
            return kind(f"{uri}: access denied or no credentials ({exc}); {hint}.")
        return kind(f"{uri}: {'cannot read it' if reading else 'cannot write it'} ({name}: {exc}).")

    def _missing_what(self) -> str:
        """Which part is missing: for an object store, its bucket or the key/prefix under it."""
        fs, root = self.fs
        bucket = root.split("/", 1)[0]
        if bucket and not root.startswith("/"):
            try:
                if not fs.exists(bucket):
                    return f"there is no bucket '{bucket}'"
            except Exception:  # the question itself failed: say what we know
                pass
            return f"nothing at that key or prefix in bucket '{bucket}'"
        return "no such file or folder"


class _NotFound(ImageReadError):
    """A missing object (a missing output is no error: not done yet)."""
