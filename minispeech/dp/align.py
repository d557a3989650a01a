"""CTC forced alignment: the single best path through the CTC lattice (Viterbi).

ctc_forced_align            frame labels (T,) of the most likely alignment of a known target
ctc_forced_align_reference  the same recursion in plain NumPy: what the lesson shows

Shapes   log_probs (T, V) for one utterance; target (S,) label ids without blanks.

The lattice is the one of minispeech.dp.ctc: states l' = (∅, y1, ∅, ..., yS, ∅), moves
s -> s, s + 1, or s + 2 (skipping a blank between two different labels), in max-product:
    δ_t(s) = log p_t(l'_s) + max(δ_t-1(s), δ_t-1(s-1), [δ_t-1(s-2)])
ending in the last label or the final blank. Ties keep the earliest candidate in the order
(stay, from s-1, from s-2), and the final label over the final blank only if strictly better.
Collapsing the returned labels (merge repeats, drop blanks) gives back the target.
Durations for FastSpeech 2 are the run lengths of the label states along this path.

Taught in lessons/04_ctc.ipynb, section 4 (and reused in lessons/08 for durations).
"""

from __future__ import annotations

import numba
import numpy as np


def _check(log_probs, target, blank: int):
    log_probs = np.ascontiguousarray(log_probs, dtype=np.float64)
    target = np.ascontiguousarray(target, dtype=np.int64).reshape(-1)
    if log_probs.ndim != 2 or log_probs.shape[0] == 0:
        raise ValueError(f"log_probs must be (T, V) with T >= 1, got shape {log_probs.shape}")
    n_frames, vocabulary_size = log_probs.shape
    if not 0 <= blank < vocabulary_size:
        raise ValueError(f"blank must be a class index in [0, V = {vocabulary_size}), got {blank}")
    if ((target < 0) | (target >= vocabulary_size)).any() or (target == blank).any():
        raise ValueError(
            f"target must hold label ids in [0, V = {vocabulary_size}) other than blank = {blank}"
        )
    needed = len(target) + int(np.sum(target[1:] == target[:-1]))
    if n_frames < needed:
        raise ValueError(
            f"ctc_forced_align: {n_frames} frames cannot hold {len(target)} labels (with a blank "
            f"between repeats they need {needed}); use a longer input or a shorter target"
        )
    if np.isnan(log_probs).any():
        raise ValueError("log_probs contains NaN")
    return log_probs, target


def _raise_no_alignment() -> None:
    raise ValueError(
        "ctc_forced_align: every alignment has probability 0 (log_probs are -inf where the "
        "target needs them)"
    )


# ----------------------------------------------------------------------------------------
# Reference: what the lesson shows
# ----------------------------------------------------------------------------------------


def ctc_forced_align_reference(
    log_probs: np.ndarray, target: np.ndarray, blank: int = 0
) -> np.ndarray:
    """Viterbi over the CTC lattice with an explicit back-pointer table (plain NumPy)."""
    log_probs, target = _check(log_probs, target, blank)
    labels = np.full(2 * len(target) + 1, blank, dtype=np.int64)
    labels[1::2] = target
    n_frames, n_states = len(log_probs), len(labels)
    score = np.full((n_frames, n_states), -np.inf)
    came_from = np.zeros((n_frames, n_states), dtype=np.int64)  # 0 stay, 1 or 2 states back
    score[0, 0] = log_probs[0, blank]
    if n_states > 1:
        score[0, 1] = log_probs[0, labels[1]]
    for t in range(1, n_frames):
        for s in range(n_states):
            candidates = [score[t - 1, s]]
            if s >= 1:
                candidates.append(score[t - 1, s - 1])
            if s >= 2 and labels[s] != blank and labels[s] != labels[s - 2]:
                candidates.append(score[t - 1, s - 2])
            came_from[t, s] = int(np.argmax(candidates))  # first maximum wins ties
            score[t, s] = candidates[came_from[t, s]] + log_probs[t, labels[s]]
    state = n_states - 1
    if n_states > 1 and score[-1, n_states - 2] > score[-1, n_states - 1]:
        state = n_states - 2
    if score[-1, state] == -np.inf:
        _raise_no_alignment()
    frame_labels = np.empty(n_frames, dtype=np.int64)
    for t in range(n_frames - 1, -1, -1):
        frame_labels[t] = labels[state]
        state -= came_from[t, state]
    return frame_labels


# ----------------------------------------------------------------------------------------
# Numba kernel
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _forced_align_kernel(log_probs, target, blank):
    n_frames = log_probs.shape[0]
    n_states = 2 * target.shape[0] + 1
    labels = np.full(n_states, blank, np.int64)
    can_skip = np.zeros(n_states, np.bool_)
    for k in range(target.shape[0]):
        labels[2 * k + 1] = target[k]
        can_skip[2 * k + 1] = k >= 1 and target[k] != target[k - 1]
    score = np.full(n_states, -np.inf)  # δ_t-1, then δ_t, updated in place from the top
    came_from = np.zeros((n_frames, n_states), np.int8)
    score[0] = log_probs[0, blank]
    if n_states > 1:
        score[1] = log_probs[0, labels[1]]
    for t in range(1, n_frames):
        low = max(0, n_states - 2 * (n_frames - t))  # states that can still reach the end
        high = min(n_states - 1, 2 * t + 1)  # states reachable from the start
        for s in range(high, low - 1, -1):  # descending: score[s-1], score[s-2] still hold δ_t-1
            best = score[s]
            step = 0
            if s >= 1 and score[s - 1] > best:
                best = score[s - 1]
                step = 1
            if can_skip[s] and score[s - 2] > best:
                best = score[s - 2]
                step = 2
            came_from[t, s] = step
            score[s] = best + log_probs[t, labels[s]]
        for s in range(low):  # fell out of the band: cannot finish in time
            score[s] = -np.inf

    state = n_states - 1
    if n_states > 1 and score[n_states - 2] > score[n_states - 1]:
        state = n_states - 2
    frame_labels = np.empty(n_frames, np.int64)
    if score[state] == -np.inf:
        return frame_labels, False
    for t in range(n_frames - 1, -1, -1):
        frame_labels[t] = labels[state]
        state -= came_from[t, state]
    return frame_labels, True


def ctc_forced_align(log_probs: np.ndarray, target: np.ndarray, blank: int = 0) -> np.ndarray:
    """Frame labels (T,) int64 of the most likely CTC alignment of target to log_probs.

    log_probs (T, V) one utterance's log-softmax outputs; target (S,) label ids. Raises
    ValueError when T is too short for the target (a repeated label needs a blank between).

    >>> log_probs = np.log(np.array([[.1, .8, .1], [.7, .2, .1], [.1, .1, .8], [.6, .2, .2]]))
    >>> ctc_forced_align(log_probs, [1, 2]).tolist()
    [1, 0, 2, 0]

    Taught in lessons/04_ctc.ipynb, section 4.
    """
    log_probs, target = _check(log_probs, target, blank)
    frame_labels, found = _forced_align_kernel(log_probs, target, int(blank))
    if not found:
        _raise_no_alignment()
    return frame_labels
