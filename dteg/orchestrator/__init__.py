"""The orchestrator: when and where pipelines run (``dteg server``, ``dteg scheduler``,
``dteg worker``).

It decides when (schedules, catch-up, triggers, retries) and where (the embedded executor or
Celery workers on Redis); a run itself is the same recorded run as ``dteg run``
(``dteg.run.lifecycle``), whose events reach the orchestrator's listeners (store, logs, alerts,
metrics). The engine never imports this package.
"""
