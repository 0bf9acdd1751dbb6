"""S3 (and S3-compatible stores) for the file connectors: settings, and the few object
operations dteg needs, each retried with backoff on transient failures.

``s3://`` goes through boto3 directly rather than Beam's S3 filesystem: Beam's ``S3IO``
retries a refused connection with fixed backoff for many minutes (measured here: an
``exists`` against a closed port had not returned after 120 s), which turns a wrong endpoint
into a hung run. Here botocore does not retry by itself and ``dteg.connectors.retry``
decides, within ``retry.deadline_seconds``. ``gs://`` goes the same way through
google-cloud-storage (``dteg.connectors.gcs_store``): every function here takes either
scheme. Other URL schemes still go through Beam's FileSystems.

Credentials: ``access_key_id``/``secret_access_key`` from the config, else boto3's standard
chain (``AWS_ACCESS_KEY_ID``…, ``AWS_PROFILE``, ``~/.aws``, instance roles).
``endpoint_url`` (or ``AWS_ENDPOINT_URL_S3``) points at an S3-compatible store. For GCS:
``gcs_anonymous``, ``gcs_credentials_file``, else Application Default Credentials, and
``gcs_api_endpoint`` for an emulator.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from dteg.connectors.retry import RetrySettings, call
from dteg.connectors.store_options import StoreOptions
from dteg.errors import ConnectorError

__all__ = ["ObjectStoreSettings", "StoreOptions"]  # StoreOptions lives in store_options


class ObjectStoreSettings(BaseModel):
    """Settings for ``s3://`` and ``gs://`` paths (ignored for local paths)."""

    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint, e.g. http://127.0.0.1:9000 "
        "(default: AWS, or AWS_ENDPOINT_URL_S3)")
    region: str | None = Field(default=None, description="e.g. eu-west-1 (default: AWS chain)")
    access_key_id: SecretStr | None = Field(
        default=None, description="Default: the standard AWS chain (env, profile, role)")
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    gcs_api_endpoint: str | None = Field(
        default=None, description="gs:// only: an emulator's endpoint, e.g. "
        "http://127.0.0.1:4443 (default: Google)")
    gcs_project: str | None = Field(
        default=None, description="gs:// only: the project (default: from the credentials)")
    gcs_credentials_file: str | None = Field(
        default=None, description="gs:// only: a service-account JSON key file (default: "
        "Application Default Credentials)")
    gcs_anonymous: bool = Field(
        default=False, description="gs:// only: no credentials (for an emulator)")
    retry: RetrySettings = Field(default_factory=RetrySettings,
                                 description="Retries of transient object-store failures")

    def store_options(self, step: str | None = None) -> StoreOptions:
        def plain(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        return StoreOptions(
            endpoint_url=self.endpoint_url, region=self.region,
            access_key_id=plain(self.access_key_id),
            secret_access_key=plain(self.secret_access_key),
            session_token=plain(self.session_token), gcs_api_endpoint=self.gcs_api_endpoint,
            gcs_project=self.gcs_project, gcs_credentials_file=self.gcs_credentials_file,
            gcs_anonymous=self.gcs_anonymous, retry=self.retry, step=step)


_clients: dict[StoreOptions, Any] = {}
_lock = threading.Lock()


def client(options: StoreOptions | None) -> Any:
    """One boto3 client per settings and process (clients are thread-safe)."""
    options = options or StoreOptions()
    with _lock:
        found = _clients.get(options)
        if found is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ConnectorError(
                    "s3:// paths need boto3", step=options.step,
                    hint="Install it with `pip install 'dteg[s3]'`.") from None
            config = Config(
                retries={"max_attempts": 1, "mode": "standard"},  # dteg.connectors.retry does it
                connect_timeout=5, read_timeout=120,
                s3={"addressing_style": "path"} if options.endpoint_url else None)
            session = boto3.session.Session()
            found = session.client(
                "s3", endpoint_url=options.endpoint_url, region_name=options.region,
                aws_access_key_id=options.access_key_id,
                aws_secret_access_key=options.secret_access_key,
                aws_session_token=options.session_token, config=config)
            _clients[options] = found
        return found


def is_gcs(url: str) -> bool:
    return url.startswith("gs://")


def _gcs() -> Any:
    """``dteg.connectors.gcs_store``, imported on first use (``dteg validate`` imports this
    module for the settings and must not pull in more)."""
    from dteg.connectors import gcs_store

    return gcs_store


def split(url: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` (or ``gs://…``) → (bucket, some/key)."""
    rest = url.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key


def _retry(options: StoreOptions | None, what: str, fn: Any) -> Any:
    options = options or StoreOptions()
    return call(fn, what=what, settings=options.retry, step=options.step)


def _not_found(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _missing_bucket(exc: BaseException, url: str, step: str | None) -> None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code") == "NoSuchBucket":
        raise ConnectorError(f"the bucket of {url} does not exist", step=step,
                             hint="Create the bucket, or fix the path.") from None


def upload(local_path: str, url: str, options: StoreOptions | None) -> None:
    """Upload a local file to ``url`` (multipart when large). Idempotent: a retry overwrites."""
    if is_gcs(url):
        return _gcs().upload(local_path, url, options)
    bucket, key = split(url)
    s3 = client(options)

    def put() -> None:
        try:
            s3.upload_file(local_path, bucket, key)
        except Exception as exc:
            _missing_bucket(exc, url, options.step if options else None)
            raise

    _retry(options, f"uploading {url}", put)


def download(url: str, local_path: str, options: StoreOptions | None) -> None:
    if is_gcs(url):
        return _gcs().download(url, local_path, options)
    bucket, key = split(url)
    s3 = client(options)
    _retry(options, f"downloading {url}", lambda: s3.download_file(bucket, key, local_path))


def copy(src: str, dst: str, options: StoreOptions | None) -> None:
    """Server-side copy (multipart for large objects). Idempotent: a retry overwrites."""
    if is_gcs(src):
        return _gcs().copy(src, dst, options)
    src_bucket, src_key = split(src)
    bucket, key = split(dst)
    s3 = client(options)
    _retry(options, f"publishing {dst}",
           lambda: s3.copy({"Bucket": src_bucket, "Key": src_key}, bucket, key))


def exists(url: str, options: StoreOptions | None) -> bool:
    if is_gcs(url):
        return _gcs().exists(url, options)
    bucket, key = split(url)
    s3 = client(options)

    def head() -> bool:
        try:
            s3.head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:
            if _not_found(exc):
                return bool(key) and bool(list_prefix(url.rstrip("/") + "/", options, limit=1))
            raise

    return bool(_retry(options, f"checking {url}", head))


def list_prefix(prefix_url: str, options: StoreOptions | None, *,
                limit: int | None = None) -> list[tuple[str, int]]:
    """Every object under a prefix, as (url, size), in key order."""
    if is_gcs(prefix_url):
        return _gcs().list_prefix(prefix_url, options, limit=limit)
    bucket, prefix = split(prefix_url)
    s3 = client(options)

    def listing() -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            try:
                page = s3.list_objects_v2(**kwargs)
            except Exception as exc:
                _missing_bucket(exc, prefix_url, options.step if options else None)
                raise
            found.extend((f"s3://{bucket}/{o['Key']}", int(o["Size"]))
                         for o in page.get("Contents", []))
            if limit is not None and len(found) >= limit:
                return found[:limit]
            if not page.get("IsTruncated"):
                return found
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    return list(_retry(options, f"listing {prefix_url}", listing))


def list_folder(folder_url: str, options: StoreOptions | None) -> list[str]:
    """Objects directly in a folder (not in its subfolders)."""
    prefix = folder_url.rstrip("/") + "/"
    return [u for u, _ in list_prefix(prefix, options) if "/" not in u[len(prefix):]]


def glob(pattern: str, options: StoreOptions | None) -> list[str]:
    """Objects matching a glob: ``*`` and ``?`` stay within one folder level, ``**`` crosses
    levels. A pattern without wildcards matches that object only."""
    wild = re.search(r"[*?\[]", pattern)
    if not wild:
        return [pattern] if exists_object(pattern, options) else []
    prefix = pattern[:wild.start()]
    regex = _translate(pattern)
    return [u for u, _ in list_prefix(prefix, options) if regex.fullmatch(u)]


def exists_object(url: str, options: StoreOptions | None) -> bool:
    if is_gcs(url):
        return _gcs().exists_object(url, options)
    bucket, key = split(url)
    s3 = client(options)

    def head() -> bool:
        try:
            s3.head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:
            if _not_found(exc):
                return False
            raise

    return bool(_retry(options, f"checking {url}", head))


def _translate(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*/?|\*|\?)", pattern)
    out = []
    for part in parts:
        if part in ("**", "**/"):
            out.append(".*")
        elif part == "*":
            out.append("[^/]*")
        elif part == "?":
            out.append("[^/]")
        else:
            out.append(fnmatch.translate(part)[4:-3] if "[" in part else re.escape(part))
    return re.compile("".join(out))


def delete(urls: list[str], options: StoreOptions | None) -> None:
    """Delete objects (1000 per request). Idempotent: deleting a missing key succeeds."""
    gcs = [u for u in urls if is_gcs(u)]
    if gcs:
        _gcs().delete(gcs, options)
        urls = [u for u in urls if not is_gcs(u)]
        if not urls:
            return
    s3 = client(options)
    by_bucket: dict[str, list[str]] = {}
    for url in urls:
        bucket, key = split(url)
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]

            def remove(chunk: list[str] = chunk, bucket: str = bucket) -> None:
                result = s3.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": k} for k in chunk], "Quiet": True})
                errors = result.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise ConnectorError(
                        f"could not delete s3://{bucket}/{first.get('Key')}: "
                        f"{first.get('Code')} {first.get('Message')}",
                        step=options.step if options else None,
                        retriable=first.get("Code") in ("InternalError", "SlowDown"))

            _retry(options, f"deleting {len(chunk)} object(s) in s3://{bucket}", remove)


def delete_prefix(prefix_url: str, options: StoreOptions | None) -> None:
    delete([u for u, _ in list_prefix(prefix_url.rstrip("/") + "/", options)], options)


def size(url: str, options: StoreOptions | None) -> int:
    if is_gcs(url):
        return _gcs().size(url, options)
    bucket, key = split(url)
    s3 = client(options)
    head = _retry(options, f"checking {url}", lambda: s3.head_object(Bucket=bucket, Key=key))
    return int(head["ContentLength"])
