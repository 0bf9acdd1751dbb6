"""Google Cloud Storage for the file connectors: the object operations dteg needs on
``gs://`` paths, through the google-cloud-storage client, each retried by
``dteg.connectors.retry`` (the client's own retries are off, so a wrong endpoint fails within
``retry.deadline_seconds`` instead of the client's two minutes per call).

Beam's own ``gs://`` filesystem is not used: its finalize step fails against
fake-gcs-server, and like Beam's S3 filesystem it retries on its own schedule.

Credentials, in this order: ``gcs_anonymous: true`` (an emulator), ``gcs_credentials_file``
(a service-account JSON key), else Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's user credentials, the metadata server).
``gcs_api_endpoint`` points at an emulator (``http://127.0.0.1:4443``).
"""

from __future__ import annotations

import threading
from typing import Any

from dteg.connectors.retry import call
from dteg.connectors.store_options import StoreOptions
from dteg.errors import ConnectorError

_clients: dict[Any, Any] = {}
_lock = threading.Lock()
# The client's default of 60 s per request: a stalled emulator is retried by dteg instead.
_TIMEOUT = (5, 120)


def split(url: str) -> tuple[str, str]:
    """``gs://bucket/some/key`` → (bucket, some/key)."""
    bucket, _, key = url.split("://", 1)[1].partition("/")
    return bucket, key


def _step(options: StoreOptions | None) -> str | None:
    return options.step if options else None


def client(options: StoreOptions | None) -> Any:
    """One storage client per settings and process."""
    options = options or StoreOptions()
    key = (options.gcs_api_endpoint, options.gcs_project, options.gcs_credentials_file,
           options.gcs_anonymous)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _make_client(options)
            _clients[key] = found
        return found


def _make_client(options: StoreOptions) -> Any:
    try:
        from google.cloud import storage
    except ImportError:
        raise ConnectorError(
            "gs:// paths need google-cloud-storage", step=options.step,
            hint="Install it with `pip install 'dteg[gcs]'`.") from None
    client_options = {"api_endpoint": options.gcs_api_endpoint} if options.gcs_api_endpoint \
        else None
    try:
        if options.gcs_anonymous:
            from google.auth.credentials import AnonymousCredentials

            return storage.Client(project=options.gcs_project or "dteg",
                                  credentials=AnonymousCredentials(),
                                  client_options=client_options)
        if options.gcs_credentials_file:
            return storage.Client.from_service_account_json(
                options.gcs_credentials_file, project=options.gcs_project,
                client_options=client_options)
        return storage.Client(project=options.gcs_project, client_options=client_options)
    except FileNotFoundError:
        raise ConnectorError(
            f"the GCS credentials file {options.gcs_credentials_file} does not exist",
            step=options.step,
            hint="Point `gcs_credentials_file` at a service-account JSON key.") from None
    except Exception as exc:  # google.auth's DefaultCredentialsError, a malformed key, …
        raise ConnectorError(
            f"cannot set up Google Cloud Storage credentials: {type(exc).__name__}: "
            f"{_first_line(exc)}", step=options.step,
            hint="Set `gcs_credentials_file` to a service-account JSON key, or "
            "GOOGLE_APPLICATION_CREDENTIALS, or `gcs_anonymous: true` for an emulator.",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def _missing_bucket(exc: BaseException) -> bool:
    # GCS answers 404 for a missing object too ("No such object: b/k"); only the bucket's
    # message names the bucket ("The specified bucket does not exist", "bucket not found").
    message = _first_line(exc).lower()
    return _code(exc) == 404 and "no such object" not in message and "bucket" in message


def _fatal(exc: BaseException, url: str, options: StoreOptions | None) -> None:
    """Turn the answers a retry cannot fix into one clear error (else return)."""
    code = _code(exc)
    message = _first_line(exc)
    if _missing_bucket(exc):
        raise ConnectorError(f"the bucket of {url} does not exist", step=_step(options),
                             hint="Create the bucket, or fix the path.") from None
    if code in (401, 403):
        raise ConnectorError(
            f"Google Cloud Storage refused access to {url} ({code}): {message}",
            step=_step(options),
            hint="Check the credentials (`gcs_credentials_file`, ADC) and that the account "
            "may read/write this bucket.") from None


def _retry(options: StoreOptions | None, what: str, url: str, fn: Any) -> Any:
    settings = (options or StoreOptions()).retry

    def guarded() -> Any:
        try:
            return fn()
        except ConnectorError:
            raise
        except Exception as exc:
            _fatal(exc, url, options)
            raise

    return call(guarded, what=what, settings=settings, step=_step(options))


def _blob(url: str, options: StoreOptions | None) -> Any:
    bucket, key = split(url)
    return client(options).bucket(bucket).blob(key)


def upload(local_path: str, url: str, options: StoreOptions | None) -> None:
    """Upload a local file to ``url``. Idempotent: a retry overwrites the same object."""
    _retry(options, f"uploading {url}", url, lambda: _blob(url, options).upload_from_filename(
        local_path, retry=None, timeout=_TIMEOUT))


def download(url: str, local_path: str, options: StoreOptions | None) -> None:
    _retry(options, f"downloading {url}", url, lambda: _blob(url, options).download_to_filename(
        local_path, retry=None, timeout=_TIMEOUT))


def copy(src: str, dst: str, options: StoreOptions | None) -> None:
    """Server-side copy (a rewrite, resumed with its token for large objects). Idempotent."""
    source = _blob(src, options)
    target = _blob(dst, options)

    def rewrite() -> None:
        token = None
        while True:
            token, _done, _total = target.rewrite(source, token=token, retry=None,
                                                  timeout=_TIMEOUT)
            if token is None:
                return

    _retry(options, f"publishing {dst}", dst, rewrite)


def list_prefix(prefix_url: str, options: StoreOptions | None, *,
                limit: int | None = None) -> list[tuple[str, int]]:
    """Every object under a prefix, as (url, size), in key order."""
    bucket, prefix = split(prefix_url)

    def listing() -> list[tuple[str, int]]:
        blobs = client(options).list_blobs(bucket, prefix=prefix or None,
                                           max_results=limit, retry=None, timeout=_TIMEOUT)
        return [(f"gs://{bucket}/{b.name}", int(b.size or 0)) for b in blobs]

    found = _retry(options, f"listing {prefix_url}", prefix_url, listing)
    return sorted(found)[:limit] if limit is not None else sorted(found)


def exists_object(url: str, options: StoreOptions | None) -> bool:
    _, key = split(url)
    if not key:
        return False
    return bool(_retry(options, f"checking {url}", url, lambda: _blob(url, options).exists(
        retry=None, timeout=_TIMEOUT)))


def exists(url: str, options: StoreOptions | None) -> bool:
    """An object, or a "folder" (a prefix with objects under it)."""
    if exists_object(url, options):
        return True
    _, key = split(url)
    return bool(key) and bool(list_prefix(url.rstrip("/") + "/", options, limit=1))


def size(url: str, options: StoreOptions | None) -> int:
    def head() -> int:
        blob = _blob(url, options)
        blob.reload(retry=None, timeout=_TIMEOUT)
        return int(blob.size or 0)

    return int(_retry(options, f"checking {url}", url, head))


def delete(urls: list[str], options: StoreOptions | None) -> None:
    """Delete objects. Idempotent: a missing object counts as deleted."""
    for url in urls:
        def remove(url: str = url) -> None:
            try:
                _blob(url, options).delete(retry=None, timeout=_TIMEOUT)
            except Exception as exc:
                if _code(exc) == 404 and not _missing_bucket(exc):
                    return
                raise

        _retry(options, f"deleting {url}", url, remove)
