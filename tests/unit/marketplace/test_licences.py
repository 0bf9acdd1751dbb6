"""Pricing in the manifest, licences checked offline (signature, components, expiry and
grace, cap, pinned key) and signed usage reports — no network."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dteg.errors import SpecError
from dteg.marketplace import licences, metering, signing
from dteg.marketplace.manifest import Pricing, parse_manifest

REGISTRY = "http://registry.test"
TODAY = dt.date(2026, 12, 2)


def _manifest(pricing: Any) -> dict[str, Any]:
    return {"name": "lux", "version": "1.0.0", "author": "a", "description": "d",
            "kind": "extractor", "category": "files", "pricing": pricing, "package": "lux",
            "provides": [{"kind": "source", "name": "lux"}],
            "compatibility": {"framework_versions": ">=0.1"},
            "performance": {"min_rows_per_second": 1}}


def test_pricing_tiers_and_their_errors() -> None:
    assert parse_manifest(_manifest("free")).pricing.tier == "free"
    premium = parse_manifest(_manifest({"tier": "premium", "price": 2.5,
                                        "unit": "million_rows", "currency": "EUR"})).pricing
    assert premium.label() == "premium 2.50 EUR/million rows"
    assert Pricing(tier="enterprise").label() == "enterprise"
    with pytest.raises(SpecError, match="premium component needs `price` and `unit`"):
        parse_manifest(_manifest({"tier": "premium"}))
    with pytest.raises(SpecError, match="free component has no `price`"):
        parse_manifest(_manifest({"tier": "free", "price": 3, "unit": "month"}))
    with pytest.raises(SpecError, match="currency"):
        parse_manifest(_manifest({"tier": "premium", "price": 3, "unit": "month",
                                  "currency": "dollars"}))


def _issue(folder: Path, key: signing.PublisherKey, **fields: Any) -> licences.Licence:
    payload = {"id": "lic_1", "organisation": "acme", "components": ["lux"], "seats": 1,
               "expires": "2026-12-31", "usage_cap": None, "grace_days": 7,
               "kind": "premium", "issued_at": "2026-12-01T00:00:00+00:00", **fields}
    lic = licences.Licence(payload, key.sign(licences.canonical(payload)),
                           key.key_id("registry"), REGISTRY)
    licences.save_licence(lic, folder)
    return lic


@pytest.fixture
def key(tmp_path: Path) -> signing.PublisherKey:
    made = signing.generate_key()
    licences.pin_key(REGISTRY, {"key_id": made.key_id("registry"),
                                "public_key": made.public_b64}, tmp_path)
    return made


def test_a_valid_licence_covers_its_components_only(tmp_path: Path,
                                                    key: signing.PublisherKey) -> None:
    _issue(tmp_path, key)
    verdict = licences.check_component("lux", folder=tmp_path, on=TODAY)
    assert verdict.status == "valid" and verdict.warning is None
    with pytest.raises(licences.LicenceRefused, match=r"premium component .* none in"):
        licences.check_component("other", folder=tmp_path, on=TODAY, price="premium 1/month")


def test_expiry_then_grace_then_refusal(tmp_path: Path, key: signing.PublisherKey) -> None:
    _issue(tmp_path, key, expires="2026-11-28", grace_days=7)
    verdict = licences.check_component("lux", folder=tmp_path, on=TODAY)
    assert verdict.status == "grace" and "keeps working until 2026-12-05" in str(
        verdict.warning)
    with pytest.raises(licences.LicenceRefused, match="grace period ended on 2026-12-05"):
        licences.check_component("lux", folder=tmp_path, on=dt.date(2026, 12, 6))


def test_an_altered_field_is_tampered(tmp_path: Path, key: signing.PublisherKey) -> None:
    _issue(tmp_path, key)
    path = tmp_path / "lic_1.licence.json"
    data = json.loads(path.read_text())
    data["licence"]["expires"] = "2099-01-01"
    path.write_text(json.dumps(data))
    with pytest.raises(licences.LicenceRefused, match="TAMPERED"):
        licences.check_component("lux", folder=tmp_path, on=TODAY)


def test_a_licence_of_another_key_and_a_changed_registry_key(
        tmp_path: Path, key: signing.PublisherKey) -> None:
    _issue(tmp_path, signing.generate_key())  # not signed by the pinned registry key
    with pytest.raises(licences.LicenceRefused, match="TAMPERED"):
        licences.check_component("lux", folder=tmp_path, on=TODAY)
    other = signing.generate_key()
    with pytest.raises(licences.LicenceRefused, match="now presents licence key"):
        licences.pin_key(REGISTRY, {"key_id": other.key_id("registry"),
                                    "public_key": other.public_b64}, tmp_path)


def test_the_usage_cap_refuses_once_reached(tmp_path: Path, key: signing.PublisherKey) -> None:
    _issue(tmp_path, key, usage_cap={"runs": 2, "per": "month"})
    pem, _ = metering.new_key()
    inst = metering.Installation("lic_1", "inst_1", REGISTRY, pem)
    for _ in range(2):
        licences.check_component("lux", folder=tmp_path, usage=metering.usage_of(tmp_path))
        metering.signed_report(inst, "lux", "run", 10)
        inst.save(tmp_path)
    with pytest.raises(licences.LicenceRefused, match="usage cap of 2 runs"):
        licences.check_component("lux", folder=tmp_path, usage=metering.usage_of(tmp_path))


def test_usage_reports_are_signed_and_sequenced(tmp_path: Path) -> None:
    pem, public = metering.new_key()
    inst = metering.Installation("lic_1", "inst_1", REGISTRY, pem)
    first = metering.signed_report(inst, "lux", "r1", 3)
    second = metering.signed_report(inst, "lux", "r2", 4)
    assert (first["report"]["sequence"], second["report"]["sequence"]) == (1, 2)
    assert signing.verify(public, first["signature"], licences.canonical(first["report"]))
    forged = {**first["report"], "rows": 3_000_000}
    assert not signing.verify(public, first["signature"], licences.canonical(forged))
    inst.save(tmp_path)
    assert (tmp_path / "lic_1.installation.json").stat().st_mode & 0o077 == 0
    loaded = metering.Installation.load("lic_1", tmp_path)
    assert loaded is not None and loaded.sequence == 2
    assert loaded.used(first["report"]["period"]) == {"rows": 7, "runs": 2}


def test_undelivered_reports_wait_in_order(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pem, _ = metering.new_key()
    # A registry that is not there (a closed local port): the reports are kept, in order.
    metering.Installation("lic_1", "inst_1", f"http://127.0.0.1:{port}", pem).save(
        tmp_path)
    metering.record_run("lic_1", "lux", "r1", 3, tmp_path)
    metering.record_run("lic_1", "lux", "r2", 5, tmp_path)
    kept = metering.Installation.load("lic_1", tmp_path)
    assert kept is not None and kept.sequence == 2
    assert [e["report"]["sequence"] for e in kept.spool or []] == [1, 2]
    assert "kept for later" in capsys.readouterr().err
