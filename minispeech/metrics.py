"""Evaluation metrics for recognizers and synthesizers.

wer   word error rate of a corpus: total word edits / total reference words (== jiwer.wer)
cer   character error rate of a corpus: total character edits / total reference characters
      (== jiwer.cer)
word_accuracy  the share of reference words recognized exactly, split into words the model
      was trained on (in vocabulary) and words it never saw (out of vocabulary)

Both are corpus-level (not a mean of per-sentence rates) and apply no normalization beyond
tokenization: `wer` splits each sentence on whitespace (str.split), `cer` strips leading and
trailing whitespace and counts every remaining character, spaces included. Lower-case and
strip punctuation yourself (minispeech.text) if you want them ignored.

Empty sentences: an empty hypothesis counts all its reference tokens as deletions; an empty
reference counts all its hypothesis tokens as insertions (jiwer 4 does the same). When the
references hold no token at all, the rate has no denominator and we raise ValueError
(jiwer returns the raw insertion count instead).

Only difference from jiwer's default transform: jiwer splits on the space character after
collapsing runs of 2+ whitespace characters, so a lone tab or newline between two words
joins them into one word there; str.split treats every whitespace run as a separator.

The synthesis measurements (MCD, F0 RMSE, LSD, durations, real-time factor, speaker
similarity, intelligibility) are in minispeech.tts_metrics.
Taught in lessons/04_ctc.ipynb, section 5.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def _as_sentence_list(sentences: str | Sequence[str], argument: str) -> list[str]:
    if isinstance(sentences, str):
        return [sentences]
    sentence_list = list(sentences)
    for index, sentence in enumerate(sentence_list):
        if not isinstance(sentence, str):
            raise ValueError(
                f"{argument}[{index}] is {type(sentence).__name__}, expected str: "
                "pass one string per sentence"
            )
    return sentence_list


def _paired_sentences(
    references: str | Sequence[str], hypotheses: str | Sequence[str], name: str
) -> tuple[list[str], list[str]]:
    reference_list = _as_sentence_list(references, "references")
    hypothesis_list = _as_sentence_list(hypotheses, "hypotheses")
    if len(reference_list) != len(hypothesis_list):
        raise ValueError(
            f"{name}: got {len(reference_list)} references and {len(hypothesis_list)} "
            "hypotheses; pass one hypothesis per reference"
        )
    return reference_list, hypothesis_list


def _rate(total_edits: int, total_reference_length: int, name: str) -> float:
    if total_reference_length == 0:
        raise ValueError(
            f"{name}: every reference is empty, so the rate is undefined; drop empty "
            "references or count errors with minispeech.dp.edit_distance"
        )
    return total_edits / total_reference_length


def wer(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Word error rate: (S + D + I) / N summed over the corpus; equals jiwer.wer.

    >>> wer(["the cat sat", "hello world"], ["the cat sat down", "hello"])
    0.4

    Taught in lessons/04_ctc.ipynb, section 5.
    """
    from minispeech.dp.levenshtein import word_edit_distances

    reference_list, hypothesis_list = _paired_sentences(references, hypotheses, "wer")
    distances, reference_lengths = word_edit_distances(reference_list, hypothesis_list)
    return _rate(int(distances.sum()), int(reference_lengths.sum()), "wer")


def cer(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Character error rate: (S + D + I) / N over characters, spaces included; equals jiwer.cer.

    >>> cer("hello world", "hallo world")
    0.09090909090909091

    Taught in lessons/04_ctc.ipynb, section 5.
    """
    from minispeech.dp.levenshtein import edit_distances

    reference_list, hypothesis_list = _paired_sentences(references, hypotheses, "cer")
    stripped_references = [sentence.strip() for sentence in reference_list]
    stripped_hypotheses = [sentence.strip() for sentence in hypothesis_list]
    distances = edit_distances(stripped_references, stripped_hypotheses)
    total_reference_length = sum(len(sentence) for sentence in stripped_references)
    return _rate(int(distances.sum()), total_reference_length, "cer")


@dataclass(frozen=True)
class WordAccuracy:
    """Shares of reference words recognized exactly, and how many words each share is over."""

    in_vocabulary: float  # NaN when no reference word is in the vocabulary
    out_of_vocabulary: float  # NaN when every reference word is
    in_vocabulary_words: int
    out_of_vocabulary_words: int


def word_accuracy(
    references: str | Sequence[str], hypotheses: str | Sequence[str], vocabulary: Iterable[str]
) -> WordAccuracy:
    """Word accuracy split by vocabulary: a reference word counts as right when the best word
    alignment (the one wer counts; minispeech.dp.levenshtein.reference_hits) matches it exactly.

    `vocabulary` is typically every word of the training transcripts: a word outside it is one
    the recognizer never heard, so writing it right means it learned spelling, not words.

    >>> word_accuracy(["the cat sat"], ["the cap sat"], vocabulary={"the", "sat"})
    WordAccuracy(in_vocabulary=1.0, out_of_vocabulary=0.0, in_vocabulary_words=2, out_of_vocabulary_words=1)

    Taught in lessons/04_ctc.ipynb, section 6.
    """
    from minispeech.dp.levenshtein import reference_hits

    reference_list, hypothesis_list = _paired_sentences(references, hypotheses, "word_accuracy")
    known = set(vocabulary)
    right = {True: 0, False: 0}  # in vocabulary? -> words right
    total = {True: 0, False: 0}
    for reference, hypothesis in zip(reference_list, hypothesis_list, strict=True):
        words = reference.split()
        for word, hit in zip(words, reference_hits(words, hypothesis.split()), strict=True):
            total[word in known] += 1
            right[word in known] += hit
    return WordAccuracy(
        in_vocabulary=right[True] / total[True] if total[True] else math.nan,
        out_of_vocabulary=right[False] / total[False] if total[False] else math.nan,
        in_vocabulary_words=total[True],
        out_of_vocabulary_words=total[False],
    )
