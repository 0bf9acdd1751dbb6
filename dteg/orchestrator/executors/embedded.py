"""The embedded executor: a pool of worker processes started by the server.

Each worker is a separate process (``spawn``: Beam and threads do not survive ``fork``) that
takes tasks from a queue, claims them in the store and runs them, beating in the store while
it lives. Workers exit when the server that started them dies (even by kill -9), so a
restarted server finds their runs lost and retries them by policy.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import time
from typing import Any

from dteg.orchestrator.store.records import ACTIVE
from dteg.orchestrator.store.store import Store
from dteg.orchestrator.task import RunTask

_STOP = "stop"


def _worker_main(store_url: str, tasks: Any, parent_pid: int) -> None:
    from dteg.orchestrator.store.store import Store
    from dteg.orchestrator.worker import Heartbeat, execute_task

    # Ctrl-C in a terminal reaches the whole process group: the server decides when its
    # workers stop (after their runs), so they ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = Store.open(store_url)
    heartbeat = Heartbeat(store, "worker", parent_pid=parent_pid).start()
    warm_up()
    try:
        while True:
            try:
                message = tasks.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    return
                continue
            if message == _STOP:
                return
            try:
                execute_task(RunTask.from_json(message), store, heartbeat.id, heartbeat)
            except Exception as exc:  # recorded by execute_task; this is the store failing
                sys.stderr.write(f"warning: worker {heartbeat.id}: {exc}\n")
    finally:
        heartbeat.stop()


def warm_up() -> None:
    """Import what every run needs (Beam, the run lifecycle) before the first task, so a
    scheduled run does not wait seconds for imports."""
    import apache_beam  # noqa: F401

    import dteg.governance.listeners
    import dteg.run.lifecycle
    import dteg.runners.launch  # noqa: F401


class EmbeddedExecutor:
    """``workers`` processes on this machine. It never takes more tasks than it has workers
    free (a task it took counts until the store shows its attempt ended), so a dispatched task
    starts at once; a worker that died is replaced."""

    claim_timeout_s = 30.0

    def __init__(self, store: Store, store_url: str, workers: int = 2) -> None:
        self._store = store
        self._context = multiprocessing.get_context("spawn")
        self._tasks = self._context.Queue()
        self._args = (store_url, self._tasks, os.getpid())
        self._processes = [self._start(n) for n in range(workers)]
        self._in_flight: dict[str, int] = {}  # run id → attempt

    def _start(self, number: int) -> Any:
        process = self._context.Process(target=_worker_main, name=f"dteg-worker-{number}",
                                        daemon=True, args=self._args)
        process.start()
        return process

    def free_slots(self) -> int:
        for index, process in enumerate(self._processes):
            if not process.is_alive():
                self._processes[index] = self._start(index)
        for run_id, attempt in list(self._in_flight.items()):
            run = self._store.run(run_id)
            if run is None or run.attempt != attempt or run.status not in ACTIVE:
                del self._in_flight[run_id]
        return max(0, len(self._processes) - len(self._in_flight))

    def alive(self) -> int:
        return sum(process.is_alive() for process in self._processes)

    def submit(self, task: RunTask) -> None:
        self._in_flight[task.run_id] = task.attempt
        self._tasks.put(task.to_json())

    def close(self, grace_s: float = 120.0) -> None:
        """Let each worker finish its run (at most ``grace_s`` in all), then stop it; a run
        stopped this way is found lost by the next server and retried."""
        for _ in self._processes:
            self._tasks.put(_STOP)
        deadline = time.monotonic() + grace_s
        for process in self._processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
