"""HMM forward/backward/Viterbi: Numba == reference == brute force; parity with hmmlearn."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.dp.hmm import (
    hmm_backward,
    hmm_backward_reference,
    hmm_forward,
    hmm_forward_reference,
    viterbi,
    viterbi_reference,
)

hmmlearn = pytest.importorskip("hmmlearn")
from hmmlearn import _hmmc  # noqa: E402
from hmmlearn.hmm import CategoricalHMM  # noqa: E402


def random_model(seed: int, n_states: int, n_frames: int, left_to_right: bool = False):
    """-> (pi, A, log_B) with probabilities pi, A (zeros allowed) and emission log-probs."""
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(n_states))
    A = rng.dirichlet(np.ones(n_states), size=n_states)
    if left_to_right:
        A = np.triu(A)
        A /= A.sum(axis=1, keepdims=True)
        pi = np.eye(n_states)[0]
    log_B = 3.0 * rng.normal(size=(n_frames, n_states))
    return pi, A, log_B


def logs(*arrays):
    with np.errstate(divide="ignore"):
        return [np.log(a) for a in arrays]


def assert_lattices_close(ours, theirs):
    finite = np.isfinite(theirs)
    assert np.array_equal(np.isfinite(ours), finite)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-12, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 3), st.integers(1, 5), st.booleans())
def test_matches_brute_force(seed, n_states, n_frames, left_to_right):
    pi, A, log_B = random_model(seed, n_states, n_frames, left_to_right)
    log_pi, log_A = logs(pi, A)
    scores = {}
    for states in itertools.product(range(n_states), repeat=n_frames):
        score = log_pi[states[0]] + log_B[0, states[0]]
        for t in range(1, n_frames):
            score += log_A[states[t - 1], states[t]] + log_B[t, states[t]]
        scores[states] = score
    values = np.array(list(scores.values()))
    log_likelihood = np.logaddexp.reduce(values)
    best_states = max(scores, key=scores.get)

    log_alpha, ours = hmm_forward(log_pi, log_A, log_B)
    reference_alpha, reference = hmm_forward_reference(log_pi, log_A, log_B)
    assert ours == pytest.approx(log_likelihood, rel=1e-12) and reference == pytest.approx(
        log_likelihood, rel=1e-12
    )
    assert_lattices_close(log_alpha, reference_alpha)
    log_beta = hmm_backward(log_A, log_B)
    assert_lattices_close(log_beta, hmm_backward_reference(log_A, log_B))
    # Σ_i α_t(i) β_t(i) = p(o) at every t
    totals = np.logaddexp.reduce(log_alpha + log_beta, axis=1)
    np.testing.assert_allclose(totals, log_likelihood, rtol=1e-12)

    path, score = viterbi(log_pi, log_A, log_B)
    reference_path, reference_score = viterbi_reference(log_pi, log_A, log_B)
    assert np.array_equal(path, reference_path) and score == reference_score
    assert score == pytest.approx(scores[best_states], rel=1e-12)
    if np.sum(values == values.max()) == 1:
        assert tuple(path) == best_states


@pytest.mark.parametrize("left_to_right", [False, True])
def test_parity_with_hmmlearn_kernels(left_to_right):
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n_states, n_frames = int(rng.integers(1, 8)), int(rng.integers(1, 60))
        pi, A, log_B = random_model(seed, n_states, n_frames, left_to_right)
        log_pi, log_A = logs(pi, A)
        their_likelihood, their_alpha = _hmmc.forward_log(pi, A, log_B)
        their_score, their_path = _hmmc.viterbi(pi, A, log_B)
        log_alpha, log_likelihood = hmm_forward(log_pi, log_A, log_B)
        assert abs(log_likelihood - their_likelihood) <= 1e-10 * abs(their_likelihood)
        assert_lattices_close(log_alpha, their_alpha)
        assert_lattices_close(hmm_backward(log_A, log_B), _hmmc.backward_log(pi, A, log_B))
        path, score = viterbi(log_pi, log_A, log_B)
        assert np.array_equal(path, their_path) and score == their_score


def test_parity_with_hmmlearn_categorical_model():
    rng = np.random.default_rng(5)
    model = CategoricalHMM(n_components=4, n_features=6)
    model.startprob_ = rng.dirichlet(np.ones(4))
    model.transmat_ = rng.dirichlet(np.ones(4), size=4)
    model.emissionprob_ = rng.dirichlet(np.ones(6), size=4)
    observations = rng.integers(0, 6, size=(500, 1))
    log_B = model._compute_log_likelihood(observations)  # (T, N)
    log_pi, log_A = logs(model.startprob_, model.transmat_)
    their_score, their_path = model.decode(observations, algorithm="viterbi")
    path, score = viterbi(log_pi, log_A, log_B)
    assert np.array_equal(path, their_path) and score == pytest.approx(their_score, rel=1e-12)
    _, log_likelihood = hmm_forward(log_pi, log_A, log_B)
    assert abs(log_likelihood - model.score(observations)) <= 1e-10 * abs(log_likelihood)


def test_tiny_transition_probabilities_stay_exact():
    """e^-800 transitions underflow in probability space: the kernel must fall back to logs."""
    rng = np.random.default_rng(6)
    log_A = np.log(rng.dirichlet(np.ones(3), size=3))
    log_A[0, 1] = log_A[1, 2] = -800.0
    log_B = rng.normal(size=(30, 3))
    log_B[:10, 1:] = -900.0  # the frames force state 0, then a -800 jump, ...
    log_B[10:20, [0, 2]] = -900.0
    log_B[20:, :2] = -900.0
    log_pi = np.log(np.array([0.98, 0.01, 0.01]))
    alpha, likelihood = hmm_forward(log_pi, log_A, log_B)
    reference_alpha, reference_likelihood = hmm_forward_reference(log_pi, log_A, log_B)
    assert np.isfinite(likelihood) and likelihood == pytest.approx(reference_likelihood, rel=1e-12)
    assert_lattices_close(alpha, reference_alpha)
    assert_lattices_close(hmm_backward(log_A, log_B), hmm_backward_reference(log_A, log_B))


def test_planted_path_is_recovered():
    rng = np.random.default_rng(7)
    n_states, n_frames = 6, 200
    planted = np.sort(rng.integers(0, n_states, size=n_frames))  # a left-to-right walk
    log_B = np.full((n_frames, n_states), -20.0) + rng.normal(size=(n_frames, n_states))
    log_B[np.arange(n_frames), planted] = 0.0
    log_A = np.log(np.full((n_states, n_states), 1.0 / n_states))
    path, _ = viterbi(np.log(np.full(n_states, 1.0 / n_states)), log_A, log_B)
    assert np.array_equal(path, planted)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="log_A must be"):
        hmm_forward(np.zeros(2), np.zeros((3, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="log_pi must be"):
        viterbi(np.zeros(3), np.zeros((2, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        hmm_backward(np.zeros((2, 2)), np.full((4, 2), np.nan))
