"""Gaussian-mixture hidden Markov models for isolated words, and a DTW template baseline.

HMMConfig                  n_states, n_mixtures, n_iterations, variance_floor, seed, topology
GaussianMixtureHMM         left-to-right GMM-HMM with diagonal covariances: fit (k-means start,
                           then Baum-Welch), log_likelihood, decode (Viterbi), state_posteriors,
                           emission_log_probs
left_to_right_transitions  a transition matrix with only self-loops, next (and skip) arcs
state_occupancy            γ_t(j) = α_t(j) β_t(j) / p(O), from log α and log β
transition_counts          Σ_t ξ_t(i, j), the expected number of i -> j transitions
kmeans                     seeded Lloyd's k-means (the mixture components' starting point)
IsolatedWordRecognizer     one GaussianMixtureHMM per word; predict = arg max log-likelihood
DTWTemplateRecognizer      nearest training template by length-normalized DTW distance
frame_distances            Euclidean or cosine distance of every frame pair (DTW's cost matrix)

Shapes   a sequence (T, D) is frames first, one row per frame: transpose the (D, T_mel)
         features of minispeech.dsp.mfcc. N states, M mixture components per state.
         log_B = emission_log_probs (T, N); weights (N, M); means, variances (N, M, D);
         log_initial (N,); log_transitions (N, N), row = from, column = to.
The recursions are minispeech.dp's Numba kernels (hmm_forward, hmm_backward, viterbi, dtw).
Taught in lessons/03_hmm.ipynb, sections 5-6.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from minispeech.dp.hmm import hmm_backward, hmm_forward, logsumexp, viterbi
from minispeech.dp.warping import dtw

LOG_2PI = math.log(2.0 * math.pi)
MIN_OCCUPANCY = 1e-10  # expected frames below which a state or component keeps its old parameters
SKIP_SHARE = 0.2  # with skip arcs, the share of a state's leaving probability that skips a state
KMEANS_ITERATIONS = 20


@dataclass(frozen=True)
class HMMConfig:
    """One word model. Defaults suit 39-dim MFCC + Δ + ΔΔ features with CMVN."""

    n_states: int = 5
    n_mixtures: int = 2
    n_iterations: int = 10  # Baum-Welch iterations after the k-means start
    variance_floor: float = 1e-3  # lower bound of every variance (absolute, in feature units²)
    seed: int = 0  # k-means initialization
    skip_transitions: bool = False  # also allow i -> i + 2 (a state may be skipped)
    end_in_last_state: bool = True  # a word is finished: the last frame belongs to the last state
    tolerance: float = 0.0  # stop once an iteration gains less log-likelihood per frame; 0: never

    def __post_init__(self):
        for name, minimum in (("n_states", 1), ("n_mixtures", 1), ("n_iterations", 0)):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value < minimum
            ):
                raise ValueError(
                    f"HMMConfig: {name} must be an integer >= {minimum}, got {value!r}"
                )
        if not self.variance_floor > 0:
            raise ValueError(f"HMMConfig: variance_floor must be > 0, got {self.variance_floor!r}")
        if not self.tolerance >= 0:
            raise ValueError(f"HMMConfig: tolerance must be >= 0, got {self.tolerance!r}")


# ----------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------


def _log(probabilities: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(probabilities)


def left_to_right_transitions(
    n_states: int, stay_probability: float | np.ndarray = 0.5, skip: bool = False
) -> np.ndarray:
    """Transition probabilities A (N, N) of a left-to-right model; every other arc is 0.

    State i stays with stay_probability (a number, or one per state) and otherwise moves to
    i + 1, or with skip=True to i + 2 for a SKIP_SHARE part of the leaving probability. The last
    state only stays (probability 1): A has zeros where the topology has no arc, and Baum-Welch
    keeps them zero (ξ is 0 wherever a_ij is 0).
    """
    stay = np.broadcast_to(np.asarray(stay_probability, dtype=np.float64), (n_states,))
    if not ((stay >= 0) & (stay <= 1)).all():
        raise ValueError(
            f"left_to_right_transitions: stay_probability must be in [0, 1], got {stay}"
        )
    A = np.zeros((n_states, n_states))
    for i in range(n_states - 1):
        leave = 1.0 - stay[i]
        A[i, i] = stay[i]
        if skip and i + 2 < n_states:
            A[i, i + 1] = (1.0 - SKIP_SHARE) * leave
            A[i, i + 2] = SKIP_SHARE * leave
        else:
            A[i, i + 1] = leave
    A[-1, -1] = 1.0
    return A


def state_occupancy(log_alpha: np.ndarray, log_beta: np.ndarray) -> np.ndarray:
    """γ (T, N): γ_t(j) = p(q_t = j | O) = α_t(j) β_t(j) / p(O); each row sums to 1.

    log_alpha, log_beta (T, N) from minispeech.dp.hmm_forward / hmm_backward. Lesson 03, section 5.
    """
    log_likelihood = logsumexp(log_alpha[-1], axis=0)
    with np.errstate(under="ignore"):
        return np.exp(log_alpha + log_beta - log_likelihood)


def transition_counts(
    log_A: np.ndarray, log_B: np.ndarray, log_alpha: np.ndarray, log_beta: np.ndarray
) -> np.ndarray:
    """Σ_t ξ_t(i, j) (N, N): the expected number of i -> j transitions given the observations.

    ξ_t(i, j) = α_t(i) a_ij b_j(o_t+1) β_t+1(j) / p(O) for t = 0 .. T-2; summing row i over j
    gives Σ_t γ_t(i) over the same frames. Lesson 03, section 5.
    """
    log_likelihood = logsumexp(log_alpha[-1], axis=0)
    ahead = log_B[1:] + log_beta[1:]  # (T-1, N): log b_j(o_t+1) + log β_t+1(j)
    # (T-1, N, 1) + (1, N, N) + (T-1, 1, N) -> (T-1, N, N): [t, from i, to j]
    log_xi = log_alpha[:-1, :, None] + log_A[None, :, :] + ahead[:, None, :] - log_likelihood
    with np.errstate(under="ignore"):
        return np.exp(log_xi).sum(axis=0)


def kmeans(
    points: np.ndarray,
    n_clusters: int,
    seed: int | np.random.Generator = 0,
    n_iterations: int = KMEANS_ITERATIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means on points (P, D) -> (centroids (K, D), labels (P,)).

    Starts from K distinct random points (seeded); a cluster that empties is re-seeded with
    the point farthest from its centroid. Needs P >= K.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or len(points) < n_clusters:
        raise ValueError(
            f"kmeans: points must be (P, D) with P >= n_clusters={n_clusters}, got {points.shape}"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    centroids = points[rng.choice(len(points), size=n_clusters, replace=False)].copy()  # (K, D)
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(n_iterations):
        distances = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)  # (P, K)
        labels = np.argmin(distances, axis=1)
        nearest = distances[np.arange(len(points)), labels]  # (P,)
        for k in range(n_clusters):
            members = labels == k
            if members.any():
                centroids[k] = points[members].mean(axis=0)
            else:
                farthest = int(np.argmax(nearest))
                centroids[k], labels[farthest], nearest[farthest] = points[farthest], k, 0.0
    return centroids, labels


def _check_sequences(sequences: Sequence[np.ndarray], caller: str) -> list[np.ndarray]:
    if isinstance(sequences, np.ndarray) or len(sequences) == 0:
        raise ValueError(f"{caller}: pass a non-empty list of (T, D) arrays, one per utterance")
    checked = [_check_features(sequence, f"{caller}: sequences[{index}]") for index, sequence
               in enumerate(sequences)]  # fmt: skip
    dimensions = {sequence.shape[1] for sequence in checked}
    if len(dimensions) > 1:
        raise ValueError(
            f"{caller}: every sequence needs the same feature size D, got {sorted(dimensions)}"
        )
    return checked


def _check_features(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(
            f"{name} must be a (T, D) array with T >= 1 frames first, got shape {features.shape} "
            "(minispeech.dsp.mfcc returns (D, T): transpose it)"
        )
    if not np.isfinite(features).all():
        raise ValueError(f"{name} contains NaN or inf")
    return features


# ----------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------


@dataclass
class _Statistics:
    """Sufficient statistics summed over the training sequences: the E-step's output."""

    initial: np.ndarray  # (N,) Σ γ_0(j)
    transitions: np.ndarray  # (N, N) Σ ξ_t(i, j)
    occupancy: np.ndarray  # (N, M) Σ_t γ_t(j, m)
    first_moment: np.ndarray  # (N, M, D) Σ_t γ_t(j, m) o_t
    second_moment: np.ndarray  # (N, M, D) Σ_t γ_t(j, m) o_t²
    log_likelihood: float = 0.0  # Σ log p(O) under the parameters that produced them


class GaussianMixtureHMM:
    """A left-to-right HMM whose states emit diagonal-covariance Gaussian mixtures.

        model = GaussianMixtureHMM(HMMConfig(n_states=5, n_mixtures=2)).fit(sequences)
        model.log_likelihood(features)   # log p(O | model), features (T, D)
        path, score = model.decode(features)

    fit: uniform segmentation of every sequence into N states, k-means per state for the M
    components, then Baum-Welch; log_likelihood_history holds the training log-likelihood
    before each iteration and after the last (it never decreases: EM). With
    config.end_in_last_state, the last frame must be emitted by the last state (the word is
    finished), done by setting log_B[-1, :-1] = -inf; emission_log_probs never applies it.
    Taught in lessons/03_hmm.ipynb, sections 5-6.
    """

    def __init__(self, config: HMMConfig | None = None):
        self.config = config if config is not None else HMMConfig()
        self.log_initial: np.ndarray | None = None  # (N,)
        self.log_transitions: np.ndarray | None = None  # (N, N)
        self.weights: np.ndarray | None = None  # (N, M)
        self.means: np.ndarray | None = None  # (N, M, D)
        self.variances: np.ndarray | None = None  # (N, M, D)
        self.log_likelihood_history: list[float] = []

    # --- parameters -----------------------------------------------------------------------

    def set_parameters(
        self,
        initial: np.ndarray,
        transitions: np.ndarray,
        weights: np.ndarray,
        means: np.ndarray,
        variances: np.ndarray,
    ) -> GaussianMixtureHMM:
        """Set every parameter from probabilities (not logs): π (N,), A (N, N), w (N, M),
        μ (N, M, D), σ² (N, M, D). Shapes must match the config's N and M."""
        n, m = self.config.n_states, self.config.n_mixtures
        initial, transitions, weights, means, variances = (
            np.array(value, dtype=np.float64)
            for value in (initial, transitions, weights, means, variances)
        )
        if means.ndim != 3:
            raise ValueError(f"set_parameters: means must be (N, M, D), got shape {means.shape}")
        expected = {"initial": (n,), "transitions": (n, n), "weights": (n, m),
                    "means": (n, m, means.shape[2]), "variances": (n, m, means.shape[2])}  # fmt: skip
        given = {"initial": initial, "transitions": transitions, "weights": weights,
                 "means": means, "variances": variances}  # fmt: skip
        for name, shape in expected.items():
            if given[name].shape != shape:
                raise ValueError(
                    f"set_parameters: {name} must have shape {shape} for n_states={n}, "
                    f"n_mixtures={m}, got {given[name].shape}"
                )
        for name in ("initial", "transitions", "weights"):
            rows = given[name].reshape(-1, given[name].shape[-1])
            if (rows < 0).any() or not np.allclose(rows.sum(axis=1), 1.0):
                raise ValueError(
                    f"set_parameters: {name} must hold probabilities summing to 1 per row"
                )
        if not (variances > 0).all():
            raise ValueError("set_parameters: variances must be > 0")
        self.log_initial, self.log_transitions = _log(initial), _log(transitions)
        self.weights, self.means, self.variances = weights, means, variances
        return self

    def _check_fitted(self, caller: str) -> None:
        if self.means is None:
            raise ValueError(
                f"GaussianMixtureHMM.{caller}: the model has no parameters yet; call fit first"
            )

    # --- emissions ------------------------------------------------------------------------

    def component_log_probs(self, features: np.ndarray) -> np.ndarray:
        """log w_jm + log N(o_t; μ_jm, diag σ²_jm) for every frame, state and component: (T, N, M)."""
        self._check_fitted("component_log_probs")
        features = _check_features(features, "features")
        if features.shape[1] != self.means.shape[2]:
            raise ValueError(
                f"features have D={features.shape[1]} per frame, "
                f"the model was trained on D={self.means.shape[2]}"
            )
        # (T, 1, 1, D) - (1, N, M, D) -> (T, N, M, D), summed over D -> (T, N, M)
        squared = ((features[:, None, None, :] - self.means[None]) ** 2 / self.variances[None]).sum(
            axis=3
        )
        log_normalizer = -0.5 * (
            features.shape[1] * LOG_2PI + np.log(self.variances).sum(axis=2)
        )  # (N, M)
        return _log(self.weights)[None] + log_normalizer[None] - 0.5 * squared

    def emission_log_probs(self, features: np.ndarray) -> np.ndarray:
        """log b_j(o_t) = log Σ_m w_jm N(o_t; μ_jm, σ²_jm): (T, N), the log_B of minispeech.dp.

        Equals hmmlearn GMMHMM(covariance_type="diag")._compute_log_likelihood with the same
        parameters. Lesson 03, section 6.
        """
        return logsumexp(self.component_log_probs(features), axis=2)

    def _constrained(self, log_B: np.ndarray) -> np.ndarray:
        """log_B with the end constraint applied when the config asks for it (a copy)."""
        if not self.config.end_in_last_state:
            return log_B
        log_B = log_B.copy()
        log_B[-1, :-1] = -np.inf
        return log_B

    # --- the three problems ---------------------------------------------------------------

    def log_likelihood(self, sequence: np.ndarray) -> float:
        """log p(O | model) by the forward algorithm; -inf if the topology cannot emit O
        (e.g. fewer frames than states without skips)."""
        self._check_fitted("log_likelihood")
        log_B = self._constrained(self.emission_log_probs(sequence))
        return hmm_forward(self.log_initial, self.log_transitions, log_B)[1]

    def decode(self, sequence: np.ndarray) -> tuple[np.ndarray, float]:
        """Viterbi: the best state sequence (T,) int64 and its joint log-probability."""
        self._check_fitted("decode")
        log_B = self._constrained(self.emission_log_probs(sequence))
        return viterbi(self.log_initial, self.log_transitions, log_B)

    def state_posteriors(self, sequence: np.ndarray) -> np.ndarray:
        """γ (T, N): the probability that state j emitted frame t, given the whole sequence."""
        self._check_fitted("state_posteriors")
        log_B = self._constrained(self.emission_log_probs(sequence))
        log_alpha, _ = hmm_forward(self.log_initial, self.log_transitions, log_B)
        return state_occupancy(log_alpha, hmm_backward(self.log_transitions, log_B))

    # --- training -------------------------------------------------------------------------

    def initialize(self, sequences: Sequence[np.ndarray]) -> GaussianMixtureHMM:
        """The k-means start: cut every sequence into N equal parts (state j gets part j), run
        k-means on each state's pooled frames for its M components (weights = cluster shares,
        variances = cluster variances, floored), and set the self-loop of state j to
        1 - 1 / (its mean duration in frames), clipped to [0.1, 0.9]; π = (1, 0, ..., 0)."""
        config = self.config
        sequences = _check_sequences(sequences, "GaussianMixtureHMM.initialize")
        too_short = [
            index for index, sequence in enumerate(sequences) if len(sequence) < config.n_states
        ]
        if too_short:
            raise ValueError(
                f"GaussianMixtureHMM: sequences {too_short[:5]} have fewer frames than n_states="
                f"{config.n_states}; use fewer states or drop those sequences"
            )
        rng = np.random.default_rng(config.seed)
        n, m, d = config.n_states, config.n_mixtures, sequences[0].shape[1]
        frames_by_state = [[] for _ in range(n)]
        for sequence in sequences:
            boundaries = np.linspace(0, len(sequence), n + 1).round().astype(int)
            for state in range(n):
                frames_by_state[state].append(sequence[boundaries[state] : boundaries[state + 1]])
        weights, means, variances = np.empty((n, m)), np.empty((n, m, d)), np.empty((n, m, d))
        mean_durations = np.empty(n)
        for state in range(n):
            frames = np.concatenate(frames_by_state[state])  # (P, D)
            mean_durations[state] = len(frames) / len(sequences)
            if len(frames) < m:
                raise ValueError(
                    f"GaussianMixtureHMM: state {state} gets {len(frames)} frames but needs at least "
                    f"n_mixtures={m}; use fewer mixtures or more training sequences"
                )
            centroids, labels = kmeans(frames, m, rng)
            state_variance = frames.var(axis=0)
            for k in range(m):
                members = frames[labels == k]
                weights[state, k] = len(members) / len(frames)
                means[state, k] = centroids[k]
                variances[state, k] = members.var(axis=0) if len(members) >= 2 else state_variance
        stay = np.clip(1.0 - 1.0 / mean_durations, 0.1, 0.9)
        return self.set_parameters(
            np.eye(n)[0],
            left_to_right_transitions(n, stay, config.skip_transitions),
            weights,
            means,
            np.maximum(variances, config.variance_floor),
        )

    def accumulate_statistics(self, sequences: Sequence[np.ndarray]) -> _Statistics:
        """The E-step: forward-backward on every sequence, summing γ, ξ and the moments."""
        self._check_fitted("accumulate_statistics")
        n, (_, m, d) = self.config.n_states, self.means.shape
        stats = _Statistics(np.zeros(n), np.zeros((n, n)), np.zeros((n, m)), np.zeros((n, m, d)),
                            np.zeros((n, m, d)))  # fmt: skip
        for index, sequence in enumerate(sequences):
            sequence = _check_features(sequence, f"sequences[{index}]")
            component = self.component_log_probs(sequence)  # (T, N, M)
            log_B = logsumexp(component, axis=2)  # (T, N)
            constrained = self._constrained(log_B)
            log_alpha, log_likelihood = hmm_forward(
                self.log_initial, self.log_transitions, constrained
            )
            if not np.isfinite(log_likelihood):
                raise ValueError(
                    f"GaussianMixtureHMM: sequences[{index}] ({len(sequence)} frames) has probability 0 "
                    f"under the {self.config.n_states}-state topology; use fewer states or allow skips"
                )
            log_beta = hmm_backward(self.log_transitions, constrained)
            gamma = state_occupancy(log_alpha, log_beta)  # (T, N)
            # γ_t(j, m) = γ_t(j) · w_jm N_jm(o_t) / b_j(o_t): the component's share of the state
            with np.errstate(under="ignore", invalid="ignore"):
                share = np.exp(component - log_B[:, :, None])  # (T, N, M)
            gamma_components = np.nan_to_num(gamma[:, :, None] * share, nan=0.0)  # (T, N, M)
            stats.initial += gamma[0]
            stats.transitions += transition_counts(
                self.log_transitions, constrained, log_alpha, log_beta
            )
            stats.occupancy += gamma_components.sum(axis=0)
            stats.first_moment += np.einsum("tnm,td->nmd", gamma_components, sequence)
            stats.second_moment += np.einsum("tnm,td->nmd", gamma_components, sequence**2)
            stats.log_likelihood += log_likelihood
        return stats

    def update_parameters(self, stats: _Statistics) -> None:
        """The M-step: maximum-likelihood parameters from the statistics. Rows/components with
        no expected frames keep their old values; transitions stay zero where a_ij = 0."""
        occupancy = stats.occupancy  # (N, M)
        state_total = occupancy.sum(axis=1, keepdims=True)  # (N, 1)
        used = occupancy > MIN_OCCUPANCY  # (N, M)
        safe = np.where(used, occupancy, 1.0)[:, :, None]  # (N, M, 1)
        means = np.where(used[:, :, None], stats.first_moment / safe, self.means)
        variances = np.where(
            used[:, :, None], stats.second_moment / safe - means**2, self.variances
        )
        self.means = means
        self.variances = np.maximum(variances, self.config.variance_floor)
        visited = state_total > MIN_OCCUPANCY  # (N, 1)
        self.weights = np.where(
            visited, occupancy / np.where(visited, state_total, 1.0), self.weights
        )
        row_total = stats.transitions.sum(axis=1, keepdims=True)  # (N, 1)
        left = row_total > MIN_OCCUPANCY  # (N, 1): states with expected transitions out
        transitions = stats.transitions / np.where(left, row_total, 1.0)
        self.log_transitions = np.where(left, _log(transitions), self.log_transitions)
        self.log_initial = _log(stats.initial / stats.initial.sum())

    def em_step(self, sequences: Sequence[np.ndarray]) -> float:
        """One Baum-Welch iteration; returns the total log-likelihood before the update."""
        stats = self.accumulate_statistics(sequences)
        self.update_parameters(stats)
        return stats.log_likelihood

    def fit(self, sequences: Sequence[np.ndarray]) -> GaussianMixtureHMM:
        """k-means start, then config.n_iterations Baum-Welch iterations on (T, D) sequences."""
        sequences = _check_sequences(sequences, "GaussianMixtureHMM.fit")
        self.initialize(sequences)
        n_frames = sum(len(sequence) for sequence in sequences)
        self.log_likelihood_history = []
        for _ in range(self.config.n_iterations):
            self.log_likelihood_history.append(self.em_step(sequences))
            history = self.log_likelihood_history
            if (
                self.config.tolerance > 0
                and len(history) > 1
                and (history[-1] - history[-2]) / n_frames < self.config.tolerance
            ):
                break
        self.log_likelihood_history.append(
            sum(self.log_likelihood(sequence) for sequence in sequences)
        )
        return self


# ----------------------------------------------------------------------------------------
# Recognizers
# ----------------------------------------------------------------------------------------


def _check_training_words(
    features_by_word: Mapping[str, Sequence[np.ndarray]], caller: str
) -> None:
    if not isinstance(features_by_word, Mapping) or len(features_by_word) < 2:
        raise ValueError(f"{caller}: pass {{word: [(T, D) features, ...]}} with at least two words")


class IsolatedWordRecognizer:
    """One GaussianMixtureHMM per word; a recording is the word whose model explains it best.

        recognizer = IsolatedWordRecognizer(HMMConfig()).fit({"zero": [...], "one": [...]})
        recognizer.predict(features)   # features (T, D) -> "one"

    Taught in lessons/03_hmm.ipynb, section 6.
    """

    def __init__(self, config: HMMConfig | None = None):
        self.config = config if config is not None else HMMConfig()
        self.models: dict[str, GaussianMixtureHMM] = {}

    def fit(self, features_by_word: Mapping[str, Sequence[np.ndarray]]) -> IsolatedWordRecognizer:
        _check_training_words(features_by_word, "IsolatedWordRecognizer.fit")
        self.models = {word: GaussianMixtureHMM(self.config).fit(sequences)
                       for word, sequences in features_by_word.items()}  # fmt: skip
        return self

    def scores(self, features: np.ndarray) -> dict[str, float]:
        """{word: log p(features | word model)}; higher is better."""
        if not self.models:
            raise ValueError("IsolatedWordRecognizer: call fit before scoring")
        return {word: model.log_likelihood(features) for word, model in self.models.items()}

    def predict(self, features: np.ndarray) -> str:
        scores = self.scores(features)
        return max(scores, key=scores.get)


def frame_distances(first: np.ndarray, second: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distances between every frame pair: first (T1, D), second (T2, D) -> (T1, T2).

    metric "euclidean" ||a - b|| or "cosine" 1 - a·b / (||a|| ||b||).
    """
    if metric == "euclidean":
        squared = (
            (first**2).sum(axis=1)[:, None]
            + (second**2).sum(axis=1)[None, :]
            - 2.0 * first @ second.T
        )
        return np.sqrt(np.maximum(squared, 0.0))
    if metric == "cosine":
        norms = np.linalg.norm(first, axis=1)[:, None] * np.linalg.norm(second, axis=1)[None, :]
        return 1.0 - (first @ second.T) / np.maximum(norms, 1e-12)
    raise ValueError(f"frame_distances: metric must be 'euclidean' or 'cosine', got {metric!r}")


class DTWTemplateRecognizer:
    """The baseline before HMMs: keep every training utterance as a template; a recording is
    the word of its nearest template, by DTW distance divided by the warping path's length.

    scores are negated distances (higher is better), like IsolatedWordRecognizer.scores.
    Taught in lessons/03_hmm.ipynb, section 6.
    """

    def __init__(self, metric: str = "euclidean"):
        frame_distances(np.zeros((1, 1)), np.zeros((1, 1)), metric)  # rejects an unknown metric
        self.metric = metric
        self.templates: list[tuple[str, np.ndarray]] = []

    def fit(self, features_by_word: Mapping[str, Sequence[np.ndarray]]) -> DTWTemplateRecognizer:
        _check_training_words(features_by_word, "DTWTemplateRecognizer.fit")
        self.templates = [
            (word, _check_features(template, f"features_by_word[{word!r}][{index}]"))
            for word, templates in features_by_word.items()
            for index, template in enumerate(templates)
        ]
        dimensions = {template.shape[1] for _, template in self.templates}
        if len(dimensions) > 1:
            raise ValueError(
                f"DTWTemplateRecognizer.fit: templates have different sizes D {sorted(dimensions)}"
            )
        self._stacked = np.concatenate([template for _, template in self.templates])  # (Σ T_k, D)
        self._starts = np.cumsum([0] + [len(template) for _, template in self.templates])
        return self

    def distance(self, first: np.ndarray, second: np.ndarray) -> float:
        """DTW distance between two (T, D) sequences divided by the path length."""
        distance, path = dtw(frame_distances(first, second, self.metric))
        return distance / len(path)

    def distances(self, features: np.ndarray) -> dict[str, float]:
        """{word: the smallest normalized DTW distance to one of its templates}."""
        if not self.templates:
            raise ValueError("DTWTemplateRecognizer: call fit before scoring")
        features = _check_features(features, "features")
        costs = frame_distances(features, self._stacked, self.metric)  # (T, Σ T_k): one product
        best: dict[str, float] = {}
        for index, (word, _) in enumerate(self.templates):
            distance, path = dtw(costs[:, self._starts[index] : self._starts[index + 1]])
            best[word] = min(best.get(word, np.inf), distance / len(path))
        return best

    def scores(self, features: np.ndarray) -> dict[str, float]:
        return {word: -distance for word, distance in self.distances(features).items()}

    def predict(self, features: np.ndarray) -> str:
        distances = self.distances(features)
        return min(distances, key=distances.get)
