"""File access for the file connectors: local paths natively (fast), ``s3://`` and ``gs://``
through ``dteg.connectors.object_store`` (boto3 / google-cloud-storage, with bounded
retries), other URLs through Beam's FileSystems (once their filesystem is installed and
configured). ``gs://`` never goes through Beam's GCS filesystem: its finalize step fails
against fake-gcs-server and it retries on its own schedule.

Functions that touch a URL take ``options`` (the step's object-store settings)."""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from dteg.connectors import object_store
from dteg.connectors.object_store import StoreOptions
from dteg.errors import ConnectorError

_BY_SUFFIX = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}


def is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def is_s3(path: str) -> bool:
    return path.startswith(("s3://", "s3a://"))


def is_store(path: str) -> bool:
    """An object-store URL that ``dteg.connectors.object_store`` handles (s3://, gs://)."""
    return is_s3(path) or object_store.is_gcs(path)


def local(path: str) -> str:
    return path.removeprefix("file://")


def compression_of(path: str, configured: str) -> str:
    if configured != "auto":
        return configured
    for suffix, kind in _BY_SUFFIX.items():
        if path.lower().endswith(suffix):
            return kind
    return "none"


def strip_compression_suffix(path: str) -> str:
    for suffix in _BY_SUFFIX:
        if path.lower().endswith(suffix):
            return path[: -len(suffix)]
    return path


def expand(patterns: list[str], *, step: str, allow_empty: bool,
           example: str = "*.csv", options: StoreOptions | None = None) -> list[str]:
    """Every file matching the patterns, sorted, without duplicates. ``example`` is the glob
    suggested when a pattern names a folder."""
    found: list[str] = []
    for pattern in patterns:
        if is_store(pattern):
            matched = sorted(object_store.glob(pattern, options))
            if not matched and pattern.endswith("/"):
                raise ConnectorError(
                    f"{pattern} is a folder", step=step,
                    hint=f"Name the files in it with a glob, e.g. `{pattern}{example}`.")
        elif is_url(pattern):
            from apache_beam.io.filesystems import FileSystems

            try:
                result = FileSystems.match([pattern])[0]
            except Exception as exc:
                raise ConnectorError(
                    f"cannot list {pattern}: {exc}", step=step,
                    hint="Check the URL and that credentials for its store are configured.",
                ) from None
            matched = sorted(m.path for m in result.metadata_list)
        else:
            path = local(pattern)
            matched = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
            if not matched and os.path.isdir(path):
                raise ConnectorError(
                    f"{path} is a folder", step=step,
                    hint=f"Name the files in it with a glob, e.g. `{os.path.join(path, example)}`.",
                )
        found.extend(m for m in matched if m not in found)
    if not found and not allow_empty:
        shown = ", ".join(patterns)
        raise ConnectorError(
            f"no file matches {shown}", step=step,
            hint="Check the path (relative paths are taken from the pipeline file's folder), "
            "or set `allow_empty: true` if an empty input is expected.",
        )
    return found


def local_size(patterns: list[str]) -> int | None:
    """Total bytes of the local files the patterns match (None if one names a store or URL:
    listing those costs a request)."""
    if any(is_url(p) for p in patterns):
        return None
    total = 0
    for path in {m for p in patterns for m in glob.glob(local(p), recursive=True)}:
        with suppress(OSError):
            if os.path.isfile(path):
                total += os.path.getsize(path)
    return total


def open_read(path: str, compression: str, *, binary_seekable: bool = False,
              options: StoreOptions | None = None) -> IO[bytes]:
    """Open for reading, decompressing on the fly. ``binary_seekable`` skips decompression
    (for Parquet/Avro, whose compression is internal). ``s3://``/``gs://`` objects are
    downloaded to a temporary file first (retried as a whole; Parquet needs random access
    anyway)."""
    if is_store(path):
        fd, spooled = tempfile.mkstemp(prefix="dteg-object-")
        os.close(fd)
        try:
            object_store.download(path, spooled, options)
            # Unlinked once open: the open file keeps the data until it is closed.
            return open_read(spooled, compression, binary_seekable=binary_seekable)
        finally:
            os.unlink(spooled)
    if is_url(path):
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        kind = "none" if binary_seekable else compression
        ctype = {"none": CompressionTypes.UNCOMPRESSED, "gzip": CompressionTypes.GZIP,
                 "zstd": CompressionTypes.ZSTD, "bz2": CompressionTypes.BZIP2}[kind]
        return FileSystems.open(path, compression_type=ctype)
    path = local(path)
    if binary_seekable or compression == "none":
        return open(path, "rb")
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.open(path, "rb")
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(path))
    raise ValueError(compression)


@contextmanager
def reading(path: str, step: str, compression: str = "auto") -> Iterator[None]:
    """Turn what a truncated or mislabelled compressed file raises into one clear error."""
    try:
        yield
    except (EOFError, OSError, zlib.error) as exc:
        kind = compression_of(path, compression)
        guess = f" (is it a truncated or corrupt {kind} file?)" if kind != "none" else ""
        raise ConnectorError(
            f"cannot read {path}: {exc or type(exc).__name__}{guess}", step=step,
            hint="Check that the file is complete and that its extension (or `compression:`) "
            "matches its content.",
        ) from None


class _ZstdReader(io.RawIOBase):
    """zstd decompression that reads every frame and notices a truncated file (the
    ``zstandard`` stream reader stops quietly at the end of the first frame, or of the data)."""

    def __init__(self, path: str) -> None:
        import zstandard

        self._zstd = zstandard
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""
        self._pos = 0  # how much of _pending was handed out already

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._pos >= len(self._pending):
            self._pending, self._pos = b"", 0
            chunk = self._raw.read(1 << 20)
            if not chunk:
                if not self._dobj.eof and self._started:
                    raise EOFError("the zstd data ends in the middle of a frame")
                return 0
            try:
                while chunk:
                    if self._dobj.eof:  # the next frame of a multi-frame file
                        self._dobj = self._zstd.ZstdDecompressor().decompressobj()
                    self._pending += self._dobj.decompress(chunk)
                    chunk = self._dobj.unused_data if self._dobj.eof else b""
            except self._zstd.ZstdError as exc:
                raise OSError(f"invalid zstd data: {exc}") from None
        n = min(len(buffer), len(self._pending) - self._pos)
        buffer[:n] = self._pending[self._pos:self._pos + n]
        self._pos += n
        return n

    @property
    def _started(self) -> bool:
        return self._raw.tell() > 0

    def close(self) -> None:
        self._raw.close()
        super().close()


class _ZstdWriter:
    """A zstd stream that also closes the file under it."""

    def __init__(self, path: str) -> None:
        import zstandard

        self._raw = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._stream = zstandard.ZstdCompressor(level=3).stream_writer(self._raw)

    def write(self, data: bytes) -> int:
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()
        if not self._raw.closed:
            self._raw.close()

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def __enter__(self) -> _ZstdWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_write(path: str, compression: str) -> Any:
    if is_url(path):
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        ctype = {"none": CompressionTypes.UNCOMPRESSED, "gzip": CompressionTypes.GZIP,
                 "zstd": CompressionTypes.ZSTD, "bz2": CompressionTypes.BZIP2}[compression]
        return FileSystems.create(path, compression_type=ctype)
    path = local(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if compression == "none":
        return open(path, "wb")
    if compression == "gzip":
        return gzip.open(path, "wb", compresslevel=6)
    if compression == "bz2":
        return bz2.open(path, "wb")
    if compression == "zstd":
        return _ZstdWriter(path)
    raise ValueError(compression)


def exists(path: str, options: StoreOptions | None = None) -> bool:
    if is_store(path):
        return object_store.exists(path, options)
    if is_url(path):
        from apache_beam.io.filesystems import FileSystems

        return bool(FileSystems.exists(path))
    return os.path.exists(local(path))


def rename(src: str, dst: str, options: StoreOptions | None = None) -> None:
    if is_store(src):
        object_store.copy(src, dst, options)
        object_store.delete([src], options)
        return
    if is_url(src):
        from apache_beam.io.filesystems import FileSystems

        if FileSystems.exists(dst):
            FileSystems.delete([dst])
        FileSystems.rename([src], [dst])
        return
    os.makedirs(os.path.dirname(local(dst)) or ".", exist_ok=True)
    os.replace(local(src), local(dst))


def delete_tree(path: str, options: StoreOptions | None = None) -> None:
    if is_store(path):
        object_store.delete_prefix(path, options)
        return
    if is_url(path):
        from apache_beam.io.filesystems import FileSystems

        if FileSystems.exists(path):
            FileSystems.delete([path])
        return
    shutil.rmtree(local(path), ignore_errors=True)


def delete_file(path: str, options: StoreOptions | None = None) -> None:
    if is_store(path):
        object_store.delete([path], options)
        return
    if is_url(path):
        from apache_beam.io.filesystems import FileSystems

        FileSystems.delete([path])
        return
    os.remove(local(path))


def size_of(path: str, options: StoreOptions | None = None) -> int:
    if is_store(path):
        return object_store.size(path, options)
    if is_url(path):
        return 0
    try:
        return os.path.getsize(local(path))
    except OSError:
        return 0


def join(folder: str, name: str) -> str:
    if is_url(folder):
        return folder.rstrip("/") + "/" + name
    return os.path.join(local(folder), name)


def publish(src: str, dst: str, options: StoreOptions | None = None) -> None:
    """Put a finished local or staged file at ``dst``: a rename for local paths (atomic), an
    upload (local → URL) or a server-side copy (URL → URL) otherwise. Retrying it overwrites
    the same key, so it never duplicates; the source stays until the staging is deleted."""
    if not is_url(dst):
        rename(src, dst)
    elif is_store(dst) and not is_url(src):
        object_store.upload(local(src), dst, options)
    elif is_store(dst):
        object_store.copy(src, dst, options)
    else:
        from apache_beam.io.filesystems import FileSystems

        if FileSystems.exists(dst):
            FileSystems.delete([dst])
        FileSystems.copy([src], [dst])


def list_folder(folder: str, options: StoreOptions | None = None) -> list[str]:
    """Files directly in a folder (none if it does not exist)."""
    if is_store(folder):
        return object_store.list_folder(folder, options)
    if is_url(folder):
        from apache_beam.io.filesystems import FileSystems

        result = FileSystems.match([folder.rstrip("/") + "/*"])[0]
        return sorted(m.path for m in result.metadata_list)
    path = local(folder)
    if not os.path.isdir(path):
        return []
    return sorted(os.path.join(path, n) for n in os.listdir(path)
                  if os.path.isfile(os.path.join(path, n)))
