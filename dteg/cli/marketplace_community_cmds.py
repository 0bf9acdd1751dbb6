"""`dteg review`, `dteg reviews`, `dteg support`: reviews and support threads of marketplace
components (signed in with `dteg marketplace login --token T`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dteg.cli.context import DebugOpt
from dteg.cli.context import say as _say
from dteg.cli.marketplace_cmds import RegistryOpt, _client, _table


def _stars(rating: Any) -> str:
    return f"{int(rating)}/5"


def review(
    name: Annotated[str, typer.Argument(help="The component (NAME or marketplace://NAME)")],
    rating: Annotated[int, typer.Option("--rating", min=1, max=5, help="1 (poor) to 5")],
    text: Annotated[str, typer.Option("--text", help="What you found")] = "",
    version: Annotated[str | None, typer.Option(
        "--version", help="The version you used (default: the latest)")] = None,
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """Rate and review a component; a second review of the same component edits the first."""
    from dteg.marketplace import community

    with _client(registry) as client:
        done = community.put_review(client, _name(name), rating, text, version)
    _say(f"your review of {_name(name)} {done['version']}: {_stars(done['rating'])} "
         f"(review {done['id']})")


def reviews(
    name: Annotated[str, typer.Argument(help="The component")],
    page: Annotated[int, typer.Option("--page", min=1, help="Page (20 a page)")] = 1,
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """A component's rating and reviews, newest first, with the publisher's replies."""
    from dteg.marketplace import community

    with _client(registry) as client:
        rating = client.component(_name(name))["rating"]
        found = community.reviews(client, _name(name), offset=(page - 1) * 20, limit=20)
    average = "-" if rating["average"] is None else f"{rating['average']:.1f}"
    _say(f"{_name(name)}: rating {average} from {rating['count']} review(s)")
    for item in found["items"]:
        hidden = " [hidden]" if item["hidden"] else ""
        _say(f"- {_stars(item['rating'])} {item['user']} on {item['version']} "
             f"({item['updated'][:10]}, id {item['id']}){hidden}")
        if item["text"]:
            _say(f"  {item['text']}")
        if item.get("reply"):
            _say(f"  reply from {item['reply'].get('by') or 'the publisher'}: "
                 f"{item['reply']['text']}")


def support(
    name: Annotated[str, typer.Argument(help="The component")],
    ask: Annotated[str | None, typer.Option("--ask", help="Open a thread with a question")]
    = None,
    answer: Annotated[tuple[str, str] | None, typer.Option(
        "--answer", metavar="THREAD TEXT", help="Answer a thread")] = None,
    solve: Annotated[tuple[str, str] | None, typer.Option(
        "--solve", metavar="THREAD POST", help="Mark a post as the thread's solution")] = None,
    show: Annotated[str | None, typer.Option("--thread", help="Show one thread")] = None,
    registry: RegistryOpt = None, debug: DebugOpt = False,
) -> None:
    """A component's support threads: list them (default), ask, answer, mark a solution."""
    from dteg.errors import ConfigError
    from dteg.marketplace import community

    given = [x for x in (ask, answer, solve, show) if x is not None]
    if len(given) > 1:
        raise ConfigError("give at most one of --ask, --answer, --solve, --thread",
                          hint="e.g. `dteg support NAME --ask \"How do I …?\"`.")
    component = _name(name)
    with _client(registry) as client:
        if ask is not None:
            done = community.ask(client, component, ask)
            _say(f"asked in thread {done['id']}: {done['title']}")
        elif answer is not None:
            post = community.answer(client, component, answer[0], answer[1])
            _say(f"answered thread {answer[0]} (post {post['id']})")
        elif solve is not None:
            community.solve(client, component, solve[0], solve[1])
            _say(f"thread {solve[0]} solved by post {solve[1]}")
        elif show is not None:
            _show_thread(community.thread(client, component, show))
        else:
            _list_threads(component, community.threads(client, component))


def _show_thread(found: dict[str, Any]) -> None:
    state = "solved" if found["solved"] else "open"
    _say(f"{found['title']} ({state}; asked by {found['user']} {found['created'][:10]})")
    if found.get("text") and found["text"] != found["title"]:
        _say(f"  {found['text']}")
    for post in found["items"]:
        mark = " [solution]" if post["solution"] else ""
        _say(f"- {post['id']} {post['user']}{mark}: {post['text']}")


def _list_threads(component: str, items: list[dict[str, Any]]) -> None:
    if not items:
        _say(f"no support threads for {component} yet; ask with "
             f"`dteg support {component} --ask \"…\"`")
        return
    _table([[t["id"], "solved" if t["solved"] else "open", str(t["posts"]), t["user"],
             t["title"]] for t in items], ["THREAD", "STATE", "POSTS", "USER", "TITLE"])


def _name(ref: str) -> str:
    return ref.removeprefix("marketplace://").split("@", 1)[0]


def register(app: typer.Typer) -> None:
    app.command()(review)
    app.command()(reviews)
    app.command()(support)
