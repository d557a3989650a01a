"""DTW: Numba == reference == brute force on tiny costs; identical to librosa.sequence.dtw."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.dp.warping import dtw, dtw_reference

librosa_sequence = pytest.importorskip("librosa.sequence")


def all_paths(n: int, m: int, start=(0, 0)):
    """Every monotonic path from start to (n-1, m-1) with steps (1,1), (0,1), (1,0)."""
    i, j = start
    if (i, j) == (n - 1, m - 1):
        yield [(i, j)]
        return
    for di, dj in ((1, 1), (0, 1), (1, 0)):
        if i + di < n and j + dj < m:
            for rest in all_paths(n, m, (i + di, j + dj)):
                yield [(i, j), *rest]


def path_cost(cost, path) -> float:
    return float(sum(cost[i, j] for i, j in path))


def random_cost(seed: int, n: int, m: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if seed % 2:  # small integers: many exact ties exercise the tie order
        return rng.integers(0, 3, size=(n, m)).astype(np.float64)
    return rng.random((n, m))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 4))
def test_matches_brute_force(seed, n, m):
    cost = random_cost(seed, n, m)
    costs = [path_cost(cost, p) for p in all_paths(n, m)]
    distance, path = dtw(cost)
    reference_distance, reference_path = dtw_reference(cost)
    assert distance == reference_distance and np.array_equal(path, reference_path)
    assert distance == pytest.approx(min(costs), abs=1e-12)
    assert path_cost(cost, path) == pytest.approx(distance, abs=1e-12)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (n - 1, m - 1)
    steps = np.diff(path, axis=0)
    assert all(tuple(step) in {(1, 1), (0, 1), (1, 0)} for step in steps)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 9), st.integers(1, 9), st.booleans())
def test_identical_to_librosa(seed, n, m, subsequence):
    if subsequence and n > m:
        n, m = m, n  # librosa flips the path of a given C with more rows than columns
    cost = random_cost(seed, n, m)
    accumulated, warping_path = librosa_sequence.dtw(C=cost, subseq=subsequence)
    distance, path = dtw(cost, subsequence=subsequence)
    reference_distance, reference_path = dtw_reference(cost, subsequence=subsequence)
    expected = accumulated[-1].min() if subsequence else accumulated[-1, -1]
    assert distance == reference_distance == expected  # exact: same additions in the same order
    assert np.array_equal(path, warping_path[::-1])
    assert np.array_equal(reference_path, path)


def test_large_matrix_equals_librosa():
    cost = np.random.default_rng(3).random((300, 240))
    accumulated, warping_path = librosa_sequence.dtw(C=cost)
    distance, path = dtw(cost)
    assert distance == accumulated[-1, -1] and np.array_equal(path, warping_path[::-1])


def test_planted_path_is_recovered():
    rng = np.random.default_rng(4)
    n, m = 40, 70
    # diagonal and (0, 1) steps only: then every other path visits a cell off the plant
    steps = [(1, 1)] * (n - 1) + [(0, 1)] * (m - n)
    rng.shuffle(steps)
    planted = [(0, 0)]
    for di, dj in steps:
        planted.append((planted[-1][0] + di, planted[-1][1] + dj))
    cost = 1.0 + rng.random((n, m))
    for i, j in planted:
        cost[i, j] = 0.0
    distance, path = dtw(cost)
    assert distance == 0.0 and path.tolist() == [list(p) for p in planted]


def test_subsequence_finds_the_query():
    query = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    series = np.concatenate([np.full(10, 9.0), query, np.full(7, 9.0)])
    distance, path = dtw(np.abs(np.subtract.outer(query, series)), subsequence=True)
    assert distance == 0.0 and path[0].tolist() == [0, 10] and path[-1].tolist() == [4, 14]


def test_bad_costs_raise():
    with pytest.raises(ValueError, match="NaN"):
        dtw(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="2-D"):
        dtw(np.zeros(3))
    blocked = np.zeros((3, 3))
    blocked[1, :] = np.inf
    with pytest.raises(ValueError, match="no finite alignment"):
        dtw(blocked)
    with pytest.raises(ValueError, match="no finite alignment"):
        dtw_reference(blocked)
