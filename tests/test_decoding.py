"""Tests for minispeech.decoding: greedy and prefix beam search against brute-force enumeration
of every CTC path on tiny inputs, the character n-gram LM's probabilities, and the attention
decoders' beam_search on a toy decoder against brute-force enumeration, best() and rank()."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minispeech.decoding import (
    CharNgramLM,
    Hypothesis,
    beam_search,
    best,
    collapse,
    greedy_decode,
    prefix_beam_search,
    rank,
)
from minispeech.text import characters


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def labeling_log_probs(log_probs: np.ndarray, blank: int = 0, lm=None, lm_weight=0.0) -> dict:
    """log P(labeling) for every labeling: the sum over all V^T paths that collapse to it,
    plus the LM score of the labeling (lm_weight * log P_LM, end included) when lm is given."""
    n_frames, vocabulary_size = log_probs.shape
    totals: dict[tuple, float] = {}
    for path in itertools.product(range(vocabulary_size), repeat=n_frames):
        labels = tuple(collapse(path, blank))
        score = float(sum(log_probs[t, v] for t, v in enumerate(path)))
        totals[labels] = np.logaddexp(totals.get(labels, -math.inf), score)
    if lm is not None:
        for labels in totals:
            lm_score = sum(lm.next_log_probs(labels[:i])[labels[i]] for i in range(len(labels)))
            totals[labels] += lm_weight * (lm_score + lm.end_log_prob(labels))
    return totals


tiny_log_probs = (
    st.integers(1, 5)
    .flatmap(
        lambda frames: st.integers(2, 4).flatmap(
            lambda vocabulary: arrays(np.float64, (frames, vocabulary), elements=st.floats(-4, 4))
        )
    )
    .map(log_softmax)
)


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse([1, 1, 0, 1, 2, 2, 0, 0]) == [1, 1, 2]
    assert collapse([0, 0, 0]) == []
    assert collapse([3, 3, 3], blank=3) == []


def test_greedy_decode_on_a_worked_example():
    probabilities = np.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.6, 0.2, 0.2],
                              [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])  # fmt: skip
    assert greedy_decode(np.log(probabilities)) == [1, 1, 2]
    assert greedy_decode(torch.log(torch.tensor(probabilities))) == [1, 1, 2]  # tensors work too


@settings(max_examples=60, deadline=None)
@given(tiny_log_probs)
def test_greedy_decode_collapses_the_most_probable_path(log_probs):
    n_frames, vocabulary_size = log_probs.shape
    best_path = max(itertools.product(range(vocabulary_size), repeat=n_frames),
                    key=lambda path: sum(log_probs[t, v] for t, v in enumerate(path)))  # fmt: skip
    path_score = lambda path: sum(log_probs[t, v] for t, v in enumerate(path))  # noqa: E731
    greedy_path = log_probs.argmax(axis=1)
    assert math.isclose(path_score(greedy_path), path_score(best_path), abs_tol=1e-12)
    assert greedy_decode(log_probs) == collapse(greedy_path)


@settings(max_examples=80, deadline=None)
@given(tiny_log_probs)
def test_exhaustive_beam_finds_the_most_probable_labeling(log_probs):
    # A beam wider than the number of possible prefixes (<= 3^5 + ... here) keeps everything.
    totals = labeling_log_probs(log_probs)
    found = tuple(prefix_beam_search(log_probs, beam_size=400))
    assert math.isclose(totals[found], max(totals.values()), abs_tol=1e-9)


@settings(max_examples=40, deadline=None)
@given(tiny_log_probs, st.integers(1, 3))
def test_narrow_beam_returns_a_labeling_no_better_than_the_best(log_probs, beam_size):
    totals = labeling_log_probs(log_probs)
    found = tuple(prefix_beam_search(log_probs, beam_size=beam_size))
    assert found in totals  # a real labeling, and its probability is at most the maximum
    assert totals[found] <= max(totals.values()) + 1e-12


def test_beam_prefers_the_labeling_with_more_alignments_than_the_best_path():
    # The best path is blank-blank ("" with 0.36), but "a" collects 0.64 over three paths.
    probabilities = np.array([[0.6, 0.4], [0.6, 0.4]])
    log_probs = np.log(probabilities)
    assert greedy_decode(log_probs) == []
    assert prefix_beam_search(log_probs, beam_size=4) == [1]


def test_repeated_labels_need_a_blank_between_them():
    # "aa" needs a-blank-a; with no blank frame in the middle the beam cannot produce it.
    log_probs = np.log(np.array([[0.01, 0.99], [0.98, 0.02], [0.01, 0.99]]))
    assert prefix_beam_search(log_probs, beam_size=8) == [1, 1]
    log_probs = np.log(np.array([[0.01, 0.99], [0.01, 0.99], [0.01, 0.99]]))
    assert prefix_beam_search(log_probs, beam_size=8) == [1]


def toy_lm() -> CharNgramLM:
    return CharNgramLM(order=3).fit(["the cat sat", "the dog sat on the mat", "a cat", "that hat"])


@settings(max_examples=30, deadline=None)
@given(tiny_log_probs, st.floats(0.1, 2.0))
def test_exhaustive_beam_with_an_lm_maximizes_the_combined_score(log_probs, lm_weight):
    # Map the tiny vocabulary onto real characters: id 0 blank, ids 1.. -> "a", "c", "t".
    table = characters()
    chosen = [0] + [table.id(c) for c in "act"[: log_probs.shape[1] - 1]]
    wide = np.full((len(log_probs), len(table)), -1e9)
    wide[:, chosen] = log_probs
    lm = toy_lm()
    found = tuple(prefix_beam_search(wide, beam_size=400, lm=lm, lm_weight=lm_weight))
    totals = labeling_log_probs(log_probs, lm=None)
    relabel = {i: chosen[i] for i in range(1, len(chosen))}
    combined = {}
    for labels, score in totals.items():
        ids = tuple(relabel[i] for i in labels)
        lm_score = sum(lm.next_log_probs(ids[:i])[ids[i]] for i in range(len(ids)))
        combined[ids] = score + lm_weight * (lm_score + lm.end_log_prob(ids))
    assert math.isclose(combined[found], max(combined.values()), abs_tol=1e-6)


def test_lm_fixes_an_acoustically_ambiguous_character():
    table = characters()
    lm = CharNgramLM(order=3).fit(["the cat sat"] * 20 + ["the cet"])
    # frames: t, h, e, space, c, then a/e ambiguous (e slightly ahead), t
    frames = []
    for char, probability in zip("the c", [0.9] * 5, strict=True):
        frames.append({table.id(char): probability})
    frames.append({table.id("e"): 0.46, table.id("a"): 0.44})
    frames.append({table.id("t"): 0.9})
    log_probs = np.full((len(frames), len(table)), math.log(1e-4))
    for t, row in enumerate(frames):
        for index, probability in row.items():
            log_probs[t, index] = math.log(probability)
        log_probs[t, 0] = math.log(max(1e-4, 1 - sum(row.values())))
    log_probs = log_softmax(log_probs)
    assert table.decode(prefix_beam_search(log_probs, beam_size=8)) == "the cet"
    assert (
        table.decode(prefix_beam_search(log_probs, beam_size=8, lm=lm, lm_weight=1.0)) == "the cat"
    )


def test_bad_inputs_raise_value_error_naming_the_argument():
    with pytest.raises(ValueError, match=r"\(T, V\)"):
        greedy_decode(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="beam_size"):
        prefix_beam_search(np.zeros((2, 3)), beam_size=0)
    with pytest.raises(ValueError, match="blank"):
        prefix_beam_search(np.zeros((2, 3)), blank=3)
    with pytest.raises(ValueError, match="fit"):
        CharNgramLM().log_prob("a", "b")


# --- the character n-gram LM ---------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="abct ", max_size=6), st.integers(1, 4))
def test_lm_distributions_sum_to_one(context, order):
    lm = CharNgramLM(order=order).fit(["the cat sat", "a bat", "tac", ""])
    ids = characters().encode(context)
    probabilities = np.exp(lm.next_log_probs(ids))
    assert math.isclose(probabilities.sum() + math.exp(lm.end_log_prob(ids)), 1.0, rel_tol=1e-9)


def test_lm_probabilities_follow_the_counts():
    lm = toy_lm()
    # After "th", "e" (3 times) beats "a" (once); both beat an unseen "z", which stays > 0.
    assert lm.log_prob("e", "th") > lm.log_prob("a", "th") > lm.log_prob("z", "th") > -math.inf
    assert lm.log_prob("<eos>", "the cat sat") > lm.log_prob("<eos>", "the ca")


def test_lm_kneser_ney_matches_a_hand_computation():
    # Bigram LM on "ab": padded <bos> a b <eos>. Bigram counts: (bos,a) (a,b) (b,eos), 1 each.
    lm = CharNgramLM(order=2, discount=0.5).fit(["ab"])
    table = characters()
    predictable = len(table) - 2  # every id but <pad> and <bos>
    # Continuation counts N1+(• w): a, b, <eos> once each (3 in all); 3 types.
    unigram_b = (1 - 0.5) / 3 + 0.5 * 3 / 3 / predictable
    unigram_z = 0.5 * 3 / 3 / predictable
    # Context "a": c(a b) = 1, one type.
    assert math.isclose(lm.log_prob("b", "a"), math.log((1 - 0.5) / 1 + 0.5 * 1 / 1 * unigram_b))
    assert math.isclose(lm.log_prob("z", "a"), math.log(0.5 * unigram_z))
    assert math.isclose(lm.log_prob("z", "q"), math.log(unigram_z))  # unseen context: back off


def test_lm_perplexity_is_lower_on_matching_text():
    lm = CharNgramLM(order=3).fit(["the cat sat on the mat"] * 5)
    assert lm.perplexity(["the cat sat"]) < lm.perplexity(["zq xv kj"])
    assert lm.perplexity(["the cat sat"]) >= 1.0


# --- beam search for autoregressive decoders -------------------------------------------------------

BOS, EOS = 1, 2  # beam_search's defaults, as in characters()


def table_decoder(table: torch.Tensor, n_frames: int = 0):
    """A toy decoder whose next-token log-probabilities depend only on the previous token:
    step(previous (K,), state) -> table[previous] (K, V). Its "attention weights" (K, n_frames)
    are the one-hot of the previous token, so a hypothesis' weight history spells what it read."""

    def step(previous: torch.Tensor, state):
        weights = torch.nn.functional.one_hot(previous, n_frames).float() if n_frames else None
        return table[previous], weights

    def select(state, rows: torch.Tensor):
        return None if state is None else state[rows]

    return step, select


def exhaustive_best(table: np.ndarray, max_steps: int, length_penalty: float) -> float:
    """max over every sequence y of at most max_steps - 1 tokens (no <eos>), then <eos>, of
    log P(y, <eos>) / (|y| + 1)^length_penalty: what a beam as wide as the tree must find."""
    vocabulary_size = table.shape[0]
    tokens = [token for token in range(vocabulary_size) if token != EOS]
    best_score = -math.inf
    for length in range(max_steps):
        for sequence in itertools.product(tokens, repeat=length):
            previous = (BOS,) + sequence
            score = sum(table[a, b] for a, b in zip(previous, sequence + (EOS,), strict=True))
            best_score = max(best_score, score / (length + 1) ** length_penalty)
    return best_score


tables = (
    st.integers(3, 5)
    .flatmap(
        lambda vocabulary: arrays(np.float64, (vocabulary, vocabulary), elements=st.floats(-4, 4))
    )
    .map(log_softmax)
)


@settings(max_examples=40, deadline=None)
@given(tables, st.integers(1, 4), st.sampled_from([0.0, 0.5, 1.0]))
def test_a_beam_as_wide_as_the_tree_finds_the_best_length_normalized_sequence(
    table, max_steps, length_penalty
):
    beam_size = table.shape[0] ** max_steps + 1  # more than every prefix the tree has
    step, select = table_decoder(torch.tensor(table))
    hypotheses = beam_search(step, select, None, beam_size, max_steps, BOS, EOS, length_penalty)
    found = best(hypotheses)
    assert found.stopped
    # beam_search adds in float32: equal up to its rounding
    assert math.isclose(
        found.score, exhaustive_best(table, max_steps, length_penalty), abs_tol=1e-4
    )
    assert [h.score for h in hypotheses] == sorted((h.score for h in hypotheses), reverse=True)
    for hypothesis in hypotheses:  # log_prob is the plain sum, score its normalization
        previous = [BOS] + hypothesis.tokens
        following = hypothesis.tokens + ([EOS] if hypothesis.stopped else [])
        log_prob = sum(table[a, b] for a, b in zip(previous, following))  # noqa: B905 (one longer)
        assert math.isclose(hypothesis.log_prob, log_prob, abs_tol=1e-4)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_the_length_guard_returns_unstopped_hypotheses(beam_size):
    table = torch.log_softmax(torch.randn(5, 5, generator=torch.Generator().manual_seed(0)), dim=-1)
    table[:, EOS] = -1e9  # a decoder that never says <eos>
    step, select = table_decoder(table)
    hypotheses = beam_search(step, select, None, beam_size, max_steps=6, length_penalty=1.0)
    assert len(hypotheses) == beam_size
    for hypothesis in hypotheses:
        assert (
            not hypothesis.stopped and len(hypothesis.tokens) == 6 and EOS not in hypothesis.tokens
        )
        assert math.isclose(hypothesis.score, hypothesis.log_prob / 6, rel_tol=1e-6)
    greedy = [int(table[BOS].argmax())]
    for _ in range(5):
        greedy.append(int(table[greedy[-1]].argmax()))
    if beam_size == 1:
        assert hypotheses[0].tokens == greedy


def test_attention_weights_follow_each_hypothesis_through_reordering():
    table = torch.log_softmax(torch.randn(6, 6, generator=torch.Generator().manual_seed(3)), dim=-1)
    step, select = table_decoder(table, n_frames=6)
    hypotheses = beam_search(step, select, None, 4, max_steps=5, weights_of=lambda weights: weights)
    for hypothesis in hypotheses:
        read = [BOS] + hypothesis.tokens  # the previous token at every step, <eos>'s step included
        assert hypothesis.attention_weights.shape == (
            len(read) if hypothesis.stopped else len(read) - 1,
            6,
        )
        assert (
            hypothesis.attention_weights.argmax(axis=1).tolist()
            == read[: len(hypothesis.attention_weights)]
        )


def test_best_prefers_hypotheses_that_stopped():
    cut_off = Hypothesis([5, 5, 5], score=-0.1, log_prob=-0.4, stopped=False)
    finished = [
        Hypothesis([5], score=-2.0, log_prob=-4.0),
        Hypothesis([6], score=-1.0, log_prob=-2.0),
    ]
    assert best([cut_off, *finished]) is finished[1]
    assert best([cut_off, Hypothesis([4], score=-0.5, stopped=False)]) is cut_off  # none stopped
    with pytest.raises(ValueError, match="no hypotheses"):
        best([])
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(*table_decoder(torch.zeros(3, 3)), None, beam_size=0, max_steps=3)


def test_rank_by_length_normalized_attention_or_with_ctc_rescoring():
    short = Hypothesis([5], log_prob=-3.0, ctc_log_prob=-1.0)  # -1.5 per token, <eos> counted
    long = Hypothesis([5, 6, 7], log_prob=-4.0, ctc_log_prob=-9.0)  # -1.0 per token
    assert [(h, score) for h, score in rank([short, long])] == [(long, -1.0), (short, -1.5)]
    ranked = rank([short, long], ctc_weight=0.5)  # 0.5 log p_att + 0.5 log p_CTC
    assert [(h, score) for h, score in ranked] == [(short, -2.0), (long, -6.5)]
    assert rank([short, long], ctc_weight=1.0)[0][0] is short
    with pytest.raises(ValueError, match="ctc_log_prob"):
        rank([short, Hypothesis([4], log_prob=-1.0)], ctc_weight=0.3)
