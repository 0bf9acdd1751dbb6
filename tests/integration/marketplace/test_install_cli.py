"""`dteg search / install / update / uninstall / components list` against a real registry
(`dteg marketplace serve` on FerretDB, artifacts on the S3 server), installing into a throwaway
environment: verified installs, tampered and incompatible artifacts refused, dteg.lock, pip
from the PEP 503 index, and a pipeline that runs after `dteg install -f`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.marketplace import packages
from tests.integration.marketplace.conftest import Env, Registry

pytestmark = pytest.mark.timeout(900)


def _lock(env: Env) -> dict:
    return json.loads((env.workdir / "dteg.lock").read_text())["components"]


def test_search_install_update_uninstall(registry: Registry, env: Env, tmp_path: Path) -> None:
    client, key, key_id = registry.publisher("acme")
    packages.publish(client, key, key_id, tmp_path / "a", packages.manifest(
        "widget-extractor", "1.0.0", category="api", description="Widgets from an API"))
    packages.publish(client, key, key_id, tmp_path / "b", packages.manifest(
        "widget-extractor", "2.0.0", category="api", description="Widgets from an API",
        breaking=[{"version": "2.0.0", "change": "`page_size` is now `batch_size`",
                   "migration": "rename page_size to batch_size in your pipeline"}]))

    found = env.run("search", "widget")
    header, row = found.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "LATEST", "KIND", "RATING", "DOWNLOADS", "TIER", "GATES",
                              "BADGES"]
    assert row.split() == ["widget-extractor", "2.0.0", "extractor", "-", "0", "community",
                           "pass", "-"]
    assert "no component matches" in env.run("search", "no-such-thing-xyz").stdout

    done = env.run("install", "marketplace://widget-extractor@1.0.0")
    assert "installed widget-extractor 1.0.0 (community;" in done.stdout
    assert env.has_package("widget-extractor")
    assert _lock(env)["widget-extractor"]["version"] == "1.0.0"
    # Installed into the throwaway environment, registered through its entry point.
    assert (env.own_site_packages() / "widget_extractor" / "__init__.py").exists()
    listed = env.run("connectors", "list").stdout
    assert "widget-extractor" in listed and "[widget-extractor]" in listed
    components = env.run("components", "list").stdout.splitlines()
    assert components[1].split()[:5] == ["widget-extractor", "1.0.0", "extractor", "community",
                                         "installed"]
    # The download was counted by the registry.
    assert registry.client().downloads("widget-extractor")["total"] == 1

    kept = env.run("update", "marketplace://widget-extractor", stdin="n\n")
    assert "widget-extractor: 1.0.0 → 2.0.0" in kept.stdout
    assert "BREAKING in 2.0.0: `page_size` is now `batch_size`" in kept.stdout
    assert "migration: rename page_size to batch_size" in kept.stdout
    assert "kept widget-extractor 1.0.0" in kept.stdout
    assert _lock(env)["widget-extractor"]["version"] == "1.0.0"

    updated = env.run("update", "marketplace://widget-extractor", "--yes")
    assert "updated widget-extractor to 2.0.0" in updated.stdout
    assert _lock(env)["widget-extractor"]["version"] == "2.0.0"
    assert "everything is up to date" in env.run("update", "--yes").stdout

    env.run("uninstall", "marketplace://widget-extractor")
    assert not env.has_package("widget-extractor")
    assert _lock(env) == {}
    missing = env.run("uninstall", "widget-extractor", check=False)
    assert missing.returncode == 2 and "is not installed through the marketplace" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_tampered_artifact_is_refused(registry: Registry, env: Env, tmp_path: Path) -> None:
    client, key, key_id = registry.publisher("mallory-victim")
    meta = packages.manifest("gadget-extractor", "1.0.0")
    published = packages.publish(client, key, key_id, tmp_path / "pkg", meta)
    wheel = next(a for a in published["artifacts"] if a["kind"] == "wheel")
    # Someone with write access to the bucket swaps the wheel for another one.
    evil = packages.build_wheel(tmp_path, {**meta, "description": "evil twin"})
    registry.s3.client().put_object(
        Bucket=registry.bucket, Key=f"artifacts/gadget-extractor/1.0.0/{wheel['filename']}",
        Body=evil.read_bytes())

    refused = env.run("install", "marketplace://gadget-extractor", check=False)
    assert refused.returncode == 1
    assert "the downloaded file's sha256" in refused.stderr
    assert f"is not the published {wheel['sha256']}" in refused.stderr
    assert "not installed" in refused.stderr and "Traceback" not in refused.stderr
    assert not env.has_package("gadget-extractor")
    assert not (env.workdir / "dteg.lock").exists()


def test_bad_signature_is_refused(registry: Registry, env: Env, tmp_path: Path) -> None:
    """The registry refuses an upload signed with an unregistered key; a registered key that
    signed other bytes is refused too."""
    from dteg.marketplace import signing
    from dteg.marketplace.client import RegistryError

    client, key, key_id = registry.publisher("signer")
    meta = packages.manifest("signed-extractor", "1.0.0")
    wheel, sdist = packages.build_wheel(tmp_path, meta), packages.build_sdist(tmp_path, meta)
    stranger = signing.generate_key()
    for sigs in (packages.sign(stranger, key_id, wheel, sdist),
                 {**packages.sign(key, key_id, sdist),
                  wheel.name: {"key_id": key_id, "signature": key.sign(b"other bytes")}}):
        with pytest.raises(RegistryError) as err:
            client.publish(meta, wheel, sdist, sigs, packages.passing_report("signed-extractor",
                                                                              "1.0.0"))
        assert err.value.status == 400 and err.value.kind == "signature"
        assert "does not match its sha256" in err.value.message


def test_incompatible_version_is_refused_with_the_reason(registry: Registry, env: Env,
                                                         tmp_path: Path) -> None:
    client, key, key_id = registry.publisher("future")
    packages.publish(client, key, key_id, tmp_path / "a",
                     packages.manifest("future-extractor", "1.0.0"))
    packages.publish(client, key, key_id, tmp_path / "b",
                     packages.manifest("future-extractor", "2.0.0", framework=">=9.0"))
    refused = env.run("install", "marketplace://future-extractor@2.0.0", check=False)
    assert refused.returncode == 2
    assert "future-extractor 2.0.0 cannot be installed here: it needs dteg >=9.0, this is " \
        "dteg 0.1.0" in refused.stderr
    assert not env.has_package("future-extractor")
    # Without a pin: the newest version that fits.
    assert "installed future-extractor 1.0.0" in env.run(
        "install", "marketplace://future-extractor").stdout

    packages.publish(client, key, key_id, tmp_path / "c",
                     packages.manifest("ancient-extractor", "1.0.0", python="<3.0"))
    none_fits = env.run("install", "marketplace://ancient-extractor", check=False)
    assert none_fits.returncode == 2
    assert "no version of ancient-extractor can be installed here" in none_fits.stderr
    assert "1.0.0: it needs Python <3.0, this is Python 3." in none_fits.stderr


def test_publish_refusals(registry: Registry, tmp_path: Path) -> None:
    from dteg.marketplace.client import RegistryError

    client, key, key_id = registry.publisher("gatekeeper")
    meta = packages.manifest("gated-extractor", "1.0.0")
    wheel, sdist = packages.build_wheel(tmp_path, meta), packages.build_sdist(tmp_path, meta)
    sigs = packages.sign(key, key_id, wheel, sdist)
    report = packages.passing_report("gated-extractor", "1.0.0")
    report["gates"]["coverage"] = {"status": "fail", "detail": "coverage 60.0 % < 80 %",
                                   "value": 60.0, "threshold": 80.0}
    with pytest.raises(RegistryError) as err:
        client.publish(meta, wheel, sdist, sigs, report)
    assert err.value.status == 422 and "coverage: coverage 60.0 % < 80 %" in err.value.message
    with pytest.raises(RegistryError) as err:
        registry.client("not-a-token").publish(meta, wheel, sdist, sigs, report)
    assert err.value.status == 401
    assert "not-a-token" not in err.value.message  # tokens never echo back
    assert registry.client().latest_version("gated-extractor") is None


def test_pip_installs_from_the_simple_index(registry: Registry, env: Env,
                                            tmp_path: Path) -> None:
    client, key, key_id = registry.publisher("piper")
    packages.publish(client, key, key_id, tmp_path, packages.manifest("pip-extractor", "1.0.0"))
    done = subprocess.run(
        [str(env.python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
         "--index-url", f"{registry.url}/simple/", "pip-extractor==1.0.0"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert env.has_package("pip-extractor")


def test_pipeline_runs_after_install_f(registry: Registry, env: Env, tmp_path: Path) -> None:
    client, key, key_id = registry.publisher("pipeliner")
    packages.publish(client, key, key_id, tmp_path / "pkg",
                     packages.manifest("rows-extractor", "1.2.0"))
    (env.workdir / "in.csv").write_text("id,name\n1,a\n2,b\n3,c\n")
    pipeline = env.workdir / "pipeline.yaml"
    pipeline.write_text("""
pipeline:
  name: market_rows
  components:
    marketplace:
      - {name: rows-extractor, version: "1.2.0", source: "dteg://files/rows"}
  steps:
    - extract: {type: "dteg://rows-extractor", config: {path: in.csv}}
    - load: {type: jsonl, config: {path: out/rows.jsonl}}
""")
    refused = env.run("run", "pipeline.yaml", check=False)
    assert refused.returncode != 0
    assert "`dteg install marketplace://rows-extractor@1.2.0`" in refused.stderr
    env.run("install", "-f", "pipeline.yaml")
    assert _lock(env)["rows-extractor"]["version"] == "1.2.0"
    env.run("run", "pipeline.yaml")
    rows = [json.loads(line) for line in
            (env.workdir / "out" / "rows.jsonl").read_text().splitlines()]
    assert sorted(r["name"] for r in rows) == ["a", "b", "c"]
