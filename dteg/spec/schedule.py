"""Cron schedules (``schedule:``): the five fields of cron and its ``@`` aliases, checked when
the file is read and evaluated by the orchestrator.

``CronSchedule.parse("0 6 * * mon-fri")`` holds the minutes, hours, days, months and weekdays
it matches; ``next_after(moment)`` is the first whole minute after ``moment`` that matches, in
the schedule's time zone. As in Vixie cron (and croniter), when both day-of-month and
day-of-week are restricted a day matches if *either* does (``0 0 1 * mon``: the 1st and every
Monday); a field that starts with ``*`` (``*/2`` too) counts as unrestricted.

Clock changes (as in Vixie cron): a wall time that does not exist (the hour skipped in spring)
runs at the instant it maps to with the offset before the change (an hour later on the wall
clock), so no day is skipped; a wall time that happens twice (autumn) runs once, at its first
occurrence, unless the hour field starts with ``*`` (``0 * * * *``, ``*/10 * * * *``): such a
schedule runs in both passes of the repeated hour, so its runs stay evenly spaced.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
HELP = (
    "Cron fields: minute hour day-of-month month day-of-week, e.g. `0 6 * * mon-fri` (06:00 on "
    "weekdays) or `*/15 * * * *`; or an alias: " + ", ".join(ALIASES) + "."
)
# February may have 29 days: a day that no month of the schedule has can never come.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Every (month, day) comes on every weekday within one 400-year Gregorian cycle.
_SEARCH_DAYS = 146_097 + 366
# Clock changes move a wall time by at most this much (2 h in Antarctica/Troll).
_MAX_SHIFT = timedelta(hours=3)
_UTC = timezone.utc


class CronError(ValueError):
    """A cron expression that cannot be read; the message names the field and its range."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name: int = 0  # the number the first name stands for

    def allowed(self) -> str:
        text = f"{self.low}–{self.high}"
        if self.names:
            text += f" or {self.names[0]}–{self.names[-1]}"
        return text

    def value(self, text: str) -> int:
        word = text.lower()
        if not word:
            raise CronError(f"a {self.name} range needs a value on each side of `-`")
        if word in self.names:
            return self.names.index(word) + self.first_name
        if not word.isdigit():
            close = difflib.get_close_matches(word, self.names, n=1, cutoff=0.6)
            also = f" (did you mean `{close[0]}`?)" if close else ""
            raise CronError(f"{self.name} `{text}` is not a number or name ({self.allowed()})"
                            f"{also}")
        number = int(word)
        if not self.low <= number <= self.high:
            raise CronError(f"{self.name} {number} is out of range {self.low}–{self.high}")
        return number


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTHS, first_name=1),
    _Field("day-of-week", 0, 7, WEEKDAYS),
)


def _parse_field(field: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"the {field.name} field `{text}` has an empty list item (two "
                            "commas, or a comma at an end)")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"the step in {field.name} `{item}` must be a whole number of "
                                "at least 1")
            step = int(step_text)
            if step > field.high - field.low:
                raise CronError(f"the step {step} in {field.name} `{item}` is larger than the "
                                f"{field.name} range ({field.low}–{field.high}), so it would "
                                "match only the first value")
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = field.value(first), field.value(last)
            if low > high:
                raise CronError(f"the {field.name} range `{base}` runs backwards; write it "
                                "from low to high, or as two ranges joined by a comma")
        else:
            low = field.value(base)
            high = field.high if slash else low  # `5/15` means from 5 to the end, every 15
        values.update(range(low, high + 1, step))
    if field.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression and the time zone it is read in."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    # The day-of-month/day-of-week OR rule applies only when both are restricted; an hour
    # field that is not restricted runs in both passes of a repeated hour.
    days_restricted: bool
    weekdays_restricted: bool
    hours_restricted: bool
    timezone: tzinfo = _UTC

    @classmethod
    def parse(cls, text: str, timezone: tzinfo | None = None) -> CronSchedule:
        """Read five cron fields or an ``@`` alias; raises ``CronError`` naming the bad field."""
        expression = " ".join(text.split())
        if expression.startswith("@"):
            if expression.lower() not in ALIASES:
                close = difflib.get_close_matches(expression.lower(), ALIASES, n=1, cutoff=0.6)
                also = f" (did you mean `{close[0]}`?)" if close else ""
                raise CronError(f"`{expression}` is not a cron alias{also}")
            fields = ALIASES[expression.lower()].split()
        else:
            fields = expression.split()
        if len(fields) != len(FIELDS):
            extra = (" (dteg's cron has no seconds or years field)"
                     if len(fields) > len(FIELDS) else "")
            raise CronError(f"`{expression}` has {len(fields)} field(s), not 5{extra}")
        try:
            minutes, hours, days, months, weekdays = (
                _parse_field(field, part) for field, part in zip(FIELDS, fields, strict=True))
        except CronError as exc:
            raise CronError(f"{exc} in `{expression}`") from None
        days_restricted, weekdays_restricted, hours_restricted = (
            not fields[index].startswith("*") for index in (2, 4, 1))
        if not weekdays_restricted and not any(
                day <= _MONTH_DAYS[month - 1] for month in months for day in days):
            names = [MONTHS[m - 1] for m in sorted(months)]
            raise CronError(f"`{expression}` can never run: day {min(days)} does not come in "
                            f"{', '.join(names[:-1]) + ' or ' if len(names) > 1 else ''}"
                            f"{names[-1]}")
        return cls(expression, minutes, hours, days, months, weekdays, days_restricted,
                   weekdays_restricted, hours_restricted, timezone or _UTC)

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = day.isoweekday() % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment`` (timezone-aware), in the
        schedule's time zone."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("next_after needs a timezone-aware datetime, e.g. "
                             "datetime.now(timezone.utc)")
        after = moment.astimezone(_UTC)
        local = moment.astimezone(self.timezone).replace(tzinfo=None)
        start = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        # Near a clock change, slots a little before `start` may come after `moment`: a wall
        # time in a skipped hour runs an hour later, a repeated hour comes again.
        offsets = {(after + shift).astimezone(self.timezone).utcoffset()
                   for shift in (-_MAX_SHIFT, timedelta(0), _MAX_SHIFT)}
        floor = start - _MAX_SHIFT if len(offsets) > 1 else start
        day = floor.date()
        # The earliest instant (so far) of a slot that does not run at its wall time: one in
        # a skipped hour, or the second pass of a repeated hour.
        deferred: datetime | None = None
        for _ in range(_SEARCH_DAYS):
            if self.matches_day(day):
                for hour in hours:
                    if datetime.combine(day, time(hour, 59)) < floor:
                        continue
                    for minute in minutes:
                        wall = datetime.combine(day, time(hour, minute))
                        if wall < floor:
                            continue
                        instant = wall.replace(tzinfo=self.timezone).astimezone(_UTC)
                        exists = instant.astimezone(self.timezone).replace(tzinfo=None) == wall
                        if exists and not self.hours_restricted:
                            again = wall.replace(tzinfo=self.timezone, fold=1).astimezone(_UTC)
                            if again > after and again != instant:
                                deferred = again if deferred is None else min(deferred, again)
                        if instant <= after:
                            continue
                        if exists:
                            # First passes run in wall-clock order: nothing later in the loop
                            # comes earlier than this, only a deferred slot seen before.
                            best = instant if deferred is None else min(deferred, instant)
                            return best.astimezone(self.timezone)
                        deferred = instant if deferred is None else min(deferred, instant)
            day += timedelta(days=1)
        if deferred is not None:
            return deferred.astimezone(self.timezone)
        raise AssertionError(f"`{self.expression}` never matches")  # parse refuses such

    def __str__(self) -> str:
        return self.expression


def check_cron(text: str) -> str:
    """A pydantic validator: ``text`` if it is a valid cron expression."""
    try:
        CronSchedule.parse(text)
    except CronError as exc:
        raise ValueError(f"{exc}. {HELP}") from None
    return text


def check_timezone(name: str) -> str:
    """A pydantic validator: ``name`` if it is an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        also = f" Did you mean `{close[0]}`?" if close else ""
        raise ValueError(f"`{name}` is not a time zone.{also} Use an IANA name such as UTC, "
                         "Europe/Berlin or America/New_York.") from None
    return name


CronText = Annotated[str, AfterValidator(check_cron)]


Catchup = Literal["none", "latest", "all"]


class ScheduleSpec(BaseModel):
    """``schedule: {cron: "0 6 * * mon-fri", timezone: Europe/Berlin, catchup: latest}``.

    ``catchup`` says what the scheduler does with ticks it missed (the server was down):
    ``none`` skips them, ``latest`` (the default) runs the most recent one once, ``all`` runs
    each of them (at most ``max_catchup_runs``, the newest ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: CronText = Field(description="Five cron fields (minute hour day-of-month month "
                           "day-of-week) or an alias such as @daily")
    timezone: Annotated[str, AfterValidator(check_timezone)] = Field(
        default="UTC", description="The IANA time zone the cron fields are read in")
    catchup: Catchup = Field(
        default="latest", description="Missed ticks after downtime: none (skip them), latest "
        "(run the newest once), all (run each, up to max_catchup_runs)")
    max_catchup_runs: int = Field(default=100, ge=1, description="catchup all: the most "
                                  "missed ticks run, the newest ones")
    max_active_runs: int = Field(default=1, ge=1, description="Runs of this pipeline at once; "
                                 "1 (the default): runs never overlap, the next one waits")
    start_date: datetime | None = Field(default=None, description="No tick before this (in "
                                        "the schedule's time zone unless it has an offset)")
    end_date: datetime | None = Field(default=None, description="No tick after this")
    paused: bool = Field(default=False, description="Loaded but not scheduled until resumed "
                         "(`dteg server` API or `dteg pipelines resume`)")

    @model_validator(mode="after")
    def _dates_in_order(self) -> ScheduleSpec:
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise ValueError("`end_date` must come after `start_date`")
        return self

    def bound(self, name: str) -> datetime | None:
        """``start_date``/``end_date`` as an aware time (read in the schedule's zone)."""
        value = self.start_date if name == "start" else self.end_date
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=ZoneInfo(self.timezone))

    def cron_schedule(self) -> CronSchedule:
        return CronSchedule.parse(self.cron, ZoneInfo(self.timezone))

    def __str__(self) -> str:
        return self.cron if self.timezone == "UTC" else f"{self.cron} ({self.timezone})"


def _form(value: Any) -> str:
    return "mapping" if isinstance(value, (dict, ScheduleSpec)) else "text"


# One branch per form, so a bad cron text is one error (not also "must be a mapping").
Schedule = Annotated[
    Annotated[CronText, Tag("text")] | Annotated[ScheduleSpec, Tag("mapping")],
    Discriminator(_form),
]


def schedule_spec(value: str | ScheduleSpec | None) -> ScheduleSpec | None:
    """Either form of ``schedule:`` as a ``ScheduleSpec`` (a plain cron text is UTC)."""
    if value is None or isinstance(value, ScheduleSpec):
        return value
    return ScheduleSpec(cron=value)
