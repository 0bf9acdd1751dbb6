"""The one error hierarchy of dteg, grouped by what the caller should do.

* ``SpecError``: the pipeline file is wrong; fix it (exit code 2).
* ``ConfigError``: something outside the file is missing (env var, file, option); set it (exit 2).
* ``ConnectorError``: a source or sink failed at run time (exit 1); ``retriable`` says whether
  trying again may help.
* ``StepError``: a stage between them failed (validate, mask, encrypt, window, aggregate, map,
  filter, dbt, the access guard …) (exit 1); fix the data or the step, then run again.
* ``RunError``: the run itself failed (a threshold was crossed, a runner gave up) (exit 1).

Every message is one paragraph that names where (file:line, step) and what to do next. Where
is typed: ``step`` and ``location`` on every error, which a launcher that knows the spec may
fill in after a stage raised (``err.with_location(loc, step=…)``). Errors stay picklable: they
cross Beam worker boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a pipeline file (1-based line and column)."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class DtegError(Exception):
    """Base of every error dteg reports to a user.

    ``step`` and ``location`` say where: the step's name and its place in the pipeline file.
    A stage knows its step but not its line; ``with_location`` lets the launcher add it.
    ``retriable`` says whether running again, unchanged, may help.
    """

    exit_code = 1
    retriable = False

    def __init__(
        self, message: str, *, hint: str | None = None, step: str | None = None,
        location: Location | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.step = step
        self.location = location
        super().__init__(self.render())

    def with_location(self, location: Location | None, *, step: str | None = None) -> DtegError:
        """Add where this happened (kept if already known) and return ``self``."""
        if self.location is None:
            self.location = location
        if self.step is None:
            self.step = step
        self.args = (self.render(),)
        return self

    def where(self) -> str:
        """``step `x` (pipeline.yaml:14)``, ``step `x```, ``pipeline.yaml:14`` or ``""``."""
        if self.step and self.location:
            return f"step `{self.step}` ({self.location})"
        if self.step:
            return f"step `{self.step}`"
        return str(self.location) if self.location else ""

    def render(self) -> str:
        text = self.message.rstrip()
        if self.hint:
            # The hint is its own sentence: end the message first so they do not run together.
            if not text.endswith((".", "!", "?", ":")):
                text += "."
            text = f"{text} {self.hint.strip()}"
        where = self.where()
        return f"{where}: {text}" if where else text

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[DtegError], state: dict[str, object]) -> DtegError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err.render())
    return err


class SpecError(DtegError):
    """The pipeline file is invalid. Names the file, line and step."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        step: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, step=step, location=location)


class ConfigError(DtegError):
    """Something the pipeline needs from its environment is missing or wrong."""

    exit_code = 2


class ConnectorError(DtegError):
    """A source or sink failed while running; ``retriable`` when trying again may help (a
    dropped connection, a lock), not when the data or the config is wrong."""

    exit_code = 1

    def __init__(
        self, message: str, *, step: str | None = None, hint: str | None = None,
        retriable: bool = False, location: Location | None = None,
    ) -> None:
        self.retriable = retriable
        super().__init__(message, hint=hint, step=step, location=location)


class StepError(DtegError):
    """A stage between the sources and the sinks failed (validate, mask, encrypt/decrypt,
    window, aggregate, map, filter, dbt, the restricted-access guard …). Fatal: the data or
    the step must change before a new run can pass."""

    exit_code = 1

    def __init__(
        self, message: str, *, step: str | None = None, hint: str | None = None,
        location: Location | None = None,
    ) -> None:
        super().__init__(message, hint=hint, step=step, location=location)


class RunError(DtegError):
    """The run failed as a whole (a stage raised, a quality threshold was crossed)."""

    exit_code = 1


class SpecErrors(SpecError):
    """Several independent problems found in one pass, reported together."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} problems found")

    def render(self) -> str:
        listing = "\n".join(f"- {e.render()}" for e in self.errors)
        return f"{len(self.errors)} problems found:\n{listing}"


def find_error(exc: BaseException) -> DtegError | None:
    """The DtegError behind ``exc`` (Beam wraps errors raised inside a stage).

    Beam re-raises a stage's error as a copy of the same type built from its text plus
    `` [while running '…']``, ``from`` the original; the copy lost the typed fields, so the
    original (its ``__cause__``) wins."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found: DtegError | None = None
    while current is not None and id(current) not in seen:
        if isinstance(current, DtegError):
            if not getattr(current, "_tagged_with_step", False):
                return current
            found = found or current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return found
