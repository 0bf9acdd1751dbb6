"""``executor: celery``: tasks go to a Redis broker; ``dteg worker`` processes run them.

The message is the ``RunTask`` as JSON (the pipeline's YAML text and sha256 in it). The store,
not the broker, decides who runs what: a worker killed mid-run stops beating, the watcher
marks the attempt lost and queues the run again by its retry policy; a message delivered
twice finds the run already claimed and is dropped.

A worker acknowledges a message when the task ends (``acks_late``) and reserves no other
while it runs one (prefetch 1): a busy worker holds nothing back, so the next task goes to a
free worker. The solo pool already behaves so with early acknowledgement (it reads no
message while a task blocks its loop); ``acks_late`` says it outright, whatever the pool. A
worker killed with kill -9 strands only the message it was running: Redis hands it out again
after the visibility timeout, to a worker that finds it stale and drops it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from dteg.orchestrator.store.store import Store
from dteg.orchestrator.task import RunTask

QUEUE = "dteg"
TASK = "dteg.run_task"
# A message not acknowledged for this long is delivered again (to a worker that drops it:
# the run is claimed or settled by then). Longer than most runs, so that stays rare.
VISIBILITY_TIMEOUT_S = 3600


def celery_app(broker_url: str) -> Any:
    from celery import Celery

    app = Celery("dteg", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        task_acks_late=True, worker_prefetch_multiplier=1, task_default_queue=QUEUE,
        # A run in progress keeps going when the broker connection drops: the store, not
        # the broker, says whether its result counts.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    )
    return app


class CeleryExecutor:
    """Sends tasks to the broker, only as many as there are idle live workers (the store is
    the queue, the broker only hands each task to a free worker), so a task never waits long
    in Redis and is never sent twice while it waits."""

    # A worker that took a task claims it within a second; this long means it died first.
    claim_timeout_s = 120.0

    def __init__(self, broker_url: str, store: Store,
                 heartbeat_timeout: timedelta = timedelta(seconds=30)) -> None:
        self.app = celery_app(broker_url)
        self.store = store
        self.heartbeat_timeout = heartbeat_timeout

    def free_slots(self) -> int:
        alive = datetime.now(timezone.utc) - self.heartbeat_timeout
        workers = len(self.store.processes("worker", alive_after=alive))
        busy = sum(self.store.active_counts().values())
        return max(0, workers - busy)

    def submit(self, task: RunTask) -> None:
        self.app.send_task(TASK, args=[task.to_json()], queue=QUEUE)

    def close(self) -> None:
        self.app.close()


def run_worker(broker_url: str, store_url: str, name: str | None = None) -> None:
    """``dteg worker``: one process that runs one task at a time (start several for more),
    beating in the store while it lives."""
    from celery.utils.log import get_task_logger

    from dteg.orchestrator.executors.embedded import warm_up
    from dteg.orchestrator.store.store import Store
    from dteg.orchestrator.worker import Heartbeat, execute_task

    store = Store.open(store_url)
    heartbeat = Heartbeat(store, "worker").start()
    app = celery_app(broker_url)
    log = get_task_logger(TASK)

    @app.task(name=TASK)
    def run_task(message: str) -> None:
        task = RunTask.from_json(message)
        if execute_task(task, store, heartbeat.id, heartbeat) is None:
            log.info("dropped a stale task: run %s attempt %d is claimed or settled",
                     task.run_id, task.attempt)

    argv = ["worker", "--pool=solo", "--concurrency=1", f"--queues={QUEUE}",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel=INFO", f"--hostname={name or heartbeat.id.replace(':', '-')}@%h"]
    try:
        warm_up()
        app.worker_main(argv)
    finally:
        heartbeat.stop()
