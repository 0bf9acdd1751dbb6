"""Kafka JSON → mask → Parquet: `dteg stream` against a hand-written confluent-kafka loop.

Both run on the same broker (scripts/services/kafka) in one invocation, each as its own
subprocess, each with a fresh consumer group:

  dteg      ``dteg stream bench/pipelines/kafka_json_mask_parquet.yaml --max-records N``
            (micro-batches of bounded Beam runs on the embedded FnApiRunner)
  prism     (with ``--runner prism``) ``dteg stream … --runner prism``: ONE unbounded Beam
            pipeline on a private Prism job server (Kafka as a splittable DoFn, a commit
            per bundle, offsets from bundle finalization)
  baseline  ``bench/baselines/kafka_consume_loop.py``: consume, pyarrow JSON, hmac, one
            Parquet part per batch, synchronous offset commit after each part

1. Throughput: a topic pre-filled with N orders (cached between invocations); each variant
   reads all of it. Reported: wall msgs/s (process start to exit, start-up included) and
   active msgs/s (first batch to last commit), median of --repeat runs, interleaved.
2. Latency: an empty topic, the variant started and idle, then a producer writes
   --rate msgs/s for --seconds; reported: p50/p99 of Kafka timestamp → offsets committed.

Target: dteg ≥ 50 % of the baseline's throughput.

    .venv/bin/python bench/kafka_stream.py [--rows 1000000] [--repeat 3] [--rate 10000]
        [--runner prism]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import benchlib
from benchlib import BENCH_DIR, DTEG, PYTHON, REPO

PIPELINE = BENCH_DIR / "pipelines" / "kafka_json_mask_parquet.yaml"
BASELINE = BENCH_DIR / "baselines" / "kafka_consume_loop.py"
MASK_KEY = "bench-hmac-key-2026"
PARTITIONS = 4
TARGET_RATIO = 0.5
COUNTRIES = ["kr", "jp", "us", "br", "de", "fr", "gb", "vn", "in", "es"]


def bootstrap() -> str:
    script = REPO / "scripts" / "services" / "kafka"
    started = subprocess.run([str(script), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        sys.exit(f"scripts/services/kafka start failed:\n{started.stderr}")
    for line in subprocess.run([str(script), "env"], capture_output=True,
                               text=True).stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ[key] = value
    return os.environ["DTEG_KAFKA_BOOTSTRAP_SERVERS"]


def order(i: int, rng: random.Random) -> bytes:
    return json.dumps({
        "id": i, "email": f"user{i}.{rng.randint(1, 99999)}@example.com",
        "name": f"Customer {i}", "phone": f"+82-10-{rng.randint(1000, 9999)}-{i % 10000:04d}",
        "country": rng.choice(COUNTRIES), "amount": round(rng.uniform(-50, 500), 2),
        "created_at": "2026-11-26T10:00:00Z"}).encode()


def producer(servers: str) -> object:
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": servers, "linger.ms": 5, "acks": "all",
                     "enable.idempotence": True, "batch.size": 1_000_000})


def ensure_topic(servers: str, rows: int) -> str:
    """A topic holding exactly ``rows`` orders over PARTITIONS partitions (made once)."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"dteg-bench-orders-{rows}"
    admin = AdminClient({"bootstrap.servers": servers})
    if name in admin.list_topics(timeout=10).topics:
        consumer = Consumer({"bootstrap.servers": servers, "group.id": "bench-probe"})
        ends = [consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                for p in range(PARTITIONS)]
        consumer.close()
        if sum(ends) == rows:
            return name
        admin.delete_topics([name])[name].result()
        time.sleep(2)
    admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result()
    print(f"filling {name} with {rows:,} orders ...", file=sys.stderr)
    p = producer(servers)
    rng = random.Random(20261126)
    for i in range(rows):
        while True:
            try:
                p.produce(name, order(i, rng), key=str(i).encode())  # type: ignore[attr-defined]
                break
            except BufferError:
                p.poll(0.1)  # type: ignore[attr-defined]
        if i % 20_000 == 0:
            p.poll(0)  # type: ignore[attr-defined]
    p.flush(120)  # type: ignore[attr-defined]
    return name


def command(variant: str, servers: str, topic: str, output: Path, records: int,
            stats: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "BENCH_MASK_KEY": MASK_KEY, "BENCH_TOPIC": topic,
           "BENCH_GROUP": f"bench-{uuid.uuid4().hex[:8]}", "BENCH_OUTPUT": f"{output}/"}
    if variant in ("dteg", "prism"):
        if os.environ.get("DTEG_BENCH_TREE"):  # measure another dteg source tree (before/after)
            env["PYTHONPATH"] = os.environ["DTEG_BENCH_TREE"]
        runner = ["--runner", "prism"] if variant == "prism" else []
        return [DTEG, "stream", str(PIPELINE), "--max-records", str(records), "--quiet",
                "--report-json", str(stats), *runner], env
    return [PYTHON, str(BASELINE), "--bootstrap", servers, "--topic", topic,
            "--group", env["BENCH_GROUP"], "--output", str(output), "--max-records",
            str(records), "--stats", str(stats)], env


def parquet_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))


def id_email(folder: Path) -> object:
    import pyarrow.parquet as pq

    table = pq.ParquetDataset(sorted(folder.glob("*.parquet"))).read(columns=["id", "email"])
    return table.sort_by("id").combine_chunks()


def throughput(servers: str, topic: str, rows: int, repeat: int, work: Path,
               variants: tuple[str, ...]) -> dict:
    results: dict[str, list[dict]] = {v: [] for v in variants}
    outputs: dict[str, Path] = {}
    for i in range(repeat):
        for variant in variants:
            out = work / f"{variant}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            stats = work / f"{variant}-{i}.json"
            cmd, env = command(variant, servers, topic, out, rows, stats)
            m = benchlib.measure(cmd, env, work / f"{variant}-{i}.log", cwd=work)
            if m.returncode != 0:
                sys.exit(f"{variant} failed (exit {m.returncode}):\n{benchlib.log_tail(m.log)}")
            data = json.loads(stats.read_text())
            written = parquet_rows(out)
            results[variant].append({"wall": m.seconds, "cpu": m.cpu_seconds,
                                     "rss": m.peak_rss_mb, "active": data["active_seconds"],
                                     "written": written})
            outputs[variant] = out
            print(f"  {variant:<9} run {i + 1}/{repeat}: {m.seconds:6.2f} s wall, "
                  f"{data['active_seconds']:6.2f} s active, {written:,} rows", file=sys.stderr)
    expected = id_email(outputs["baseline"])
    same = all(id_email(outputs[v]).equals(expected)  # type: ignore[attr-defined]
               for v in variants if v != "baseline")
    return {"runs": results, "same_contents": same}


def latency(servers: str, rate: int, seconds: float, work: Path,
            variants: tuple[str, ...]) -> dict:
    from confluent_kafka.admin import AdminClient, NewTopic

    found: dict = {}
    total = int(rate * seconds)
    for variant in variants:
        topic = f"dteg-bench-latency-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": servers})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result()
        out = work / f"latency-{variant}"
        out.mkdir(parents=True, exist_ok=True)
        stats = work / f"latency-{variant}.json"
        cmd, env = command(variant, servers, topic, out, total, stats)
        log = open(work / f"latency-{variant}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(8)  # start-up: imports, broker connection, graph build; then it idles
        paced(servers, topic, rate, total)
        proc.wait(300)
        log.close()
        if proc.returncode != 0:
            sys.exit(f"{variant} latency run failed:\n{benchlib.log_tail(log.name)}")  # type: ignore[arg-type]
        data = json.loads(stats.read_text())
        found[variant] = {"p50": data["latency_p50_seconds"],
                          "p99": data["latency_p99_seconds"], "records": total}
        admin.delete_topics([topic])
        print(f"  {variant:<9} latency at {rate:,} msgs/s: p50 {found[variant]['p50']:.3f} s, "
              f"p99 {found[variant]['p99']:.3f} s", file=sys.stderr)
    return {**found, "rate": rate, "seconds": seconds, "variants": variants}


def paced(servers: str, topic: str, rate: int, total: int) -> None:
    """Produce ``total`` orders at ``rate`` per second (in 10 ms steps)."""
    p = producer(servers)
    rng = random.Random(1)
    step = max(rate // 100, 1)
    started = time.monotonic()
    sent = 0
    stop = threading.Event()
    while sent < total and not stop.is_set():
        for _ in range(min(step, total - sent)):
            p.produce(topic, order(sent, rng))  # type: ignore[attr-defined]
            sent += 1
        p.poll(0)  # type: ignore[attr-defined]
        ahead = started + sent / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    p.flush(60)  # type: ignore[attr-defined]


def report(rows: int, tp: dict | None, lat: dict | None, repeat: int) -> bool:
    if tp is None:
        print_latency(lat)
        return True
    med = {v: {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "active",
                                                                   "rss")}
           for v, runs in tp["runs"].items()}
    print(f"\nKafka JSON → mask → Parquet, {rows:,} messages, {PARTITIONS} partitions, "
          f"median of {repeat}")
    print(f"{'variant':<10}{'wall s':>8}{'CPU s':>8}{'wall msgs/s':>13}{'active s':>10}"
          f"{'active msgs/s':>15}{'peak RSS MB':>13}{'rows':>11}")
    for v, m in med.items():
        written = tp["runs"][v][-1]["written"]
        print(f"{v:<10}{m['wall']:>8.2f}{m['cpu']:>8.2f}{rows / m['wall']:>13,.0f}"
              f"{m['active']:>10.2f}{rows / m['active']:>15,.0f}{m['rss']:>13.0f}{written:>11,}")
    ok = all(r["written"] >= rows for runs in tp["runs"].values() for r in runs)
    wall = med["baseline"]["wall"] / med["dteg"]["wall"]
    active = med["baseline"]["active"] / med["dteg"]["active"]
    verdict = "meets" if wall >= TARGET_RATIO else "MISSES"
    print(f"\ndteg / baseline throughput: {wall:.0%} wall (start-up included), {active:.0%} "
          f"active (target ≥ {TARGET_RATIO:.0%} on wall: {verdict})")
    if "prism" in med:
        print(f"prism / baseline throughput: {med['baseline']['wall'] / med['prism']['wall']:.0%}"
              f" wall; prism / dteg (micro-batch): {med['dteg']['wall'] / med['prism']['wall']:.0%}"
              f" wall, {med['dteg']['active'] / med['prism']['active']:.0%} active")
    print("content check: " + ("same (id, hashed email) pairs" if tp["same_contents"]
                               else "DIFFERENT outputs"))
    print_latency(lat)
    return ok and tp["same_contents"] and wall >= TARGET_RATIO


def print_latency(lat: dict | None) -> None:
    if not lat:
        return
    print(f"\nend-to-end latency, {lat['rate']:,} msgs/s for {lat['seconds']:g} s "
          "(Kafka timestamp → every sink committed and offsets committed):")
    for v in lat["variants"]:
        d = lat[v]
        print(f"  {v:<10} p50 {d['p50']:.3f} s   p99 {d['p99']:.3f} s   ({d['records']:,} msgs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=int, default=10_000, help="latency run: msgs/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="latency run: length")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--runner", choices=["direct", "prism"], default="direct",
                        help="prism: also run `dteg stream --runner prism` (one unbounded "
                        "Beam pipeline on Prism) in every round")
    args = parser.parse_args(argv)
    variants = ("dteg", "prism", "baseline") if args.runner == "prism" else ("dteg", "baseline")
    servers = bootstrap()
    topic = ensure_topic(servers, args.rows)
    work = benchlib.workdir("kafka_stream")
    print(benchlib.machine_note(), file=sys.stderr)
    tp = None if args.no_throughput else throughput(servers, topic, args.rows, args.repeat,
                                                    work, variants)
    lat = None if args.no_latency else latency(servers, args.rate, args.seconds, work,
                                               variants)
    ok = report(args.rows, tp, lat, args.repeat)
    print(benchlib.machine_note())
    if args.keep:
        print(f"\noutputs and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
