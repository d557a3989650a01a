"""CTC forced alignment: the single best path through the CTC lattice (Viterbi).

ctc_forced_align            frame labels (T,) of the most likely alignment of a known target
ctc_forced_align_reference  the same recursion in plain NumPy: what the lesson shows
ctc_durations               frame labels of a path -> frames per target token (FastSpeech 2's durations)

Shapes   log_probs (T, V) for one utterance; target (S,) label ids without blanks.

The lattice is the one of minispeech.dp.ctc: states l' = (∅, y1, ∅, ..., yS, ∅), moves
s -> s, s + 1, or s + 2 (skipping a blank between two different labels), in max-product:
    δ_t(s) = log p_t(l'_s) + max(δ_t-1(s), δ_t-1(s-1), [δ_t-1(s-2)])
ending in the last label or the final blank. Ties keep the earliest candidate in the order
(stay, from s-1, from s-2), and the final label over the final blank only if strictly better.
Collapsing the returned labels (merge repeats, drop blanks) gives back the target.
Durations for FastSpeech 2 (ctc_durations): a token starts at a frame whose label is not blank and
differs from the previous frame's (the collapse rule) and owns every frame up to the next token's
start (its repeats and the blanks after it); leading blanks go to the first token.

Taught in lessons/04_ctc.ipynb, section 4 (and reused in lessons/08 for durations).
"""

from __future__ import annotations

import numba
import numpy as np


def _check(log_probs, target, blank: int):
    log_probs = np.asarray(log_probs)  # float32 stays float32 (sums are float64 either way)
    log_probs = np.ascontiguousarray(log_probs, dtype=np.float32 if log_probs.dtype == np.float32 else np.float64)
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
    """Max-product over the band of states that can still reach the end, two rows of δ.

    δ_t-1 and δ_t live in two buffers shifted by two (index s + 2), so s - 1 and s - 2 need
    no bounds test; a skip that is not allowed adds -inf. The inner loop takes a blank and
    the label after it together: a blank has two candidates and a known emission (row[blank]),
    a label three. With no branch on the lattice shape the compiler emits selects, not jumps,
    which matters: on real posteriors the max comparisons are unpredictable. A phantom label
    state S' after the final blank keeps the pair loop uniform; no real state reads it.
    """
    n_frames = log_probs.shape[0]
    n_states = 2 * target.shape[0] + 1  # S' = 2S + 1
    labels = np.full(n_states + 1, blank, np.int64)  # + the phantom state
    skip_penalty = np.full(n_states + 1, -np.inf)  # 0 where s - 2 -> s is allowed
    for k in range(target.shape[0]):
        labels[2 * k + 1] = target[k]
        if k >= 1 and target[k] != target[k - 1]:
            skip_penalty[2 * k + 1] = 0.0
    previous = np.full(n_states + 3, -np.inf)  # δ_t-1(s) at index s + 2
    current = np.full(n_states + 3, -np.inf)  # δ_t(s)
    came_from = np.zeros((n_frames, n_states + 1), np.int8)  # 0 stay, 1 from s - 1, 2 from s - 2
    previous[2] = log_probs[0, blank]
    if n_states > 1:
        previous[3] = log_probs[0, labels[1]]
    for t in range(1, n_frames):
        low = max(0, n_states - 2 * (n_frames - t))  # states that can still reach the end
        high = min(n_states - 1, 2 * t + 1)  # states reachable from the start
        row = log_probs[t]
        blank_score = row[blank]
        steps = came_from[t]
        for s in range(low - low % 2, high + 1, 2):  # s: a blank, s + 1: the label after it
            best = previous[s + 2]  # blank s: stay or come from the label before
            from_one = previous[s + 1]
            step = 0
            if from_one > best:
                best = from_one
                step = 1
            steps[s] = step
            current[s + 2] = best + blank_score
            best = previous[s + 3]  # label s + 1: stay, from the blank, or skip it
            from_one = previous[s + 2]
            from_two = previous[s + 1] + skip_penalty[s + 1]
            step = 0
            if from_one > best:
                best = from_one
                step = 1
            if from_two > best:
                best = from_two
                step = 2
            steps[s + 1] = step
            current[s + 3] = best + row[labels[s + 1]]
        for s in range(low):  # outside the band: cannot finish in time / not reached yet
            current[s + 2] = -np.inf
        for s in range(high + 1, n_states + 1):
            current[s + 2] = -np.inf
        previous, current = current, previous

    state = n_states - 1
    if n_states > 1 and previous[n_states] > previous[n_states + 1]:  # δ(S'-2) > δ(S'-1)
        state = n_states - 2
    frame_labels = np.empty(n_frames, np.int64)
    if previous[state + 2] == -np.inf:
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


def ctc_durations(frame_labels, n_tokens: int, blank: int = 0) -> np.ndarray:
    """Frame labels (T,) of a CTC path that spells n_tokens tokens -> int64 (n_tokens,) frames per
    token, summing to T (the rule in the module doc). Raises ValueError when the path spells more
    or fewer tokens than n_tokens.

    >>> ctc_durations([0, 5, 5, 0, 7, 0, 7], 3).tolist()
    [4, 2, 1]
    >>> ctc_durations([0, 0, 5, 0, 5, 7], 3).tolist()
    [4, 1, 1]

    Taught in lessons/08_fastspeech2.ipynb, section 3.2.
    """
    labels = np.asarray(frame_labels, dtype=np.int64)
    if labels.ndim != 1:
        raise ValueError(f"ctc_durations: frame_labels must be (T,), got shape {labels.shape}")
    previous = np.concatenate([[blank], labels[:-1]])  # (T,): each frame's predecessor, blank before the first
    starts = (labels != blank) & (labels != previous)  # (T,): a token starts here
    if int(starts.sum()) != n_tokens or n_tokens < 1:
        raise ValueError(
            f"ctc_durations: the path spells {int(starts.sum())} tokens, expected n_tokens = {n_tokens} "
            "(pass ctc_forced_align's labels for the same target)"
        )
    token_of_frame = np.maximum(np.cumsum(starts) - 1, 0)  # (T,): leading blanks -> token 0
    return np.bincount(token_of_frame, minlength=n_tokens).astype(np.int64)
