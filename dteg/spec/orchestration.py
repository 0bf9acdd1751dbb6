"""What the orchestrator (``dteg server``) does with a pipeline besides its schedule:
``retries:``, ``trigger:``, and ``monitoring.sla`` / ``monitoring.freshness``.

``dteg run`` ignores all of these (``run_notices`` says so); the scheduler and the workers read
them from each pipeline revision they serve.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dteg.spec.durations import Duration
from dteg.spec.names import yaml_on_key


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Strict):
    """``retries: {max_attempts: 3, backoff: exponential, initial: 30s, max: 10m}``.

    Only failures that may pass on their own are retried (a connection refused, a lost
    worker, a timeout); a configuration error or a failed quality gate never is."""

    max_attempts: int = Field(default=3, ge=1, le=100,
                              description="Attempts in all, the first one included")
    backoff: Literal["fixed", "exponential"] = "exponential"
    initial: Duration = Field(default=timedelta(seconds=30),
                              description="The wait before the second attempt")
    max: Duration = Field(default=timedelta(minutes=10), description="The longest wait")
    jitter: bool = Field(default=True, description="Spread waits by up to ±20% so retries "
                         "of many runs do not arrive together")

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait after attempt ``failed_attempt`` (1-based) failed."""
        base = self.initial.total_seconds()
        if self.backoff == "exponential":
            base *= 2 ** (failed_attempt - 1)
        seconds = min(base, self.max.total_seconds())
        if self.jitter:
            seconds *= (rng or random).uniform(0.8, 1.2)
            seconds = min(seconds, self.max.total_seconds())
        return timedelta(seconds=seconds)


class TriggerSpec(_Strict):
    """``trigger: {after: load_orders}``: run when another pipeline's run succeeds."""

    after: list[str] = Field(min_length=1, description="Pipelines (by `pipeline.name`) whose "
                             "successful runs start this one")
    on: Literal["success", "completion"] = Field(
        default="success", description="success: after a successful run; completion: after "
        "any finished run")

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        return yaml_on_key(data)

    @field_validator("after", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class SlaSpec(_Strict):
    """``monitoring.sla: {max_duration: 30m}``: a run still going after this sends `sla`."""

    max_duration: Duration


class FreshnessSpec(_Strict):
    """``monitoring.freshness: {max_age: 26h}``: no successful run for this long sends
    `freshness`."""

    max_age: Duration
