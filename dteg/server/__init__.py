"""``dteg server``'s HTTP side: the REST API under ``/api/v1`` (FastAPI, Server-Sent Events
for live logs and run state) and the built web UI at ``/``. It imports the orchestrator (the
store, the catalog, the queue); the engine never imports it."""
