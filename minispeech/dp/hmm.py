"""Hidden Markov model recursions in log space: forward, backward, Viterbi.

hmm_forward    (log_alpha (T, N), log_likelihood)      log α_t(j) = log p(o_1..o_t, q_t = j)
hmm_backward   log_beta (T, N)                          log β_t(i) = log p(o_t+1..o_T | q_t = i)
viterbi        (path (T,), log_score)                   the single best state sequence
*_reference    the plain NumPy recursions the lesson shows, same signatures

Shapes   log_pi (N,) initial, log_A (N, N) transitions (row = from, column = to),
         log_B (T, N) emission log-probabilities log b_j(o_t) (e.g. from a GMM).
Zeros are fine: pass -inf for forbidden transitions (left-to-right models).

Results equal hmmlearn's C++ kernels (_hmmc.forward_log / backward_log / viterbi with the
same emission log-probabilities): identical Viterbi paths, log-likelihoods within 1e-10
relative. On exact ties Viterbi keeps the lowest state index (np.argmax); hmmlearn walks
back to the highest one, so tied paths can differ there.

The Numba forward and backward do log-sum-exp with one shared maximum per time step: the
previous α row is exponentiated once (N exps), the N x N sum runs on probabilities with a
column-scaled exp(log_A), and one log per state brings it back. When a sum underflows
(< 1e-280, e.g. a transition of probability e^-800) that state falls back to the exact
log-sum-exp, so results stay exact on any input.

Taught in lessons/03_hmm.ipynb, sections 2-4.
"""

from __future__ import annotations

import numba
import numpy as np

_UNDERFLOW = 1e-280  # below this a probability-space sum may have lost digits: redo in logs


def _check_model(log_A: np.ndarray, log_B: np.ndarray, log_pi: np.ndarray | None = None):
    log_A = np.ascontiguousarray(log_A, dtype=np.float64)
    log_B = np.ascontiguousarray(log_B, dtype=np.float64)
    if log_B.ndim != 2 or log_B.shape[0] == 0:
        raise ValueError(f"log_B must be (T, N) with T >= 1, got shape {log_B.shape}")
    n_states = log_B.shape[1]
    if log_A.shape != (n_states, n_states):
        raise ValueError(
            f"log_A must be (N, N) = ({n_states}, {n_states}) to match log_B (T, N), "
            f"got {log_A.shape}"
        )
    for name, array in (("log_A", log_A), ("log_B", log_B)):
        if np.isnan(array).any() or np.isposinf(array).any():
            raise ValueError(f"{name} contains NaN or +inf; it must hold log-probabilities")
    if log_pi is None:
        return log_A, log_B
    log_pi = np.ascontiguousarray(log_pi, dtype=np.float64)
    if log_pi.shape != (n_states,):
        raise ValueError(f"log_pi must be (N,) = ({n_states},), got {log_pi.shape}")
    if np.isnan(log_pi).any() or np.isposinf(log_pi).any():
        raise ValueError("log_pi contains NaN or +inf; it must hold log-probabilities")
    return log_pi, log_A, log_B


# ----------------------------------------------------------------------------------------
# References: what the lesson shows
# ----------------------------------------------------------------------------------------


def logsumexp(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """log Σ exp(values) along axis, safe for -inf entries (an all -inf slice gives -inf).
    The log-space sum of the references here and of minispeech.hmm's GMM-HMM."""
    maximum = np.max(values, axis=axis, keepdims=True)
    maximum = np.where(np.isfinite(maximum), maximum, 0.0)
    with np.errstate(divide="ignore", under="ignore"):
        total = np.log(np.sum(np.exp(values - maximum), axis=axis, keepdims=True))
    return np.squeeze(total + maximum, axis=axis)


def hmm_forward_reference(
    log_pi: np.ndarray, log_A: np.ndarray, log_B: np.ndarray
) -> tuple[np.ndarray, float]:
    """α_0(j) = π_j b_j(o_0);  α_t(j) = b_j(o_t) Σ_i α_t-1(i) a_ij, all in logs."""
    log_pi, log_A, log_B = _check_model(log_A, log_B, log_pi)
    n_frames, n_states = log_B.shape
    log_alpha = np.empty((n_frames, n_states))
    log_alpha[0] = log_pi + log_B[0]
    for t in range(1, n_frames):
        # (N, 1) + (N, N): entry [i, j] is log α_t-1(i) + log a_ij; sum over i (axis 0)
        log_alpha[t] = logsumexp(log_alpha[t - 1][:, None] + log_A, axis=0) + log_B[t]
    return log_alpha, float(logsumexp(log_alpha[-1]))


def hmm_backward_reference(log_A: np.ndarray, log_B: np.ndarray) -> np.ndarray:
    """β_T-1(i) = 1;  β_t(i) = Σ_j a_ij b_j(o_t+1) β_t+1(j), all in logs."""
    log_A, log_B = _check_model(log_A, log_B)
    n_frames, n_states = log_B.shape
    log_beta = np.empty((n_frames, n_states))
    log_beta[-1] = 0.0
    for t in range(n_frames - 2, -1, -1):
        # (N, N) + (1, N): entry [i, j] is log a_ij + log b_j(o_t+1) + log β_t+1(j)
        log_beta[t] = logsumexp(
            log_A + (log_B[t + 1] + log_beta[t + 1])[None, :], axis=1
        )
    return log_beta


def viterbi_reference(
    log_pi: np.ndarray, log_A: np.ndarray, log_B: np.ndarray
) -> tuple[np.ndarray, float]:
    """δ_t(j) = b_j(o_t) max_i δ_t-1(i) a_ij with back-pointers, then trace back."""
    log_pi, log_A, log_B = _check_model(log_A, log_B, log_pi)
    n_frames, n_states = log_B.shape
    log_delta = np.empty((n_frames, n_states))
    back_pointer = np.zeros((n_frames, n_states), dtype=np.int64)
    log_delta[0] = log_pi + log_B[0]
    for t in range(1, n_frames):
        scores = log_delta[t - 1][:, None] + log_A  # (N, N): [from i, to j]
        back_pointer[t] = np.argmax(scores, axis=0)
        log_delta[t] = scores[back_pointer[t], np.arange(n_states)] + log_B[t]
    path = np.empty(n_frames, dtype=np.int64)
    path[-1] = np.argmax(log_delta[-1])
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back_pointer[t, path[t]]
    return path, float(log_delta[-1, path[-1]])


# ----------------------------------------------------------------------------------------
# Numba kernels
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _exact_logsumexp_of_sum(first, second):
    """log Σ_k exp(first[k] + second[k]) with the usual max shift."""
    maximum = -np.inf
    for k in range(first.shape[0]):
        maximum = max(maximum, first[k] + second[k])
    if maximum == -np.inf:
        return -np.inf
    total = 0.0
    for k in range(first.shape[0]):
        total += np.exp(first[k] + second[k] - maximum)
    return maximum + np.log(total)


def _scaled_probabilities(log_A: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(exp(log_A - max along axis), that max); an all -inf slice gives zeros and -inf."""
    maximum = np.max(log_A, axis=axis, keepdims=True)
    safe_maximum = np.where(np.isfinite(maximum), maximum, 0.0)
    return np.exp(log_A - safe_maximum), np.squeeze(maximum, axis=axis)


@numba.njit(cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def _hmm_forward_kernel(log_pi, log_A_by_target, scaled_A, column_max, log_B):
    """scaled_A[i, j] = exp(log a_ij - column_max[j]); log_A_by_target[j, i] = log a_ij."""
    n_frames, n_states = log_B.shape
    log_alpha = np.empty((n_frames, n_states))
    for j in range(n_states):
        log_alpha[0, j] = log_pi[j] + log_B[0, j]
    probability = np.empty(n_states)
    total = np.empty(n_states)
    for t in range(1, n_frames):
        shift = -np.inf
        for i in range(n_states):
            shift = max(shift, log_alpha[t - 1, i])
        if shift == -np.inf:  # nothing can have produced the frames so far
            for later in range(t, n_frames):
                for j in range(n_states):
                    log_alpha[later, j] = -np.inf
            break
        for i in range(n_states):
            probability[i] = np.exp(log_alpha[t - 1, i] - shift)
        for j in range(n_states):
            total[j] = 0.0
        for i in range(n_states):  # total[j] = Σ_i α'_i a'_ij (contiguous inner loop)
            weight = probability[i]
            if weight != 0.0:
                for j in range(n_states):
                    total[j] += weight * scaled_A[i, j]
        for j in range(n_states):
            if total[j] > _UNDERFLOW:
                log_alpha[t, j] = shift + column_max[j] + np.log(total[j]) + log_B[t, j]
            else:
                log_alpha[t, j] = (
                    _exact_logsumexp_of_sum(log_alpha[t - 1], log_A_by_target[j]) + log_B[t, j]
                )
    return log_alpha


@numba.njit(cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def _hmm_backward_kernel(log_A, scaled_A, row_max, log_B):
    """scaled_A[i, j] = exp(log a_ij - row_max[i])."""
    n_frames, n_states = log_B.shape
    log_beta = np.empty((n_frames, n_states))
    for i in range(n_states):
        log_beta[n_frames - 1, i] = 0.0
    ahead = np.empty(n_states)  # log b_j(o_t+1) + log β_t+1(j)
    probability = np.empty(n_states)
    for t in range(n_frames - 2, -1, -1):
        shift = -np.inf
        for j in range(n_states):
            ahead[j] = log_B[t + 1, j] + log_beta[t + 1, j]
            shift = max(shift, ahead[j])
        if shift == -np.inf:
            for earlier in range(t + 1):
                for i in range(n_states):
                    log_beta[earlier, i] = -np.inf
            break
        for j in range(n_states):
            probability[j] = np.exp(ahead[j] - shift)
        for i in range(n_states):
            total = 0.0
            for j in range(n_states):
                total += scaled_A[i, j] * probability[j]
            if total > _UNDERFLOW:
                log_beta[t, i] = shift + row_max[i] + np.log(total)
            else:
                log_beta[t, i] = _exact_logsumexp_of_sum(log_A[i], ahead)
    return log_beta


@numba.njit(cache=True)
def _viterbi_kernel(log_pi, log_A, log_B):
    """Max-product forward keeping only δ (its inner loop vectorizes), then a walk back that
    recomputes each arg max from δ: the same numbers, so the same path as stored pointers."""
    n_frames, n_states = log_B.shape
    log_delta = np.empty((n_frames, n_states))
    for j in range(n_states):
        log_delta[0, j] = log_pi[j] + log_B[0, j]
    best = np.empty(n_states)
    for t in range(1, n_frames):
        for j in range(n_states):
            best[j] = -np.inf
        for i in range(n_states):  # best[j] = max_i δ_t-1(i) + log a_ij, contiguous in j
            previous = log_delta[t - 1, i]
            row = log_A[i]
            for j in range(n_states):  # (np.fmax is the form LLVM vectorizes; no NaN here)
                best[j] = np.fmax(best[j], previous + row[j])
        for j in range(n_states):
            log_delta[t, j] = best[j] + log_B[t, j]

    path = np.empty(n_frames, np.int64)
    last = 0
    for j in range(1, n_states):
        if log_delta[n_frames - 1, j] > log_delta[n_frames - 1, last]:
            last = j
    path[n_frames - 1] = last
    for t in range(n_frames - 1, 0, -1):
        target = path[t]
        best_state = 0
        best_score = log_delta[t - 1, 0] + log_A[0, target]
        for i in range(1, n_states):
            score = log_delta[t - 1, i] + log_A[i, target]
            if score > best_score:  # strict: the lowest index wins ties, like np.argmax
                best_state = i
                best_score = score
        path[t - 1] = best_state
    return path, log_delta[n_frames - 1, path[n_frames - 1]]


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------


def hmm_forward(
    log_pi: np.ndarray, log_A: np.ndarray, log_B: np.ndarray
) -> tuple[np.ndarray, float]:
    """Forward algorithm in log space -> (log_alpha (T, N), log p(o_1..o_T)).

    Taught in lessons/03_hmm.ipynb, section 2.
    """
    log_pi, log_A, log_B = _check_model(log_A, log_B, log_pi)
    scaled_A, column_max = _scaled_probabilities(log_A, axis=0)
    log_alpha = _hmm_forward_kernel(
        log_pi, np.ascontiguousarray(log_A.T), scaled_A, column_max, log_B
    )
    return log_alpha, float(logsumexp(log_alpha[-1]))


def hmm_backward(log_A: np.ndarray, log_B: np.ndarray) -> np.ndarray:
    """Backward algorithm in log space -> log_beta (T, N), with log β_T-1 = 0.

    α_t(i) β_t(i) / p(o) is the state occupation γ_t(i) used by Baum-Welch.
    Taught in lessons/03_hmm.ipynb, section 3.
    """
    log_A, log_B = _check_model(log_A, log_B)
    scaled_A, row_max = _scaled_probabilities(log_A, axis=1)
    return _hmm_backward_kernel(log_A, scaled_A, row_max, log_B)


def viterbi(log_pi: np.ndarray, log_A: np.ndarray, log_B: np.ndarray) -> tuple[np.ndarray, float]:
    """Most likely state sequence -> (path (T,) int64, its joint log-probability).

    Taught in lessons/03_hmm.ipynb, section 4.
    """
    log_pi, log_A, log_B = _check_model(log_A, log_B, log_pi)
    path, log_score = _viterbi_kernel(log_pi, log_A, log_B)
    return path, float(log_score)
