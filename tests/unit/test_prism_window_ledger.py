"""The prism stream's window ledger: a poll's offsets are released only once every window it
fed is final (the read watermark past end + lateness, every sink committed a pane holding the
poll), and the final windows are what a restart must not aggregate again."""

from __future__ import annotations

from dteg.beam.windowing import WindowLedger

W1 = ("agg", 0, 60_000_000)
W2 = ("agg", 60_000_000, 120_000_000)
LATE = 30_000_000


def _ledger(sinks: frozenset[str] = frozenset({"load"}), partitions: tuple[str, ...] = ("t|0",)
            ) -> tuple[WindowLedger, list[str]]:
    ledger = WindowLedger()
    ledger.reset({"agg": sinks}, {"agg": LATE}, [("agg", -60_000_000, 0)], list(partitions))
    return ledger, []


def test_a_poll_waits_for_its_windows_pane_and_the_watermark() -> None:
    ledger, released = _ledger()
    ledger.expect("p1", W1)
    ledger.expect("p1", W2)
    ledger.finalized("p1", lambda: released.append("p1"), "t|0", 50_000_000)
    assert released == []  # finalized, but its windows are open
    ledger.committed("load", W1, ["p1"])
    ledger.finalized("p2", lambda: released.append("p2"), "t|0", W1[2] + LATE)
    assert released == ["p2"]  # p2 fed nothing; p1 still waits for W2
    ledger.committed("load", W2, ["p1"])
    assert released == ["p2"]  # W2's pane is committed, but rows may still come
    ledger.finalized("p3", lambda: released.append("p3"), "t|0", W2[2] + LATE)
    assert released == ["p2", "p1", "p3"]
    assert ledger.final() == [("agg", -60_000_000, 0), W1, W2]
    assert ledger.before == frozenset({("agg", -60_000_000, 0)})


def test_every_sink_and_every_partition_count() -> None:
    ledger, released = _ledger(frozenset({"a", "b"}), ("t|0", "t|1"))
    ledger.expect("p1", W1)
    ledger.committed("a", W1, ["p1"])
    ledger.committed("b", W1, ["p1"])
    ledger.finalized("p1", lambda: released.append("p1"), "t|0", 10 ** 12)
    assert released == []  # partition 1 has read nothing yet: its rows may still come
    ledger, released = _ledger(frozenset({"a", "b"}), ("t|0", "t|1"))
    ledger.expect("p1", W1)
    ledger.committed("a", W1, ["p1"])
    ledger.finalized("p1", lambda: released.append("p1"), "t|0", 10 ** 12)
    ledger.finalized("q1", lambda: released.append("q1"), "t|1", 0)
    assert released == ["q1"]  # sink b has not committed W1; partition 1 holds it back too
    ledger.committed("b", W1, ["p1"])
    assert released == ["q1"]  # the oldest partition's watermark is before W1's end
    ledger.finalized("q2", lambda: released.append("q2"), "t|1", W1[2] + LATE)
    assert released == ["q1", "p1", "q2"]


def test_a_pane_without_the_poll_does_not_release_it() -> None:
    ledger, released = _ledger()
    ledger.expect("p1", W1)
    ledger.expect("p2", W1)
    ledger.committed("load", W1, ["p1"])  # an earlier pane: p2's rows came later
    ledger.finalized("p1", lambda: released.append("p1"), "t|0", 10 ** 12)
    ledger.finalized("p2", lambda: released.append("p2"), "t|0", 10 ** 12)
    assert released == []  # W1 is not final while p2's rows are in no committed pane
    ledger.committed("load", W1, ["p1", "p2"])
    assert sorted(released) == ["p1", "p2"]


def test_drained_releases_what_the_watermark_held_back() -> None:
    ledger, released = _ledger()
    ledger.expect("p1", W2)
    ledger.committed("load", W2, ["p1"])
    ledger.finalized("p1", lambda: released.append("p1"), "t|0", 0)
    assert released == []
    ledger.drained()
    assert released == ["p1"]
