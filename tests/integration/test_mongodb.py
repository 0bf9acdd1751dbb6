"""MongoDB source and sink against a real MongoDB wire-protocol server: FerretDB 1.24 on
SQLite (scripts/services/ferretdb). pymongo talks to it exactly as to MongoDB; what FerretDB
does not implement (Decimal128, renameCollection with dropTarget, transactions) is noted where
it matters."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dteg.testing import check_sink, check_source
from tests.integration import mongodb_service
from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration
# The FerretDB fixtures (assigned, not imported: test parameters take these names).
mongodb_server = mongodb_service.mongodb_server
mongo_db = mongodb_service.mongo_db
DTEG = [sys.executable, "-m", "dteg.cli"]
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)


def _orders(db: Any, n: int = 100, *, first: int = 1) -> None:
    db.shop_orders.insert_many([{
        "order_id": i, "customer": {"name": f"c{i}", "city": ["Seoul", "Busan"][i % 2]},
        "amount": -1.0 if i == 5 else i * 1.5, "status": "cancelled" if i == 7 else "paid",
        "items": [{"sku": f"s{i}", "qty": i % 3 + 1}], "updated_at": T0 + dt.timedelta(minutes=i),
    } for i in range(first, first + n)])


def _dead_letters(workdir: Path, pipeline: str) -> list[dict[str, Any]]:
    files = sorted((workdir / ".dteg" / "dead_letter" / pipeline).glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


def _pipeline(workdir: Path, name: str, extract: str, load: str) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(f"""
pipeline:
  name: {name}
  steps:
    - extract:
        name: src
        type: mongodb
        config:
          url: ${{env:DTEG_MONGODB_URL}}
{extract}
    - load:
        name: dst
        type: mongodb
        config:
          url: ${{env:DTEG_MONGODB_URL}}
{load}
""")
    return path


def _run_cli(path: Path, env_extra: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {}), "PYTHONPATH": str(REPO)}
    return subprocess.run([*DTEG, "run", str(path)], env=env, text=True, capture_output=True,
                          timeout=600)


def test_example_full_then_incremental(workdir, run_pipeline, mongo_db) -> None:
    _orders(mongo_db)
    path = workdir / "mongodb_orders.yaml"
    code, report, out = run_pipeline(path)
    assert code == 0, out
    # 100 orders, one cancelled (left out by the filter), one with a negative amount.
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (99, 98, 1), out
    assert report["reconciles"] is True
    copy = {d["order_id"]: d for d in mongo_db.orders_copy.find({}, {"_id": 0})}
    assert len(copy) == 98 and 5 not in copy and 7 not in copy
    assert copy[2]["items"] == [{"sku": "s2", "qty": 3}]  # JSON text back to an array
    assert copy[2]["customer_city"] == "Seoul" and copy[3]["customer_name"] == "c3"
    assert copy[2]["updated_at"] == T0 + dt.timedelta(minutes=2)
    dead = _dead_letters(workdir, "mongodb_orders")
    assert len(dead) == 1 and json.loads(dead[0]["record"])["order_id"] == 5
    # Between runs: 3 updates and 2 inserts; the second run reads exactly those.
    later = T0 + dt.timedelta(days=30)
    mongo_db.shop_orders.update_many({"order_id": {"$in": [1, 2, 3]}},
                                     {"$set": {"amount": 1000.0, "updated_at": later}})
    _orders(mongo_db, 2, first=101)
    mongo_db.shop_orders.update_many({"order_id": {"$gt": 100}}, {"$set": {"updated_at": later}})
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert (report["read"], report["loaded"]) == (5, 5), out
    copy = {d["order_id"]: d for d in mongo_db.orders_copy.find({}, {"_id": 0})}
    assert len(copy) == 100 and copy[1]["amount"] == 1000.0 and copy[101]["amount"] == 151.5
    code, report, out = run_pipeline(path)
    assert code == 0 and report["read"] == 0, out
    assert not [n for n in mongo_db.list_collection_names() if n.startswith("_dteg_stage")]


def test_connector_kit_on_ferretdb(tmp_path, mongo_db) -> None:
    batch = pa.record_batch({
        "id": pa.array([1, 2, 3], pa.int64()),
        "email": pa.array(["a@x.io", None, "bad"], pa.string()),
        "amount": pa.array([1.5, -2.0, 3.25], pa.float64()),
        "at": pa.array([T0, None, T0], pa.timestamp("us", "UTC")),
    })
    url = mongo_db.url
    committed = check_sink("mongodb", {"url": url, "collection": "kit", "mode": "merge",
                                       "key": "id"}, [batch, batch], base_dir=tmp_path)
    assert committed.rows == 6 and committed.dead_lettered == 0
    table, dead = check_source("mongodb", {"url": url, "collection": "kit",
                                           "projection": {"_id": 0}}, base_dir=tmp_path)
    assert dead.num_rows == 0
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3]
    assert table.schema.field("at").type == pa.timestamp("us", "UTC")
    assert table.schema.field("amount").type == pa.float64()
    # Zero rows: replace leaves an empty collection, and a declared schema keeps the columns.
    check_sink("mongodb", {"url": url, "collection": "kit", "mode": "replace"},
               [batch.slice(0, 0)], base_dir=tmp_path)
    assert mongo_db.kit.count_documents({}) == 0 and "kit" in mongo_db.list_collection_names()
    table, dead = check_source("mongodb", {"url": url, "collection": "kit",
                                           "schema": {"id": "int", "email": "string"}},
                               base_dir=tmp_path)
    assert (table.num_rows, table.schema.names) == (0, ["id", "email"])


def test_partitions_and_aggregation_read_every_document_once(tmp_path, mongo_db) -> None:
    _orders(mongo_db, 200)
    # Documents whose partition field is missing or of another type are read too.
    mongo_db.shop_orders.insert_many([{"order_id": "x-1"}, {"status": "no id"}])
    table, dead = check_source("mongodb", {
        "url": mongo_db.url, "collection": "shop_orders", "partitions": 4,
        "partition_field": "order_id", "projection": {"_id": 0, "order_id": 1}},
        base_dir=tmp_path)
    assert dead.num_rows == 0 and table.num_rows == 202
    ids = table.column("order_id").to_pylist()
    assert len(set(ids)) == 202  # mixed types sampled as text; none twice
    table, _ = check_source("mongodb", {
        "url": mongo_db.url, "collection": "shop_orders", "filter": {"status": "paid"},
        "pipeline": [{"$group": {"_id": "$customer.city", "n": {"$sum": 1}}},
                     {"$sort": {"_id": 1}}]}, base_dir=tmp_path)
    # (FerretDB 1.24 sums a field as 0 in $group: only counts are checked here.)
    assert table.to_pylist() == [{"_id": "Busan", "n": 99}, {"_id": "Seoul", "n": 100}]


def test_upsert_replaces_matching_documents_and_keeps_others(workdir, run_pipeline,
                                                              mongo_db) -> None:
    mongo_db.changes.insert_many([{"k": 1, "v": "a"}, {"k": 2, "v": "b"}, {"k": 1, "v": "a2"}])
    mongo_db.merged.insert_many([{"k": 1, "v": "old", "extra": True}, {"k": 9, "v": "keep"}])
    path = _pipeline(workdir, "mongo_merge",
                     "          collection: changes\n          projection: {_id: 0}",
                     "          collection: merged\n          mode: merge\n          key: k")
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["loaded"] == 3 and report["reconciles"] is True
    merged = sorted((d["k"], d["v"], "extra" in d) for d in mongo_db.merged.find())
    # The last document per key wins and replaces the whole document.
    assert merged == [(1, "a2", False), (2, "b", False), (9, "keep", False)]


def test_bad_documents_go_to_dead_letters_and_counts_reconcile(workdir, run_pipeline,
                                                               mongo_db) -> None:
    mongo_db.src.insert_many([{"_id": i, "n": i} for i in range(1, 11)])
    mongo_db.src.insert_one({"_id": 11, "n": "eleven"})  # does not fit the declared int
    mongo_db.dst.insert_many([{"_id": 3, "n": -3}, {"_id": 4, "n": -4}])  # duplicate keys
    path = _pipeline(workdir, "mongo_bad",
                     "          collection: src\n          schema: {_id: int, n: int}",
                     "          collection: dst\n          mode: append")
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert (report["read"], report["loaded"], report["dead_lettered"]) == (11, 8, 3), out
    assert report["reconciles"] is True
    dead = sorted(_dead_letters(workdir, "mongo_bad"), key=lambda d: d["step"])
    assert [d["step"] for d in dead] == ["dst", "dst", "src"]
    assert all("duplicate key" in d["reason"].lower() for d in dead[:2]), dead
    assert sorted(json.loads(d["record"])["_id"] for d in dead[:2]) == [3, 4]
    assert "field `n`: expected an integer" in dead[2]["reason"]
    assert json.loads(dead[2]["record"]) == {"_id": 11, "n": "eleven"}
    assert sorted(d["n"] for d in mongo_db.dst.find()) == [-4, -3, 1, 2, 5, 6, 7, 8, 9, 10]


def test_refused_documents_go_where_pipeline_dead_letter_points(workdir, run_pipeline,
                                                                  mongo_db) -> None:
    mongo_db.src.insert_many([{"_id": i, "n": i} for i in range(1, 6)])
    mongo_db.dst.insert_one({"_id": 2, "n": -2})  # a duplicate key: refused by the server
    path = _pipeline(workdir, "mongo_dead_elsewhere", "          collection: src",
                     "          collection: dst\n          mode: append")
    path.write_text(path.read_text().replace(
        "  name: mongo_dead_elsewhere\n", "  name: mongo_dead_elsewhere\n  dead_letter:\n"
        "    type: jsonl\n    config: {path: \"rejected/{run_id}.jsonl\"}\n"))
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert (report["loaded"], report["dead_lettered"]) == (4, 1) and report["reconciles"], out
    files = sorted((workdir / "rejected").glob("*.jsonl"))
    dead = [json.loads(line) for f in files for line in f.read_text().splitlines() if line]
    assert [(d["step"], json.loads(d["record"])["_id"]) for d in dead] == [("dst", 2)], files
    assert "duplicate key" in dead[0]["reason"].lower()
    assert not (workdir / ".dteg" / "dead_letter").exists()  # nothing in the default folder


def test_kill_between_sink_commit_and_state_save_loses_nothing(workdir, mongo_db) -> None:
    """SIGKILL right after the sink committed and before the cursor was saved: the next run
    saves that cursor (the load did land), so even the append sink has no duplicates."""
    _orders(mongo_db, 50)
    path = _pipeline(workdir, "mongo_crash",
                     "          collection: shop_orders\n"
                     "          incremental: {cursor: updated_at}\n"
                     "          projection: {_id: 0, order_id: 1, updated_at: 1}",
                     "          collection: appended\n          mode: append")
    killed = _run_cli(path, {"DTEG_FAULT": "kill_before_state_commit"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert mongo_db.appended.count_documents({}) == 50  # committed before the kill
    _orders(mongo_db, 1, first=51)
    mongo_db.shop_orders.update_one({"order_id": 51},
                                    {"$set": {"updated_at": T0 + dt.timedelta(days=9)}})
    again = _run_cli(path)
    assert again.returncode == 0, again.stderr
    assert "was killed after its loads committed" in again.stderr
    ids = [d["order_id"] for d in mongo_db.appended.find()]
    assert sorted(ids) == list(range(1, 52))  # nothing lost, nothing twice


def test_a_failed_run_leaves_the_target_untouched_and_the_cursor_in_place(
        workdir, run_pipeline, mongo_db) -> None:
    """The source fails after the sink staged rows (a document breaks a `fail` rule): the
    staged documents are dropped, the target is untouched, the cursor does not move, and the
    next run loads every document exactly once."""
    _orders(mongo_db, 30)
    path = workdir / "mongo_fail.yaml"
    path.write_text("""
pipeline:
  name: mongo_fail
  quality:
    validation_rules:
      - {type: range_check, column: amount, min: 0, on_failure: fail}
  steps:
    - extract:
        type: mongodb
        config:
          url: ${env:DTEG_MONGODB_URL}
          collection: shop_orders
          incremental: {cursor: updated_at}
          schema: {order_id: int, amount: double, updated_at: timestamptz}
    - load:
        type: mongodb
        config: {url: '${env:DTEG_MONGODB_URL}', collection: copied, mode: append}
""")
    code, _, out = run_pipeline(path)
    assert code != 0, out
    assert "copied" not in mongo_db.list_collection_names()
    assert not [n for n in mongo_db.list_collection_names() if n.startswith("_dteg_stage")]
    mongo_db.shop_orders.update_one({"order_id": 5}, {"$set": {"amount": 5.0}})
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["loaded"] == 30 and mongo_db.copied.count_documents({}) == 30


# --- failures on a private FerretDB (its own port and state folder; the shared one keeps
# running for the other tests) -----------------------------------------------------------------

PRIVATE_PORT = "57117"


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory, mongodb_server) -> Any:
    """A FerretDB of this module with a user (SCRAM), for the tests that need their own server
    (authentication, the server stopped); started by the service script, wiped at the end."""
    env = {**os.environ, "DTEG_FERRETDB_PORT": PRIVATE_PORT,
           "DTEG_FERRETDB_DIR": str(tmp_path_factory.mktemp("ferretdb")),
           "DTEG_FERRETDB_USER": "dteg", "DTEG_FERRETDB_PASSWORD": "right-horse-battery",
           "DTEG_FERRETDB_DATABASE": "shop"}
    script = str(mongodb_service.SCRIPT)

    def service(command: str) -> None:
        done = subprocess.run([script, command], env=env, text=True, capture_output=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr

    service("start")
    try:
        yield service
    finally:
        service("wipe")


@pytest.fixture
def private_ferretdb(private_server: Any) -> Any:
    """The module's private FerretDB with its `shop` database empty (a test that stops it
    starts it again before it ends)."""
    import pymongo

    client: Any = pymongo.MongoClient(
        f"mongodb://dteg:right-horse-battery@127.0.0.1:{PRIVATE_PORT}/shop")
    try:
        for name in client.shop.list_collection_names():
            client.shop.drop_collection(name)
    finally:
        client.close()
    return private_server


def _write_private(workdir: Path, password: str) -> Path:
    path = workdir / "mongo_private.yaml"
    path.write_text(f"""
pipeline:
  name: mongo_private
  steps:
    - extract:
        type: mongodb
        config:
          url: mongodb://dteg:{password}@127.0.0.1:{PRIVATE_PORT}/shop
          collection: orders
          schema: {{order_id: int, amount: double}}
          connect_timeout: 3
    - load:
        type: mongodb
        config:
          url: mongodb://dteg:{password}@127.0.0.1:{PRIVATE_PORT}/shop
          collection: orders_copy
          mode: merge
          key: order_id
""")
    return path


def test_wrong_password_is_refused_with_one_clear_message(workdir, private_ferretdb) -> None:
    import pymongo

    client: Any = pymongo.MongoClient(
        f"mongodb://dteg:right-horse-battery@127.0.0.1:{PRIVATE_PORT}/shop")
    client.shop.orders.insert_many([{"order_id": i, "amount": 1.0} for i in range(5)])
    client.close()
    path = _write_private(workdir, "wrong-password")
    run = _run_cli(path)
    assert run.returncode != 0
    assert f"MongoDB at 127.0.0.1:{PRIVATE_PORT} refused user `dteg`" in run.stderr, run.stderr
    assert "Authentication failed" in run.stderr and "Traceback" not in run.stderr
    assert "wrong-password" not in run.stderr + run.stdout  # the password is never shown
    good = _run_cli(_write_private(workdir, "right-horse-battery"))
    assert good.returncode == 0, good.stderr
    client = pymongo.MongoClient(
        f"mongodb://dteg:right-horse-battery@127.0.0.1:{PRIVATE_PORT}/shop")
    assert client.shop.orders_copy.count_documents({}) == 5
    client.close()


def test_server_gone_is_a_clear_retriable_error_and_nothing_is_lost(workdir,
                                                                    private_ferretdb) -> None:
    import pymongo

    url = f"mongodb://dteg:right-horse-battery@127.0.0.1:{PRIVATE_PORT}/shop"
    client: Any = pymongo.MongoClient(url)
    client.shop.orders.insert_many([{"order_id": i, "amount": 2.0} for i in range(20)])
    client.close()
    path = _write_private(workdir, "right-horse-battery")
    private_ferretdb("stop")
    run = _run_cli(path)
    assert run.returncode != 0
    assert f"cannot reach MongoDB at 127.0.0.1:{PRIVATE_PORT}" in run.stderr, run.stderr
    assert "scripts/services/ferretdb start" in run.stderr and "Traceback" not in run.stderr
    assert "right-horse-battery" not in run.stderr + run.stdout
    private_ferretdb("start")  # the same state folder: the documents are still there
    again = _run_cli(path)
    assert again.returncode == 0, again.stderr
    client = pymongo.MongoClient(url)
    assert client.shop.orders_copy.count_documents({}) == 20
    client.close()


def test_kill_while_staging_leaves_the_target_untouched(workdir, mongo_db) -> None:
    """SIGKILL while the sink stages documents: nothing reached the target, the cursor did
    not move, and the next run loads every document exactly once (and drops the staging)."""
    import time

    mongo_db.big.insert_many([{"n": i, "at": T0 + dt.timedelta(seconds=i)}
                              for i in range(20_000)])
    path = _pipeline(workdir, "mongo_kill",
                     "          collection: big\n          incremental: {cursor: at}\n"
                     "          projection: {_id: 0}\n          batch_rows: 200",
                     "          collection: copied\n          mode: append")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*DTEG, "run", str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        staged: list[str] = []
        while time.monotonic() < deadline and proc.poll() is None and not staged:
            staged = [n for n in mongo_db.list_collection_names()
                      if n.startswith("_dteg_stage") and mongo_db[n].estimated_document_count()]
            time.sleep(0.1)
        assert staged and proc.poll() is None, "the load never started staging"
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert "copied" not in mongo_db.list_collection_names()
    again = _run_cli(path)
    assert again.returncode == 0, again.stderr
    assert mongo_db.copied.count_documents({}) == 20_000
    assert len(mongo_db.copied.distinct("n")) == 20_000
    assert not [n for n in mongo_db.list_collection_names() if n.startswith("_dteg_stage")]


def test_source_server_gone_mid_read_fails_clearly_and_loses_nothing(
        workdir, mongo_db, mongodb_server) -> None:
    """The source's server goes away in the middle of the read — a proxy in front of it cuts
    every connection after 256 kB of replies (of ~1.2 MB) and refuses new ones — so the cut
    always lands mid-read, however fast the machine: one clear message, the target is
    untouched, and once the server answers again the run loads every document exactly once."""
    from tests.integration.cutting_proxy import CuttingProxy

    mongo_db.big.insert_many([{"n": i, "pad": "x" * 32} for i in range(20_000)])
    # The proxy stands in front of the shared server: the cut is the proxy's, the server stays.
    server = ("127.0.0.1", int(mongodb_server["DTEG_FERRETDB_PORT"]))
    with CuttingProxy(server) as proxy:
        url = f"mongodb://127.0.0.1:{proxy.port}/{mongo_db.name}"
        path = workdir / "mongo_gone.yaml"
        path.write_text(f"""
pipeline:
  name: mongo_gone
  steps:
    - extract:
        type: mongodb
        config: {{url: "{url}", collection: big, projection: {{_id: 0}}, batch_rows: 200,
                  connect_timeout: 3}}
    - load:
        type: mongodb
        config: {{url: "${{env:DTEG_MONGODB_URL}}", collection: copied, mode: append}}
""")
        proxy.cut_after(256 * 1024)
        run = _run_cli(path)
        assert proxy.cut_happened.is_set()
        assert run.returncode != 0, run.stdout
        assert f"MongoDB at 127.0.0.1:{proxy.port}" in run.stderr, run.stderr
        assert ("lost the connection" in run.stderr or "cannot reach" in run.stderr), \
            run.stderr
        assert "Traceback" not in run.stderr
        assert "copied" not in mongo_db.list_collection_names()
        proxy.heal()
        again = _run_cli(path)
    assert again.returncode == 0, again.stderr
    assert mongo_db.copied.count_documents({}) == 20_000
    assert not [n for n in mongo_db.list_collection_names() if n.startswith("_dteg_stage")]
