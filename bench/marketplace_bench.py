"""Marketplace bench: `dteg search` latency with 1,000 components in the registry, and `dteg
install` of a small component against `pip install` of the same wheel from the registry's PEP
503 index.

A real registry (`dteg marketplace serve`, a subprocess) on FerretDB (DTEG_MONGODB_URL, e.g.
from scripts/services/ferretdb env) with folder artifacts. 1,000 components are written straight
into its database (the bench measures search, not 1,000 publishes); the installed component is
published through the registry's real publish route (signed). Baselines, in the same run:
search: the same query as one pymongo read of every component document (what ranking and HTTP
add); install: `pip install --index-url REGISTRY/simple/ NAME==1.0.0` (pip checks the
`#sha256=` of the link; dteg also checks the Ed25519 signature, the compatibility and writes the
lock). Installs go into throwaway venvs (the shared one is untouched), pairs run A B A B.

    eval "$(scripts/services/ferretdb env)"
    PYTHONPATH=. .venv/bin/python bench/marketplace_bench.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.cloud_services import free_port  # noqa: E402
from tests.integration.marketplace import packages  # noqa: E402

ADMIN = "bench-admin-" + uuid.uuid4().hex


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def start_registry(mongo: str, database: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "DTEG_MONGODB_URL": mongo,
           "DTEG_MARKETPLACE_ADMIN_TOKEN": ADMIN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dteg.cli", "marketplace", "serve", "--port", str(port),
         "--database", database, "--artifacts", str(work / "artifacts")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/simple/", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the registry did not start within 180 s")


def fill(mongo: str, database: str, count: int) -> None:
    """``count`` component documents, as publishes would leave them."""
    import pymongo

    client: Any = pymongo.MongoClient(mongo)
    now = dt.datetime.now(dt.timezone.utc)
    kinds = ("extractor", "loader", "transformer", "processor")
    cats = ("streaming", "database", "api", "files", "saas")
    docs = [{"_id": f"bench-{kinds[i % 4]}-{i:04d}", "name": f"bench-{kinds[i % 4]}-{i:04d}",
             "package": f"bench-{kinds[i % 4]}-{i:04d}", "kind": kinds[i % 4],
             "category": cats[i % 5], "description": f"Bench component {i} for {cats[i % 5]} "
             f"({'kafka' if i % 10 == 0 else 'other'} systems)", "author": "bench",
             "publisher": "bench", "keywords": [], "latest_version": "1.0.0",
             "downloads": i * 7, "rating": (i % 50) / 10.0, "tier": "community",
             "gates": {g: "pass" for g in ("manifest", "semver", "docs", "coverage",
                                           "security", "performance")},
             "updated_at": now - dt.timedelta(days=i % 365)} for i in range(count)]
    client[database].components.insert_many(docs)
    client.close()


def throwaway_env(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                          "['purelib'])"], capture_output=True, text=True,
                         check=True).stdout.strip()
    shared = sysconfig.get_paths()["purelib"]
    Path(own, "shared-venv.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    return python


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-1500:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    mongo = os.environ.get("DTEG_MONGODB_URL")
    if not mongo:
        raise SystemExit("set DTEG_MONGODB_URL (eval \"$(scripts/services/ferretdb env)\")")
    import pymongo

    from dteg.marketplace import signing
    from dteg.marketplace.client import RegistryClient

    work = Path(tempfile.mkdtemp(prefix="mkt-bench-"))
    database = f"bench_{uuid.uuid4().hex[:8]}"
    proc, url = start_registry(mongo, database, work)
    try:
        fill(mongo, database, args.components)
        admin = RegistryClient(url)
        token = admin.create_publisher("bench", ADMIN)
        client = RegistryClient(url, token)
        key = signing.generate_key()
        key_id = client.add_publisher_key("bench", key.public_b64)["key_id"]
        packages.publish(client, key, key_id, work / "pkg",
                         packages.manifest("small-extractor", "1.0.0"))

        # --- search: API latency, then the CLI's wall time, against a raw pymongo read ---
        queries = ["kafka", "streaming loader", "api", "bench 42", "files extractor"]
        api, raw = [], []
        db: Any = pymongo.MongoClient(mongo)[database]
        for i in range(args.queries):
            q = queries[i % len(queries)]
            t0 = time.perf_counter()
            list(db.components.find({}))
            raw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hits = admin.search(q)
            api.append(time.perf_counter() - t0)
            assert hits, q
        env = {**os.environ, "PYTHONPATH": str(REPO), "DTEG_MARKETPLACE_URL": url}
        cli = [timed([sys.executable, "-m", "dteg.cli", "search", "kafka"], work, env)
               for _ in range(args.cli_runs)]
        print(f"search, {args.components + 1} components, {args.queries} queries:")
        print(f"  API /api/v1/search  p50 {statistics.median(api) * 1000:7.1f} ms  "
              f"p95 {p95(api) * 1000:7.1f} ms")
        print(f"  baseline pymongo find(all)  p50 {statistics.median(raw) * 1000:7.1f} ms  "
              f"p95 {p95(raw) * 1000:7.1f} ms  → API/baseline p95 ratio "
              f"{p95(api) / p95(raw):.2f}")
        print(f"  `dteg search kafka` wall ({args.cli_runs} runs)  p50 "
              f"{statistics.median(cli):.2f} s  p95 {p95(cli):.2f} s")

        # --- install: dteg install vs pip install from the simple index, A B A B ---
        dteg_times, pip_times = [], []
        for pair in range(args.pairs):
            for variant in ("dteg", "pip"):
                root = work / f"env-{variant}-{pair}"
                python = throwaway_env(root)
                (root / "work").mkdir()
                if variant == "dteg":
                    dteg_times.append(timed(
                        [str(python), "-m", "dteg.cli", "install",
                         "marketplace://small-extractor"], root / "work",
                        {**env, "PIP_NO_INDEX": "1"}))
                else:
                    pip_times.append(timed(
                        [str(python), "-m", "pip", "install", "--quiet",
                         "--disable-pip-version-check", "--index-url", f"{url}/simple/",
                         "small-extractor==1.0.0"], root / "work", env))
                shutil.rmtree(root)
        d, p = statistics.median(dteg_times), statistics.median(pip_times)
        print(f"install small-extractor (A B A B × {args.pairs}):")
        print(f"  dteg install  median {d:.2f} s  runs {[round(x, 2) for x in dteg_times]}")
        print(f"  pip install   median {p:.2f} s  runs {[round(x, 2) for x in pip_times]}")
        print(f"  dteg/pip ratio {d / p:.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        pymongo.MongoClient(mongo).drop_database(database)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
