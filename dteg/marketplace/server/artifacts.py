"""Where the registry keeps artifact bytes: a local folder (default) or an ``s3://`` prefix
through dteg's one S3 code path (``dteg.connectors.object_store``).

Keys are ``NAME/VERSION/FILENAME``; a version is never overwritten (the metadata store refuses
a second publish of it), so a half-written upload is only ever an orphan, never a replaced
artifact. A local write goes to a temporary file renamed into place, so a crash leaves no
truncated wheel under a served name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from dteg.connectors.object_store import ObjectStoreSettings, StoreOptions


class ArtifactStore(Protocol):
    """Put and fetch artifact files by key."""

    def put(self, key: str, local_path: Path) -> None: ...

    def fetch(self, key: str, local_path: Path) -> None: ...

    def describe(self) -> str: ...


class FolderArtifacts:
    """Artifacts in a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"artifact key outside the store: {key}")
        return path

    def put(self, key: str, local_path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(fd)
        shutil.copyfile(local_path, tmp)
        os.replace(tmp, target)

    def fetch(self, key: str, local_path: Path) -> None:
        shutil.copyfile(self._path(key), local_path)

    def local_path(self, key: str) -> Path:
        """The file itself (served without a copy)."""
        return self._path(key)

    def describe(self) -> str:
        return str(self.root)


class S3Artifacts:
    """Artifacts under an ``s3://bucket/prefix`` (any S3-compatible store)."""

    def __init__(self, prefix_url: str, settings: ObjectStoreSettings | None = None) -> None:
        self.prefix = prefix_url.rstrip("/")
        self.options: StoreOptions = (settings or ObjectStoreSettings()).store_options(
            step="marketplace artifacts")

    def put(self, key: str, local_path: Path) -> None:
        from dteg.connectors import object_store

        object_store.upload(str(local_path), f"{self.prefix}/{key}", self.options)

    def fetch(self, key: str, local_path: Path) -> None:
        from dteg.connectors import object_store

        object_store.download(f"{self.prefix}/{key}", str(local_path), self.options)

    def describe(self) -> str:
        return self.prefix


def artifact_store(location: str, settings: ObjectStoreSettings | None = None) -> ArtifactStore:
    """The store for a location: ``s3://…`` or a local folder."""
    if location.startswith("s3://"):
        return S3Artifacts(location, settings)
    return FolderArtifacts(Path(location))
