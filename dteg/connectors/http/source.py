"""Read a REST API page by page (``type: http``, alias ``rest``).

One split: pages follow each other (a cursor or next URL is only known from the previous
answer). Each page becomes one Arrow batch whose rows say where they came from (the page's
URL, secrets removed, and the record's place in it). A page that is not JSON, has no record
list where ``records:`` points, or holds records that break the schema yields dead letters
with the URL and page number; the other records load.

Incremental reads use the same state and crash settlement as the database sources
(``dteg.run.state``): before the run ``high_watermark`` fixes the upper bound (the clock, or
a scan of the pages), the run reads ``saved < cursor <= upper`` (the API is asked with
``incremental.param`` when it can filter; records outside the bounds are left for another
run) and the cursor is saved only after every sink committed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dteg.components.contracts import IncrementalReader, Rejected, RunContext
from dteg.components.plan import Bounds
from dteg.components.records import dead_letters, row_json, with_provenance
from dteg.connectors.http import pages, paths, records
from dteg.connectors.http.client import HttpClient, Response
from dteg.connectors.http.config import SourceConfig
from dteg.errors import ConnectorError


@dataclass(frozen=True)
class HttpSplit:
    bounds: Bounds | None


@dataclass
class _Page:
    request: pages.PageRequest
    response: Response
    body: Any  # parsed JSON, or None when the answer was not JSON
    problem: str | None  # why the page's records could not be taken
    items: list[Any]


class HttpReader(IncrementalReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self._record_steps = paths.parse(config.records)

    # --- what the launcher asks --------------------------------------------------------------

    def cursor_column(self) -> str:
        column = self.config.cursor_column()
        assert column is not None
        return column

    def initial_cursor(self) -> Any:
        inc = self.config.incremental
        return None if inc is None or inc.initial is None else self._cursor_value(inc.initial)

    def high_watermark(self, lower: Any) -> Any:
        inc = self.config.incremental
        assert inc is not None
        if inc.watermark_kind() == "now":
            return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        highest = None
        bounds = Bounds(self.cursor_column(), lower, None, lower_inclusive=True)
        for page in self._pages(bounds, "scanning for the cursor's high watermark"):
            for item in page.items:
                value = self._cursor_of(item)
                if value is not None and (lower is None or value > lower) and (
                        highest is None or value > highest):
                    highest = value
        return highest

    # --- the contract ------------------------------------------------------------------------

    def splits(self) -> list[HttpSplit]:
        bounds = self.ctx.plan.bounds
        if bounds is not None and bounds.upper is None and bounds.upper_inclusive:
            return []  # incremental: nothing newer than the saved cursor
        return [HttpSplit(bounds)]

    def read(self, split: HttpSplit) -> Iterator[pa.RecordBatch | Rejected]:
        columns = records.declared(self.config.schema_) if self.config.schema_ else None
        for page in self._pages(split.bounds, "reading a page"):
            where = f"{page.response.url} (page {page.request.number})"
            bad: list[tuple[str, str, str | None, int | None]] = []
            if page.problem is not None:
                bad.append((page.problem, _excerpt(page.response.text), None, None))
            kept: list[dict[str, Any]] = []
            places: list[int] = []
            for place, item in enumerate(page.items):
                if not isinstance(item, dict):
                    bad.append((f"expected a JSON object, found {type(item).__name__}",
                                json.dumps(item)[:2000], None, place))
                    continue
                if split.bounds is not None and self.config.incremental is not None:
                    value = self._cursor_of(item)
                    if value is None:
                        bad.append((f"the cursor field `{self.config.incremental.cursor}` is "
                                    "missing or not a valid "
                                    f"{self.config.incremental.cursor_type}",
                                    row_json(item, self.ctx.mask_row), None, place))
                        continue
                    if not _within(value, split.bounds):
                        continue  # another run's record
                kept.append(item)
                places.append(place)
            if columns is None and kept:
                columns = records.inferred(kept)
            if columns is not None and kept:
                if not self.config.schema_:
                    extra = [(i, records.unknown_fields(r, columns)) for i, r in enumerate(kept)]
                    unknown = {i for i, names in extra if names}
                    for i, names in extra:
                        if names:
                            bad.append((f"field(s) {names} are not in the schema inferred from "
                                        "the first page (declare them under `schema:`)",
                                        row_json(kept[i], self.ctx.mask_row), None, places[i]))
                    kept = [r for i, r in enumerate(kept) if i not in unknown]
                    places = [p for i, p in enumerate(places) if i not in unknown]
                table, failures = records.to_table(kept, columns)
                for i, column, reason in failures:
                    bad.append((reason, row_json(kept[i], self.ctx.mask_row), column, places[i]))
                failed = {i for i, _, _ in failures}
                positions = [p for i, p in enumerate(places) if i not in failed]
                if table.num_rows:
                    yield with_provenance(table.combine_chunks().to_batches()[0],
                                          f"{where} record {{}}", positions=positions)
            if bad:
                yield Rejected(dead_letters(
                    pipeline=self.ctx.pipeline, step=self.ctx.step,
                    reasons=[b[0] for b in bad], records=[b[1] for b in bad],
                    columns=[b[2] for b in bad],
                    sources=[where if b[3] is None else f"{where} record {b[3]}" for b in bad]))
        # The columns, also when there were no rows (dropped downstream if there were).
        schema = records.schema_of(columns or [])
        empty = pa.RecordBatch.from_pylist([], schema=schema)
        yield with_provenance(empty, f"{self.describe()} record {{}}")

    def describe(self) -> str:
        url = HttpClient(self.config, self.ctx.step).scrub(self.config.url)
        return f"{self.config.method} {url}"

    # --- helpers -----------------------------------------------------------------------------

    def _pages(self, bounds: Bounds | None, doing: str) -> Iterator[_Page]:
        client = HttpClient(self.config, self.ctx.step)
        request: pages.PageRequest | None = pages.first(self.config.url, self.config.pagination)
        base_params = self._templated(self.config.params, bounds)
        base_body = self._templated(self.config.body, bounds) if self.config.body else None
        inc = self.config.incremental
        if inc is not None and inc.param and bounds is not None and bounds.lower is not None:
            base_params[inc.param] = _text(bounds.lower)
        try:
            while request is not None:
                params: dict[str, Any] = {} if request.absolute else dict(base_params)
                body = dict(base_body) if base_body is not None else None
                if self.config.pagination.location == "body" and body is not None:
                    body.update(request.page_params)
                elif not request.absolute:
                    params.update(request.page_params)
                response = client.send(request.url, params, body,
                                       f"{doing} (page {request.number}) of {self.describe()}")
                page = self._parse(request, response)
                yield page
                # An unreadable page of a page/offset listing counts as full: the pages
                # after it are still there.
                seen = len(page.items) if page.problem is None else self.config.pagination.size
                nxt = pages.following(request, self.config.pagination, page.body,
                                      response.links, seen)
                if nxt is None and page.problem is not None and \
                        self.config.pagination.style in ("cursor", "next_url"):
                    raise ConnectorError(
                        f"page {request.number} of {self.describe()} ({response.url}) could "
                        f"not be read ({page.problem}), so the next page is unknown",
                        step=self.ctx.step, retriable=True,
                        hint="The page is in the dead letters; run again once the API answers "
                        "JSON (the cursor is not advanced).")
                request = nxt
        finally:
            client.close()

    def _parse(self, request: pages.PageRequest, response: Response) -> _Page:
        try:
            body = json.loads(response.text) if response.text.strip() else None
        except json.JSONDecodeError as exc:
            kind = response.headers.get("Content-Type", "unknown content type")
            return _Page(request, response, None,
                         f"the answer is not JSON ({kind}): {exc.msg} at line {exc.lineno}", [])
        found = paths.select(body, self._record_steps) if body is not None else []
        if found is None:
            return _Page(request, response, body, f"no records at `{self.config.records}` "
                         "in the answer", [])
        if isinstance(found, dict):
            found = [found]
        if not isinstance(found, list):
            return _Page(request, response, body, f"`{self.config.records}` is a "
                         f"{type(found).__name__}, not a list of records", [])
        return _Page(request, response, body, None, found)

    def _templated(self, values: dict[str, Any] | None, bounds: Bounds | None
                   ) -> dict[str, Any]:
        lower = _text(bounds.lower) if bounds is not None and bounds.lower is not None else ""
        upper = _text(bounds.upper) if bounds is not None and bounds.upper is not None else ""

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{since}", lower).replace("{until}", upper)
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        return {k: fill(v) for k, v in (values or {}).items()}

    def _cursor_of(self, item: Any) -> Any:
        inc = self.config.incremental
        assert inc is not None
        raw = paths.get(item, inc.cursor)
        if raw is None:
            return None
        try:
            return self._cursor_value(raw)
        except (TypeError, ValueError):
            return None

    def _cursor_value(self, raw: Any) -> Any:
        inc = self.config.incremental
        assert inc is not None
        if inc.cursor_type == "int":
            if isinstance(raw, bool):
                raise TypeError("a boolean is not a cursor")
            return int(raw)
        if inc.cursor_type == "string":
            return str(raw)
        if not isinstance(raw, str):
            raise TypeError("a timestamp cursor must be ISO 8601 text")
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _within(value: Any, bounds: Bounds) -> bool:
    if bounds.lower is not None and (value < bounds.lower if bounds.lower_inclusive
                                     else value <= bounds.lower):
        return False
    return not (bounds.upper is not None and (value > bounds.upper if bounds.upper_inclusive
                                              else value >= bounds.upper))


def _text(value: Any) -> str:
    """A bound as an API expects it: timestamps as ISO 8601 in UTC with ``Z``."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _excerpt(text: str) -> str:
    return text[:2000]


def create(config: SourceConfig, ctx: RunContext) -> HttpReader:
    return HttpReader(config, ctx)
