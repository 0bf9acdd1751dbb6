"""What an alert says: the Slack message (blocks and fallback text), the e-mail and the
webhook JSON of one run event."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dteg.orchestrator.alerts.message import (
    EVENT_TITLES,
    AlertMessage,
    email_content,
    slack_payload,
    webhook_payload,
)
from dteg.spec.alerts import ALERT_EVENTS

AT = dt.datetime(2024, 5, 1, 6, 0, tzinfo=dt.timezone.utc)
FAILED = AlertMessage(
    pipeline="orders", event="failure", run_id="run-7", status="failed",
    error="step `load` (orders.yaml:14): <refused> & closed", attempt=2, rows_read=1200,
    rows_loaded=1190, rows_dead_lettered=10, scheduled_at=AT, started_at=AT,
    finished_at=AT + dt.timedelta(seconds=75), duration_s=75.4,
    link="https://dteg.example.com/runs/run-7", detail="3 of 4 steps ran")


def test_every_event_has_a_title_and_an_unknown_event_is_refused() -> None:
    assert set(EVENT_TITLES) == set(ALERT_EVENTS)
    assert FAILED.title == "orders: run failed"
    with pytest.raises(ValueError, match="'failed' is not one of failure, retry"):
        AlertMessage(pipeline="orders", event="failed")


def test_slack_names_pipeline_run_event_error_counts_and_link() -> None:
    payload = slack_payload(FAILED)
    text = payload["text"]
    assert text.startswith(":red_circle: orders: run failed — run run-7 (attempt 2) — error: ")
    # mrkdwn reads <…> as links: the error's brackets and ampersand are escaped.
    assert "&lt;refused&gt; &amp; closed" in text
    assert "rows read 1,200, loaded 1,190, dead-lettered 10" in text
    assert text.endswith("<https://dteg.example.com/runs/run-7|Open the run>")
    header, facts, error, detail, link = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text",
                                                 "text": "orders: run failed"}}
    assert [f["text"].split("\n")[0] for f in facts["fields"]] == [
        "*Pipeline*", "*Event*", "*Run*", "*Status*", "*Attempt*", "*Scheduled*", "*Started*",
        "*Finished*", "*Duration*", "*Rows*"]
    assert "*Duration*\n1m 15s" in [f["text"] for f in facts["fields"]]
    assert error["text"]["text"].startswith("*Error*\n```step `load`")
    assert detail["text"]["text"] == "3 of 4 steps ran"
    assert "https://dteg.example.com/runs/run-7" in link["elements"][0]["text"]
    assert "channel" not in payload
    assert slack_payload(FAILED, "#data")["channel"] == "#data"


def test_slack_keeps_within_its_limits() -> None:
    long = AlertMessage(pipeline="p", event="failure", error="x" * 10_000)
    [_, _, error] = slack_payload(long)["blocks"]
    assert len(error["text"]["text"]) < 3000 and error["text"]["text"].endswith("…```")


def test_a_message_with_only_the_pipeline_renders_everywhere() -> None:
    bare = AlertMessage(pipeline="orders", event="success")
    assert slack_payload(bare)["text"] == ":large_green_circle: orders: run succeeded"
    assert email_content(bare)[0] == "[dteg] orders: run succeeded"
    assert webhook_payload(bare)["run_id"] is None


def test_the_email_has_a_subject_and_a_plain_text_body() -> None:
    subject, body = email_content(FAILED)
    assert subject == "[dteg] orders: run failed (run run-7)"
    lines = body.splitlines()
    assert lines[0] == "orders: run failed."
    assert "Run:       run-7" in lines and "Duration:  1m 15s" in lines
    assert "Rows:      read 1,200, loaded 1,190, dead-lettered 10" in lines
    assert "Started:   2024-05-01 06:00:00 UTC" in lines
    assert lines[lines.index("Error:") + 1] == "  step `load` (orders.yaml:14): <refused> & closed"
    assert "Open the run: https://dteg.example.com/runs/run-7" in lines


def test_a_subject_is_one_line() -> None:
    subject, _ = email_content(AlertMessage(pipeline="a\nb", event="sla", run_id="r\r\n1"))
    assert subject == "[dteg] a b: missed its SLA (run r 1)"


def test_the_webhook_json_has_every_field_and_iso_times() -> None:
    body = webhook_payload(FAILED)
    assert json.loads(json.dumps(body)) == body
    assert body["source"] == "dteg" and body["title"] == "orders: run failed"
    assert body["text"] == FAILED.summary()
    assert (body["event"], body["attempt"], body["rows_dead_lettered"]) == ("failure", 2, 10)
    assert body["finished_at"] == "2024-05-01T06:01:15+00:00"
    assert set(body) == {"source", "title", "text", *AlertMessage.__dataclass_fields__}


@pytest.mark.parametrize(("seconds", "shown"), [
    (4.26, "4.3s"), (75.4, "1m 15s"), (3725, "1h 02m 05s")])
def test_durations_read_as_people_say_them(seconds: float, shown: str) -> None:
    message = AlertMessage(pipeline="p", event="success", duration_s=seconds)
    assert ("Duration", shown) in message.facts()
