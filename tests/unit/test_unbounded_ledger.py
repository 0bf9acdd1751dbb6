"""The ledger behind `dteg stream --runner prism`: a partition's committed position moves only
over offset ranges whose bundles were finalized, and only over a contiguous prefix."""

from __future__ import annotations

from apache_beam.io.restriction_trackers import OffsetRange

from dteg.beam.unbounded import UNBOUNDED, Ledger, _CheckpointOnly


def test_positions_move_over_contiguous_finalized_ranges_only() -> None:
    ledger = Ledger()
    ledger.reset({"extract": {("t", 0): 100, ("t", 1): 0}})
    ledger.loaded("extract", ("t", 0), 150, 200, 50, [1_000] * 50)  # a gap before
    assert ledger.positions()["extract"][("t", 0)] == 100
    ledger.loaded("extract", ("t", 0), 100, 150, 50, [1_000] * 50)
    assert ledger.positions()["extract"] == {("t", 0): 200, ("t", 1): 0}
    assert ledger.records == 100
    ledger.committed_at(2.0)  # offsets committed 1 s after the records' event time
    assert len(ledger.latencies) == 100 and set(ledger.latencies) == {1.0}


def test_a_range_read_again_after_a_restart_does_not_move_back() -> None:
    ledger = Ledger()
    ledger.reset({"extract": {("t", 0): 300}})
    ledger.loaded("extract", ("t", 0), 250, 320, 70, [])  # overlaps the start
    assert ledger.positions()["extract"][("t", 0)] == 320


def test_the_runner_may_checkpoint_a_partition_but_never_split_it() -> None:
    tracker = _CheckpointOnly(OffsetRange(10, UNBOUNDED))
    assert tracker.try_claim(10)
    assert tracker.try_split(0.5) is None  # a dynamic split would run a partition twice
    primary, residual = tracker.try_split(0)
    assert (primary.start, primary.stop, residual.start) == (10, 11, 11)
    assert not _CheckpointOnly(OffsetRange(0, UNBOUNDED)).is_bounded()
    assert _CheckpointOnly(OffsetRange(0, 5)).is_bounded()
