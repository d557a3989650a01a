"""Dynamic time warping on a precomputed cost matrix.

dtw             (distance, path): the cheapest monotonic path through cost (Numba kernel)
dtw_reference   the same loops in plain Python/NumPy: what the lesson shows

Shapes   cost (N, M) float; path (L, 2) int64, rows (i, j) from the start to the end.

Recurrence (librosa.sequence.dtw's default step pattern, all weights 1):
    D[0, 0] = C[0, 0]
    D[i, j] = C[i, j] + min(D[i-1, j-1],   # diagonal step
                            D[i, j-1],     # step along the second axis
                            D[i-1, j])     # step along the first axis
The distance is D[N-1, M-1]. With subsequence=True the path may start anywhere in the
first row (D[0, j] = C[0, j]) and end anywhere in the last row; the distance is
min_j D[N-1, j]. Ties pick the first of diagonal, (i, j-1), (i-1, j), exactly as librosa
(it compares D + C candidates with a strict '<' in that order), so paths are identical.
Differences from librosa: our path runs start -> end (librosa returns it end -> start), and
with subsequence=True we never transpose the cost matrix (librosa flips the path's columns
when a given C has more rows than columns).

Taught in lessons/03_hmm.ipynb, section 1 (the DTW baseline).
"""

from __future__ import annotations

import numba
import numpy as np


def _check_cost(cost: np.ndarray) -> np.ndarray:
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise ValueError(f"dtw: cost must be a non-empty 2-D (N, M) array, got shape {cost.shape}")
    if np.isnan(cost).any() or np.isneginf(cost).any():
        raise ValueError("dtw: cost contains NaN or -inf; replace it (np.inf forbids a cell)")
    return cost


def _raise_no_path() -> None:
    raise ValueError(
        "dtw: every path crosses an infinite cost, so there is no finite alignment; "
        "check the cost matrix (or try subsequence=True)"
    )


# ----------------------------------------------------------------------------------------
# Reference: what the lesson shows
# ----------------------------------------------------------------------------------------


def _best_step_reference(accumulated, cost, i, j):
    """Index of the best predecessor step of cell (i, j): 0 diagonal, 1 (i, j-1), 2 (i-1, j)."""
    candidates = [
        accumulated[i - 1, j - 1] if i > 0 and j > 0 else np.inf,
        accumulated[i, j - 1] if j > 0 else np.inf,
        accumulated[i - 1, j] if i > 0 else np.inf,
    ]
    best_step, best_total = 0, np.inf
    for step, previous in enumerate(candidates):
        if previous + cost[i, j] < best_total:  # strict: the earlier step wins ties
            best_step, best_total = step, previous + cost[i, j]
    return best_step, best_total


def dtw_reference(cost: np.ndarray, subsequence: bool = False) -> tuple[float, np.ndarray]:
    """Plain-Python DTW with the same results as `dtw`."""
    cost = _check_cost(cost)
    n, m = cost.shape
    accumulated = np.full((n, m), np.inf)
    accumulated[0, 0] = cost[0, 0]
    if subsequence:
        accumulated[0, :] = cost[0, :]
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                continue
            _, best_total = _best_step_reference(accumulated, cost, i, j)
            if best_total < accumulated[i, j]:  # (subsequence: a free start may be cheaper)
                accumulated[i, j] = best_total

    end = int(np.argmin(accumulated[-1])) if subsequence else m - 1
    distance = float(accumulated[-1, end])
    if np.isinf(distance):
        _raise_no_path()
    i, j = n - 1, end
    path = [(i, j)]
    while (i > 0) if subsequence else (i, j) != (0, 0):
        step, _ = _best_step_reference(accumulated, cost, i, j)
        i, j = (i - 1, j - 1) if step == 0 else (i, j - 1) if step == 1 else (i - 1, j)
        path.append((i, j))
    return distance, np.array(path[::-1], dtype=np.int64)


# ----------------------------------------------------------------------------------------
# Numba kernel
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _dtw_kernel(cost, subsequence):
    """Accumulate D row by row (only the value; min(D) + C == min(D + C) in floating point
    because rounding is monotonic), then walk back recomputing each choice from D."""
    n, m = cost.shape
    accumulated = np.empty((n, m))
    accumulated[0, 0] = cost[0, 0]
    for j in range(1, m):
        along = accumulated[0, j - 1] + cost[0, j]
        if subsequence and not along < cost[0, j]:
            along = cost[0, j]
        accumulated[0, j] = along
    for i in range(1, n):
        accumulated[i, 0] = accumulated[i - 1, 0] + cost[i, 0]
        for j in range(1, m):
            best = min(accumulated[i - 1, j - 1], accumulated[i - 1, j])
            best = min(best, accumulated[i, j - 1])
            accumulated[i, j] = best + cost[i, j]

    end = m - 1
    if subsequence:  # the first minimum of the last row, like np.argmin
        end = 0
        for j in range(1, m):
            if accumulated[n - 1, j] < accumulated[n - 1, end]:
                end = j
    distance = accumulated[n - 1, end]
    if np.isinf(distance):
        return distance, np.empty((0, 2), np.int64)

    path = np.empty((n + m - 1, 2), np.int64)
    i, j = n - 1, end
    length = 0
    path[length, 0], path[length, 1] = i, j
    length += 1
    while (i > 0) if subsequence else (i > 0 or j > 0):
        here = cost[i, j]
        best_total = np.inf
        step = 0
        if i > 0 and j > 0 and accumulated[i - 1, j - 1] + here < best_total:
            best_total = accumulated[i - 1, j - 1] + here
            step = 0
        if j > 0 and accumulated[i, j - 1] + here < best_total:
            best_total = accumulated[i, j - 1] + here
            step = 1
        if i > 0 and accumulated[i - 1, j] + here < best_total:
            step = 2
        if step == 0:
            i -= 1
            j -= 1
        elif step == 1:
            j -= 1
        else:
            i -= 1
        path[length, 0], path[length, 1] = i, j
        length += 1
    return distance, path[:length][::-1].copy()


def dtw(cost: np.ndarray, subsequence: bool = False) -> tuple[float, np.ndarray]:
    """Cheapest monotonic alignment through cost (N, M) -> (distance, path (L, 2)).

    distance equals librosa.sequence.dtw(C=cost)[0][-1, -1] (subsequence: the minimum of
    the last row) and path equals librosa's path reversed. Raises ValueError for NaN or
    when no finite path exists.

    >>> distance, path = dtw(np.abs(np.subtract.outer([0., 1, 2], [0., 0, 1, 2])))
    >>> distance, path.tolist()
    (0.0, [[0, 0], [0, 1], [1, 2], [2, 3]])

    Taught in lessons/03_hmm.ipynb, section 1.
    """
    distance, path = _dtw_kernel(_check_cost(cost), bool(subsequence))
    if np.isinf(distance):
        _raise_no_path()
    return float(distance), path
