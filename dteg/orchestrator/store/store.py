"""The orchestrator's store: pipelines and their revisions, runs and attempts, step counts,
quality results, logs, alert deliveries and process heartbeats, in SQLite (default) or
PostgreSQL (several nodes), through SQLAlchemy Core.

Every state change is one guarded ``UPDATE … WHERE status = …`` (or an insert under a unique
key), so two schedulers, a restarted one, or a worker that comes back after it was given up
for lost never double a run or overwrite a newer decision: the loser's statement changes no
row and it moves on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from dteg.orchestrator.store import migrate
from dteg.orchestrator.store.reads import READ_OPTION, StoreReads
from dteg.orchestrator.store.records import (
    ACTIVE,
    FINISHED,
    AttemptRow,
    LogLine,
    PipelineRow,
    ProcessRow,
    RunRow,
)
from dteg.orchestrator.store.schema import (
    alert_deliveries,
    attempts,
    log_lines,
    pipelines,
    processes,
    quality_results,
    revisions,
    runs,
    step_counts,
)


@dataclass(frozen=True)
class StepCount:
    step: str
    kind: str
    rows_in: int
    rows_out: int
    dead_letter: int
    loaded: int


@dataclass(frozen=True)
class AttemptResult:
    """How an attempt ended, as the worker (or the watcher, for a lost worker) saw it."""

    status: str  # succeeded | failed | lost
    error: str | None = None
    retriable: bool = False
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_dead_lettered: int | None = None
    summary: dict[str, Any] | None = None
    steps: tuple[StepCount, ...] = ()
    quality: dict[str, Any] | None = None
    quality_passed: bool | None = None


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def default_store_url(pipelines_dir: Path) -> str:
    return f"sqlite:///{(pipelines_dir / '.dteg' / 'orchestrator.sqlite').resolve()}"


def redacted_url(url: str) -> str:
    """The URL with its password hidden (for logs and errors)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<a database URL that does not parse>"


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60}, pool_pre_ping=False)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Own the transactions: BEGIN IMMEDIATE below, so two processes that both want to
        # write queue on the lock instead of failing with "database is locked".
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Reads (StoreReads) take a deferred transaction: a snapshot, no write lock.
        read_only = connection.get_execution_options().get(READ_OPTION)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _run(row: RowMapping) -> RunRow:
    return RunRow(**{key: row[key] for key in RunRow.__dataclass_fields__})


class Store(StoreReads):
    """One database of the orchestrator; safe to share between threads and processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the tables to the newest migration."""
        if make_url(url).get_backend_name() == "sqlite":
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        migrate.upgrade(engine)
        return cls(engine)

    @property
    def url(self) -> str:
        return redacted_url(self.engine.url.render_as_string(hide_password=False))

    def close(self) -> None:
        self.engine.dispose()

    def after_fork(self) -> None:
        """In a child process: drop the parent's pooled connections without closing them."""
        self.engine.dispose(close=False)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    # --- pipelines and revisions -------------------------------------------------------

    def save_pipeline(self, name: str, path: str, sha256: str, yaml_text: str,
                      schedule: str | None, now: datetime, paused: bool | None = None
                      ) -> None:
        """Record a revision that compiled and make it the pipeline's current one."""
        try:
            self._save_pipeline(name, path, sha256, yaml_text, schedule, now, paused)
        except IntegrityError:
            # Another scheduler inserted the same revision or pipeline row at the same
            # moment (PostgreSQL; SQLite serialises writers): the rows exist now, so a second
            # pass takes the update path.
            self._save_pipeline(name, path, sha256, yaml_text, schedule, now, paused)

    def _save_pipeline(self, name: str, path: str, sha256: str, yaml_text: str,
                       schedule: str | None, now: datetime, paused: bool | None) -> None:
        with self._tx() as tx:
            if tx.execute(select(revisions.c.sha256).where(
                    revisions.c.sha256 == sha256)).first() is None:
                tx.execute(insert(revisions).values(sha256=sha256, pipeline=name, path=path,
                                                    yaml_text=yaml_text, first_seen=now))
            values: dict[str, Any] = dict(path=path, sha256=sha256, schedule=schedule,
                                          error=None, error_sha256=None, updated_at=now)
            changed = tx.execute(update(pipelines).where(pipelines.c.name == name)
                                 .values(**values)).rowcount
            if not changed:
                tx.execute(insert(pipelines).values(name=name, paused=bool(paused), **values))
            elif paused is not None:
                tx.execute(update(pipelines).where(pipelines.c.name == name)
                           .values(paused=paused))

    def pipeline_error(self, name: str, error: str, sha256: str, now: datetime) -> None:
        """A newer revision of ``name`` does not compile; the current one keeps running."""
        with self._tx() as tx:
            tx.execute(update(pipelines).where(pipelines.c.name == name).values(
                error=error, error_sha256=sha256, updated_at=now))

    def revision_text(self, sha256: str) -> str | None:
        with self._read() as tx:
            return tx.execute(select(revisions.c.yaml_text).where(
                revisions.c.sha256 == sha256)).scalar()

    def pipelines(self) -> list[PipelineRow]:
        with self._read() as tx:
            rows = tx.execute(select(pipelines).order_by(pipelines.c.name)).mappings().all()
        return [PipelineRow(**{k: r[k] for k in PipelineRow.__dataclass_fields__}) for r in rows]

    def pipeline(self, name: str) -> PipelineRow | None:
        with self._read() as tx:
            row = tx.execute(select(pipelines).where(pipelines.c.name == name)).mappings().first()
        return PipelineRow(**{k: row[k] for k in PipelineRow.__dataclass_fields__}) if row else None

    def set_paused(self, name: str, paused: bool, now: datetime) -> bool:
        with self._tx() as tx:
            return bool(tx.execute(update(pipelines).where(pipelines.c.name == name)
                                   .values(paused=paused, updated_at=now)).rowcount)

    def advance_ticks(self, ticks: Mapping[str, datetime],
                      connection: Connection | None = None) -> None:
        """The scheduler decided on every tick up to ``ticks[name]`` (never moves back)."""
        if not ticks:
            return
        statement = update(pipelines).where(
            pipelines.c.name == bindparam("p_name"),
            or_(pipelines.c.last_tick.is_(None), pipelines.c.last_tick < bindparam("p_tick")),
        ).values(last_tick=bindparam("p_tick"))
        params = [{"p_name": name, "p_tick": tick} for name, tick in ticks.items()]
        if connection is not None:
            connection.execute(statement, params)
            return
        with self._tx() as tx:
            tx.execute(statement, params)

    def set_freshness_alerted(self, name: str, at: datetime) -> None:
        with self._tx() as tx:
            tx.execute(update(pipelines).where(pipelines.c.name == name)
                       .values(freshness_alerted=at))

    # --- runs ----------------------------------------------------------------------------

    def create_run(self, **run: Any) -> RunRow | None:
        """A queued run (keywords as ``_run_values``), or None when (pipeline, dedupe_key)
        already has one."""
        now = run.pop("now")
        created = self.create_runs([run], now)
        return created[0] if created else None

    def create_runs(self, new: Sequence[Mapping[str, Any]], now: datetime,
                    ticks: Mapping[str, datetime] | None = None) -> list[RunRow]:
        """Queue many runs at once — each a mapping of ``create_run``'s keywords — and move
        the pipelines' ``last_tick`` in the same transaction. Runs whose (pipeline,
        dedupe_key) exists are skipped; returns the runs created."""
        values = [self._run_values(now=now, **dict(item)) for item in new]
        created: list[RunRow] = []
        with self._tx() as tx:
            if values:
                # One prepared statement for all rows; the ids this call generated that
                # are in the table are the runs it created (the others' keys existed).
                tx.execute(self._insert_new(), values)
                ids = [str(v["id"]) for v in values]
                created = [_run(r) for r in tx.execute(select(runs).where(
                    runs.c.id.in_(ids))).mappings().all()]
            self.advance_ticks(ticks or {}, tx)
        return created

    def _insert_new(self) -> Any:
        from sqlalchemy.dialects import postgresql, sqlite

        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(runs).on_conflict_do_nothing(
                index_elements=["pipeline", "dedupe_key"])
        return sqlite.insert(runs).on_conflict_do_nothing(
            index_elements=["pipeline", "dedupe_key"])

    @staticmethod
    def _run_values(*, pipeline: str, dedupe_key: str, sha256: str, kind: str, now: datetime,
                    scheduled_at: datetime | None = None, max_attempts: int = 1,
                    params: Mapping[str, Any] | None = None, triggered_by: str | None = None,
                    run_id: str | None = None, not_before: datetime | None = None
                    ) -> dict[str, Any]:
        return dict(id=run_id or new_run_id(now), pipeline=pipeline, dedupe_key=dedupe_key,
                    sha256=sha256, kind=kind, scheduled_at=scheduled_at, status="queued",
                    attempt=0, max_attempts=max_attempts, not_before=not_before or now,
                    created_at=now, params=dict(params or {}), triggered_by=triggered_by,
                    sla_alerted=False, handled_attempt=0)

    def run(self, run_id: str) -> RunRow | None:
        with self._read() as tx:
            row = tx.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        return _run(row) if row else None

    def runs(self, pipeline: str | None = None, status: Sequence[str] | None = None,
             limit: int = 50, kind: str | None = None) -> list[RunRow]:
        query = select(runs).order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
        if pipeline:
            query = query.where(runs.c.pipeline == pipeline)
        if status:
            query = query.where(runs.c.status.in_(list(status)))
        if kind:
            query = query.where(runs.c.kind == kind)
        with self._read() as tx:
            return [_run(r) for r in tx.execute(query).mappings().all()]

    def ready(self, now: datetime, limit: int = 500) -> list[RunRow]:
        """Queued runs whose time has come, oldest first."""
        with self._read() as tx:
            rows = tx.execute(select(runs).where(
                runs.c.status == "queued", runs.c.not_before <= now,
            ).order_by(runs.c.not_before, runs.c.created_at).limit(limit)).mappings().all()
        return [_run(r) for r in rows]

    def count_ready(self, now: datetime) -> int:
        """Queued runs whose time has come (the queue's depth)."""
        with self._read() as tx:
            return int(tx.execute(select(func.count()).select_from(runs).where(
                runs.c.status == "queued", runs.c.not_before <= now)).scalar() or 0)

    def active_counts(self) -> dict[str, int]:
        """Dispatched or running runs per pipeline."""
        with self._read() as tx:
            rows = tx.execute(select(runs.c.pipeline, func.count()).where(
                runs.c.status.in_(ACTIVE)).group_by(runs.c.pipeline)).all()
        return {str(row[0]): int(row[1]) for row in rows}

    def mark_dispatched(self, run_id: str, sha256: str, now: datetime) -> RunRow | None:
        """queued → dispatched as the next attempt, of revision ``sha256`` (the current one:
        a run that waited runs the newest good revision); None if another dispatcher won."""
        with self._tx() as tx:
            changed = tx.execute(update(runs).where(
                runs.c.id == run_id, runs.c.status == "queued").values(
                status="dispatched", attempt=runs.c.attempt + 1, dispatched_at=now,
                sha256=sha256, worker=None)).rowcount
        return self.run(run_id) if changed else None

    def dispatch_many(self, chosen: Mapping[str, str], now: datetime, token: str
                      ) -> list[RunRow]:
        """queued → dispatched for each run id of ``chosen`` (run id → the sha256 it runs),
        in one transaction; returns the runs this call won (another dispatcher may have taken
        some), marked with ``token`` until a worker claims them."""
        if not chosen:
            return []
        statement = update(runs).where(
            runs.c.id == bindparam("r_id"), runs.c.status == "queued").values(
            status="dispatched", attempt=runs.c.attempt + 1, dispatched_at=now,
            sha256=bindparam("r_sha"), worker=token)
        with self._tx() as tx:
            tx.execute(statement, [{"r_id": run_id, "r_sha": sha256}
                                   for run_id, sha256 in chosen.items()])
            rows = tx.execute(select(runs).where(
                runs.c.id.in_(list(chosen)), runs.c.status == "dispatched",
                runs.c.worker == token, runs.c.dispatched_at == now)).mappings().all()
        return [_run(r) for r in rows]

    def take_back(self, run_id: str, attempt: int) -> bool:
        """dispatched → queued when no worker claimed it in time (the attempt is not spent;
        if the first message still arrives, one of the two claims wins)."""
        with self._tx() as tx:
            return bool(tx.execute(update(runs).where(
                runs.c.id == run_id, runs.c.status == "dispatched", runs.c.attempt == attempt,
            ).values(status="queued", attempt=attempt - 1)).rowcount)

    def claim(self, run_id: str, attempt: int, worker: str, now: datetime) -> RunRow | None:
        """dispatched → running for this worker; None when the task is stale (an older
        attempt, a cancelled run, a run already taken): the worker drops it then."""
        with self._tx() as tx:
            changed = tx.execute(update(runs).where(
                runs.c.id == run_id, runs.c.attempt == attempt, runs.c.status == "dispatched",
            ).values(status="running", worker=worker, started_at=now, first_read_at=None,
                     finished_at=None)).rowcount
            if not changed:
                return None
            tx.execute(insert(attempts).values(run_id=run_id, number=attempt, worker=worker,
                                               started_at=now, status="running"))
        return self.run(run_id)

    def mark_first_read(self, run_id: str, attempt: int, at: datetime) -> None:
        with self._tx() as tx:
            tx.execute(update(runs).where(runs.c.id == run_id, runs.c.attempt == attempt,
                                          runs.c.first_read_at.is_(None))
                       .values(first_read_at=at))

    def finish_attempt(self, run_id: str, attempt: int, result: AttemptResult, now: datetime,
                       retry_at: datetime | None = None) -> RunRow | None:
        """Record how attempt ``attempt`` ended. ``retry_at``: queue the run again for then
        (a retriable failure with attempts left), else the run ends with ``result.status``
        (a lost attempt that is not retried ends as failed). None when the attempt was
        already settled (a worker given up for lost that finished after all)."""
        final = "failed" if result.status == "lost" else result.status
        status = "queued" if retry_at is not None else final
        with self._tx() as tx:
            changed = tx.execute(update(runs).where(
                runs.c.id == run_id, runs.c.attempt == attempt, runs.c.status.in_(ACTIVE),
            ).values(
                status=status, not_before=retry_at or now, error=result.error,
                retriable=result.retriable,
                finished_at=None if retry_at is not None else now,
                rows_read=result.rows_read, rows_loaded=result.rows_loaded,
                rows_dead_lettered=result.rows_dead_lettered, summary=result.summary,
            )).rowcount
            if not changed:
                return None
            started = tx.execute(select(attempts.c.started_at).where(
                attempts.c.run_id == run_id, attempts.c.number == attempt)).scalar()
            seconds = (now - started).total_seconds() if started else None
            if started is None:  # lost before it was claimed
                tx.execute(insert(attempts).values(run_id=run_id, number=attempt,
                                                   started_at=now, status="running"))
            tx.execute(update(attempts).where(
                attempts.c.run_id == run_id, attempts.c.number == attempt).values(
                finished_at=now, status=result.status, error=result.error,
                retriable=result.retriable, seconds=seconds))
            if result.steps:
                tx.execute(insert(step_counts), [
                    dict(run_id=run_id, attempt=attempt, step=s.step, kind=s.kind,
                         rows_in=s.rows_in, rows_out=s.rows_out, dead_letter=s.dead_letter,
                         loaded=s.loaded) for s in result.steps])
            if result.quality is not None:
                tx.execute(insert(quality_results).values(
                    run_id=run_id, attempt=attempt, result=result.quality,
                    passed=bool(result.quality_passed)))
            if final == "succeeded":
                pipeline = tx.execute(select(runs.c.pipeline).where(
                    runs.c.id == run_id)).scalar()
                tx.execute(update(pipelines).where(pipelines.c.name == pipeline).values(
                    last_success=now))
        return self.run(run_id)

    def cancel(self, run_id: str, now: datetime) -> bool:
        """A queued run never starts; an active one is marked cancelled (its worker's result
        is then ignored)."""
        with self._tx() as tx:
            return bool(tx.execute(update(runs).where(
                runs.c.id == run_id, runs.c.status.in_(("queued", *ACTIVE))).values(
                status="cancelled", finished_at=now, error="cancelled")).rowcount)

    def attempts(self, run_id: str) -> list[AttemptRow]:
        with self._read() as tx:
            rows = tx.execute(select(attempts).where(attempts.c.run_id == run_id)
                              .order_by(attempts.c.number)).mappings().all()
        return [AttemptRow(**{k: r[k] for k in AttemptRow.__dataclass_fields__}) for r in rows]

    def step_counts(self, run_id: str) -> list[dict[str, Any]]:
        with self._read() as tx:
            rows = tx.execute(select(step_counts).where(step_counts.c.run_id == run_id)
                              .order_by(step_counts.c.attempt, step_counts.c.step))
            return [dict(r) for r in rows.mappings().all()]

    def quality(self, run_id: str) -> list[dict[str, Any]]:
        with self._read() as tx:
            rows = tx.execute(select(quality_results).where(
                quality_results.c.run_id == run_id).order_by(quality_results.c.attempt))
            return [dict(r) for r in rows.mappings().all()]

    def unhandled(self, limit: int = 500) -> list[RunRow]:
        """Runs with an attempt that ended since the watcher last looked."""
        with self._read() as tx:
            rows = tx.execute(select(runs).where(
                runs.c.handled_attempt < runs.c.attempt,
                or_(runs.c.status.in_(FINISHED), runs.c.status == "queued"),
            ).order_by(runs.c.not_before).limit(limit)).mappings().all()
        return [_run(r) for r in rows]

    def mark_handled_many(self, changed: Sequence[RunRow]) -> set[str]:
        """``mark_handled`` for many runs in one statement; the ids this watcher took."""
        if not changed:
            return set()
        with self._tx() as tx:
            rows = tx.execute(update(runs).where(
                runs.c.id.in_([r.id for r in changed]),
                runs.c.handled_attempt < runs.c.attempt,
            ).values(handled_attempt=runs.c.attempt).returning(runs.c.id)).all()
        return {str(row[0]) for row in rows}

    def mark_handled(self, run_id: str, attempt: int) -> bool:
        """True for the one watcher that takes this change (two servers never both alert)."""
        with self._tx() as tx:
            return bool(tx.execute(update(runs).where(
                runs.c.id == run_id, runs.c.handled_attempt < attempt).values(
                handled_attempt=attempt)).rowcount)

    def mark_sla_alerted(self, run_id: str) -> bool:
        with self._tx() as tx:
            return bool(tx.execute(update(runs).where(
                runs.c.id == run_id, runs.c.sla_alerted.is_(False)).values(
                sla_alerted=True)).rowcount)

    # --- logs ----------------------------------------------------------------------------

    def append_logs(self, run_id: str, attempt: int,
                    lines: Sequence[tuple[datetime, str, str | None, str]]) -> None:
        if not lines:
            return
        with self._tx() as tx:
            tx.execute(insert(log_lines), [
                dict(run_id=run_id, attempt=attempt, at=at, level=level, step=step,
                     message=message) for at, level, step, message in lines])

    def logs(self, run_id: str, after: int = 0, limit: int = 500) -> list[LogLine]:
        """A page of a run's log lines after line id ``after`` (0: from the start)."""
        with self._read() as tx:
            rows = tx.execute(select(log_lines).where(
                log_lines.c.run_id == run_id, log_lines.c.id > after,
            ).order_by(log_lines.c.id).limit(limit)).mappings().all()
        return [LogLine(**{k: r[k] for k in LogLine.__dataclass_fields__}) for r in rows]

    # --- processes -----------------------------------------------------------------------

    def heartbeat(self, process_id: str, role: str, started_at: datetime, now: datetime,
                  current_run: str | None = None) -> None:
        with self._tx() as tx:
            changed = tx.execute(update(processes).where(processes.c.id == process_id)
                                 .values(heartbeat_at=now, current_run=current_run)).rowcount
            if not changed:
                tx.execute(insert(processes).values(
                    id=process_id, role=role, hostname=os.uname().nodename, pid=os.getpid(),
                    started_at=started_at, heartbeat_at=now, current_run=current_run))

    def leave(self, process_id: str) -> None:
        with self._tx() as tx:
            tx.execute(delete(processes).where(processes.c.id == process_id))

    def processes(self, role: str | None = None, alive_after: datetime | None = None
                  ) -> list[ProcessRow]:
        query = select(processes).order_by(processes.c.id)
        if role:
            query = query.where(processes.c.role == role)
        if alive_after:
            query = query.where(processes.c.heartbeat_at > alive_after)
        with self._read() as tx:
            rows = tx.execute(query).mappings().all()
        return [ProcessRow(**{k: r[k] for k in ProcessRow.__dataclass_fields__}) for r in rows]

    def lost(self, alive_after: datetime) -> list[RunRow]:
        """Running runs whose worker stopped beating (its heartbeat older than
        ``alive_after``, or gone)."""
        live = select(processes.c.id).where(processes.c.heartbeat_at > alive_after)
        # A live worker that says it is on another run (or on none) for longer than the
        # timeout has given this one up (its store connection failed mid-run, say).
        on_it = select(processes.c.id).where(processes.c.id == runs.c.worker,
                                             processes.c.current_run == runs.c.id)
        with self._read() as tx:
            # Runs younger than the timeout are never lost: a worker beats before it claims,
            # but its first beat may land just after a slow claim.
            rows = tx.execute(select(runs).where(
                runs.c.status == "running", runs.c.started_at < alive_after,
                or_(runs.c.worker.not_in(live), ~on_it.exists()),
            )).mappings().all()
        return [_run(r) for r in rows]

    def forget_processes(self, silent_since: datetime) -> int:
        """Drop processes that have not beaten since ``silent_since`` (killed long ago)."""
        with self._tx() as tx:
            return int(tx.execute(delete(processes).where(
                processes.c.heartbeat_at < silent_since)).rowcount or 0)

    def unclaimed(self, dispatched_before: datetime) -> list[RunRow]:
        """Runs dispatched before ``dispatched_before`` that no worker claimed."""
        with self._read() as tx:
            rows = tx.execute(select(runs).where(
                runs.c.status == "dispatched", runs.c.dispatched_at < dispatched_before,
            )).mappings().all()
        return [_run(r) for r in rows]

    # --- alert deliveries (dteg.orchestrator.alerts' AlertHistory) ---------------------------

    def last_sent(self, pipeline: str, alert_key: str, event: str) -> datetime | None:
        with self._read() as tx:
            return tx.execute(select(func.max(alert_deliveries.c.at)).where(
                alert_deliveries.c.pipeline == pipeline,
                alert_deliveries.c.alert_key == alert_key,
                alert_deliveries.c.event == event,
                alert_deliveries.c.status == "sent")).scalar()

    def record(self, delivery: Any) -> None:
        with self._tx() as tx:
            tx.execute(insert(alert_deliveries).values(
                pipeline=delivery.pipeline, run_id=delivery.run_id,
                alert_key=delivery.alert_key, channel=delivery.channel,
                event=delivery.event, status=delivery.status, error=delivery.error,
                at=delivery.at))

    def deliveries(self, pipeline: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(alert_deliveries).order_by(alert_deliveries.c.id.desc()).limit(limit)
        if pipeline:
            query = query.where(alert_deliveries.c.pipeline == pipeline)
        with self._read() as tx:
            return [dict(r) for r in tx.execute(query).mappings().all()]

    # --- retention -----------------------------------------------------------------------

    def purge(self, finished_before: datetime) -> int:
        """Delete finished runs (with their attempts, counts, quality and logs) that ended
        before ``finished_before``, and alert deliveries older than that. Returns runs
        deleted."""
        old = select(runs.c.id).where(runs.c.status.in_(FINISHED),
                                      runs.c.finished_at < finished_before)
        with self._tx() as tx:
            ids = [r for (r,) in tx.execute(old).all()]
            for table in (log_lines, step_counts, quality_results, attempts):
                tx.execute(delete(table).where(table.c.run_id.in_(old)))
            tx.execute(delete(runs).where(runs.c.id.in_(ids)))
            tx.execute(delete(alert_deliveries).where(alert_deliveries.c.at < finished_before))
        return len(ids)

