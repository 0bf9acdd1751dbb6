"""`schedule:`: cron expressions are checked when the file is read (the line, the bad field and
its range), and `CronSchedule.next_after` gives the orchestrator correct run times — the
day-of-month/day-of-week OR rule, leap days, and clock changes."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dteg.errors import SpecError
from dteg.spec.phases import compile_spec
from dteg.spec.schedule import ALIASES, CronError, CronSchedule, ScheduleSpec
from tests.integration.service_guard import require_module

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
PIPELINE = """\
pipeline:
  name: p
  schedule: {schedule}
  steps:
    - extract: {{type: csv, config: {{path: a.csv}}}}
    - load: {{type: duckdb, config: {{table: t}}}}
"""


def _times(expression: str, start: datetime, count: int, zone=UTC) -> list[str]:
    schedule = CronSchedule.parse(expression, zone)
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment.isoformat())
    return found


@pytest.mark.parametrize(("expression", "minutes", "hours", "days", "months", "weekdays"), [
    ("* * * * *", range(60), range(24), range(1, 32), range(1, 13), range(7)),
    ("*/15 9-17 * * mon-fri", [0, 15, 30, 45], range(9, 18), range(1, 32), range(1, 13),
     range(1, 6)),
    ("0,30 */6 1,15 jan,JUL sun", [0, 30], [0, 6, 12, 18], [1, 15], [1, 7], [0]),
    ("5/20 0 * * 5-7", [5, 25, 45], [0], range(1, 32), range(1, 13), [0, 5, 6]),
    ("0 0 * * 7", [0], [0], range(1, 32), range(1, 13), [0]),
    ("10-50/20  3   28-31 2-3 *", [10, 30, 50], [3], [28, 29, 30, 31], [2, 3], range(7)),
])
def test_fields_lists_ranges_steps_and_names(expression, minutes, hours, days, months,
                                             weekdays) -> None:
    schedule = CronSchedule.parse(expression)
    assert (schedule.minutes, schedule.hours, schedule.days, schedule.months,
            schedule.weekdays) == tuple(frozenset(v) for v in (minutes, hours, days, months,
                                                                weekdays))


def test_aliases() -> None:
    for alias, expression in ALIASES.items():
        parsed, plain = CronSchedule.parse(alias), CronSchedule.parse(expression)
        assert (parsed.minutes, parsed.hours, parsed.days, parsed.months, parsed.weekdays) == (
            plain.minutes, plain.hours, plain.days, plain.months, plain.weekdays)
    assert CronSchedule.parse("@Daily").hours == {0}


@pytest.mark.parametrize(("expression", "message"), [
    ("0 25 * * *", "hour 25 is out of range 0–23 in `0 25 * * *`"),
    ("60 * * * *", "minute 60 is out of range 0–59"),
    ("0 0 0 * *", "day-of-month 0 is out of range 1–31"),
    ("0 0 * 13 *", "month 13 is out of range 1–12"),
    ("0 0 * * 8", "day-of-week 8 is out of range 0–7"),
    ("0 0 * * mnday", "day-of-week `mnday` is not a number or name (0–7 or sun–sat)"),
    ("0 0 * jnu *", "month `jnu` is not a number or name (1–12 or jan–dec) (did you mean "
     "`jun`?)"),
    ("0 0 L * *", "day-of-month `L` is not a number or name (1–31)"),
    ("0 0 * * fri-mon", "the day-of-week range `fri-mon` runs backwards"),
    ("*/0 * * * *", "the step in minute `*/0` must be a whole number of at least 1"),
    ("*/90 * * * *", "the step 90 in minute `*/90` is larger than the minute range (0–59)"),
    ("1,,2 * * * *", "the minute field `1,,2` has an empty list item"),
    ("0 0 1- * *", "a day-of-month range needs a value on each side of `-`"),
    ("0 0 * *", "`0 0 * *` has 4 field(s), not 5"),
    ("0 0 0 * * * *", "has 7 field(s), not 5 (dteg's cron has no seconds or years field)"),
    ("@dayly", "`@dayly` is not a cron alias (did you mean `@daily`?)"),
    ("@reboot", "`@reboot` is not a cron alias"),
    ("0 0 30 2 *", "`0 0 30 2 *` can never run: day 30 does not come in feb"),
    ("0 0 31 apr,jun *", "day 31 does not come in apr or jun"),
])
def test_bad_expressions_name_the_field_and_its_range(expression: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        CronSchedule.parse(expression)
    assert message in str(info.value)


def test_a_bad_schedule_is_a_spec_error_at_its_line_with_an_example() -> None:
    with pytest.raises(SpecError) as info:
        compile_spec("p.yaml", text=PIPELINE.format(schedule='"0 25 * * *"'), environ={})
    err = info.value
    assert err.location is not None and err.location.line == 3
    assert err.message.startswith("`schedule`: hour 25 is out of range 0–23 in `0 25 * * *`. "
                                  "Cron fields: minute hour day-of-month month day-of-week, "
                                  "e.g. `0 6 * * mon-fri`")
    assert "@daily" in err.message


def test_the_mapping_form_checks_cron_and_timezone() -> None:
    spec = compile_spec("p.yaml", environ={}, text=PIPELINE.format(
        schedule='{cron: "0 6 * * mon-fri", timezone: Europe/Berlin}'))
    schedule = spec.body.schedule_spec()
    assert schedule == ScheduleSpec(cron="0 6 * * mon-fri", timezone="Europe/Berlin")
    assert str(schedule) == "0 6 * * mon-fri (Europe/Berlin)"
    assert schedule.cron_schedule().timezone == BERLIN
    plain = compile_spec("p.yaml", environ={}, text=PIPELINE.format(schedule='"@hourly"'))
    assert plain.body.schedule == "@hourly"
    assert plain.body.schedule_spec() == ScheduleSpec(cron="@hourly", timezone="UTC")
    for bad, line, phrase in [
        ('{cron: "0 6 * * 9", timezone: UTC}', 3, "day-of-week 9 is out of range 0–7"),
        ("{cron: '@daily', timezone: Mars/Olympus}", 3, "`Mars/Olympus` is not a time zone"),
        ("{cron: '@daily', tz: UTC}", 3, "unknown key `tz`"),
        ("5", 3, "`schedule` must be text, not 5"),
    ]:
        with pytest.raises(SpecError) as info:
            compile_spec("p.yaml", text=PIPELINE.format(schedule=bad), environ={})
        assert phrase in str(info.value) and info.value.location.line == line, bad


def test_next_after_is_strictly_after_and_in_the_schedule_zone() -> None:
    start = datetime(2026, 5, 4, 8, 59, 30, tzinfo=UTC)
    assert _times("0 9 * * *", start, 2) == ["2026-05-04T09:00:00+00:00",
                                             "2026-05-05T09:00:00+00:00"]
    assert _times("0 9 * * *", datetime(2026, 5, 4, 9, 0, tzinfo=UTC), 1) == [
        "2026-05-05T09:00:00+00:00"]
    # The same instant given in another zone; the answer is in the schedule's zone.
    tokyo = start.astimezone(ZoneInfo("Asia/Tokyo"))
    assert _times("0 11 * * *", tokyo, 1, BERLIN) == ["2026-05-04T11:00:00+02:00"]
    with pytest.raises(ValueError, match="timezone-aware"):
        CronSchedule.parse("* * * * *").next_after(datetime(2026, 1, 1))


def test_day_of_month_or_day_of_week() -> None:
    # Both restricted: the 13th OR any Friday (cron's rule), not Friday the 13th.
    assert _times("0 0 13 * fri", datetime(2026, 2, 1, tzinfo=UTC), 4) == [
        "2026-02-06T00:00:00+00:00", "2026-02-13T00:00:00+00:00",
        "2026-02-20T00:00:00+00:00", "2026-02-27T00:00:00+00:00"]
    assert _times("0 0 13 * fri", datetime(2026, 3, 7, tzinfo=UTC), 2) == [
        "2026-03-13T00:00:00+00:00", "2026-03-20T00:00:00+00:00"]
    # One of them `*` (or `*/…`, as in Vixie cron): both must match.
    assert _times("0 0 */2 * fri", datetime(2026, 2, 1, tzinfo=UTC), 2) == [
        "2026-02-13T00:00:00+00:00", "2026-02-27T00:00:00+00:00"]
    assert _times("0 0 * * fri", datetime(2026, 2, 1, tzinfo=UTC), 1) == [
        "2026-02-06T00:00:00+00:00"]


def test_leap_days_and_month_ends() -> None:
    assert _times("0 0 29 2 *", datetime(2096, 3, 1, tzinfo=UTC), 2) == [
        "2104-02-29T00:00:00+00:00", "2108-02-29T00:00:00+00:00"]  # 2100 is no leap year
    assert _times("0 12 31 * *", datetime(2026, 1, 31, 12, tzinfo=UTC), 3) == [
        "2026-03-31T12:00:00+00:00", "2026-05-31T12:00:00+00:00",
        "2026-07-31T12:00:00+00:00"]
    assert _times("59 23 31 12 *", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), 1) == [
        "2027-12-31T23:59:00+00:00"]


def test_spring_forward_runs_a_skipped_time_an_hour_later_and_skips_no_day() -> None:
    # Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST.
    assert _times("30 2 * * *", datetime(2026, 3, 28, 3, tzinfo=BERLIN), 3, BERLIN) == [
        "2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00"]
    # An interval schedule stays evenly spaced in real time.
    times = _times("*/30 * * * *", datetime(2026, 3, 29, 1, 10, tzinfo=BERLIN), 4, BERLIN)
    assert [datetime.fromisoformat(t).astimezone(UTC).strftime("%H:%M") for t in times] == [
        "00:30", "01:00", "01:30", "02:00"]


def test_fall_back_runs_a_fixed_time_once_and_intervals_in_both_passes() -> None:
    # Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    assert _times("30 2 * * *", datetime(2026, 10, 24, 3, tzinfo=BERLIN), 2, BERLIN) == [
        "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    times = _times("*/30 * * * *", datetime(2026, 10, 25, 1, 50, tzinfo=BERLIN), 6, BERLIN)
    assert [datetime.fromisoformat(t).astimezone(UTC).strftime("%H:%M") for t in times] == [
        "00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]
    # Asked from inside the second pass, a fixed time is not run again.
    second_pass = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)
    assert _times("30 2 * * *", second_pass, 1, BERLIN) == ["2026-10-26T02:30:00+01:00"]
    # From the first pass, an interval schedule takes the next first-pass slot.
    first_pass = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN)
    assert _times("*/30 * * * *", first_pass, 1, BERLIN) == ["2026-10-25T02:30:00+02:00"]


def test_next_after_agrees_with_croniter_in_utc() -> None:
    croniter = require_module("croniter", "it comes with `make setup` (a dlt dependency)").croniter
    rng = random.Random(11)
    fields = (["*", "*/15", "0", "5,35", "10-20/5"], ["*", "0", "6-18/3", "23", "*/6"],
              ["*", "1", "15", "1,15", "28-31", "29"], ["*", "2", "1-6", "*/3", "feb,aug"],
              ["*", "0", "mon-fri", "6", "sun,wed", "7"])
    compared = 0
    for combo in itertools.product(*fields):
        if rng.random() > 0.1:
            continue
        expression = " ".join(combo)
        schedule = CronSchedule.parse(expression)
        moment = datetime(2023, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                          rng.randint(0, 59), tzinfo=UTC)
        reference = croniter(expression, moment)
        for _ in range(12):
            moment = schedule.next_after(moment)
            assert moment == reference.get_next(datetime), expression
        compared += 1
    assert compared > 100


def test_next_after_is_quick_for_every_minute() -> None:
    schedule = CronSchedule.parse("* * * * *", BERLIN)
    moment = datetime(2026, 10, 25, tzinfo=BERLIN)
    began = datetime.now(UTC)
    for _ in range(1500):
        moment = schedule.next_after(moment)
    # Every real minute once, through the repeated hour (same-zone subtraction would
    # compare wall clocks).
    elapsed = moment.astimezone(UTC) - datetime(2026, 10, 25, tzinfo=BERLIN).astimezone(UTC)
    assert elapsed == timedelta(minutes=1500)
    assert datetime.now(UTC) - began < timedelta(seconds=5)
