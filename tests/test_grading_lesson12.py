"""The lesson-12 checks pass answers written by hand (not the library calls they compare with), fail wrong
answers with the mistake named on the "What is wrong" line, and let an unfinished exercise's
NotImplementedError through unchanged."""

import re

import pytest
import torch

from minispeech.grading import lesson12


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 12.x: not done yet")


def diagnosed(text: str) -> str:
    return "What is wrong: [^\\n]*" + re.escape(text)


CHECKS = [lesson12.check_ge2e_similarity, lesson12.check_ar_mask, lesson12.check_filter_logits,
          lesson12.check_stage_input]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def ge2e(embeddings, weight, bias, mistake=None):
    """By loops over speakers, utterances and centroids."""
    speakers, utterances, _ = embeddings.shape
    result = torch.zeros(speakers, utterances, speakers, dtype=embeddings.dtype)
    for j in range(speakers):
        for i in range(utterances):
            for k in range(speakers):
                members = [m for m in range(utterances) if not (k == j and m != mistake and m == i)]
                if mistake == "inclusive":
                    members = list(range(utterances))
                centroid = embeddings[k, members].mean(0)
                if mistake == "dot":
                    similarity = embeddings[j, i] @ centroid
                else:
                    similarity = torch.nn.functional.cosine_similarity(embeddings[j, i], centroid, dim=0)
                result[j, i, k] = similarity if mistake == "unscaled" else weight * similarity + bias
    return result


def ar_mask(text_lengths, audio_lengths, length, mistake=None):
    batch = torch.zeros(len(text_lengths), length, length, dtype=torch.bool)
    for b, (n_text, n_audio) in enumerate(zip(text_lengths.tolist(), audio_lengths.tolist(), strict=True)):
        for query in range(length):
            for key in range(length):
                query_text, key_text = query < n_text, key < n_text
                query_real, key_real = query < n_text + n_audio, key < n_text + n_audio
                if not query_real:
                    allowed = query == key and mistake != "no-diagonal"
                elif query_text:
                    allowed = key_text and (mistake != "causal-text" or key <= query)
                    allowed = allowed or (mistake == "text-reads-audio" and key_real)
                else:
                    allowed = (key_text and mistake != "no-text") or (not key_text and key_real and key <= query)
                    allowed = allowed or (mistake == "future" and key_real and not key_text)
                batch[b, query, key] = allowed
    return batch


def filter_logits(logits, top_k, top_p, mistake=None):
    result = logits.clone()
    for row in range(len(logits)):
        values = result[row]
        if top_k is not None and top_k < len(values):
            kth = sorted(values.tolist(), reverse=True)[top_k - 1]
            values[values < kth] = float("-inf")
        if top_p is not None and top_p < 1:
            probabilities = values.softmax(0)
            ranked = sorted(range(len(values)), key=lambda i: -float(probabilities[i]))
            above = 0.0
            for index in ranked:
                if (above + float(probabilities[index]) > top_p) if mistake == "inclusive" else above >= top_p:
                    values[index] = float("-inf")
                above += float(probabilities[index])
        if mistake == "zero":
            values[values == float("-inf")] = 0.0
    return result


def stage_input(codes, embeddings, stage, mistake=None):
    last = stage + 1 if mistake == "inclusive" else stage
    total = 0
    for c in range(last):
        table = embeddings[0] if mistake == "one-table" else embeddings[c]
        total = total + table(codes[:, c])
    return total


def test_answers_by_hand_pass(capsys):
    lesson12.check_ge2e_similarity(ge2e)
    lesson12.check_ar_mask(ar_mask)
    lesson12.check_filter_logits(filter_logits)
    lesson12.check_stage_input(stage_input)
    printed = capsys.readouterr().out
    for name in ("ge2e_similarity", "ar_attention_mask", "filter_logits", "stage_input"):
        assert f"✓ {name}" in printed


@pytest.mark.parametrize("mistake, named", [
    ("inclusive", "leaves that utterance out"), ("dot", "not the raw dot product"), ("unscaled", "w cos + b"),
])  # fmt: skip
def test_ge2e_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson12.check_ge2e_similarity(lambda *args: ge2e(*args, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [
    ("causal-text", "not only earlier ones"), ("text-reads-audio", "must not read the audio"),
    ("no-text", "reads every text position"), ("future", "never later audio"), ("no-diagonal", "reads only itself"),
])  # fmt: skip
def test_mask_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson12.check_ar_mask(lambda *args: ar_mask(*args, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [("inclusive", "crosses p too"), ("zero", "not 0")])
def test_filter_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson12.check_filter_logits(lambda *args: filter_logits(*args, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [("inclusive", "stage's own codebook"), ("one-table", "its own embedding table")])
def test_stage_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson12.check_stage_input(lambda *args: stage_input(*args, mistake=mistake))
