import numpy as np

from intone.speech import alignment


def _valid(times: np.ndarray, duration: float) -> None:
    assert not np.isnan(times).any()
    assert (np.diff(times[:, 0]) >= 0).all()
    assert (times[:, 1] >= times[:, 0]).all()
    assert times.min() >= 0 and times.max() <= duration


def test_settle_fills_gaps_between_neighbours():
    nan = np.nan
    times = np.array([[0.0, 0.1], [nan, nan], [nan, nan], [0.4, 0.5]])
    settled = alignment.settle(times, 1.0)
    _valid(settled, 1.0)
    assert np.allclose(settled[1:3], [[0.1, 0.25], [0.25, 0.4]])


def test_settle_handles_all_unplaced_and_out_of_range():
    settled = alignment.settle(np.full((4, 2), np.nan), 2.0)
    _valid(settled, 2.0)
    assert settled[-1, 1] == 2.0
    wild = alignment.settle(np.array([[0.5, 0.2], [0.1, 3.0]]), 1.0)
    _valid(wild, 1.0)


def test_to_original_spreads_a_replacement_over_its_source():
    # "$3" -> "three dollars": every normalized char came from "$" or "3".
    normalized = np.array([[i * 0.1, (i + 1) * 0.1] for i in range(13)])
    source = [0] * 6 + [1] * 7
    original = alignment.to_original(normalized, source, 2)
    assert np.allclose(original, [[0.0, 0.6], [0.6, 1.3]])


def test_to_original_leaves_dropped_characters_for_settle():
    normalized = np.array([[0.0, 0.1], [0.1, 0.2]])
    original = alignment.to_original(normalized, [0, 2], 3)
    assert np.isnan(original[1]).all()
    _valid(alignment.settle(original, 0.2), 0.2)


def test_alignment_join_and_shift():
    a = alignment.build("ab", np.array([[0.0, 0.1], [0.1, 0.2]]))
    b = alignment.build("c", np.array([[0.0, 0.3]])).shifted(0.2)
    joined = a.joined(b)
    assert joined.characters == ("a", "b", "c")
    assert joined.starts == (0.0, 0.1, 0.2)
    assert np.isclose(joined.ends[-1], 0.5)
