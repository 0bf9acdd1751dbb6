"""deploy/monitoring/: valid files, rules with `for:` and annotations, every metric name in a
rule, a dashboard panel or a dashboard variable exported by OrchestratorMetrics, and — with
promtool (scripts/tools/promtool, built by .ci/run) — `check config`, `check rules` and the
rules' unit tests, which prove that DtegSchedulerDown fires within 60 s."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.service_guard import service_unavailable
from tests.unit.orchestrator.test_metrics import exercised

REPO = Path(__file__).resolve().parents[3]
MONITORING = REPO / "deploy" / "monitoring"
RULES = MONITORING / "rules" / "dteg-alerts.yml"
RULES_TEST = MONITORING / "rules" / "dteg-alerts.test.yml"
DASHBOARD = MONITORING / "grafana" / "dteg-dashboard.json"
# Series Prometheus makes itself, not dteg.
PROMETHEUS_SERIES = {"up"}

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "bool", "offset", "inf", "nan"}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords or labels)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries: [5m], [$__rate_interval]
    text = _GROUPING.sub("", text)  # by (le, pipeline) …
    text = re.sub(r"\$\w+", "", text)  # Grafana variables
    text = re.sub(r"\b\d+(\.\d+)?([eE][-+]?\d+)?[smhdwy]?\b", "", text)  # numbers, durations
    return {m.group(1) for m in _IDENT.finditer(text)
            if not m.group(2) and m.group(1).lower() not in _KEYWORDS}


def exported_samples() -> set[str]:
    body, _ = exercised().render()
    return {s.name for f in text_string_to_metric_families(body.decode()) for s in f.samples}


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for var in dash["templating"]["list"]:
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        found = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
        yield f"variable {var['name']!r}", found.group(1) if found else query


def test_the_name_parser() -> None:
    assert metric_names('histogram_quantile(0.99, sum by (le) (rate(dteg_x_bucket{a="b"}'
                        '[$__rate_interval]))) > 60 or on() absent(up{job="j"})') == \
        {"dteg_x_bucket", "up"}
    assert metric_names("time() - max by (pipeline) (dteg_t) > 8.64e4 and on() a == bool 0") \
        == {"dteg_t", "a"}


def test_files_are_valid_yaml_and_json() -> None:
    for path in (MONITORING / "prometheus.yml", MONITORING / "alertmanager.yml", RULES,
                 RULES_TEST):
        assert isinstance(yaml.safe_load(path.read_text()), dict), path
    assert json.loads(DASHBOARD.read_text())["panels"]


def test_prometheus_scrapes_the_scheduler_job_the_rules_name() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules/dteg-alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["dteg-scheduler"]["metrics_path"] == "/metrics"
    assert 'job="dteg-scheduler"' in next(r["expr"] for r in rules()
                                          if r["alert"] == "DtegSchedulerDown")
    # The rule's timing (fires within 60 s) assumes these.
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "15s"


def test_alertmanager_routes_to_a_webhook() -> None:
    config = yaml.safe_load((MONITORING / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers[config["route"]["receiver"]]["webhook_configs"][0]["url"].startswith("http")


def test_every_rule_has_for_severity_and_annotations() -> None:
    found = rules()
    assert {r["alert"] for r in found} >= {"DtegSchedulerDown", "DtegPipelineFailing",
                                           "DtegPipelineStale", "DtegQueueBackingUp"}
    for rule in found:
        assert "for" in rule, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_metric_name_in_rules_and_dashboard_is_exported() -> None:
    exported = exported_samples()
    used: dict[str, set[str]] = {}
    for rule in rules():
        used[f"rule {rule['alert']}"] = metric_names(rule["expr"])
    for where, expr in dashboard_exprs():
        used.setdefault(where, set()).update(metric_names(expr))
    unknown = {where: names - exported - PROMETHEUS_SERIES for where, names in used.items()}
    assert not {k: v for k, v in unknown.items() if v}, f"not exported: {unknown}"
    assert all(used.values()), f"an expression with no metric: {used}"


def test_dashboard_has_the_panels_people_look_for() -> None:
    dash = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"].lower() for p in dash["panels"])
    for want in ("runs by status", "duration p50 / p99", "schedule lag p50 / p99", "rows",
                 "queue depth", "workers", "last success", "heartbeat"):
        assert want in titles, want
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


# --- promtool -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def promtool() -> str:
    """The binary scripts/tools/promtool built (never builds here: ~8 min cold)."""
    out = subprocess.run([str(REPO / "scripts" / "tools" / "promtool"), "--cached"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        service_unavailable("promtool is not built: run scripts/tools/promtool once "
                            "(.ci/run does)")
    return out.stdout.strip()


@pytest.mark.parametrize("args", [
    ("check", "config", "prometheus.yml"),
    ("check", "rules", "rules/dteg-alerts.yml"),
    ("test", "rules", "rules/dteg-alerts.test.yml"),
], ids=" ".join)
def test_promtool(promtool: str, args: tuple[str, ...]) -> None:
    done = subprocess.run([promtool, *args], cwd=MONITORING, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_rules_test_proves_scheduler_down_within_60_s() -> None:
    # The promtool test above runs these; keep the 60 s promise in them.
    doc = yaml.safe_load(RULES_TEST.read_text())
    cases = {t["name"]: t for t in doc["tests"]}
    for name, stopped_at in (("scheduler process killed", 60),
                             ("scheduler loop stuck, process up", 60)):
        firing = [_seconds(c["eval_time"]) for c in cases[name]["alert_rule_test"]
                  if c["alertname"] == "DtegSchedulerDown" and c["exp_alerts"]]
        assert firing and min(firing) - stopped_at <= 60, name


def _seconds(duration: str) -> int:
    value, unit = int(duration[:-1]), duration[-1]
    return value * {"s": 1, "m": 60, "h": 3600}[unit]
