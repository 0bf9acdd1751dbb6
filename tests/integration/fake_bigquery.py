"""A stand-in for the BigQuery REST API, for tests: a real HTTP server on 127.0.0.1 that the
unmodified ``google-cloud-bigquery`` client talks to. It records every request and applies
what dteg sends to an in-memory DuckDB database: datasets and tables (schema, partitioning,
clustering), load jobs with a Parquet payload (multipart and resumable uploads), query jobs
(INSERT … SELECT, MERGE, WRITE_TRUNCATE queries; BigQuery SQL is rewritten for DuckDB),
``insertAll`` with ``insertId`` de-duplication, job ids that answer 409 when reused, and
errors injected on request (``fail(...)``).

It is not BigQuery: it checks the requests dteg makes and gives their effect a plausible
meaning, nothing more (see the README's Cloud section). No BigQuery emulator could be built
here: goccy/bigquery-emulator v0.6.6 failed to compile its ZetaSQL dependency with this
machine's GCC after 9 min 53 s, beyond CI's budget either way.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb

DUCK_TYPES = {"INT64": "BIGINT", "INTEGER": "BIGINT", "FLOAT64": "DOUBLE", "FLOAT": "DOUBLE",
              "NUMERIC": "DECIMAL(38,9)", "BIGNUMERIC": "DECIMAL(38,9)", "STRING": "VARCHAR",
              "BOOL": "BOOLEAN", "BOOLEAN": "BOOLEAN", "DATE": "DATE",
              "DATETIME": "TIMESTAMP", "TIMESTAMP": "TIMESTAMPTZ", "TIME": "TIME",
              "BYTES": "BLOB", "JSON": "VARCHAR"}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any  # JSON, or a description of a binary upload


@dataclass
class FakeBigQuery:
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # "ds.t" → resource
    datasets: set[str] = field(default_factory=set)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    insert_ids: dict[str, set[str]] = field(default_factory=dict)
    failures: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db = duckdb.connect()
        self.lock = threading.RLock()
        self.uploads: dict[str, dict[str, Any]] = {}

    # --- test helpers ----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, method: str, path_part: str, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` requests matching with ``status``."""
        self.failures.extend([(method, path_part, status)] * times)

    def rows(self, table: str, order: str = "1") -> list[tuple[Any, ...]]:
        dataset, name = table.split(".")
        with self.lock:
            return self.db.execute(f'SELECT * FROM "{dataset}"."{name}" ORDER BY {order}'
                                   ).fetchall()

    def calls(self, method: str, contains: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and contains in r.path]

    # --- the API ---------------------------------------------------------------------------

    def handle(self, method: str, url: str, headers: Any, body: bytes) -> tuple[int, Any,
                                                                                dict[str, str]]:
        parsed = urlparse(url)
        path, query = parsed.path, parse_qs(parsed.query)
        with self.lock:
            self.requests.append(Recorded(method, path, query, self._describe(headers, body)))
            for index, (m, part, status) in enumerate(self.failures):
                if m == method and part in path:
                    del self.failures[index]
                    raise ApiError(status, "backendError", "injected failure")
            if path.startswith("/upload/"):
                return self._upload(method, path, query, headers, body)
            parts = path.removeprefix("/bigquery/v2/").split("/")
            data = json.loads(body) if body else {}
            return self._route(method, parts, query, data)

    def _describe(self, headers: Any, body: bytes) -> Any:
        kind = headers.get("Content-Type", "")
        if kind.startswith("application/json") and body:
            return json.loads(body)
        return {"content_type": kind, "bytes": len(body)}

    def _route(self, method: str, parts: list[str], query: Any, data: Any
               ) -> tuple[int, Any, dict[str, str]]:
        project = parts[1]
        if parts[2:] == ["datasets"] and method == "POST":
            name = data["datasetReference"]["datasetId"]
            if name in self.datasets:
                raise ApiError(409, "duplicate", f"Already Exists: Dataset {project}:{name}")
            self.datasets.add(name)
            self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
            return 200, {**data, "id": f"{project}:{name}"}, {}
        if parts[2] == "datasets" and len(parts) == 4 and method == "GET":
            if parts[3] not in self.datasets:
                raise ApiError(404, "notFound", f"Not found: Dataset {project}:{parts[3]}")
            return 200, {"datasetReference": {"projectId": project, "datasetId": parts[3]}}, {}
        if parts[2] == "datasets" and parts[4:] == ["tables"] and method == "POST":
            return 200, self._create_table(project, parts[3], data), {}
        if parts[2] == "datasets" and len(parts) >= 6 and parts[4] == "tables":
            key = f"{parts[3]}.{parts[5]}"
            if parts[6:] == ["insertAll"]:
                return 200, self._insert_all(key, data), {}
            if key not in self.tables:
                raise ApiError(404, "notFound", f"Not found: Table {project}:{key}")
            if method == "GET":
                return 200, self.tables[key], {}
            if method in ("PATCH", "PUT"):
                return 200, self._update_table(key, data), {}
            if method == "DELETE":
                del self.tables[key]
                self.db.execute(f'DROP TABLE IF EXISTS "{parts[3]}"."{parts[5]}"')
                return 204, None, {}
        if parts[2:] == ["jobs"] and method == "POST":
            return 200, self._insert_job(project, data, None), {}
        if parts[2] == "jobs" and len(parts) == 4 and method == "GET":
            if parts[3] not in self.jobs:
                raise ApiError(404, "notFound", f"Not found: Job {project}:{parts[3]}")
            return 200, self.jobs[parts[3]], {}
        if parts[2] == "queries" and len(parts) == 4 and method == "GET":
            job = self.jobs[parts[3]]
            stats = job["statistics"].get("query", {})
            return 200, {"kind": "bigquery#getQueryResultsResponse", "jobComplete": True,
                         "jobReference": job["jobReference"], "totalRows": "0",
                         "schema": {"fields": []},
                         "numDmlAffectedRows": stats.get("numDmlAffectedRows", "0")}, {}
        raise ApiError(400, "invalid", f"the fake does not know {method} /{'/'.join(parts)}")

    def _create_table(self, project: str, dataset: str, data: Any) -> dict[str, Any]:
        name = data["tableReference"]["tableId"]
        key = f"{dataset}.{name}"
        if key in self.tables:
            raise ApiError(409, "duplicate", f"Already Exists: Table {project}:{key}")
        if dataset not in self.datasets:
            raise ApiError(404, "notFound", f"Not found: Dataset {project}:{dataset}")
        fields = data.get("schema", {}).get("fields", [])
        columns = ", ".join(f'"{f["name"]}" {DUCK_TYPES[f["type"]]}' for f in fields)
        self.db.execute(f'CREATE TABLE "{dataset}"."{name}" ({columns})')
        resource = {**data, "id": f"{project}:{key}", "numRows": "0"}
        self.tables[key] = resource
        return resource

    def _update_table(self, key: str, data: Any) -> dict[str, Any]:
        dataset, name = key.split(".")
        known = {f["name"] for f in self.tables[key]["schema"]["fields"]}
        for f in data.get("schema", {}).get("fields", []):
            if f["name"] not in known:
                self.db.execute(f'ALTER TABLE "{dataset}"."{name}" ADD COLUMN "{f["name"]}" '
                                f'{DUCK_TYPES[f["type"]]}')
        self.tables[key] = {**self.tables[key], **data}
        return self.tables[key]

    def _insert_all(self, key: str, data: Any) -> dict[str, Any]:
        dataset, name = key.split(".")
        seen = self.insert_ids.setdefault(key, set())
        fresh = [r for r in data.get("rows", []) if r.get("insertId") not in seen]
        seen.update(r["insertId"] for r in fresh if r.get("insertId"))
        if fresh:
            text = "\n".join(json.dumps(r["json"]) for r in fresh)
            with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as fh:
                fh.write(text)
                fh.flush()
                columns = [f["name"] for f in self.tables[key]["schema"]["fields"]]
                types = {f["name"]: DUCK_TYPES[f["type"]]
                         for f in self.tables[key]["schema"]["fields"]}
                spec = ", ".join(f"'{c}': '{types[c]}'" for c in columns)
                self.db.execute(f'INSERT INTO "{dataset}"."{name}" BY NAME SELECT * FROM '
                                f"read_json('{fh.name}', columns = {{{spec}}})")
        return {"kind": "bigquery#tableDataInsertAllResponse"}

    # --- jobs ------------------------------------------------------------------------------

    def _insert_job(self, project: str, data: Any, payload: bytes | None) -> dict[str, Any]:
        ref = data.get("jobReference", {})
        job_id = ref.get("jobId") or uuid.uuid4().hex
        if job_id in self.jobs:
            raise ApiError(409, "duplicate", f"Already Exists: Job {project}:{job_id}")
        job = {"kind": "bigquery#job", "id": f"{project}:{job_id}",
               "jobReference": {"projectId": project, "jobId": job_id,
                                "location": ref.get("location") or "US"},
               "configuration": data.get("configuration", {}),
               "status": {"state": "DONE"}, "statistics": {}}
        try:
            config = job["configuration"]
            if "load" in config:
                self._load(config["load"], payload or b"")
            elif "query" in config:
                affected = self._query(config["query"])
                job["statistics"]["query"] = {"numDmlAffectedRows": str(affected)}
        except ApiError as exc:
            job["status"]["errorResult"] = {"reason": exc.reason, "message": exc.message}
            job["status"]["errors"] = [job["status"]["errorResult"]]
        except duckdb.Error as exc:
            job["status"]["errorResult"] = {"reason": "invalidQuery", "message": str(exc)}
            job["status"]["errors"] = [job["status"]["errorResult"]]
        self.jobs[job_id] = job
        return job

    def _table_key(self, ref: dict[str, str]) -> str:
        return f"{ref['datasetId']}.{ref['tableId']}"

    def _load(self, config: Any, payload: bytes) -> None:
        ref = config["destinationTable"]
        key = self._table_key(ref)
        if config.get("sourceFormat") != "PARQUET":
            raise ApiError(400, "invalid", "the fake loads Parquet only")
        if key not in self.tables:
            self._create_table(ref["projectId"], ref["datasetId"], {
                "tableReference": ref, "schema": config.get("schema", {"fields": []})})
        dataset, name = key.split(".")
        if config.get("writeDisposition") == "WRITE_TRUNCATE":
            self.db.execute(f'DELETE FROM "{dataset}"."{name}"')
        with tempfile.NamedTemporaryFile(suffix=".parquet") as fh:
            fh.write(payload)
            fh.flush()
            self.db.execute(f'INSERT INTO "{dataset}"."{name}" BY NAME SELECT * FROM '
                            f"read_parquet('{fh.name}')")

    def _query(self, config: Any) -> int:
        sql = _to_duckdb(config["query"])
        destination = config.get("destinationTable")
        if destination is not None:
            key = self._table_key(destination)
            dataset, name = key.split(".")
            if config.get("writeDisposition") != "WRITE_TRUNCATE":
                raise ApiError(400, "invalid", "the fake supports WRITE_TRUNCATE queries only")
            result = self.db.execute(f"SELECT * FROM ({sql}) LIMIT 0")
            names = [d[0] for d in result.description]
            self.db.execute(f'DELETE FROM "{dataset}"."{name}"')
            self.db.execute(f'INSERT INTO "{dataset}"."{name}" BY NAME {sql}')
            kept = [f for f in self.tables[key]["schema"]["fields"] if f["name"] in names]
            self.tables[key]["schema"] = {"fields": kept}
            return int(self.db.execute(f'SELECT count(*) FROM "{dataset}"."{name}"'
                                       ).fetchone()[0])  # type: ignore[index]
        row = self.db.execute(sql).fetchone()
        return int(row[0]) if row and isinstance(row[0], int) else 0

    # --- uploads ---------------------------------------------------------------------------

    def _upload(self, method: str, path: str, query: Any, headers: Any, body: bytes
                ) -> tuple[int, Any, dict[str, str]]:
        project = path.split("/")[5]
        kind = query.get("uploadType", [""])[0]
        if kind == "multipart":
            metadata, payload = _multipart(headers.get("Content-Type", ""), body)
            return 200, self._insert_job(project, metadata, payload), {}
        if kind == "resumable" and method == "POST":
            upload_id = uuid.uuid4().hex
            self.uploads[upload_id] = {"metadata": json.loads(body), "data": b""}
            location = f"{self.endpoint}{path}?uploadType=resumable&upload_id={upload_id}"
            return 200, {}, {"Location": location}
        if kind == "resumable" and method == "PUT":
            upload = self.uploads[query["upload_id"][0]]
            upload["data"] += body
            total = headers.get("Content-Range", "").rsplit("/", 1)[-1]
            if total not in ("*", "") and len(upload["data"]) < int(total):
                return 308, None, {"Range": f"bytes=0-{len(upload['data']) - 1}"}
            return 200, self._insert_job(project, upload["metadata"], upload["data"]), {}
        raise ApiError(400, "invalid", f"the fake does not know upload {method} {kind}")


def _multipart(content_type: str, body: bytes) -> tuple[Any, bytes]:
    boundary = content_type.split("boundary=")[1].strip('"').encode()
    sections = [s for s in body.split(b"--" + boundary) if s.strip() not in (b"", b"--")]
    parts = []
    for section in sections:
        _, _, content = section.partition(b"\r\n\r\n")
        parts.append(content.removesuffix(b"\r\n"))
    return json.loads(parts[0]), parts[1]


def _to_duckdb(sql: str) -> str:
    """The BigQuery SQL dteg writes, in DuckDB's dialect."""
    sql = re.sub(r"`[^`.]+\.([^`.]+)\.([^`.]+)`", r'"\1"."\2"', sql)
    sql = re.sub(r"`([^`]+)`", r'"\1"', sql)
    return sql.replace("EXCEPT (", "EXCLUDE (")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBigQuery

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, payload, extra = self.fake.handle(self.command, self.path, self.headers,
                                                      body)
        except ApiError as exc:
            status, extra = exc.code, {}
            payload = {"error": {"code": exc.code, "message": exc.message, "errors": [
                {"reason": exc.reason, "message": exc.message}]}}
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


def start() -> tuple[FakeBigQuery, ThreadingHTTPServer]:
    fake = FakeBigQuery()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
