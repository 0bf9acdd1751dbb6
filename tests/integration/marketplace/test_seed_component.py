"""The seed's component as the product description writes it: kafka-extractor 1.0.0, built from
marketplace/components/kafka-extractor and published with `dteg publish` (every gate, the
performance test reading a real Kafka topic), then `dteg search kafka`, `dteg install
marketplace://kafka-extractor`, `dteg update marketplace://kafka-extractor`, and a pipeline
using `dteg://kafka-extractor` that runs after `dteg install -f`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.cloud_services import REPO
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


def test_seed_kafka_extractor_published_installed_and_run(
        registry: Registry, env: Env, kafka_bootstrap: str, tmp_path) -> None:
    token = registry.client().create_publisher("dteg", ADMIN_TOKEN, official=True)
    key = tmp_path / "publisher.key"
    _dteg(registry, "publisher-key", "generate", "--key", str(key))
    _dteg(registry, "publisher-key", "register", "--publisher", "dteg", "--key", str(key),
          DTEG_MARKETPLACE_TOKEN=token)
    seed = tmp_path / "kafka-extractor"
    subprocess.run(["cp", "-r", str(REPO / "marketplace/components/kafka-extractor"), str(seed)],
                   check=True)
    published = _dteg(registry, "publish", str(seed), "--publisher", "dteg", "--key", str(key),
                      DTEG_MARKETPLACE_TOKEN=token, DTEG_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    assert "PASS  performance" in published.stdout

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
