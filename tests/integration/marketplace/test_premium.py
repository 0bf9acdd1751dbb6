"""Premium components end to end against a real registry (FerretDB + S3) whose payment
provider is Stripe's official client pointed at stripe-mock: publish a premium component,
install refused without a licence (with how to get one), issue and install a licence, install,
run a pipeline with it, usage recorded, the invoice computed and pushed to stripe-mock; forged
and replayed usage reports and a licence with an altered expiry refused; an expired licence
inside its grace period warns, past it refuses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dteg.marketplace.metering import new_key
from tests.integration.cloud_services import S3Server
from tests.integration.databases import _start as start_service
from tests.integration.marketplace import packages
from tests.integration.marketplace.conftest import ADMIN_TOKEN, Env, Registry, running_registry

pytestmark = pytest.mark.timeout(900)

NAME = "lux-extractor"
PRICING = {"tier": "premium", "price": 49.0, "unit": "month", "currency": "USD"}
PIPELINE = f"""
pipeline:
  name: premium_rows
  steps:
    - extract: {{type: "dteg://{NAME}", config: {{path: in.csv}}}}
    - load: {{type: jsonl, config: {{path: out/rows.jsonl}}}}
"""


@pytest.fixture(scope="module")
def registry(mongodb_url: str, s3_server: S3Server,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The registry with Stripe (on stripe-mock) as its payment provider."""
    stripe = start_service("stripe-mock")
    extra = {"DTEG_MARKETPLACE_STRIPE_KEY": stripe["DTEG_STRIPE_MOCK_KEY"],
             "DTEG_MARKETPLACE_STRIPE_URL": stripe["DTEG_STRIPE_MOCK_URL"]}
    with running_registry(mongodb_url, s3_server, tmp_path_factory.mktemp("registry"),
                          extra) as found:
        yield found


def _api(registry: Registry, method: str, path: str, token: str | None = None,
         **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{registry.url}{path}", headers=headers, timeout=60,
                         **kwargs)


def _issue(registry: Registry, *, expires: dt.date, grace_days: int = 7,
           **more: Any) -> dict[str, Any]:
    body = {"organisation": "acme", "components": [NAME], "seats": 2,
            "expires": expires.isoformat(), "grace_days": grace_days, "kind": "premium",
            "usage_cap": {"runs": 100}, **more}
    done = _api(registry, "POST", "/api/v1/licences", ADMIN_TOKEN, json=body)
    assert done.status_code == 201, done.text
    return dict(done.json())


def _sign(report: dict[str, Any], private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    from dteg.marketplace import signing
    from dteg.marketplace.licences import canonical

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return signing.PublisherKey(key).sign(canonical(report))  # type: ignore[arg-type]


def test_premium_licence_usage_and_invoice(registry: Registry, env: Env, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    period = f"{today.year:04d}-{today.month:02d}"
    client, key, key_id = registry.publisher("luxco")
    published = packages.publish(client, key, key_id, tmp_path / "pkg", packages.manifest(
        NAME, "1.0.0", description="Luxury rows (premium test component)", pricing=PRICING))
    wheel = next(a for a in published["artifacts"] if a["kind"] == "wheel")
    alice = registry.client().create_user("alice", ADMIN_TOKEN, organisation="acme")
    licences_dir = tmp_path / "licences"
    monkeypatch.setenv("DTEG_MARKETPLACE_TOKEN", alice)
    monkeypatch.setenv("DTEG_LICENCE_DIR", str(licences_dir))

    # Search and the component API show the price.
    row = env.run("search", "luxury").stdout.splitlines()[1].split()
    assert row[0] == NAME and row[5] == "premium"
    assert registry.client().component(NAME)["pricing"] == PRICING

    # No licence: the install is refused with the price and how to get one; the registry
    # itself refuses the files (and the index page) to anyone without one.
    refused = env.run("install", f"marketplace://{NAME}", check=False)
    assert refused.returncode == 2, refused.stderr
    assert f"`{NAME}` is a premium component (premium 49.00 USD/month)" in refused.stderr
    assert f"dteg licence request {NAME}" in refused.stderr
    assert "Traceback" not in refused.stderr and not env.has_package(NAME)
    for token in (None, alice):
        files = _api(registry, "GET", wheel["url"], token)
        assert files.status_code == 402, files.text
        assert f"dteg licence request {NAME}" in files.json()["detail"]["message"]
        assert _api(registry, "GET", f"/simple/{NAME}/", token).status_code == 402
    asked = env.run("licence", "request", NAME, "--note", "for the ETL team")
    assert "asked for a licence of lux-extractor" in asked.stdout

    # The admin issues a licence; alice installs it (pins the registry's key), then the
    # component.
    licence = _issue(registry, expires=today + dt.timedelta(days=30))
    lid = licence["licence"]["id"]
    assert _api(registry, "GET", "/api/v1/licence-key").json()["key_id"] == licence["key_id"]
    installed = env.run("licence", "install", lid)
    assert f"installed licence {lid} (premium, {NAME}" in installed.stdout
    assert "valid" in installed.stdout
    done = env.run("install", f"marketplace://{NAME}")
    assert f"licence {lid}" in done.stdout and env.has_package(NAME)
    assert _api(registry, "GET", wheel["url"], alice).status_code == 200

    # A run with it: the licence is checked offline, the usage reported and recorded.
    (env.workdir / "in.csv").write_text("id,name\n1,a\n2,b\n3,c\n")
    (env.workdir / "pipeline.yaml").write_text(PIPELINE)
    env.run("run", "pipeline.yaml")
    assert len((env.workdir / "out" / "rows.jsonl").read_text().splitlines()) == 3
    usage = _api(registry, "GET", f"/api/v1/organisations/acme/usage?period={period}",
                 alice).json()
    assert usage["items"] == [{"component": NAME, "licence": lid, "runs": 1, "rows": 3}]
    assert _api(registry, "GET", "/api/v1/organisations/other/usage", alice).status_code == 403

    # Forged, altered, replayed and misdirected reports are refused and not counted.
    inst = json.loads((licences_dir / f"{lid}.installation.json").read_text())
    report = {"licence": lid, "installation": inst["installation"], "sequence": 2,
              "component": NAME, "run_id": "forged", "runs": 1, "rows": 10_000_000,
              "period": period, "at": today.isoformat()}
    stranger, _ = new_key()
    forged = _api(registry, "POST", "/api/v1/usage",
                  json={"report": report, "signature": _sign(report, stranger)})
    assert forged.status_code == 403 and "does not verify" in forged.text
    good = _sign(report, inst["private_pem"])
    altered = {**report, "rows": 20_000_000}
    assert _api(registry, "POST", "/api/v1/usage",
                json={"report": altered, "signature": good}).status_code == 403
    replay = {**report, "sequence": 1, "rows": 5}
    replayed = _api(registry, "POST", "/api/v1/usage",
                    json={"report": replay, "signature": _sign(replay, inst["private_pem"])})
    assert replayed.status_code == 409 and "replay or out of order" in replayed.text
    other = {**report, "licence": "lic_someone_else"}
    misdirected = _api(registry, "POST", "/api/v1/usage",
                       json={"report": other, "signature": _sign(other, inst["private_pem"])})
    assert misdirected.status_code == 403 and "bound to licence" in misdirected.text
    assert _api(registry, "GET", f"/api/v1/organisations/acme/usage?period={period}",
                alice).json()["items"][0]["rows"] == 3

    # The invoice of the period, pushed to Stripe (stripe-mock) through the provider.
    computed = _api(registry, "POST", f"/api/v1/invoices/compute?period={period}&send=true",
                    ADMIN_TOKEN)
    assert computed.status_code == 200, computed.text
    invoice = next(i for i in computed.json()["items"] if i["licence"] == lid)
    assert invoice["total"] == 49.0 and invoice["currency"] == "USD"
    assert invoice["lines"][0]["runs"] == 1 and invoice["lines"][0]["rows"] == 3
    assert invoice["status"] == "open" and invoice["provider"] == "stripe"
    assert invoice["provider_invoice"].startswith("in_")
    listed = _api(registry, "GET", "/api/v1/organisations/acme/invoices", alice).json()
    assert [i["id"] for i in listed["items"]] == [invoice["id"]]
    licences = _api(registry, "GET", "/api/v1/organisations/acme/licences", alice).json()
    assert licences["items"][0]["status"] == "valid"
    audit = registry.client(ADMIN_TOKEN).audit(target=f"licence:{lid}")
    assert {"licence.issue", "licence.install"} <= {a["action"] for a in audit}

    # A licence whose expiry was pushed out by hand: refused on install and on run.
    kept = licences_dir / f"{lid}.licence.json"
    original = kept.read_text()
    tampered = json.loads(original)
    tampered["licence"]["expires"] = "2099-12-31"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    bad = env.run("licence", "install", str(tmp_path / "tampered.json"), check=False)
    assert bad.returncode == 2 and "TAMPERED" in bad.stderr, bad.stderr
    kept.write_text(json.dumps(tampered))
    bad_run = env.run("run", "pipeline.yaml", check=False)
    assert bad_run.returncode != 0 and "TAMPERED" in bad_run.stderr, bad_run.stderr
    assert "Traceback" not in bad_run.stderr
    kept.write_text(original)

    # Expired two days ago with a week of grace: runs with a warning. Expired a month ago:
    # refused, saying the grace period ended.
    for days_ago, grace in ((2, 7), (30, 7)):
        folder = tmp_path / f"licences-{days_ago}"
        monkeypatch.setenv("DTEG_LICENCE_DIR", str(folder))
        old = _issue(registry, expires=today - dt.timedelta(days=days_ago), grace_days=grace)
        (tmp_path / f"old-{days_ago}.json").write_text(json.dumps(old))
        env.run("licence", "install", str(tmp_path / f"old-{days_ago}.json"))
        ran = env.run("run", "pipeline.yaml", check=False)
        if days_ago == 2:
            assert ran.returncode == 0, ran.stderr
            assert "keeps working until" in ran.stderr and "grace period" in ran.stderr
        else:
            assert ran.returncode != 0
            assert "grace period ended" in ran.stderr and "Traceback" not in ran.stderr


def test_enterprise_seats_are_managed_by_the_organisations_admin(registry: Registry,
                                                                 tmp_path: Path) -> None:
    client, key, key_id = registry.publisher("entco")
    name = "ent-extractor"
    packages.publish(client, key, key_id, tmp_path / "pkg", packages.manifest(
        name, "1.0.0", pricing={"tier": "enterprise"}))
    admin = registry.client()
    boss = admin.create_user("boss", ADMIN_TOKEN, organisation="globex")
    dev = admin.create_user("dev", ADMIN_TOKEN, organisation="globex")
    intern = admin.create_user("intern", ADMIN_TOKEN, organisation="globex")
    outsider = admin.create_user("outsider", ADMIN_TOKEN, organisation="initech")
    issued = _api(registry, "POST", "/api/v1/licences", ADMIN_TOKEN, json={
        "organisation": "globex", "components": [name], "seats": 1, "kind": "enterprise",
        "expires": (dt.date.today() + dt.timedelta(days=90)).isoformat(),
        "admins": ["boss"], "price": {"amount": 1000, "currency": "USD"}})
    assert issued.status_code == 201, issued.text
    lid = issued.json()["licence"]["id"]
    seats = f"/api/v1/licences/{lid}/seats"
    wheel = f"/simple/{name}/"

    assert _api(registry, "POST", seats, dev, json={"assign": ["dev"]}).status_code == 403
    assert _api(registry, "GET", wheel, dev).status_code == 402  # no seat yet
    given = _api(registry, "POST", seats, boss, json={"assign": ["dev"]})
    assert given.status_code == 200 and given.json()["seats_used"] == 1
    assert _api(registry, "GET", wheel, dev).status_code == 200
    full = _api(registry, "POST", seats, boss, json={"assign": ["intern"]})
    assert full.status_code == 409 and "has 1 seats" in full.text
    foreign = _api(registry, "POST", seats, boss, json={"assign": ["outsider"]})
    assert foreign.status_code == 400
    _, public = new_key()
    installs = f"/api/v1/licences/{lid}/installations"
    assert _api(registry, "POST", installs, intern,
                json={"public_key": public}).status_code == 403
    assert _api(registry, "GET", f"/api/v1/licences/{lid}", outsider).status_code == 403
    swapped = _api(registry, "POST", seats, boss, json={"remove": ["dev"], "assign": ["intern"]})
    assert swapped.json()["assigned"] == ["intern"]
    listed = _api(registry, "GET", "/api/v1/organisations/globex/licences", boss).json()
    assert listed["items"][0]["seats_used"] == 1 and listed["items"][0]["kind"] == "enterprise"
    audit = registry.client(ADMIN_TOKEN).audit(target=f"licence:{lid}")
    assert [a["action"] for a in audit].count("licence.seats") == 2
