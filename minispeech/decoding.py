"""Turning a recognizer's outputs into text: one Hypothesis type, CTC decoders, attention beam search.

Hypothesis          what every recognizer's transcribe() returns: tokens, score, whether it stopped
collapse            the CTC map B: merge repeated labels, then drop blanks
greedy_decode       CTC best path: the most likely label per frame, collapsed
prefix_beam_search  the most probable CTC labeling (summed over all its alignments), beam-pruned,
                    with an optional language model, LM weight and insertion bonus
CharNgramLM         character n-gram language model with interpolated Kneser-Ney smoothing
beam_search         beam search for any autoregressive decoder given as a step function
                    (LAS in lesson 05, the Transformer in lesson 06), with <eos> and a length guard
best, rank          pick / order finished hypotheses (length-normalized, or CTC-rescored)
ctc_sequence_log_probs  log p_CTC(y | x) of whole hypotheses, for CTC rescoring

Shapes   log_probs (T, V) log-softmax outputs of one utterance; labels are ids of a SymbolTable
         (minispeech.text.characters()); the blank is id 0 (<pad>), <bos> 1, <eos> 2.

Greedy decoding picks the most likely *path*; one labeling owns many paths ("aa-b", "a--b",
"-ab-" all collapse to "ab"), so the most likely *labeling* can differ. Prefix beam search
(Hannun et al., 2014) keeps, for each candidate prefix, the probability of all its paths that
end in a blank and of those that end in its last label: the split decides what the next label
does ("a" after "a" merges into the same prefix unless a blank came between).

Taught in lessons/04_ctc.ipynb, section 4 (CTC), lessons/05_attention.ipynb, section 6 and
lessons/06_transformer.ipynb, section 9 (beam search).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from minispeech.text import SymbolTable, characters

NEG_INF = -math.inf


def _check_log_probs(log_probs, blank: int, caller: str) -> np.ndarray:
    if hasattr(log_probs, "detach"):
        log_probs = log_probs.detach().cpu().numpy()
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(f"{caller}: log_probs must be (T, V) for one utterance, got shape {log_probs.shape}; "
                         "take log_probs[b, :out_lengths[b]] of a batch")  # fmt: skip
    if not 0 <= blank < log_probs.shape[1]:
        raise ValueError(f"{caller}: blank must be in [0, V = {log_probs.shape[1]}), got {blank}")
    if np.isnan(log_probs).any():
        raise ValueError(f"{caller}: log_probs contains NaN")
    return log_probs


def collapse(path: Iterable[int], blank: int = 0) -> list[int]:
    """B(path): merge runs of the same label, then remove blanks. [1, 1, 0, 1, 2, 2] -> [1, 1, 2]."""
    labels, previous = [], None
    for label in path:
        label = int(label)
        if label != previous and label != blank:
            labels.append(label)
        previous = label
    return labels


def greedy_decode(log_probs, blank: int = 0) -> list[int]:
    """The labels of the most likely path: argmax of each frame, then collapse.

    log_probs (T, V) NumPy array or tensor. Lesson 04, exercise 4.1.
    """
    log_probs = _check_log_probs(log_probs, blank, "greedy_decode")
    return collapse(log_probs.argmax(axis=1), blank)


def prefix_beam_search(
    log_probs,
    beam_size: int = 8,
    blank: int = 0,
    lm: CharNgramLM | None = None,
    lm_weight: float = 0.5,
    insertion_bonus: float = 0.0,
) -> list[int]:
    """The labeling with the highest score among the beam_size prefixes kept at every frame.

    Without an LM the score is log P(labels | x), summed over all alignments in log space; with
    one, appending label c to prefix y adds lm_weight * log P_LM(c | y) + insertion_bonus, and
    the end adds lm_weight * log P_LM(end | y). A large enough beam (more than the number of
    possible prefixes) makes the search exact. log_probs (T, V). Lesson 04, exercise 4.2.
    """
    log_probs = _check_log_probs(log_probs, blank, "prefix_beam_search")
    if beam_size < 1:
        raise ValueError(f"prefix_beam_search: beam_size must be >= 1, got {beam_size}")
    vocabulary_size = log_probs.shape[1]
    prefixes: list[tuple[int, ...]] = [()]
    ends_in_blank = np.array([0.0])  # log P(paths of the prefix whose last frame is blank)
    ends_in_label = np.array([NEG_INF])  # log P(paths whose last frame is the prefix's last label)
    for frame in log_probs:  # (V,)
        total = np.logaddexp(ends_in_blank, ends_in_label)  # (K,)
        last = np.array([prefix[-1] if prefix else -1 for prefix in prefixes])  # (K,)
        has_last = last >= 0
        # 1. The prefix stays: a blank frame, or its last label once more (merged by B).
        stay_blank = total + frame[blank]
        stay_label = np.where(has_last, ends_in_label + frame[np.maximum(last, 0)], NEG_INF)
        # 2. The prefix grows by label c; repeating the last label needs a blank in between.
        grow = total[:, None] + frame[None, :]  # (K, V)
        rows = np.flatnonzero(has_last)
        grow[rows, last[rows]] = ends_in_blank[rows] + frame[last[rows]]
        grow[:, blank] = NEG_INF
        if lm is not None:
            lm_scores = np.stack([lm.next_log_probs(prefix) for prefix in prefixes])  # (K, V)
            allowed = lm_scores > NEG_INF  # lm_weight * -inf would be NaN for lm_weight = 0
            grow += np.where(allowed, lm_weight * lm_scores + insertion_bonus, NEG_INF)
        # 3. A grown prefix that is already in the beam merges into it.
        position = {prefix: k for k, prefix in enumerate(prefixes)}
        for k, prefix in enumerate(prefixes):
            parent = position.get(prefix[:-1]) if prefix else None
            if parent is not None:
                stay_label[k] = np.logaddexp(stay_label[k], grow[parent, prefix[-1]])
                grow[parent, prefix[-1]] = NEG_INF
        # 4. Keep the best beam_size of the K staying and K x V grown prefixes.
        scores = np.concatenate([np.logaddexp(stay_blank, stay_label), grow.ravel()])
        best = np.argsort(-scores, kind="stable")[:beam_size]
        best = best[scores[best] > NEG_INF]
        new_prefixes, new_blank, new_label = [], [], []
        for index in best:
            if index < len(prefixes):
                new_prefixes.append(prefixes[index])
                new_blank.append(stay_blank[index])
                new_label.append(stay_label[index])
            else:
                parent, label = divmod(int(index) - len(prefixes), vocabulary_size)
                new_prefixes.append(prefixes[parent] + (label,))
                new_blank.append(NEG_INF)
                new_label.append(grow[parent, label])
        prefixes, ends_in_blank, ends_in_label = (
            new_prefixes,
            np.array(new_blank),
            np.array(new_label),
        )
    final = np.logaddexp(ends_in_blank, ends_in_label)
    if lm is not None:
        final = final + lm_weight * np.array([lm.end_log_prob(prefix) for prefix in prefixes])
    return list(prefixes[int(np.argmax(final))])


class CharNgramLM:
    """P(next character | previous order - 1 characters), interpolated Kneser-Ney smoothing.

    Sentences are padded with order - 1 <bos> in front and end with <eos>. For the longest
    contexts, with counts c and discount D (Chen and Goodman, 1998, Eq. 12),
        P(w | h) = max(c(h w) - D, 0) / c(h) + D * N1+(h •) / c(h) * P(w | h without its first char)
    and shorter contexts use continuation counts N1+(• h w) (how many different characters
    precede h w) in place of c; the empty context falls back to uniform. Unseen contexts
    back off entirely. Every distribution sums to 1 over the characters and <eos>.

        lm = CharNgramLM(order=3).fit(["the cat sat", "the dog sat"])
        lm.log_prob("h", "t")          # log P("h" | "t"), natural log
        lm.log_prob("<eos>", "sat")    # log P(end of sentence | "...sat")

    Lesson 04, section 4.
    """

    def __init__(
        self, order: int = 3, discount: float = 0.75, symbols: SymbolTable | None = None
    ) -> None:
        if order < 1:
            raise ValueError(f"CharNgramLM: order must be >= 1, got {order}")
        if not 0.0 < discount <= 1.0:
            raise ValueError(f"CharNgramLM: discount must be in (0, 1], got {discount}")
        self.order, self.discount = order, discount
        self.symbols = symbols or characters()
        size = len(self.symbols)
        self.eos_id, self.bos_id = self.symbols.eos_id, self.symbols.bos_id
        self.predictable = np.ones(size, dtype=bool)  # characters and <eos>; never <pad>, <bos>
        self.predictable[[self.symbols.pad_id, self.bos_id]] = False
        self._counts: list[
            dict[tuple[int, ...], np.ndarray]
        ] = []  # [context length] -> counts (V,)
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def fit(self, texts: Iterable[str]) -> CharNgramLM:
        """Count the n-grams of `texts` (normalized sentences); returns self."""
        n = self.order
        ngrams: list[Counter] = [Counter() for _ in range(n + 1)]  # [k] counts k-grams
        for text in texts:
            ids = [self.bos_id] * (n - 1) + self.symbols.encode(text) + [self.eos_id]
            for k in range(1, n + 1):
                ngrams[k].update(tuple(ids[i : i + k]) for i in range(len(ids) - k + 1))
        if not ngrams[1]:
            raise ValueError(
                "CharNgramLM.fit: no text to count; pass a non-empty list of sentences"
            )
        size = len(self.symbols)
        self._counts = [{} for _ in range(n)]
        for gram, count in ngrams[n].items():  # the longest order: plain counts
            self._add(n - 1, gram, count, size)
        for k in range(1, n):  # shorter orders: N1+(• h w), one per distinct (k + 1)-gram
            for gram in ngrams[k + 1]:
                self._add(k - 1, gram[1:], 1, size)
        self._cache.clear()
        return self

    def _add(self, context_length: int, gram: tuple[int, ...], count: int, size: int) -> None:
        if gram[-1] == self.bos_id:
            return  # <bos> is padding, never predicted
        table = self._counts[context_length]
        context = gram[:-1]
        if context not in table:
            table[context] = np.zeros(size)
        table[context][gram[-1]] += count

    def _distribution(self, context: tuple[int, ...]) -> np.ndarray:
        """P(· | context) (V,) over all ids (0 for <pad>, <bos>); context of length <= order - 1."""
        if context in self._cache:
            return self._cache[context]
        if context:
            lower = self._distribution(context[1:])
        else:
            lower = self.predictable / self.predictable.sum()  # uniform
        counts = self._counts[len(context)].get(context)
        if counts is None:
            probabilities = lower
        else:
            total, types = counts.sum(), np.count_nonzero(counts)
            discounted = np.maximum(counts - self.discount, 0.0) / total
            probabilities = discounted + self.discount * types / total * lower
        self._cache[context] = probabilities
        return probabilities

    def _context(self, context_ids: Sequence[int]) -> tuple[int, ...]:
        if not self._counts:
            raise ValueError("CharNgramLM: call fit(texts) before asking for probabilities")
        if self.order == 1:
            return ()
        padded = [self.bos_id] * (self.order - 1) + [int(i) for i in context_ids]
        return tuple(padded[-(self.order - 1) :])

    def next_log_probs(self, context_ids: Sequence[int]) -> np.ndarray:
        """log P(c | context) (V,) for every label id c; -inf for <pad>, <bos> and <eos>."""
        with np.errstate(divide="ignore"):
            log_probs = np.log(self._distribution(self._context(context_ids)))
        log_probs[self.eos_id] = NEG_INF  # the end is not a label: see end_log_prob
        return log_probs

    def end_log_prob(self, context_ids: Sequence[int]) -> float:
        """log P(<eos> | context): the sentence ends after context_ids."""
        return float(np.log(self._distribution(self._context(context_ids))[self.eos_id]))

    def log_prob(self, next_char: str, context: str) -> float:
        """log P(next_char | context) for text; next_char is one character or "<eos>"."""
        return float(np.log(self._distribution(self._context(self.symbols.encode(context)))[
            self.symbols.id(next_char)]))  # fmt: skip

    def sentence_log_prob(self, text: str) -> float:
        """log P(text, then <eos>): the sum of every character's and the end's log-probability."""
        ids = self.symbols.encode(text)
        total = sum(float(self.next_log_probs(ids[:i])[ids[i]]) for i in range(len(ids)))
        return total + self.end_log_prob(ids)

    def perplexity(self, texts: Iterable[str]) -> float:
        """exp(-mean log-probability per predicted symbol, <eos> included) over texts."""
        texts = list(texts)
        total = sum(self.sentence_log_prob(text) for text in texts)
        count = sum(len(text) + 1 for text in texts)
        if count == 0:
            raise ValueError("CharNgramLM.perplexity: texts is empty")
        return math.exp(-total / count)


# ---------------------------------------------------------------------------------------
# Autoregressive (attention) decoders
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Hypothesis:
    """One transcript of one utterance, from any recognizer's transcribe() (batch in, list out)."""

    tokens: list[int]  # label ids, without blanks, <bos> and <eos>
    score: float | None = None  # the ranking score; None where a decoder gives none (CTC + LM beam)
    log_prob: float | None = None  # log p(tokens, <eos> | x) of an attention decoder, unnormalized
    stopped: bool = True  # False: the length guard cut it off before <eos>
    ctc_log_prob: float | None = (
        None  # log p_CTC(tokens | x), all alignments summed (CTC rescoring)
    )
    attention_weights: np.ndarray | None = dataclasses.field(
        default=None, compare=False
    )  # (steps, T_enc)


def beam_search(
    step: Callable[[Any, Any], tuple[Any, Any]],
    select: Callable[[Any, Any], Any],
    state: Any,
    beam_size: int,
    max_steps: int,
    bos_id: int = 1,
    eos_id: int = 2,
    length_penalty: float = 1.0,
    weights_of: Callable[[Any], Any] | None = None,
) -> list[Hypothesis]:
    """Beam search over an autoregressive decoder, for ONE utterance; the live beams form a batch.

    step(previous_tokens (K,) long tensor, state) -> (log_probs (K, V) tensor, new state);
    select(state, rows (K',) long tensor) -> the states of those rows, in that order;
    weights_of(state) -> this step's attention weights (K, T_enc) or None.
    Each step extends every live prefix by every token, keeps the best 2K candidates, and:
    an <eos> among the best K finishes its prefix (ranked by log P / (length + 1)^length_penalty,
    <eos> counted: with length_penalty = 0 short outputs win, since every token lowers log P);
    the best K others stay alive. The search ends when K hypotheses have finished; at max_steps
    the live ones are added with stopped=False. Returns every finished hypothesis, best first
    (see best() for the one to use).
    """
    import torch

    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
    previous = torch.full((1,), bos_id, dtype=torch.long)
    scores = torch.zeros(1)  # (K,) log P of each live prefix
    prefixes: list[list[int]] = [[]]
    histories: list[list[np.ndarray]] = [[]]
    finished: list[Hypothesis] = []
    for _ in range(max_steps):
        log_probs, state = step(previous, state)  # (K, V)
        log_probs = log_probs.float().cpu()
        weights = (
            None if weights_of is None else weights_of(state).float().cpu().numpy()
        )  # (K, T_enc)
        candidates = (scores[:, None] + log_probs).flatten()  # (K * V,)
        top_scores, top_indices = candidates.topk(min(2 * beam_size, len(candidates)))
        keep_beams, keep_tokens, keep_scores = [], [], []
        for position, (score, index) in enumerate(
            zip(top_scores.tolist(), top_indices.tolist(), strict=True)
        ):
            beam, token = divmod(index, log_probs.shape[1])
            if token == eos_id:
                if (
                    position < beam_size
                ):  # an <eos> outside the best beam_size candidates is not taken
                    history = None if weights is None else histories[beam] + [weights[beam]]
                    normalized = score / (len(prefixes[beam]) + 1) ** length_penalty
                    finished.append(Hypothesis(prefixes[beam], normalized, score, True,
                                               attention_weights=_stack(history)))  # fmt: skip
            elif len(keep_beams) < beam_size:
                keep_beams.append(beam)
                keep_tokens.append(token)
                keep_scores.append(score)
        if len(finished) >= beam_size or not keep_beams:
            break
        state = select(state, torch.tensor(keep_beams))
        previous, scores = torch.tensor(keep_tokens), torch.tensor(keep_scores)
        histories = [
            histories[beam] + [weights[beam]] if weights is not None else [] for beam in keep_beams
        ]
        prefixes = [
            prefixes[beam] + [token] for beam, token in zip(keep_beams, keep_tokens, strict=True)
        ]
    else:  # the length guard: the live prefixes never emitted <eos>
        for prefix, score, history in zip(prefixes, scores.tolist(), histories, strict=True):
            normalized = score / max(1, len(prefix)) ** length_penalty
            finished.append(
                Hypothesis(prefix, normalized, score, False, attention_weights=_stack(history))
            )
    return sorted(finished, key=lambda hypothesis: -hypothesis.score)


def _stack(history: list[np.ndarray] | None) -> np.ndarray | None:
    return np.stack(history) if history else None


def best(hypotheses: list[Hypothesis]) -> Hypothesis:
    """The highest-scoring hypothesis that stopped on <eos>; the best cut-off one if none did."""
    if not hypotheses:
        raise ValueError("best: no hypotheses (the beam search returned none)")
    stopped = [hypothesis for hypothesis in hypotheses if hypothesis.stopped]
    return max(stopped or hypotheses, key=lambda hypothesis: hypothesis.score)


def rank(hypotheses: list[Hypothesis], ctc_weight: float = 0.0) -> list[tuple[Hypothesis, float]]:
    """(hypothesis, score) best first. ctc_weight w = 0: log p_att per token (<eos> counted);
    else (1 - w) log p_att + w log p_CTC: CTC rescoring of the n-best, a cheap form of ESPnet's
    joint decoding (Watanabe et al., 2017, score every prefix with CTC). Lesson 06, section 9."""
    if ctc_weight > 0:
        if any(hypothesis.ctc_log_prob is None for hypothesis in hypotheses):
            raise ValueError(
                "rank: ctc_weight > 0 needs hypotheses with ctc_log_prob (a model with a CTC head)"
            )
        scores = [(1 - ctc_weight) * h.log_prob + ctc_weight * h.ctc_log_prob for h in hypotheses]
    else:
        scores = [h.log_prob / (len(h.tokens) + 1.0) for h in hypotheses]
    order = sorted(range(len(hypotheses)), key=lambda i: scores[i], reverse=True)
    return [(hypotheses[i], scores[i]) for i in order]


def ctc_sequence_log_probs(
    ctc_log_probs, out_length: int, hypotheses: list[list[int]], blank: int = 0
):
    """log p_CTC(y | x) (K,) tensor of each hypothesis y (label ids) under one utterance's CTC head
    output ctc_log_probs (T_out, V) torch tensor: all alignments summed (torch's ctc_loss, negated).
    For CTC rescoring of an attention decoder's n-best (lesson 06, section 9)."""
    import torch
    import torch.nn.functional as F

    count = len(hypotheses)
    lengths = torch.tensor([len(h) for h in hypotheses])
    targets = torch.zeros(count, max(1, int(lengths.max())), dtype=torch.long)
    for index, hypothesis in enumerate(hypotheses):
        targets[index, : len(hypothesis)] = torch.tensor(hypothesis, dtype=torch.long)
    log_probs = (
        ctc_log_probs[:out_length, None, :].float().cpu().expand(-1, count, -1)
    )  # (T_out, K, V)
    negative = F.ctc_loss(log_probs, targets, torch.full((count,), out_length), lengths,
                          blank=blank, reduction="none", zero_infinity=False)  # fmt: skip
    return -negative  # -inf where a hypothesis cannot fit in T_out frames
