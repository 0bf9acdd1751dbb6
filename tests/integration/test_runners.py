"""Runner selection: the Dataflow dry run builds the real job offline; portable runners
(Flink, Spark) explain exactly what they are missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dteg.cli import main
from dteg.runners.settings import RunnerSettings

DATAFLOW = ["--runner", "dataflow", "--project", "my-project-123", "--region", "europe-west1",
            "--temp-location", "gs://my-bucket/tmp"]


def _run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return int(done.value.code or 0), out.out + out.err


def test_dataflow_dry_run_writes_job_graph_options_and_template(workdir: Path, capsys,
                                                                tmp_path: Path) -> None:
    out_dir = tmp_path / "df"
    code, out = _run(capsys, "run", str(workdir / "parquet_orders.yaml"), *DATAFLOW,
                     "--dry-run", "--output-dir", str(out_dir), "--run-id", "r1",
                     "--service-account", "etl@my-project-123.iam.gserviceaccount.com")
    assert code == 0, out
    assert "nothing was submitted" in out
    job = json.loads((out_dir / "job.json").read_text())
    assert job["name"] == "dteg-parquet-orders-r1"
    assert job["type"] == "JOB_TYPE_BATCH"
    options = json.loads((out_dir / "options.json").read_text())
    assert options["project"] == "my-project-123"
    assert options["staging_location"] == "gs://my-bucket/tmp/staging"
    assert options["service_account_email"] == "etl@my-project-123.iam.gserviceaccount.com"
    graph = json.loads((out_dir / "pipeline.json").read_text())
    names = {t.get("uniqueName") for t in graph["components"]["transforms"].values()}
    assert {"parquet_orders/extract", "parquet_orders/filter", "parquet_orders/map",
            "parquet_orders/load/Commit", "parquet_orders/dead_letter"} <= names
    template = json.loads((out_dir / "flex-template.json").read_text())
    assert template["sdkInfo"] == {"language": "PYTHON"}
    assert template["metadata"]["parameters"][0]["name"] == "pipeline"
    # A dry run neither loads anything nor records a local run.
    assert not (workdir / ".dteg" / "warehouse.duckdb").exists()


@pytest.mark.parametrize(("extra", "message"), [
    ([], "needs --project, --region, --temp-location"),
    (["--project", "p", "--region", "r", "--temp-location", "/tmp/x"],
     "--temp-location must be a gs://bucket/folder path"),
    (["--project", "p1", "--region", "europe-west1", "--temp-location", "gs://my-bucket/t"],
     "Invalid Project ID (p1)"),
])
def test_dataflow_option_errors_are_clear(workdir: Path, capsys, extra, message) -> None:
    code, out = _run(capsys, "run", str(workdir / "parquet_orders.yaml"), "--runner",
                     "dataflow", "--dry-run", *extra)
    assert code == 2
    assert message in out
    assert "Traceback" not in out


def test_flink_with_a_missing_jar_says_so(workdir: Path, capsys) -> None:
    code, out = _run(capsys, "run", str(workdir / "duckdb_query.yaml"), "--runner", "flink",
                     "--flink-job-server-jar", "/nonexistent/job-server.jar")
    assert code == 2
    assert "no job-server jar at /nonexistent/job-server.jar" in out


def test_flink_without_java_says_so(workdir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    code, out = _run(capsys, "run", str(workdir / "duckdb_query.yaml"), "--runner", "flink")
    assert code == 2
    assert "needs Java 11 or newer" in out


def test_runner_options() -> None:
    flink = RunnerSettings(name="flink", flink_master="jm:8081", parallelism=4,
                           checkpointing_interval_ms=30000, state_backend="rocksdb",
                           worker_pool="localhost:50000").flink_options()
    assert flink == {"flink_master": "jm:8081", "environment_type": "EXTERNAL",
                     "environment_config": "localhost:50000", "parallelism": 4,
                     "checkpointing_interval": 30000, "state_backend": "rocksdb"}
    assert RunnerSettings(name="flink").flink_options()["environment_type"] == "LOOPBACK"


def test_runners_command_lists_every_runner(capsys) -> None:
    code, out = _run(capsys, "runners")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert set(lines) == {"direct", "prism", "portable", "flink", "dataflow", "spark"}
    assert "usable" in lines["direct"] and "not usable" not in lines["direct"]
