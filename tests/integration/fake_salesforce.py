"""A stand-in for Salesforce's OAuth2 token endpoint and Bulk API 2.0, for tests and local
runs: a real HTTP server on 127.0.0.1 that dteg's unmodified client (``requests``) talks to.

It implements what the ``salesforce`` connector uses: ``/services/oauth2/token`` (client
credentials; JWT bearer verified against the connected app's public key), ``sobjects/{object}/
describe`` (the standard fields tests touch, each with its type, length and whether it is
createable/updateable/an external id, plus ``custom_fields`` a test declares), ingest jobs
(create, one CSV upload, UploadComplete, state, successfulResults, failedResults) for insert,
upsert by an external id, update and delete, and query jobs (``SELECT f, … FROM Object``
with an optional ``WHERE field = 'value'`` or ``>``) paged with ``Sforce-Locator``. Records
are kept per object and can be read by tests (``records``). It validates like Salesforce on
the points tests rely on: unknown fields fail the job, fields that are not createable
(``Id``, ``Name``) cannot be inserted, Contact needs ``LastName``, an email field must hold an
address, text longer than the field's length is refused, updates need an existing ``Id``.
Field names are case-insensitive, as in Salesforce.

It is not Salesforce: limits, sharing rules, triggers, field types beyond text and the full
SOQL language are not modelled (see the README).

``python -m tests.integration.fake_salesforce --port P`` serves it (scripts/services/salesforce).
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

MAX_UPLOAD = 150 * 1024 * 1024


def _f(name: str, kind: str = "string", length: int = 255, *, create: bool = True,
       update: bool = True, external: bool = False, nillable: bool = True) -> dict[str, Any]:
    """One field as describe returns it (the attributes dteg reads)."""
    return {"name": name, "type": kind, "length": length, "createable": create,
            "updateable": update, "externalId": external, "idLookup": external or
            name == "Id", "nillable": nillable, "custom": name.endswith("__c")}


_ID = _f("Id", "id", 18, create=False, update=False, nillable=False)
# Contact's standard fields that tests touch, as a real org describes them (Name is the
# compound of FirstName/LastName: read-only), plus the External_Id__c every org here has.
STANDARD: dict[str, list[dict[str, Any]]] = {
    "Contact": [_ID, _f("FirstName", length=40), _f("LastName", length=80, nillable=False),
                _f("Name", length=121, create=False, update=False),
                _f("Email", "email", 80), _f("Phone", "phone", 40),
                _f("MobilePhone", "phone", 40), _f("Title", length=128),
                _f("AccountId", "reference", 18), _f("Description", "textarea", 32000),
                _f("External_Id__c", external=True)],
    "Account": [_ID, _f("Name", nillable=False), _f("Phone", "phone", 40),
                _f("Website", "url"), _f("External_Id__c", external=True)],
}
FIELDS = {obj: [f["name"] for f in fields] for obj, fields in STANDARD.items()}
REQUIRED = {"Contact": ["LastName"], "Account": ["Name"]}
PREFIX = {"Contact": "003", "Account": "001"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SOQL = re.compile(r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
                  r"(?:\s+WHERE\s+(?P<field>\w+)\s*(?P<op>=|>)\s*'?(?P<value>[^']*)'?)?\s*$",
                  re.I | re.S)


@dataclass
class Job:
    id: str
    kind: str  # ingest | query
    spec: dict[str, Any]
    state: str = "Open"
    csv: bytes = b""
    polls_left: int = 0
    ok: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    error: str = ""
    rows: list[dict[str, str]] = field(default_factory=list)  # query results


@dataclass
class FakeSalesforce:
    client_id: str = "dteg-app"
    client_secret: str = "sf-s3cret"
    username: str = "integration@example.com"
    public_key: str | None = None  # PEM; enables the JWT bearer flow
    api_versions: tuple[str, ...] = tuple(f"v{n}.0" for n in range(50, 63))
    polls_before_complete: int = 2
    records: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    # (method, path fragment, status): answered once instead of the real thing.
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    logins: int = 0
    tokens: set[str] = field(default_factory=set)
    base_url: str = ""
    # object → custom fields a test declares (name → type), e.g. {"Contact":
    # {"Encrypted_Email__c": "string"}}: describe lists them and ingest accepts them.
    custom_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self, obj: str) -> list[dict[str, Any]]:
        custom = [_f(n, t) for n, t in self.custom_fields.get(obj, {}).items()]
        return [*STANDARD[obj], *custom]

    def _fields(self, obj: str) -> dict[str, dict[str, Any]]:
        return {f["name"].lower(): f for f in self.describe(obj)}

    def expire_sessions(self) -> None:
        with self._lock:
            self.tokens.clear()

    def rows(self, obj: str) -> list[dict[str, str]]:
        return sorted(self.records.get(obj, {}).values(), key=lambda r: r["Id"])

    # --- ingest ----------------------------------------------------------------------------

    def process(self, job: Job) -> None:
        obj, operation = job.spec["object"], job.spec["operation"]
        reader = csv.DictReader(io.StringIO(job.csv.decode("utf-8")))
        described = self._fields(obj)
        known = {k: f["name"] for k, f in described.items()}
        header = reader.fieldnames or []
        unknown = [h for h in header if h.lower() not in known]
        if unknown:
            job.state = "Failed"
            job.error = f"InvalidBatch : Field name not found : {unknown[0]}"
            return
        store = self.records.setdefault(obj, {})
        external = job.spec.get("externalIdFieldName")
        for raw in reader:
            row = {known.get(k.lower(), k): v for k, v in raw.items()}
            error = _checked(row, described) or self._apply(obj, operation, row, store, external)
            if error:
                job.failed.append({"sf__Id": "", "sf__Error": error, **raw})
        job.state = "JobComplete"

    def _apply(self, obj: str, operation: str, row: dict[str, str],
               store: dict[str, dict[str, str]], external: str | None) -> str | None:
        values = {k: v for k, v in row.items() if v != ""}
        if operation in ("update", "delete"):
            rid = values.get("Id")
            if not rid or rid not in store:
                return "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--"
            if operation == "delete":
                del store[rid]
            else:
                store[rid].update(values)
            self._ok(rid, False, row)
            return None
        fixed = [k for k in values if not self._fields(obj)[k.lower()]["createable"]
                 and k.lower() != (external or "").lower()]
        if fixed:
            return (f"INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: "
                    f"{', '.join(fixed)}:{fixed[0]} --")
        target = None
        if operation == "upsert":
            assert external is not None
            key = next((k for k in values if k.lower() == external.lower()), None)
            if key is None:
                return (f"MISSING_ARGUMENT:{external} not specified:{external} --")
            target = next((r for r in store.values() if r.get(key) == values[key]), None)
        if target is not None:
            target.update(values)
            self._ok(target["Id"], False, row)
            return None
        missing = [f for f in REQUIRED.get(obj, []) if f not in values]
        if missing:
            return (f"REQUIRED_FIELD_MISSING:Required fields are missing: [{', '.join(missing)}]"
                    f":{missing[0]} --")
        rid = PREFIX.get(obj, "a00") + uuid.uuid4().hex[:15].upper()
        store[rid] = {"Id": rid, **values}
        self._ok(rid, True, row)
        return None

    def _ok(self, rid: str, created: bool, row: dict[str, str]) -> None:
        self._current.ok.append({"sf__Id": rid, "sf__Created": str(created).lower(), **row})

    _current: Job = field(default=None)  # type: ignore[assignment]

    # --- query -----------------------------------------------------------------------------

    def query(self, job: Job) -> None:
        m = SOQL.match(job.spec.get("query", ""))
        if not m or m["object"] not in FIELDS:
            job.state, job.error = "Failed", "MALFORMED_QUERY: unsupported or unknown object"
            return
        names = [n.strip() for n in m["fields"].split(",")]
        known = {f.lower(): f for f in FIELDS[m["object"]]}
        rows = self.rows(m["object"])
        if m["field"]:
            col = known.get(m["field"].lower(), m["field"])
            rows = [r for r in rows if (r.get(col, "") == m["value"] if m["op"] == "=" else
                                        r.get(col, "") > m["value"])]
        job.rows = [{n: r.get(known.get(n.lower(), n), "") for n in names} for r in rows]
        job.spec["fields"] = names
        job.state = "JobComplete"


def _checked(row: dict[str, str], fields: dict[str, dict[str, Any]]) -> str | None:
    """Salesforce's value checks on the points tests rely on: e-mail syntax, text lengths."""
    for name, value in row.items():
        meta = fields[name.lower()]
        if value and meta["type"] == "email" and not EMAIL.match(value):
            return f"INVALID_EMAIL_ADDRESS:{name}: invalid email address: {value}:{name} --"
    for name, value in row.items():
        meta = fields[name.lower()]
        if meta["type"] in ("string", "phone", "email", "url", "textarea") and \
                len(value) > meta["length"]:
            return (f"STRING_TOO_LONG:{name}: data value too large: {value[:20]}… (max "
                    f"length={meta['length']}):{name} --")
    return None


class _Handler(BaseHTTPRequestHandler):
    sf: FakeSalesforce
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        sf = self.sf
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with sf._lock:
            sf.requests.append((method, url.path))
            for i, (m, frag, status) in enumerate(sf.failures):
                if m == method and frag in url.path:
                    del sf.failures[i]
                    return self._json(status, [{"errorCode": "SERVER_UNAVAILABLE",
                                                "message": f"injected {status}"}])
        if url.path == "/services/oauth2/token":
            return self._token({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        with sf._lock:
            valid = token in sf.tokens
        if not valid:
            return self._json(401, [{"errorCode": "INVALID_SESSION_ID",
                                     "message": "Session expired or invalid"}])
        d = re.match(r"^/services/data/(v\d+\.\d)/sobjects/(\w+)/describe/?$", url.path)
        if d and method == "GET" and d[1] in sf.api_versions:
            if d[2] not in STANDARD:
                return self._json(404, [{"errorCode": "NOT_FOUND", "message":
                                         f"The requested resource does not exist: {d[2]}"}])
            return self._json(200, {"name": d[2], "fields": sf.describe(d[2])})
        m = re.match(r"^/services/data/(v\d+\.\d)/jobs/(ingest|query)(?:/(\w+))?(/.*)?$",
                     url.path)
        if not m or m[1] not in sf.api_versions:
            return self._json(404, [{"errorCode": "NOT_FOUND",
                                     "message": "The requested resource does not exist"}])
        with sf._lock:
            return self._jobs(method, m[2], m[3], (m[4] or "").strip("/"), body,
                              {k: v[-1] for k, v in parse_qs(url.query).items()})

    def _jobs(self, method: str, kind: str, job_id: str | None, rest: str, body: bytes,
              query: dict[str, str]) -> None:
        sf = self.sf
        if job_id is None and method == "POST":
            spec = json.loads(body)
            if kind == "ingest":
                if spec.get("object") not in FIELDS:
                    return self._json(400, [{"errorCode": "INVALIDJOB", "message":
                                             f"Unable to find object: {spec.get('object')}"}])
                if spec.get("operation") == "upsert" and not spec.get("externalIdFieldName"):
                    return self._json(400, [{"errorCode": "INVALIDJOB", "message":
                                             "externalIdFieldName is required for upsert"}])
            job = Job("750" + uuid.uuid4().hex[:15].upper(), kind, spec,
                      polls_left=sf.polls_before_complete)
            sf.jobs[job.id] = job
            if kind == "query":
                job.state = "UploadComplete"
                sf.query(job)
                job.state, job.polls_left = ("InProgress", job.polls_left) \
                    if job.state == "JobComplete" and job.polls_left else (job.state, 0)
            return self._json(200, {"id": job.id, "state": job.state, **spec})
        job = sf.jobs.get(job_id or "")
        if job is None or job.kind != kind:
            return self._json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        if method == "PUT" and rest == "batches":
            if job.state != "Open" or job.csv:
                return self._json(400, [{"errorCode": "INVALIDJOBSTATE",
                                         "message": "one upload per job"}])
            if len(body) > MAX_UPLOAD:
                return self._json(400, [{"errorCode": "INVALIDBATCH",
                                         "message": "upload over 150 MB"}])
            job.csv = body
            return self._raw(201, b"", "text/plain")
        if method == "PATCH":
            if json.loads(body).get("state") == "UploadComplete":
                sf._current = job
                sf.process(job)
                if job.state == "JobComplete" and job.polls_left:
                    job.state = "InProgress"
            return self._json(200, {"id": job.id, "state": job.state})
        if method == "GET" and not rest:
            if job.state == "InProgress":
                job.polls_left -= 1
                if job.polls_left <= 0:
                    job.state = "JobComplete"
            return self._json(200, {
                "id": job.id, "state": job.state, "object": job.spec.get("object"),
                "operation": job.spec.get("operation"), "errorMessage": job.error,
                "numberRecordsProcessed": len(job.ok) + len(job.failed) if kind == "ingest"
                else len(job.rows), "numberRecordsFailed": len(job.failed)})
        if method == "GET" and rest in ("successfulResults", "failedResults"):
            rows = job.ok if rest == "successfulResults" else job.failed
            first = ["sf__Id", "sf__Created"] if rest == "successfulResults" else \
                ["sf__Id", "sf__Error"]
            header = first + (csv.DictReader(io.StringIO(job.csv.decode())).fieldnames or [])
            return self._raw(200, _csv(header, rows), "text/csv")
        if method == "GET" and rest == "results":
            if job.state != "JobComplete":
                return self._json(400, [{"errorCode": "INVALIDJOBSTATE",
                                         "message": "job not complete"}])
            start = int(query.get("locator") or 0)
            size = int(query.get("maxRecords") or 50_000)
            page = job.rows[start:start + size]
            nxt = str(start + size) if start + size < len(job.rows) else "null"
            return self._raw(200, _csv(job.spec["fields"], page), "text/csv",
                             {"Sforce-Locator": nxt,
                              "Sforce-NumberOfRecords": str(len(page))})
        return self._json(404, [{"errorCode": "NOT_FOUND", "message": "unsupported call"}])

    def _token(self, form: dict[str, str]) -> None:
        sf = self.sf
        grant = form.get("grant_type")
        ok = False
        if grant == "client_credentials":
            ok = form.get("client_id") == sf.client_id and \
                form.get("client_secret") == sf.client_secret
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" and sf.public_key:
            import jwt

            try:
                claims = jwt.decode(form.get("assertion", ""), sf.public_key,
                                    algorithms=["RS256"], audience=sf.base_url)
                ok = claims.get("iss") == sf.client_id and claims.get("sub") == sf.username
            except jwt.PyJWTError:
                ok = False
        if not ok:
            return self._json(400, {"error": "invalid_grant",
                                    "error_description": "authentication failure"})
        token = "00D" + uuid.uuid4().hex
        with sf._lock:
            sf.tokens.add(token)
            sf.logins += 1
        self._json(200, {"access_token": token, "instance_url": sf.base_url,
                         "token_type": "Bearer", "issued_at": str(int(time.time() * 1000))})

    def _json(self, status: int, payload: Any) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json")

    def _raw(self, status: int, data: bytes, kind: str,
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _server(sf: FakeSalesforce, port: int) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"sf": sf})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    sf.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


@contextmanager
def serve(sf: FakeSalesforce, port: int = 0) -> Iterator[str]:
    """Serve ``sf`` on 127.0.0.1 in a thread; yields its base URL (login and instance)."""
    server = _server(sf, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sf.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--client-id", default="dteg-app")
    parser.add_argument("--client-secret", default="sf-s3cret")
    parser.add_argument("--state", default="", help="names the instance (scripts/services)")
    args = parser.parse_args()
    sf = FakeSalesforce(client_id=args.client_id, client_secret=args.client_secret,
                        polls_before_complete=1)
    server = _server(sf, args.port)
    print(f"salesforce stand-in on {sf.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
