"""`monitoring.alerts`: one typed model per channel, located errors with the closest type, the
warnings of `check_monitoring`, and the notice `dteg run` prints for what it ignores."""

from __future__ import annotations

import json
import textwrap

import jsonschema
import pytest
import yaml

from dteg.errors import SpecError, SpecErrors
from dteg.spec.alerts import EmailAlert, SlackAlert, WebhookAlert
from dteg.spec.json_schema import pipeline_json_schema
from dteg.spec.phases import compile_spec, run_notices

from ._helpers import REPO

STEPS = """\
  steps:
    - extract: {type: csv, config: {path: a.csv}}
    - load: {type: duckdb, config: {table: t}}
"""


def _compile(alerts: str, head: str = "", environ: dict[str, str] | None = None):
    text = ("pipeline:\n  name: p\n" + head + STEPS + "  monitoring:\n    alerts:\n"
            + textwrap.indent(textwrap.dedent(alerts), "      "))
    return compile_spec("p.yaml", text=text, environ=environ or {})


def _error(alerts: str, head: str = "") -> SpecError:
    with pytest.raises(SpecError) as info:
        _compile(alerts, head)
    assert not isinstance(info.value, SpecErrors), info.value
    return info.value


def test_each_type_has_its_model_and_on_defaults_to_failure() -> None:
    spec = _compile("""\
        - type: slack
          webhook_url: ${env:HOOK}
          channel: "#data"
        - type: email
          to: [ops@example.com, " data@example.org "]
          from: dteg@example.com
          smtp_host: mail.example.com
          smtp_port: 587
          on: [failed, quality_failed, recovered]
        - type: webhook
          url: https://hooks.example.com/dteg
          headers: {Authorization: "Bearer ${env:TOKEN}"}
          on: [succeeded, schema_drift]
    """, environ={"HOOK": "https://hooks.slack.com/services/T/B/X", "TOKEN": "t0k3n"})
    slack, email, hook = spec.body.monitoring.alerts
    assert isinstance(slack, SlackAlert) and slack.on == ["failure"]
    assert slack.webhook_url is not None
    assert slack.webhook_url.get_secret_value() == "https://hooks.slack.com/services/T/B/X"
    assert "hooks.slack.com" not in repr(slack)
    assert isinstance(email, EmailAlert)
    assert (email.to, email.sender, email.smtp_port) == (
        ["ops@example.com", "data@example.org"], "dteg@example.com", 587)
    # YAML 1.1 reads `on` as true; the first version's names are read as the new ones.
    assert email.on == ["failure", "quality", "recovered"]
    assert isinstance(hook, WebhookAlert) and hook.on == ["success", "schema_drift"]
    assert hook.headers["Authorization"].get_secret_value() == "Bearer t0k3n"


def test_the_seed_example_alerts_validate_as_written() -> None:
    spec = compile_spec(REPO / "pipelines" / "seed_example.yaml", environ={})
    slack, email = spec.body.monitoring.alerts
    assert isinstance(slack, SlackAlert) and slack.channel == "#data-alerts"
    # The seed writes the recipients as `recipients:`.
    assert isinstance(email, EmailAlert) and email.to == ["data-team@company.com"]


def test_unknown_type_names_the_closest_and_every_known_one() -> None:
    err = _error("""\
        - channel: "#data"
          type: slak
    """)
    assert (err.location.line, err.message, err.hint) == (
        9, "unknown alert type `slak`",
        "Did you mean `slack`? Known alert types: slack, email, webhook.")
    err = _error("- {channel: '#data'}\n")
    assert err.message == "this item has no `type:` (one of slack, email, webhook)"
    err = _error("- {type: pager}\n")
    assert err.hint == "Known alert types: slack, email, webhook."


@pytest.mark.parametrize(("alerts", "line", "text"), [
    ("- {type: email, on: [failed]}\n", 8, "`to` is required but missing. Add `to: …` here."),
    ("- type: webhook\n  headers: {a: b}\n", 8, "`url` is required but missing"),
    ("- {type: email, to: [ops@example.com], chanel: x}\n", 8, "unknown key `chanel`"),
    ("- {type: slack, chanel: '#x'}\n", 8, "unknown key `chanel`. Did you mean `channel`?"),
    ("- type: email\n  to:\n    - ops@example.com\n    - not-an-address\n", 11,
     "`to` item 2: 'not-an-address' is not an e-mail address (name@example.com)"),
    ("- {type: email, to: [a@example.com], recipients: [b@example.com]}\n", 8,
     "`recipients` and `to` are the same list; keep one of them"),
    ("- type: slack\n  on: [failure, recoverd]\n", 9,
     "`on` item 2 is 'recoverd', which is not allowed. Use one of: 'failure', 'retry', "
     "'success', 'recovered', 'sla', 'freshness', 'quality', 'schema_drift', "
     "'retention_failed' or 'pii_unprotected'."),
    ("- {type: slack, on: [failure, failure]}\n", 8, "failure is listed more than once"),
    # An old name and its new one are the same event.
    ("- {type: slack, on: [failed, failure]}\n", 8, "failure is listed more than once"),
    ("- {type: slack, bot_token: xoxb-1}\n", 8, "`bot_token` posts with chat.postMessage, "
     "which needs `channel`"),
    ("- {type: slack, webhook_url: 'https://h.example', bot_token: x, channel: '#a'}\n", 8,
     "`webhook_url` and `bot_token` are two ways to reach Slack; keep one of them"),
    ("- {type: email, to: [a@example.com], ssl: true, starttls: true}\n", 8,
     "keep one of them (465 is usually ssl, 587 starttls)"),
    ("- {type: slack, on: []}\n", 8, "`on` is empty"),
    ("- {type: email, to: [a@example.com], smtp_port: 70000}\n", 8, "less than or equal to "
     "65535"),
])
def test_mistakes_name_the_key_and_line(alerts: str, line: int, text: str) -> None:
    err = _error(alerts)
    assert err.location is not None and err.location.line == line, err.render()
    assert text in err.render()
    assert err.step is None


def test_a_bad_url_is_refused_without_showing_it() -> None:
    with pytest.raises(SpecError) as info:
        _compile("- {type: slack, webhook_url: '${env:HOOK}'}\n",
                 environ={"HOOK": "hooks.slack.com/services/SECRET"})
    assert "`webhook_url` must be an http:// or https:// URL" in info.value.render()
    assert "SECRET" not in info.value.render()
    err = _error("- {type: webhook, url: ftp://x.example.com/a}\n")
    assert "`url` must be an http:// or https:// URL" in err.render()


def test_schema_completes_alerts_per_type() -> None:
    schema = pipeline_json_schema()
    items = schema["$defs"]["MonitoringSpec"]["properties"]["alerts"]["items"]
    assert items["discriminator"]["mapping"] == {
        "slack": "#/$defs/SlackAlert", "email": "#/$defs/EmailAlert",
        "webhook": "#/$defs/WebhookAlert"}
    assert set(schema["$defs"]["SlackAlert"]["properties"]) == {
        "type", "on", "webhook_url", "bot_token", "channel"}
    assert set(schema["$defs"]["EmailAlert"]["properties"]) == {
        "type", "on", "to", "recipients", "from", "smtp_host", "smtp_port", "smtp_user",
        "smtp_password", "starttls", "ssl"}
    # Editors accept the first version's event names as well as the new ones.
    on_items = schema["$defs"]["SlackAlert"]["properties"]["on"]["items"]
    assert {"failure", "quality", "failed", "quality_failed"} <= set(on_items["enum"])
    validator = jsonschema.Draft202012Validator(schema)
    seed = yaml.safe_load((REPO / "pipelines" / "seed_example.yaml").read_text("utf-8"))
    assert list(validator.iter_errors(seed)) == []
    seed["pipeline"]["monitoring"]["alerts"][0]["type"] = "slak"
    assert list(validator.iter_errors(seed))
    json.dumps(schema)


def test_check_monitoring_warns_about_alerts_that_cannot_work() -> None:
    spec = _compile("""\
        - {type: slack, on: [failure, quality]}
        - {type: webhook, url: "https://x.example.com", on: [quality_failed]}
        - {type: slack, bot_token: "xoxb-1", channel: "#data"}
    """)
    assert spec.warnings == (
        "p.yaml:8: alert 1 (slack) is sent on `quality`, but no step validates rows "
        "(add `quality.validation_rules`), so it never is",
        "p.yaml:8: alert 1 (slack) names no `webhook_url` or `bot_token`: the orchestrator "
        "will take them from its settings or the DTEG_SLACK_WEBHOOK_URL / "
        "DTEG_SLACK_BOT_TOKEN environment variables",
        "p.yaml:9: alert 2 (webhook) is sent on `quality`, but no step validates rows "
        "(add `quality.validation_rules`), so it never is",
    )
    rules = "  quality:\n    validation_rules: [{type: null_check, column: id}]\n"
    spec = _compile("- {type: webhook, url: 'https://x.example.com', on: [quality]}\n",
                    head=rules)
    assert spec.warnings == ()


def test_run_notices_say_what_a_run_ignores() -> None:
    both = _compile("- {type: webhook, url: 'https://x.example.com'}\n",
                    head='  schedule: "@daily"\n')
    assert run_notices(both) == [
        "p.yaml: `schedule` (line 3) and `monitoring.alerts` (line 8) take effect only when "
        "`dteg server --pipelines <folder>` serves this file; this run ignores them."]
    alerts_only = _compile("- {type: webhook, url: 'https://x.example.com'}\n")
    assert run_notices(alerts_only) == [
        "p.yaml: `monitoring.alerts` (line 7) takes effect only when `dteg server "
        "--pipelines <folder>` serves this file; this run ignores it."]
    plain = compile_spec("p.yaml", text="pipeline:\n  name: p\n" + STEPS, environ={})
    assert run_notices(plain) == []
    schedule_only = compile_spec("p.yaml", environ={}, text="pipeline:\n  name: p\n"
                                 "  schedule: {cron: '0 6 * * *', timezone: Asia/Seoul}\n"
                                 + STEPS)
    assert run_notices(schedule_only)[0].startswith("p.yaml: `schedule` (line 3) takes effect")
