"""Following a run live: Server-Sent Events from the store.

The worker writes log lines to the store at least every 0.25 s (``LogCapture``); this reads
new lines and the run's state every ``POLL_S`` and sends what changed, so a line reaches the
browser well within a second. A dropped connection resumes from ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from dteg.orchestrator.store.store import Store
from dteg.server.convert import log_model, run_model

POLL_S = 0.2
KEEPALIVE_S = 15.0
PAGE = 500


def _event(kind: str, data: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


async def follow_run(store: Store, run_id: str, after: int,
                     disconnected: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    last_state: tuple[object, ...] | None = None
    quiet = 0.0
    while not await disconnected():
        run = await run_in_threadpool(store.run, run_id)
        if run is None:  # purged while followed
            return
        state = (run.status, run.attempt, run.started_at, run.finished_at, run.rows_read)
        if state != last_state:
            last_state = state
            yield _event("run", run_model(run).model_dump_json())
        lines = await run_in_threadpool(store.logs, run_id, after, PAGE)
        for line in lines:
            after = line.id
            yield _event("log", log_model(line).model_dump_json(), line.id)
        if len(lines) == PAGE:
            continue
        if run.finished:
            # Lines the worker flushed after the run's end (a lost worker's last words).
            for line in await run_in_threadpool(store.logs, run_id, after, PAGE):
                after = line.id
                yield _event("log", log_model(line).model_dump_json(), line.id)
            yield _event("end", run_model(run).model_dump_json())
            return
        await asyncio.sleep(POLL_S)
        quiet += POLL_S
        if quiet >= KEEPALIVE_S:
            quiet = 0.0
            yield ": keepalive\n\n"


def parse_events(text: str) -> list[tuple[str, dict[str, object]]]:
    """(event, data) pairs of an event stream's text (for tests and scripts)."""
    found = []
    for block in text.split("\n\n"):
        kind, data = "message", []
        for line in block.splitlines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            found.append((kind, json.loads("\n".join(data))))
    return found
