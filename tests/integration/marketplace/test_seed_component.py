"""The seed's components as the product description writes them: kafka-extractor 1.0.0, built from
marketplace/components/kafka-extractor and published with `dteg publish` (every gate, the
performance test reading a real Kafka topic), then `dteg search kafka`, `dteg install
marketplace://kafka-extractor`, `dteg update marketplace://kafka-extractor`, and a pipeline
using `dteg://kafka-extractor` that runs after `dteg install -f`; salesforce-loader 2.1.0 the
same way (its performance test loads Contacts into the local Bulk API 2.0 stand-in), then
`dteg search salesforce`, `dteg install marketplace://salesforce-loader`, and `dteg install -f`
of pipelines/seed_example.yaml installing both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cloud_services import REPO
from tests.integration.fake_salesforce import FakeSalesforce, serve
from tests.integration.kafka_service import kafka_bootstrap, unique
from tests.integration.marketplace.conftest import ADMIN_TOKEN, Env, Registry

__all__ = ["kafka_bootstrap"]
pytestmark = pytest.mark.timeout(1200)


def _dteg(registry: Registry, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "dteg.cli", *args], capture_output=True, text=True, timeout=900,
        check=False, env={**os.environ, "PYTHONPATH": str(REPO),
                          "DTEG_MARKETPLACE_URL": registry.url, **env})
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def publisher(registry: Registry, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[str, Path]:
    """The official publisher `dteg` of this module's registry: its token and key file."""
    token = registry.client().create_publisher("dteg", ADMIN_TOKEN, official=True)
    key = tmp_path_factory.mktemp("publisher") / "publisher.key"
    _dteg(registry, "publisher-key", "generate", "--key", str(key))
    _dteg(registry, "publisher-key", "register", "--publisher", "dteg", "--key", str(key),
          DTEG_MARKETPLACE_TOKEN=token)
    return token, key


def _publish(registry: Registry, publisher: tuple[str, Path], name: str, work: Path,
             **env: str) -> subprocess.CompletedProcess[str]:
    """`dteg publish` of a copy of marketplace/components/NAME (every gate)."""
    token, key = publisher
    seed = work / name
    subprocess.run(["cp", "-r", str(REPO / "marketplace/components" / name), str(seed)],
                   check=True)
    published = _dteg(registry, "publish", str(seed), "--publisher", "dteg", "--key", str(key),
                      DTEG_MARKETPLACE_TOKEN=token, **env)
    assert "PASS  performance" in published.stdout
    return published


def test_seed_kafka_extractor_published_installed_and_run(
        registry: Registry, env: Env, kafka_bootstrap: str, publisher: tuple[str, Path],
        tmp_path: Path) -> None:
    _publish(registry, publisher, "kafka-extractor", tmp_path,
             DTEG_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)

    found = env.run("search", "kafka").stdout.splitlines()
    assert found[1].split() == ["kafka-extractor", "1.0.0", "extractor", "-", "0", "official",
                                "pass", "-"]
    assert "installed kafka-extractor 1.0.0 (official;" in env.run(
        "install", "marketplace://kafka-extractor").stdout
    assert "everything is up to date" in env.run(
        "update", "marketplace://kafka-extractor").stdout
    env.run("uninstall", "marketplace://kafka-extractor")

    from confluent_kafka import Producer

    topic = unique("seed")
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(5):
        producer.produce(topic, json.dumps({"id": i}).encode())
    assert producer.flush(60) == 0
    pipeline = env.workdir / "pipeline.yaml"
    pipeline.write_text(f"""
pipeline:
  name: seed_kafka
  components:
    marketplace:
      - {{name: kafka-extractor, version: "1.0.0", source: "dteg://streaming/kafka"}}
  steps:
    - extract:
        type: "dteg://kafka-extractor"
        config: {{bootstrap_servers: "{kafka_bootstrap}", topic: "{topic}"}}
    - load: {{type: jsonl, config: {{path: out/rows.jsonl}}}}
""")
    env.run("install", "-f", "pipeline.yaml")
    plan = env.run("plan", "pipeline.yaml").stdout
    assert "kafka-extractor" in plan
    env.run("run", "pipeline.yaml")
    rows = [json.loads(x) for x in (env.workdir / "out" / "rows.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [0, 1, 2, 3, 4]


def test_seed_salesforce_loader_published_and_the_seed_installs_both(
        registry: Registry, env: Env, kafka_bootstrap: str, publisher: tuple[str, Path],
        tmp_path: Path) -> None:
    sf = FakeSalesforce(polls_before_complete=1)
    with serve(sf) as base:
        published = _publish(registry, publisher, "salesforce-loader", tmp_path,
                             DTEG_SALESFORCE_LOGIN_URL=base,
                             DTEG_SALESFORCE_CLIENT_ID=sf.client_id,
                             DTEG_SALESFORCE_CLIENT_SECRET=sf.client_secret)
    assert sf.client_secret not in published.stdout + published.stderr
    assert len(sf.rows("Contact")) >= 20_000  # the performance test's rows landed
    found = env.run("search", "salesforce").stdout.splitlines()
    assert found[1].split() == ["salesforce-loader", "2.1.0", "loader", "-", "0", "official",
                                "pass", "-"]
    assert "installed salesforce-loader 2.1.0 (official;" in env.run(
        "install", "marketplace://salesforce-loader").stdout
    env.run("uninstall", "marketplace://salesforce-loader")
    if "kafka-extractor" not in env.run("search", "kafka").stdout:  # this test run alone
        _publish(registry, publisher, "kafka-extractor", tmp_path,
                 DTEG_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    subprocess.run(["cp", str(REPO / "pipelines" / "seed_example.yaml"), str(env.workdir)],
                   check=True)
    env.run("install", "-f", "seed_example.yaml")
    assert env.has_package("kafka-extractor") and env.has_package("salesforce-loader")
    # The installed package, not the built-in's alias, is what the seed's load step gets.
    assert "salesforce-loader 2.1.0" in env.run("plan", "seed_example.yaml").stdout
