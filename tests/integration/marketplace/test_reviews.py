"""Reviews, ratings, badges, usage reports and support threads against a real registry
(`dteg marketplace serve` on FerretDB, artifacts on the S3 server), through its API and the
`dteg review / reviews / search / support` commands.

One module-scoped story: a component is published, three users review it (the third one
twice, also concurrently: still one review), the publisher answers, the admin hides a review
(the average changes, the audit collection has it), downloads and usage reports come in until
the `popular` badge is earned, a verified publisher earns `certified`, and a question gets a
marked solution via `dteg support`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from dteg.marketplace import community
from dteg.marketplace.client import RegistryError
from tests.integration.cloud_services import REPO
from tests.integration.marketplace import packages
from tests.integration.marketplace.conftest import ADMIN_TOKEN, Env, Registry

pytestmark = pytest.mark.timeout(900)
NAME = "review-extractor"


def dteg(registry: Registry, config: Path, *args: str,
         token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(config),
           "DTEG_MARKETPLACE_URL": registry.url}
    env.pop("DTEG_MARKETPLACE_TOKEN", None)
    if token:
        env["DTEG_MARKETPLACE_TOKEN"] = token
    done = subprocess.run([sys.executable, "-m", "dteg.cli", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, f"dteg {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def search_row(registry: Registry, config: Path) -> dict[str, str]:
    lines = dteg(registry, config, "search", "review").stdout.splitlines()
    header = lines[0].split()
    row = next(line.split() for line in lines[1:] if line.startswith(NAME))
    return dict(zip(header, row, strict=True))


def api_rating(registry: Registry) -> dict[str, Any]:
    hit = next(h for h in registry.client().search("review") if h["name"] == NAME)
    assert hit["rating"] == registry.client().component(NAME)["rating"]
    return dict(hit["rating"])


@pytest.fixture(scope="module")
def world(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The published component, the publisher's client, three users and their configs."""
    folder = tmp_path_factory.mktemp("reviews")
    publisher, key, key_id = registry.publisher("acme-reviews")
    packages.publish(publisher, key, key_id, folder / "pkg", packages.manifest(
        NAME, "1.0.0", description="Review test component"))
    admin = registry.client(ADMIN_TOKEN)
    users = {}
    for name in ("alice", "bob", "carol"):
        token = registry.client().create_user(name, ADMIN_TOKEN)
        config = folder / f"config-{name}"
        dteg(registry, config, "marketplace", "login", "--token", token)
        users[name] = {"token": token, "config": config, "client": registry.client(token)}
    return {"publisher": publisher, "admin": admin, "users": users, "folder": folder}


def test_two_users_review_and_the_average_is_right(registry: Registry, world: dict) -> None:
    alice, bob = world["users"]["alice"], world["users"]["bob"]
    said = dteg(registry, alice["config"], "review", NAME, "--rating", "5", "--text",
                "Reads everything")
    assert f"your review of {NAME} 1.0.0: 5/5" in said.stdout
    community.put_review(bob["client"], NAME, 3, "Slow on big files")
    assert api_rating(registry) == {"average": 4.0, "count": 2}
    assert search_row(registry, alice["config"])["RATING"] == "4.0(2)"

    # Bob edits his review: the count stays, the average follows.
    community.put_review(bob["client"], NAME, 4, "Fine after 1.0.0")
    assert api_rating(registry) == {"average": 4.5, "count": 2}
    assert search_row(registry, bob["config"])["RATING"] == "4.5(2)"
    listed = dteg(registry, bob["config"], "reviews", NAME).stdout
    assert "rating 4.5 from 2 review(s)" in listed and "4/5 bob on 1.0.0" in listed


def test_a_third_user_cannot_review_twice(registry: Registry, world: dict) -> None:
    carol = world["users"]["carol"]
    community.put_review(carol["client"], NAME, 1)
    # Five more of Carol's reviews at once: the unique key makes them edits, never new ones.
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda r: community.put_review(
            world["users"]["carol"]["client"], NAME, 2, f"try {r}"), range(5)))
    found = community.reviews(registry.client(), NAME)
    assert found["total"] == 3
    assert [r["user"] for r in found["items"]].count("carol") == 1
    # (5 + 4 + 2) / 3, whichever of the concurrent edits landed last.
    assert api_rating(registry) == {"average": 3.67, "count": 3}
    with pytest.raises(RegistryError) as bad:
        community.put_review(carol["client"], NAME, 6)
    assert bad.value.status == 422
    with pytest.raises(RegistryError) as anonymous:
        community.put_review(registry.client(), NAME, 5)
    assert anonymous.value.status == 401


def _review_of(registry: Registry, user: str, token: str | None = None) -> dict[str, Any]:
    items = community.reviews(registry.client(token), NAME)["items"]
    return next(r for r in items if r["user"] == user)


def test_only_the_publisher_replies(registry: Registry, world: dict) -> None:
    alices = _review_of(registry, "alice")
    with pytest.raises(RegistryError) as refused:
        community.reply(world["users"]["bob"]["client"], NAME, alices["id"], "me too")
    assert refused.value.status == 403 and "acme-reviews" in refused.value.message
    community.reply(world["publisher"], NAME, alices["id"], "Thank you!")
    assert _review_of(registry, "alice")["reply"]["text"] == "Thank you!"
    assert "reply from acme-reviews: Thank you!" in dteg(
        registry, world["users"]["alice"]["config"], "reviews", NAME).stdout


def test_admin_hides_a_review_audited(registry: Registry, world: dict) -> None:
    carols = _review_of(registry, "carol")
    with pytest.raises(RegistryError) as refused:
        community.hide(world["users"]["alice"]["client"], NAME, carols["id"])
    assert refused.value.status == 403
    community.hide(world["admin"], NAME, carols["id"], reason="abusive")
    community.hide(world["admin"], NAME, carols["id"])  # twice: counted once
    assert api_rating(registry) == {"average": 4.5, "count": 2}
    visible = community.reviews(registry.client(), NAME)
    assert visible["total"] == 2 and "carol" not in {r["user"] for r in visible["items"]}
    assert _review_of(registry, "carol", ADMIN_TOKEN)["hidden"] is True
    audit = world["admin"].audit(action="review.hide", target=f"component:{NAME}")
    assert audit[-1]["who"] == "admin" and audit[-1]["detail"]["review"] == carols["id"]
    assert audit[-1]["detail"]["reason"] == "abusive"
    # Carol editing her hidden review does not bring it back, nor move the average.
    community.put_review(world["users"]["carol"]["client"], NAME, 5)
    assert api_rating(registry) == {"average": 4.5, "count": 2}


def test_badges_from_downloads_usage_and_a_verified_publisher(
        registry: Registry, world: dict, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    config = world["users"]["alice"]["config"]
    assert search_row(registry, config)["BADGES"] == "-"
    world["admin"].verify_publisher("acme-reviews")
    assert world["admin"].audit(action="publisher.verify")[0]["target"] == \
        "publisher:acme-reviews"
    assert registry.client().publisher("acme-reviews")["verified"] is True
    assert search_row(registry, config)["BADGES"] == "certified"

    # A real `dteg run` of the installed component, with usage reports on.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(world["folder"] / "config-runner"))
    monkeypatch.setenv("DTEG_MARKETPLACE_USAGE_REPORTS", "1")
    env.run("install", f"marketplace://{NAME}")
    (env.workdir / "in.csv").write_text("id,name\n1,a\n2,b\n3,c\n")
    (env.workdir / "pipeline.yaml").write_text(f"""
pipeline:
  name: private_pipeline_name
  steps:
    - extract: {{type: "dteg://{NAME}", config: {{path: in.csv}}}}
    - load: {{type: jsonl, config: {{path: out/rows.jsonl}}}}
""")
    env.run("run", "pipeline.yaml")
    page = registry.client().component(NAME)
    assert (page["success_rate"], page["active_installs_month"]) == (1.0, 1)
    assert page["versions"][0]["signals"]["rows_month"] == 3
    # Another install reports a failure; an unknown component is ignored.
    answer = httpx.post(f"{registry.url}/api/v1/usage-reports", json={
        "install_id": "another-install-0123456789", "reports": [
            {"component": NAME, "version": "1.0.0", "success": False, "rows": 0},
            {"component": "not-here", "version": "1.0.0", "success": True, "rows": 1}]})
    assert answer.status_code == 202 and answer.json() == {"accepted": 1, "ignored": 1}
    page = registry.client().component(NAME)
    assert (page["success_rate"], page["active_installs_month"]) == (0.5, 2)

    # 1,000 downloads in the last 30 days (one came from the install) and a 4.5 rating.
    wheel = next(a for a in page["versions"][0]["artifacts"] if a["kind"] == "wheel")
    with httpx.Client(base_url=registry.url, timeout=60) as http, ThreadPoolExecutor(8) as pool:
        codes = set(pool.map(lambda _: http.get(wheel["url"]).status_code, range(998)))
    assert codes == {200}
    page = registry.client().component(NAME)
    assert page["downloads_month"] == 999 and page["badges"] == ["certified"]
    with httpx.Client(base_url=registry.url, timeout=60) as http:
        assert http.get(wheel["url"]).status_code == 200
    page = registry.client().component(NAME)
    assert page["downloads_month"] == 1000 and page["badges"] == ["popular", "certified"]
    row = search_row(registry, config)
    assert row["BADGES"] == "popular,certified" and row["DOWNLOADS"] == "1000"
    month = next(iter(registry.client().downloads(NAME)["by_month"].values()))
    assert month == 1000


def test_support_thread_via_dteg_support(registry: Registry, world: dict) -> None:
    carol, bob = world["users"]["carol"], world["users"]["bob"]
    empty = dteg(registry, carol["config"], "support", NAME).stdout
    assert "no support threads" in empty
    asked = dteg(registry, carol["config"], "support", NAME, "--ask",
                 "How do I set the page size?").stdout
    thread_id = asked.split("asked in thread ")[1].split(":")[0]
    dteg(registry, bob["config"], "support", NAME, "--answer", thread_id, "No idea, sorry")
    answered = dteg(registry, world["folder"] / "config-publisher", "support", NAME,
                    "--answer", thread_id, "Set `batch_size` in config",
                    token=world["publisher"]._token).stdout
    post_id = answered.split("(post ")[1].rstrip(")\n")
    with pytest.raises(RegistryError) as refused:  # bob neither asked nor publishes it
        community.solve(bob["client"], NAME, thread_id, post_id)
    assert refused.value.status == 403
    dteg(registry, carol["config"], "support", NAME, "--solve", thread_id, post_id)
    listed = dteg(registry, bob["config"], "support", NAME).stdout.splitlines()
    assert listed[0].split() == ["THREAD", "STATE", "POSTS", "USER", "TITLE"]
    assert listed[1].split()[:4] == [thread_id, "solved", "2", "carol"]
    shown = dteg(registry, bob["config"], "support", NAME, "--thread", thread_id).stdout
    assert f"- {post_id} acme-reviews [solution]: Set `batch_size` in config" in shown
    api = registry.client().call("GET", f"/api/v1/components/{NAME}/threads")
    assert api["items"][0] == {**api["items"][0], "id": thread_id, "solved": True, "posts": 2}
