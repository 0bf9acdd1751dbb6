"""The one error hierarchy of dteg, grouped by what the caller should do.

* ``SpecError``: the pipeline file is wrong; fix it (exit code 2).
* ``ConfigError``: something outside the file is missing (env var, file, option); set it (exit 2).
* ``ConnectorError``: a source or sink failed at run time (exit 1); ``retriable`` says whether
  trying again may help.
* ``RunError``: the run itself failed (a stage raised, a threshold was crossed) (exit 1).

Every message is one paragraph that names where (file:line, step) and what to do next.
Errors stay picklable: they cross Beam worker boundaries.
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
    """Base of every error dteg reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = self.message.rstrip()
        if self.hint:
            # The hint is its own sentence: end the message first so they do not run together.
            if not text.endswith((".", "!", "?", ":")):
                text += "."
            text = f"{text} {self.hint.strip()}"
        return text

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
        self.location = location
        self.step = step
        super().__init__(message, hint=hint)

    def render(self) -> str:
        where = []
        if self.step:
            where.append(f"step `{self.step}`")
        if self.location:
            where.append(f"({self.location})" if self.step else str(self.location))
        prefix = " ".join(where)
        body = super().render()
        return f"{prefix}: {body}" if prefix else body


class ConfigError(DtegError):
    """Something the pipeline needs from its environment is missing or wrong."""

    exit_code = 2


class ConnectorError(DtegError):
    """A source or sink failed while running."""

    exit_code = 1

    def __init__(
        self, message: str, *, step: str | None = None, hint: str | None = None,
        retriable: bool = False,
    ) -> None:
        self.step = step
        self.retriable = retriable
        super().__init__(message, hint=hint)

    def render(self) -> str:
        body = super().render()
        return f"step `{self.step}`: {body}" if self.step else body


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
    """The DtegError behind ``exc`` (Beam wraps errors raised inside a stage)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DtegError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
