"""The marketplace pages in the browser, over a real registry (``dteg marketplace serve`` on
FerretDB, artifacts in a folder) with three components from two publishers, and a real
``dteg server`` configured for it: search with filters, a component page (documentation
rendered from its sdist's docs without running the publisher's HTML, versions, gates,
install command, the rating two reviews gave), its publisher, the organisation admin's
licence and usage pages, what a viewer may not see, and the error state once the registry is
gone (the last test: it stops this module's registry). Screenshots land with the others.

One registry and one server for the module; the pages are compared with the API's answers."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.browser.conftest import Api, Server, running_server, scenario_runner
from tests.integration.cloud_services import free_port
from tests.integration.databases import _start as start_service
from tests.integration.marketplace import packages
from tests.integration.marketplace.conftest import wait_until_serving
from tests.integration.service_guard import service_unavailable

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "browser-registry-admin-" + uuid.uuid4().hex
ORG = "acme-data"
# Publisher-written documentation, with HTML and a script link that must stay text.
OVERVIEW = """# CSV widgets

Reads **widget** files with `dteg://csv-widgets`. See [the guide](https://example.org/guide).

<script>window.__pwned = 1</script>
<img src="x" onerror="window.__pwned = 2">

[click me](javascript:window.__pwned=3)
"""
CONFIGURATION = """## Configuration

| key | meaning |
|-----|---------|
| path | the file to read |

```yaml
extract:
  type: csv-widgets
  config: {path: data/widgets.csv}
```
"""
EXAMPLES = "- read one file\n- read a folder\n"
TROUBLESHOOTING = "> A missing file fails the step with its path.\n"


@dataclass
class Registry:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None) -> Any:
        from dteg.marketplace.client import RegistryClient

        return RegistryClient(self.url, token or ADMIN_TOKEN)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def _mongodb_url() -> str:
    given = os.environ.get("DTEG_MONGODB_URL")
    if given:
        return given
    if not (REPO / "scripts" / "services" / "ferretdb").exists():
        service_unavailable("no MongoDB-protocol server: DTEG_MONGODB_URL is not set and "
                            "scripts/services/ferretdb is missing")
    return start_service("ferretdb")["DTEG_MONGODB_URL"]


def _sdist_with_docs(folder: Path, meta: dict[str, Any]) -> Path:
    """An sdist holding the manifest's four documentation sections (docs/*.md)."""
    name, version = meta["name"], meta["version"]
    root = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{root}.tar.gz"
    files = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             "dteg-component.yaml": yaml.safe_dump(meta),
             "docs/overview.md": OVERVIEW, "docs/configuration.md": CONFIGURATION,
             "docs/examples.md": EXAMPLES, "docs/troubleshooting.md": TROUBLESHOOTING}
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _publish(client: Any, key: Any, key_id: str, folder: Path, meta: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    wheel, sdist = packages.build_wheel(folder, meta), _sdist_with_docs(folder, meta)
    client.publish(meta, wheel, sdist, packages.sign(key, key_id, wheel, sdist),
                   packages.passing_report(meta["name"], meta["version"]))


def _seed(registry: Registry, folder: Path) -> None:
    """acme (verified) publishes csv-widgets 1.0.0 and 1.1.0 and sheet-loader; dteg (official)
    publishes duck-writer. Two users of the organisation review csv-widgets (5 and 4)."""
    from dteg.marketplace import signing

    admin = registry.client()
    for publisher, official in (("acme", False), ("dteg", True)):
        token = admin.create_publisher(publisher, ADMIN_TOKEN, official=official)
        client = registry.client(token)
        key = signing.generate_key()
        key_id = client.add_publisher_key(publisher, key.public_b64)["key_id"]
        registry.tokens[publisher] = token
        metas = ([packages.manifest("csv-widgets", "1.0.0", category="files",
                                    description="Widget CSV files as a dteg source"),
                  packages.manifest("csv-widgets", "1.1.0", category="files",
                                    description="Widget CSV files as a dteg source")]
                 if publisher == "acme" else
                 [packages.manifest("duck-writer", "0.3.0", kind="loader",
                                    category="database",
                                    description="Loads batches into DuckDB tables")])
        for meta in metas:
            if meta["kind"] == "loader":
                meta["provides"] = [{"kind": "sink", "name": meta["name"]}]
            _publish(client, key, key_id, folder / publisher, meta)
    admin.verify_publisher("acme", True)
    for user, stars in (("alice", 5), ("bob", 4)):
        token = admin.create_user(user, ADMIN_TOKEN, organisation=ORG)
        registry.tokens[user] = token
        registry.client(token)._request(
            "PUT", "/api/v1/components/csv-widgets/reviews/mine",
            json={"rating": stars, "text": f"{user}: works on our widget files"})
    # The server reads the organisation's pages as olga, a user of the organisation.
    registry.tokens["org-admin"] = admin.create_user("olga", ADMIN_TOKEN, organisation=ORG)
    _issue_licence(registry)


def _issue_licence(registry: Registry) -> None:
    """An enterprise licence for the organisation, where the registry issues licences (one
    without the route leaves the licence page saying so)."""
    import httpx

    answer = httpx.post(f"{registry.url}/api/v1/licences", timeout=60,
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                        json={"organisation": ORG, "components": ["duck-writer"], "seats": 5,
                              "expires": "2099-12-31", "kind": "enterprise",
                              "admins": ["olga"]})
    if answer.status_code in (404, 405) and "type" not in str(answer.json().get("detail")):
        return
    assert answer.status_code == 201, answer.text
    registry.tokens["licence"] = answer.json()["licence"]["id"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[Registry]:
    mongodb = _mongodb_url()
    root = tmp_path_factory.mktemp("market")
    port, database = free_port(), f"mktui_{uuid.uuid4().hex[:10]}"
    log = artifacts / "marketplace-registry.log"
    # DTEG_TEST_REGISTRY_SOURCE: run the registry from another checkout (a branch's).
    source = os.environ.get("DTEG_TEST_REGISTRY_SOURCE") or str(REPO)
    env = {**os.environ, "PYTHONPATH": source, "DTEG_MONGODB_URL": mongodb,
           "DTEG_MARKETPLACE_ADMIN_TOKEN": ADMIN_TOKEN}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dteg.cli", "marketplace", "serve", "--port", str(port),
             "--database", database, "--artifacts", str(root / "artifacts")],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    started = Registry(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_serving(started.url, process, log)
        _seed(started, root / "build")
        yield started
    finally:
        started.stop()
        import pymongo

        client: Any = pymongo.MongoClient(mongodb, serverSelectionTimeoutMS=10_000)
        client.drop_database(database)
        client.close()


@pytest.fixture(scope="module")
def market_server(registry: Registry, tmp_path_factory: pytest.TempPathFactory,
                  node: str, artifacts: Path) -> Iterator[Server]:
    env = {"DTEG_MARKETPLACE_URL": registry.url, "DTEG_MARKETPLACE_ORG": ORG,
           "DTEG_MARKETPLACE_ORG_TOKEN": registry.tokens["org-admin"],
           "DTEG_MARKETPLACE_TOKEN": ""}
    with running_server(tmp_path_factory.mktemp("market-server"), artifacts,
                        "marketplace-server.log", env=env) as server:
        yield server


@pytest.fixture(scope="module")
def market(market_server: Server, chromium: str, node: str, artifacts: Path) -> Any:
    return scenario_runner(market_server, chromium, node, artifacts)


def test_search_lists_every_component_and_the_filters_narrow_it(
        market: Any, market_server: Server, registry: Registry) -> None:
    api = market_server.api.get("/marketplace/search")
    loaders = market_server.api.get("/marketplace/search?kind=loader")
    certified = market_server.api.get("/marketplace/search?q=widget&badge=certified")
    assert {h["name"] for h in api["results"]} == {"csv-widgets", "duck-writer"}
    assert [h["name"] for h in loaders["results"]] == ["duck-writer"]
    assert [h["name"] for h in certified["results"]] == ["csv-widgets"]
    result = market("marketplace_search", all=2, kind="loader", kindCount=1, text="widget",
                    textCount=1, badge="certified", badgeCount=1)
    assert result["registry"] == registry.url
    assert [h["name"] for h in result["all"]] == [h["name"] for h in api["results"]]
    shown = {h["name"]: h for h in result["all"]}
    assert shown["duck-writer"]["tier"] == "official"
    widgets = shown["csv-widgets"]
    assert float(widgets["rating"]) == 4.5 and widgets["ratingCount"] == "2"
    assert "certified" in shown["csv-widgets"]["badges"]
    assert shown["csv-widgets"]["pricing"] == "free"
    assert [h["name"] for h in result["byKind"]] == ["duck-writer"]
    assert [h["name"] for h in result["byText"]] == ["csv-widgets"]
    assert [h["name"] for h in result["byBadge"]] == ["csv-widgets"]


def test_component_page_renders_docs_safely_with_versions_gates_rating_and_install(
        market: Any, market_server: Server, registry: Registry) -> None:
    api = market_server.api.get("/marketplace/components/csv-widgets")
    reviews = market_server.api.get("/marketplace/components/csv-widgets/reviews")
    result = market("marketplace_component", component="csv-widgets")
    # The registry kept the four sections at publish; the page shows that text.
    kept = registry.client().version("csv-widgets", "1.1.0")["docs"]
    assert list(kept) == ["overview", "configuration", "examples", "troubleshooting"]
    assert kept["overview"] == OVERVIEW.strip()
    readme = result["readme"]
    assert readme["source"] == "docs"
    assert readme["sections"] == ["overview", "configuration", "examples", "troubleshooting"]
    assert "CSV widgets" in readme["headings"] and "Configuration" in readme["headings"]
    assert any("type: csv-widgets" in c for c in readme["codeBlocks"])
    # The publisher's HTML shows as text and never runs; only the https link is a link.
    assert readme["scripts"] == 0 and result["pwned"] == 0
    assert "<script>window.__pwned = 1</script>" in readme["text"]
    assert readme["links"] == ["https://example.org/guide"]
    assert readme["unsafeLinks"] == ["click me"]
    assert result["versions"] == ["1.1.0", "1.0.0"] and result["latest"] == "1.1.0"
    assert result["gates"] == {g: "pass" for g in ("manifest", "semver", "docs", "coverage",
                                                    "security", "performance")}
    # The newest version that fits this server, from this server's registry.
    assert result["install"] == api["install"] == (
        f"dteg install marketplace://csv-widgets@1.1.0 --registry {registry.url}")
    assert result["compatFits"] == "true" and api["compatibility"]["version"] == "1.1.0"
    # Two reviews (5 and 4): the page shows the API's average.
    assert api["rating"] == {"average": 4.5, "count": 2}
    assert float(result["rating"]["average"]) == api["rating"]["average"]
    assert result["rating"]["count"] == "2" and "4.5" in result["rating"]["text"]
    assert sorted(r["user"] for r in result["reviews"]) == ["alice", "bob"] == sorted(
        r["user"] for r in reviews["items"])
    assert "certified" in result["badges"]
    publisher = result["publisher"]
    assert publisher["name"] == "acme" and publisher["verified"]
    assert publisher["components"] == ["csv-widgets"] and publisher["keys"] == 1


def test_the_organisation_admin_sees_licences_and_usage(
        market: Any, market_server: Server, registry: Registry) -> None:
    api = market_server.api.get("/marketplace/organisation/licences")
    result = market("marketplace_org")
    assert result["org"] == ORG
    assert result["licences"]["error"] is None, result
    assert result["licences"]["unsupported"] == (not api["supported"])
    assert [r["licence"] for r in result["licences"]["rows"]] == [i["id"] for i in api["items"]]
    if "licence" in registry.tokens:  # a registry that issues licences: the one issued
        assert api["items"][0]["id"] == registry.tokens["licence"], api
        assert result["licences"]["rows"][0]["status"] == api["items"][0]["status"] == "valid"
    assert result["usage"]["error"] is None and result["invoices"]["error"] is None, result


def test_a_viewer_browses_but_cannot_open_the_organisation_pages(
        market: Any, market_server: Server) -> None:
    viewer = ("mira_viewer", "viewer-password-for-marketplace-tests")
    market_server.api.ensure_user(*viewer, "viewer")
    assert Api(market_server.base, viewer).get("/marketplace/search")["total"] == 2
    result = market("marketplace_viewer", user=viewer)
    assert "nav-marketplace" in result["navLinks"] and result["orgLinks"] == 0
    for message in (result["licencesError"], result["usageError"]):
        assert "marketplace.organisation" in message, result
    assert result["rows"] == 0


def test_registry_down_shows_an_error_state_not_a_blank_page(
        market: Any, market_server: Server, registry: Registry) -> None:
    """Runs last: it stops this module's registry."""
    registry.stop()
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        market_server.api.get("/marketplace/search")
    assert refused.value.code == 502
    for path, shot in (("/marketplace/", "marketplace-registry-down"),
                       ("/marketplace/component/?name=csv-widgets",
                        "marketplace-component-registry-down")):
        result = market("error_state", path=path, shot=shot)
        assert "did not answer" in result["message"] and registry.url in result["message"]
        assert "DTEG_MARKETPLACE_URL" in (result["hint"] or "")
