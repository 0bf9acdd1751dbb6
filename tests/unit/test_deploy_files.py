"""The deployment files are checked for structure here (no Docker engine or cluster)."""

from __future__ import annotations

import yaml

from ._helpers import REPO


def test_flink_deployment_manifest() -> None:
    docs = list(yaml.safe_load_all((REPO / "deploy" / "k8s" / "flink-deployment.yaml")
                                   .read_text()))
    flink, job = docs
    assert flink["apiVersion"] == "flink.apache.org/v1beta1"
    assert flink["kind"] == "FlinkDeployment"
    assert flink["spec"]["flinkVersion"].startswith("v1_")
    sidecar = flink["spec"]["taskManager"]["podTemplate"]["spec"]["containers"][0]
    assert sidecar["args"] == ["--worker_pool"]
    assert sidecar["ports"][0]["containerPort"] == 50000
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["dteg", "run", "pipelines/quickstart.yaml"]
    assert command[command.index("--worker-pool") + 1] == "localhost:50000"
    assert job["kind"] == "Job" and job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_dockerfile_uses_the_pinned_beam_sdk_image() -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert any(line.startswith("FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}")
               for line in lines)
    from importlib.metadata import version

    assert f"ARG BEAM_VERSION={version('apache-beam')}" in lines
    assert any(line.startswith("RUN pip install") for line in lines)
