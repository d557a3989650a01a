"""GMM-HMM: parity with hmmlearn (emissions, one Baum-Welch step), brute-force posteriors,
monotone EM, a planted model recovered, and both recognizers on separable synthetic words."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.dp.hmm import hmm_backward, hmm_forward
from minispeech.hmm import (
    DTWTemplateRecognizer,
    GaussianMixtureHMM,
    HMMConfig,
    IsolatedWordRecognizer,
    frame_distances,
    kmeans,
    left_to_right_transitions,
    state_occupancy,
    transition_counts,
)

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")


def random_parameters(
    seed: int, n_states: int, n_mixtures: int, n_features: int, left_to_right: bool
):
    """(π, A, w, μ, σ²) as probabilities; left-to-right models start in state 0."""
    rng = np.random.default_rng(seed)
    if left_to_right:
        initial = np.eye(n_states)[0]
        transitions = left_to_right_transitions(
            n_states, rng.uniform(0.3, 0.8, n_states), skip=True
        )
    else:
        initial = rng.dirichlet(np.ones(n_states))
        transitions = rng.dirichlet(np.ones(n_states), size=n_states)
    weights = rng.dirichlet(np.ones(n_mixtures), size=n_states)
    means = 2.0 * rng.normal(size=(n_states, n_mixtures, n_features))
    variances = rng.uniform(0.3, 2.0, size=(n_states, n_mixtures, n_features))
    return initial, transitions, weights, means, variances


def sample(parameters, n_frames: int, rng: np.random.Generator):
    """One sequence (T, D) and its true states (T,) drawn from a GMM-HMM."""
    initial, transitions, weights, means, variances = parameters
    states = [rng.choice(len(initial), p=initial)]
    for _ in range(n_frames - 1):
        states.append(rng.choice(len(initial), p=transitions[states[-1]]))
    frames = []
    for state in states:
        component = rng.choice(weights.shape[1], p=weights[state])
        frames.append(
            means[state, component]
            + np.sqrt(variances[state, component]) * rng.normal(size=means.shape[2])
        )
    return np.array(frames), np.array(states)


def model_with(parameters, **config) -> GaussianMixtureHMM:
    initial, _, weights, _, _ = parameters
    config = HMMConfig(n_states=len(initial), n_mixtures=weights.shape[1], **config)
    return GaussianMixtureHMM(config).set_parameters(*parameters)


def hmmlearn_model(parameters, lengths_hint=None):
    initial, transitions, weights, means, variances = parameters
    model = hmmlearn_hmm.GMMHMM(n_components=len(initial), n_mix=weights.shape[1], covariance_type="diag",
                                n_iter=1, init_params="", params="stmcw", implementation="log")  # fmt: skip
    model.startprob_, model.transmat_, model.weights_ = initial, transitions, weights
    model.means_, model.covars_ = means, variances
    return model


@pytest.mark.parametrize("left_to_right", [False, True])
def test_emission_log_probs_equal_hmmlearn(left_to_right):
    parameters = random_parameters(
        0, n_states=4, n_mixtures=3, n_features=5, left_to_right=left_to_right
    )
    features = 2.0 * np.random.default_rng(1).normal(size=(50, 5))
    ours = model_with(parameters).emission_log_probs(features)
    model = hmmlearn_model(parameters)
    model.n_features = 5
    model._check()
    theirs = model._compute_log_likelihood(features)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-8)


@pytest.mark.parametrize("left_to_right", [False, True])
def test_one_baum_welch_step_equals_hmmlearn_gaussian_hmm(left_to_right):
    """n_mix = 1: hmmlearn GaussianHMM('diag') with covars_prior=0 is the exact ML update."""
    parameters = random_parameters(
        2, n_states=3, n_mixtures=1, n_features=4, left_to_right=left_to_right
    )
    rng = np.random.default_rng(3)
    sequences = [sample(parameters, int(rng.integers(15, 40)), rng)[0] for _ in range(6)]
    ours = model_with(parameters, end_in_last_state=False, variance_floor=1e-12)
    log_likelihood_before = ours.em_step(sequences)

    initial, transitions, _, means, variances = parameters
    theirs = hmmlearn_hmm.GaussianHMM(n_components=3, covariance_type="diag", n_iter=1, init_params="",
                                      params="stmc", covars_prior=0.0, covars_weight=1.0)  # fmt: skip
    theirs.startprob_, theirs.transmat_, theirs.means_, theirs.covars_ = (
        initial,
        transitions,
        means[:, 0],
        variances[:, 0],
    )
    assert log_likelihood_before == pytest.approx(
        theirs.score(np.concatenate(sequences), [len(s) for s in sequences]), rel=1e-12
    )
    with np.errstate(divide="ignore"):
        theirs.fit(np.concatenate(sequences), [len(s) for s in sequences])
    np.testing.assert_allclose(np.exp(ours.log_initial), theirs.startprob_, atol=1e-10)
    np.testing.assert_allclose(np.exp(ours.log_transitions), theirs.transmat_, atol=1e-10)
    np.testing.assert_allclose(ours.means[:, 0], theirs.means_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours.variances[:, 0], theirs._covars_, rtol=1e-8, atol=1e-10)
    if left_to_right:  # the topology's zeros stay zero
        assert (np.exp(ours.log_transitions)[transitions == 0] == 0).all()


def test_one_baum_welch_step_equals_hmmlearn_gmm_hmm():
    """n_mix = 2: weights, means, π and A equal GMMHMM's. Its diagonal covariance update centres
    the frames on the *old* means (Σγ(x - μ_old)² / Σγ), ours on the new ones, the EM maximum;
    the two differ by exactly (μ_new - μ_old)²."""
    parameters = random_parameters(4, n_states=3, n_mixtures=2, n_features=3, left_to_right=False)
    rng = np.random.default_rng(5)
    sequences = [sample(parameters, int(rng.integers(20, 50)), rng)[0] for _ in range(5)]
    ours = model_with(parameters, end_in_last_state=False, variance_floor=1e-12)
    ours.em_step(sequences)
    theirs = hmmlearn_model(parameters)
    theirs.fit(np.concatenate(sequences), [len(s) for s in sequences])
    np.testing.assert_allclose(np.exp(ours.log_initial), theirs.startprob_, atol=1e-10)
    np.testing.assert_allclose(np.exp(ours.log_transitions), theirs.transmat_, atol=1e-10)
    np.testing.assert_allclose(ours.weights, theirs.weights_, atol=1e-10)
    np.testing.assert_allclose(ours.means, theirs.means_, rtol=1e-9, atol=1e-10)
    shift = (ours.means - parameters[3]) ** 2
    np.testing.assert_allclose(ours.variances, theirs.covars_ - shift, rtol=1e-8, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 3), st.integers(2, 5))
def test_posteriors_match_brute_force(seed, n_states, n_frames):
    rng = np.random.default_rng(seed)
    log_pi = np.log(rng.dirichlet(np.ones(n_states)))
    log_A = np.log(rng.dirichlet(np.ones(n_states), size=n_states))
    log_B = 2.0 * rng.normal(size=(n_frames, n_states))
    weights, expected_gamma, expected_xi = (
        [],
        np.zeros((n_frames, n_states)),
        np.zeros((n_states, n_states)),
    )
    paths = list(itertools.product(range(n_states), repeat=n_frames))
    for path in paths:
        score = log_pi[path[0]] + sum(log_B[t, path[t]] for t in range(n_frames))
        score += sum(log_A[path[t - 1], path[t]] for t in range(1, n_frames))
        weights.append(score)
    weights = np.exp(np.array(weights) - np.logaddexp.reduce(weights))  # p(path | O)
    for weight, path in zip(weights, paths, strict=True):
        for t in range(n_frames):
            expected_gamma[t, path[t]] += weight
        for t in range(1, n_frames):
            expected_xi[path[t - 1], path[t]] += weight
    log_alpha, _ = hmm_forward(log_pi, log_A, log_B)
    log_beta = hmm_backward(log_A, log_B)
    gamma = state_occupancy(log_alpha, log_beta)
    np.testing.assert_allclose(gamma, expected_gamma, rtol=1e-9, atol=1e-12)
    xi = transition_counts(log_A, log_B, log_alpha, log_beta)
    np.testing.assert_allclose(xi, expected_xi, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xi.sum(axis=1), gamma[:-1].sum(axis=0), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("skip, end_in_last_state", [(False, True), (True, False)])
def test_log_likelihood_never_decreases(skip, end_in_last_state):
    parameters = random_parameters(6, n_states=4, n_mixtures=2, n_features=3, left_to_right=True)
    rng = np.random.default_rng(7)
    sequences = [sample(parameters, int(rng.integers(12, 30)), rng)[0] for _ in range(8)]
    config = HMMConfig(n_states=4, n_mixtures=2, n_iterations=15, skip_transitions=skip,
                       end_in_last_state=end_in_last_state, variance_floor=0.05)  # fmt: skip
    model = GaussianMixtureHMM(config).fit(sequences)
    history = np.array(model.log_likelihood_history)
    assert len(history) == 16
    assert (np.diff(history) >= -1e-9 * np.abs(history[1:])).all(), history
    assert history[-1] > history[0] + 1.0  # training did something
    assert np.isclose(history[-1], sum(model.log_likelihood(s) for s in sequences))
    assert (model.variances >= 0.05).all()
    assert np.allclose(np.exp(model.log_transitions).sum(axis=1), 1.0)


def test_recovers_a_planted_three_state_model():
    means = np.array([[[0.0, 0.0]], [[4.0, 0.0]], [[4.0, 4.0]]])  # (N, M=1, D=2)
    transitions = left_to_right_transitions(3, np.array([0.9, 0.85, 1.0]))
    planted = (np.eye(3)[0], transitions, np.ones((3, 1)), means, np.full((3, 1, 2), 0.5))
    rng = np.random.default_rng(8)
    drawn = [sample(planted, int(rng.integers(24, 36)), rng) for _ in range(60)]
    model = GaussianMixtureHMM(
        HMMConfig(n_states=3, n_mixtures=1, n_iterations=20, end_in_last_state=False)
    )
    model.fit([frames for frames, _ in drawn])
    np.testing.assert_allclose(model.means, means, atol=0.1)
    np.testing.assert_allclose(model.variances, 0.5, atol=0.1)
    np.testing.assert_allclose(np.exp(model.log_transitions), transitions, atol=0.06)
    frames, states = drawn[0]
    assert np.mean(model.decode(frames)[0] == states) > 0.95


def synthetic_words(seed: int, takes: int):
    """Three 'words', each a left-to-right walk through its own three 4-D means, random durations."""
    rng = np.random.default_rng(seed)
    word_means = {"alpha": [0, 1, 2], "beta": [2, 1, 0], "gamma": [1, 3, 1]}
    centres = 3.0 * np.eye(4)
    words = {}
    for word, order in word_means.items():
        words[word] = [np.concatenate([centres[state] + 0.7 * rng.normal(size=(int(rng.integers(4, 12)), 4))
                                       for state in order]) for _ in range(takes)]  # fmt: skip
    return words


def test_recognizers_on_separable_synthetic_words():
    train, test = synthetic_words(9, takes=8), synthetic_words(10, takes=5)
    hmm = IsolatedWordRecognizer(HMMConfig(n_states=3, n_mixtures=1, n_iterations=5)).fit(train)
    for recognizer in (
        hmm,
        DTWTemplateRecognizer("euclidean").fit(train),
        DTWTemplateRecognizer("cosine").fit(train),
    ):
        for word, sequences in test.items():
            assert [recognizer.predict(sequence) for sequence in sequences] == [word] * 5
    scores = hmm.scores(test["beta"][0])
    assert set(scores) == {"alpha", "beta", "gamma"} and max(scores, key=scores.get) == "beta"


def test_dtw_distance_ignores_time_stretching():
    sequence = np.random.default_rng(11).normal(size=(10, 3))
    recognizer = DTWTemplateRecognizer().fit({"a": [sequence], "b": [sequence + 5.0]})
    stretched = np.repeat(sequence, 2, axis=0)  # every frame twice: a slower take
    assert recognizer.distance(sequence, stretched) == pytest.approx(0.0, abs=1e-6)
    assert recognizer.distances(stretched)["a"] == pytest.approx(0.0, abs=1e-6)
    assert recognizer.predict(stretched) == "a"
    brute = np.linalg.norm(sequence[:, None] - stretched[None], axis=2)
    np.testing.assert_allclose(frame_distances(sequence, stretched), brute, atol=1e-6)


def test_decode_ends_in_the_last_state_and_starts_in_the_first():
    parameters = random_parameters(12, n_states=4, n_mixtures=2, n_features=2, left_to_right=True)
    model = model_with(parameters)
    frames = np.random.default_rng(13).normal(size=(12, 2))
    path, score = model.decode(frames)
    assert path[0] == 0 and path[-1] == 3 and (np.diff(path) >= 0).all()
    assert score <= model.log_likelihood(frames)  # one path's probability <= the sum over paths
    assert model.log_likelihood(frames[:1]) == -np.inf  # 1 frame cannot reach state 3


def test_initialization_is_seeded_and_left_to_right():
    sequences = synthetic_words(14, takes=6)["alpha"]
    first = GaussianMixtureHMM(HMMConfig(n_states=3, n_mixtures=2, n_iterations=0, seed=3)).fit(
        sequences
    )
    second = GaussianMixtureHMM(HMMConfig(n_states=3, n_mixtures=2, n_iterations=0, seed=3)).fit(
        sequences
    )
    np.testing.assert_array_equal(first.means, second.means)
    A = np.exp(first.log_transitions)
    assert np.all(A[np.tril_indices(3, -1)] == 0) and A[0, 2] == 0 and A[2, 2] == 1
    centroids, labels = kmeans(np.concatenate([np.zeros((5, 2)), np.ones((5, 2)) * 10]), 2, seed=0)
    assert sorted(centroids[:, 0].tolist()) == [0.0, 10.0] and len(set(labels[:5])) == 1


def test_bad_inputs_raise_helpful_errors():
    with pytest.raises(ValueError, match="n_states"):
        HMMConfig(n_states=0)
    with pytest.raises(ValueError, match="call fit first"):
        GaussianMixtureHMM().log_likelihood(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="fewer frames than n_states"):
        GaussianMixtureHMM(HMMConfig(n_states=5)).fit([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="transpose"):
        GaussianMixtureHMM().fit([np.zeros(10)])
    with pytest.raises(ValueError, match="metric"):
        DTWTemplateRecognizer("manhattan")
    with pytest.raises(ValueError, match="at least two words"):
        IsolatedWordRecognizer().fit({"one": [np.zeros((5, 2))]})


def test_state_posteriors_respect_the_end_constraint():
    parameters = random_parameters(15, n_states=3, n_mixtures=2, n_features=2, left_to_right=True)
    frames = np.random.default_rng(16).normal(size=(9, 2))
    gamma = model_with(parameters).state_posteriors(frames)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0)
    assert gamma[0, 0] == pytest.approx(1.0) and gamma[-1, -1] == pytest.approx(1.0)
    free = model_with(parameters, end_in_last_state=False).state_posteriors(frames)
    assert free[-1, -1] < 1.0 - 1e-6
