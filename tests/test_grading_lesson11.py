"""The lesson-11 checks pass answers written by hand (not the library calls they compare with), fail
wrong answers with the mistake named on the "What is wrong" line, and let an unfinished exercise's
NotImplementedError through unchanged."""

import math
import re

import pytest
import torch

from minispeech.grading import lesson11


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 11.x: not done yet")


def diagnosed(text: str) -> str:
    """A pattern for `text` on the failure's "What is wrong:" line, not in its hint."""
    return "What is wrong: [^\\n]*" + re.escape(text)


CHECKS = [lesson11.check_quantize, lesson11.check_residual_quantize, lesson11.check_ema_update,
          lesson11.check_bitrate]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def quantize(x, codebook, mistake=None):
    """By brute force over (N, V, D) differences, the way a student might write it."""
    differences = x[:, None, :] - codebook[None, :, :]  # (N, V, D)
    if mistake == "dot":
        codes = (x @ codebook.T).argmax(1)
    elif mistake == "argmax":
        codes = differences.pow(2).sum(-1).argmax(1)
    elif mistake == "l1":
        codes = differences.abs().sum(-1).argmin(1)
    else:
        codes = differences.pow(2).sum(-1).argmin(1)
    chosen = codebook[codes]
    if mistake == "no-straight-through":
        return chosen, codes
    if mistake == "detach-x":
        return x.detach() + (chosen - x), codes
    if mistake == "minus":
        return x - (chosen - x).detach(), codes
    if mistake == "float-codes":
        return x + (chosen - x).detach(), codes.double()
    return x + (chosen - x).detach(), codes


def residual_quantize(x, codebooks, mistake=None):
    residual, total, codes = x, torch.zeros_like(x), []
    for codebook in codebooks:
        target = x if mistake == "input" else residual
        index = torch.cdist(target, codebook).argmin(1)
        codes.append(index)
        total = codebook[index] if mistake == "last" else total + codebook[index]
        residual = residual + codebook[index] if mistake == "add" else residual - codebook[index]
    stacked = torch.stack(codes, dim=1 if mistake == "transposed" else 0)
    return (residual if mistake == "residual" else total), stacked


def ema_update(cluster_size, embedding_sum, vectors, codes, decay, epsilon, mistake=None):
    size = cluster_size.shape[0]
    one_hot = torch.nn.functional.one_hot(codes, size).to(vectors.dtype)  # (N, V)
    counts, sums = one_hot.sum(0), one_hot.T @ vectors
    if mistake == "means":
        sums = sums / counts.clamp_min(1)[:, None]
    old, new = (1 - decay, decay) if mistake == "swap" else (decay, 1 - decay)
    cluster_size = old * cluster_size + new * counts
    embedding_sum = old * embedding_sum + new * sums
    total = cluster_size.sum()
    smoothed = cluster_size if mistake == "raw" else (cluster_size + epsilon) / (total + size * epsilon) * total
    return cluster_size, embedding_sum, embedding_sum / smoothed[:, None]


def bitrate(n_quantizers, codebook_size, sample_rate, hop_length, mistake=None):
    bits = {"natural": math.log(codebook_size), "entries": codebook_size}.get(mistake, math.log2(codebook_size))
    frames = hop_length / sample_rate if mistake == "inverted" else sample_rate / hop_length
    result = (1 if mistake == "one" else n_quantizers) * bits * frames
    return result / 1000 if mistake == "kbps" else result


def test_answers_by_hand_pass(capsys):
    lesson11.check_quantize(quantize)
    lesson11.check_residual_quantize(residual_quantize)
    lesson11.check_ema_update(ema_update)
    lesson11.check_bitrate(bitrate)
    printed = capsys.readouterr().out
    for name in ("quantize", "residual_quantize", "ema_update", "bitrate"):
        assert f"✓ {name}" in printed


@pytest.mark.parametrize("mistake, named", [
    ("dot", "squared norm"), ("argmax", "argmin, not argmax"), ("l1", "not the sum of absolute"),
    ("no-straight-through", "no gradient reaches x"), ("detach-x", "wrong sign"), ("minus", "x - (q - x)"),
    ("float-codes", "int64"),
])  # fmt: skip
def test_quantize_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson11.check_quantize(lambda x, codebook: quantize(x, codebook, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [
    ("input", "the residual, not x itself"), ("add", "do not add them"), ("last", "not the last stage's alone"),
    ("residual", "not the final residual"), ("transposed", "yours is (N, K)"),
])  # fmt: skip
def test_residual_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson11.check_residual_quantize(lambda x, codebooks: residual_quantize(x, codebooks, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [
    ("swap", "weighs the new batch"), ("raw", "Laplace-smoothed"), ("means", "not their mean"),
])  # fmt: skip
def test_ema_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson11.check_ema_update(lambda *args: ema_update(*args, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [
    ("natural", "natural log"), ("entries", "not V"), ("inverted", "not hop_length / sample_rate"),
    ("one", "multiply by n_quantizers"), ("kbps", "not kilobits"),
])  # fmt: skip
def test_bitrate_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson11.check_bitrate(lambda *args: bitrate(*args, mistake=mistake))


def test_the_quantize_cases_separate_dot_product_from_distance():
    """The fixed case has codes of different norms, so the largest dot product is not the nearest code."""
    x, codebook, _ = lesson11._quantize_fixed_cases()[0]
    by_distance = torch.cdist(x, codebook).argmin(1)
    by_dot = (x @ codebook.T).argmax(1)
    assert not torch.equal(by_distance, by_dot)


def test_the_ema_cases_make_the_smoothing_visible():
    """At least one case's Laplace smoothing changes the codebook by more than the check's tolerance."""
    cases = lesson11._ema_fixed_cases() + lesson11.random_cases(115, 12, lesson11._ema_case)
    differences = []
    for case in cases:
        right = lesson11._ema_variant(*case)[2]
        raw = lesson11._ema_variant(*case, smooth=False)[2]
        differences.append(float((right - raw).abs().max()))
    assert max(differences) > 1e-3
