"""The lesson-10 checks pass answers written by hand (not the library calls they compare with), fail
wrong answers with the mistake named on the "What is wrong" line, and let an unfinished exercise's
NotImplementedError through unchanged."""

import re

import pytest
import torch

from minispeech.grading import lesson10


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 10.x: not done yet")


def diagnosed(text: str) -> str:
    """A pattern for `text` on the failure's "What is wrong:" line, not in its hint."""
    return "What is wrong: [^\\n]*" + re.escape(text)


CHECKS = [lesson10.check_coupling, lesson10.check_alignment_likelihood, lesson10.check_kl,
          lesson10.check_durations_and_path]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def coupling(x, mask, shift_and_log_scale, reverse=False, mistake=None):
    x0, x1 = x.chunk(2, dim=1)
    shift, log_scale = shift_and_log_scale(x0, mask)
    if reverse:
        scale = torch.exp(log_scale if mistake == "reverse-scale" else -log_scale)
        return torch.cat([x0, (x1 - shift) * scale * mask], dim=1)
    y1 = (shift + x1 * torch.exp(log_scale)) * mask
    log_determinant = log_scale.sum(dim=(1, 2))
    if mistake == "sign":
        log_determinant = -log_determinant
    if mistake == "mean":
        log_determinant = log_scale.mean(dim=(1, 2))
    if mistake == "scalar":
        log_determinant = log_scale.sum()
    return (torch.cat([y1, x0] if mistake == "order" else [x0, y1], dim=1), log_determinant)


def likelihood(z_p, mean, log_std, text_mask, frame_mask, mistake=None):
    """By brute force over (B, C, T_txt, T_mel), the way a student might write it."""
    difference = z_p[:, :, None, :] - mean[:, :, :, None]
    variance = torch.exp(log_std if mistake == "std" else 2 * log_std)[:, :, :, None]
    per_channel = -0.5 * torch.log(torch.tensor(2 * torch.pi, dtype=z_p.dtype)) - log_std[:, :, :, None]
    result = (per_channel - 0.5 * difference**2 / variance).sum(1)
    if mistake != "unmasked":
        result = result * (text_mask[:, :, None] & frame_mask[:, None, :])
    return result.transpose(1, 2) if mistake == "transposed" else result


def kl(z_p, posterior_log_std, prior_mean, prior_log_std, mask, mistake=None):
    sign = -1.0 if mistake == "sign" else 1.0
    terms = sign * (prior_log_std - posterior_log_std) + 0.5 * (z_p - prior_mean) ** 2 / torch.exp(2 * prior_log_std)
    if mistake != "constant":
        terms = terms - 0.5
    total = (terms if mistake == "unmasked" else terms * mask).sum()
    return total / (mask.sum() * z_p.shape[1] if mistake == "per-element" else mask.sum())


def durations_and_path(log_duration, text_mask, length_scale, mistake=None):
    frames = torch.exp(log_duration) * length_scale
    rounded = torch.round(frames) if mistake == "round" else torch.ceil(frames)
    durations = rounded.clamp(min=1).long() * (1 if mistake == "unmasked" else text_mask)
    n_frames = int(durations.sum(1).max())
    path = torch.zeros(*durations.shape, n_frames, dtype=torch.float64)
    for b in range(durations.shape[0]):
        start = 0
        for i, duration in enumerate(durations[b].tolist()):
            path[b, i, start + (mistake == "late") : start + duration + (mistake == "late")] = 1
            start += duration
    return durations, path[:, :, :n_frames]


def test_answers_by_hand_pass(capsys):
    lesson10.check_coupling(coupling)
    lesson10.check_alignment_likelihood(likelihood)
    lesson10.check_kl(kl)
    lesson10.check_durations_and_path(durations_and_path)
    printed = capsys.readouterr().out
    for name in ("coupling", "alignment_log_likelihood", "kl_loss", "durations_and_path"):
        assert f"✓ {name}" in printed


@pytest.mark.parametrize("mistake, named", [
    ("sign", "log|det| is +sum(log_s)"), ("mean", "not a mean"), ("order", "(x0, y1), not (y1, x0)"),
    ("reverse-scale", "multiply by exp(-log_s)"), ("scalar", "shape (B,)"),
])  # fmt: skip
def test_coupling_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson10.check_coupling(lambda *args, **kwargs: coupling(*args, **kwargs, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [
    ("std", "divided by the variance"), ("unmasked", "off the masks"), ("transposed", "transposed"),
])  # fmt: skip
def test_likelihood_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson10.check_alignment_likelihood(lambda *args: likelihood(*args, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [
    ("sign", "the other way round"), ("constant", "constant -1/2"), ("unmasked", "padded frames"),
    ("per-element", "times channels"),
])  # fmt: skip
def test_kl_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson10.check_kl(lambda *args: kl(*args, mistake=mistake))


@pytest.mark.parametrize("mistake, named", [
    ("round", "rounds to nearest"), ("unmasked", "padded tokens get 0 frames"), ("late", "one frame late"),
])  # fmt: skip
def test_duration_mistakes_are_named(mistake, named):
    with pytest.raises(AssertionError, match=diagnosed(named)):
        lesson10.check_durations_and_path(lambda *args: durations_and_path(*args, mistake=mistake))


def test_float_durations_and_a_missing_path_are_named():
    def floats(log_duration, text_mask, length_scale):
        durations, path = durations_and_path(log_duration, text_mask, length_scale)
        return durations.double(), path

    with pytest.raises(AssertionError, match=diagnosed("int64")):
        lesson10.check_durations_and_path(floats)
    with pytest.raises(AssertionError, match=diagnosed("tuple")):
        lesson10.check_durations_and_path(lambda *args: durations_and_path(*args)[0])


def test_the_coupling_cases_transform_something():
    """The seeded output layer makes shift and log-scale nonzero, so a do-nothing answer fails."""
    case = lesson10._coupling_fixed_cases()[0]
    x0 = case["x"].chunk(2, dim=1)[0]
    shift, log_scale = case["shift_and_log_scale"](x0, case["mask"])
    assert shift.abs().max() > 0.05 and log_scale.abs().max() > 0.05
    with pytest.raises(AssertionError):
        lesson10.check_coupling(lambda x, mask, shift_and_log_scale, reverse=False:
                                x if reverse else (x, x.new_zeros(len(x))))  # fmt: skip
