"""The lesson-08 checks pass the references, fail wrong answers with a helpful message, and let
an unfinished exercise's NotImplementedError through unchanged."""

import re

import numpy as np
import pytest
import torch

from minispeech.dp.align import ctc_durations
from minispeech.grading import lesson08
from minispeech.models import fastspeech2
from minispeech.models.forward_sum_aligner import MASKED, alignment_log_probs


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 8.x: not done yet")


def diagnosed(text: str) -> str:
    """A pattern for `text` on the failure's "What is wrong:" line, not in its hint."""
    return "What is wrong: [^\\n]*" + re.escape(text)


CHECKS = [lesson08.check_regulate_length, lesson08.check_pitch_buckets,
          lesson08.check_durations_from_ctc_path, lesson08.check_soft_alignment]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def regulate(hidden, durations, speed=1.0):
    return fastspeech2.length_regulate(hidden, durations, speed)


def buckets(phoneme_f0, config):
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the adaptor's boundaries in float64, as the check's
    try:
        boundaries = fastspeech2.VarianceAdaptor(config).pitch_boundaries
    finally:
        torch.set_default_dtype(saved)
    return fastspeech2.bucketize(fastspeech2.pitch_targets(phoneme_f0, config), boundaries)


def soft(queries, keys, token_mask, temperature, log_prior=None):
    return alignment_log_probs(queries, keys, token_mask, temperature, log_prior)


def test_references_pass(capsys):
    lesson08.check_regulate_length(regulate)
    lesson08.check_pitch_buckets(buckets)
    lesson08.check_durations_from_ctc_path(ctc_durations)
    lesson08.check_soft_alignment(soft)
    printed = capsys.readouterr().out
    for name in ("regulate_length", "pitch_buckets", "durations_from_ctc_path", "soft_alignment"):
        assert f"✓ {name}" in printed


# --- 8.1 ---------------------------------------------------------------------------------------


def regulate_with(frames_of):
    """A length regulator that turns (durations, speed) into frames with frames_of."""

    def regulate_length(hidden, durations, speed=1.0):
        return fastspeech2.length_regulate(hidden, frames_of(durations.double(), speed).long(), 1.0)

    return regulate_length


@pytest.mark.parametrize(
    ("frames_of", "diagnosis"),
    [(lambda d, speed: torch.round(d / speed), "send a half to the even neighbour"),
     (lambda d, speed: (d / speed).long(), "truncated"),
     (lambda d, speed: torch.floor(d + 0.5), "the speed is ignored"),
     (lambda d, speed: torch.floor(d * speed + 0.5), "multiplied by the speed")],
    ids=["round-half-even", "truncate", "no-speed", "times-speed"],
)  # fmt: skip
def test_wrong_rounding_is_named(frames_of, diagnosis):
    with pytest.raises(AssertionError, match=diagnosed(diagnosis)):
        lesson08.check_regulate_length(regulate_with(frames_of))


def test_garbage_past_the_lengths_is_named():
    def ones_past(hidden, durations, speed=1.0):
        expanded, mel_lengths = regulate(hidden, durations, speed)
        past = torch.arange(expanded.shape[1])[None, :] >= mel_lengths[:, None]
        return expanded + past[:, :, None], mel_lengths

    with pytest.raises(AssertionError, match=diagnosed("past an item's total")):
        lesson08.check_regulate_length(ones_past)


def test_a_padded_time_axis_is_named():
    def padded(hidden, durations, speed=1.0):
        expanded, mel_lengths = regulate(hidden, durations, speed)
        return torch.nn.functional.pad(expanded, (0, 0, 0, 1)), mel_lengths

    with pytest.raises(AssertionError, match=diagnosed("T_mel is the longest total")):
        lesson08.check_regulate_length(padded)


def test_float_lengths_are_named():
    def float_lengths(hidden, durations, speed=1.0):
        expanded, mel_lengths = regulate(hidden, durations, speed)
        return expanded, mel_lengths.double()

    with pytest.raises(AssertionError, match=diagnosed("int64 frame counts")):
        lesson08.check_regulate_length(float_lengths)


# --- 8.2 ---------------------------------------------------------------------------------------


def buckets_by_hand(phoneme_f0, config, value_of=None, n_boundaries=None, strict=True, zero_unvoiced=True,
                    linspace=None):  # fmt: skip
    """The exercise written out, with one step swappable for a mistake or another linspace."""
    f0 = phoneme_f0.double()
    voiced = f0 > 0
    value = torch.log(torch.where(voiced, f0, 1.0)) if value_of is None else value_of(f0)
    normalized = (value - config.log_f0_mean) / config.log_f0_std
    if zero_unvoiced:
        normalized = torch.where(voiced, normalized, 0.0)
    low = (config.log_f0_min - config.log_f0_mean) / config.log_f0_std
    high = (config.log_f0_max - config.log_f0_mean) / config.log_f0_std
    count = config.n_bins - 1 if n_boundaries is None else n_boundaries(config)
    boundaries = (torch.linspace(low, high, count, dtype=torch.float64) if linspace is None
                  else torch.from_numpy(linspace(low, high, count)))  # fmt: skip
    above = normalized[..., None] > boundaries if strict else normalized[..., None] >= boundaries
    return above.sum(-1)


def numpy_linspace(low, high, count):
    return np.linspace(low, high, count)


def stepped_linspace(low, high, count):
    step = (high - low) / (count - 1) if count > 1 else 0.0
    return low + step * np.arange(count)


@pytest.mark.parametrize("linspace", [None, numpy_linspace, stepped_linspace])
def test_pitch_buckets_by_hand_pass_whichever_linspace(linspace, capsys):
    """The boundary cases are exact: another way to space the boundaries gives the same buckets."""
    lesson08.check_pitch_buckets(
        lambda phoneme_f0, config: buckets_by_hand(phoneme_f0, config, linspace=linspace)
    )
    assert "✓ pitch_buckets" in capsys.readouterr().out


def test_boundary_config_puts_zero_on_a_boundary():
    config = lesson08._boundary_config()
    boundaries = lesson08._library_pitch_boundaries(config)
    assert boundaries.dtype == torch.float64
    assert boundaries.tolist() == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [({"strict": False}, "strictly below"),
     ({"n_boundaries": lambda config: config.n_bins}, "n_bins - 1 boundaries"),
     ({"value_of": lambda f0: f0}, "F0 in Hz"),
     ({"zero_unvoiced": False}, "unvoiced tokens"),
     ({"value_of": lambda f0: torch.log10(f0)}, "another base")],
    ids=["greater-or-equal", "n-bins-boundaries", "hz", "unvoiced", "log10"],
)  # fmt: skip
def test_pitch_mistakes_are_named(options, diagnosis):
    with pytest.raises(AssertionError, match=diagnosed(diagnosis)):
        lesson08.check_pitch_buckets(
            lambda phoneme_f0, config: buckets_by_hand(phoneme_f0, config, **options)
        )


def test_float_buckets_are_named():
    with pytest.raises(AssertionError, match=diagnosed("int64")):
        lesson08.check_pitch_buckets(
            lambda phoneme_f0, config: buckets(phoneme_f0, config).double()
        )


# --- 8.3 ---------------------------------------------------------------------------------------


def durations_by_hand(frame_labels, n_tokens, blank=0, merge=True, leading="first", count_blanks=True,
                      fixed_blank=None):  # fmt: skip
    """The exercise written out with a list, with one rule swappable for a mistake."""
    blank = blank if fixed_blank is None else fixed_blank
    durations, leading_blanks, previous = [], 0, blank
    for label in frame_labels:
        if label != blank and (label != previous or not merge):
            durations.append(0)
        if label != blank or count_blanks:
            if durations:
                durations[-1] += 1
            else:
                leading_blanks += 1
        previous = label
    if durations and leading == "first":
        durations[0] += leading_blanks
    if durations and leading == "last":
        durations[-1] += leading_blanks
    return np.array(durations, np.int64)


def test_durations_by_hand_pass(capsys):
    lesson08.check_durations_from_ctc_path(durations_by_hand)
    assert "✓ durations_from_ctc_path" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [({"merge": False}, "repeated on consecutive frames is one token"),
     ({"leading": "lost"}, "yours drops them"),
     ({"leading": "last"}, "gives them to the last token"),
     ({"count_blanks": False}, "blank frames count too"),
     ({"fixed_blank": 0}, "not always 0")],
    ids=["no-merge", "leading-lost", "leading-last", "blanks-uncounted", "blank-zero"],
)  # fmt: skip
def test_ctc_duration_mistakes_are_named(options, diagnosis):
    def wrong(frame_labels, n_tokens, blank=0):
        return durations_by_hand(frame_labels, n_tokens, blank, **options)

    with pytest.raises(AssertionError, match=diagnosed(diagnosis)):
        lesson08.check_durations_from_ctc_path(wrong)


def test_a_blank_between_equal_labels_ignored_is_named():
    def previous_label_only(frame_labels, n_tokens, blank=0):
        durations, previous = np.zeros(n_tokens, np.int64), blank
        token = -1
        for label in frame_labels:
            if label != blank and label != previous:
                token += 1
            durations[max(token, 0)] += 1
            if label != blank:
                previous = label
        return durations

    with pytest.raises(
        AssertionError, match=diagnosed("a blank between two equal labels separates")
    ):
        lesson08.check_durations_from_ctc_path(previous_label_only)


# --- 8.4 ---------------------------------------------------------------------------------------


def soft_by_hand(queries, keys, token_mask, temperature, log_prior=None, axis=-1, mask_first=True,
                 sign=-1.0, use_prior=True, final_fill=MASKED, power=2):  # fmt: skip
    """The exercise written out, with one step swappable for a mistake."""
    padding = ~token_mask[:, None, :]
    scores = sign * temperature * torch.cdist(queries, keys) ** power
    if mask_first:
        scores = scores.masked_fill(padding, -torch.inf)
    log_probs = scores.log_softmax(axis)
    if log_prior is not None and use_prior:
        log_probs = log_probs + log_prior
    return log_probs.masked_fill(padding, final_fill)


def test_soft_alignment_by_hand_passes(capsys):
    lesson08.check_soft_alignment(soft_by_hand)
    assert "✓ soft_alignment" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [({"axis": 1}, "runs over the frames"),
     ({"mask_first": False}, "padding tokens take probability"),
     ({"use_prior": False}, "prior is missing"),
     ({"sign": 1.0}, "sign is flipped"),
     ({"power": 1}, "must be squared"),
     ({"final_fill": -torch.inf}, "entries are -inf")],
    ids=["frames-axis", "no-mask-before", "no-prior", "sign", "not-squared", "padding-inf"],
)  # fmt: skip
def test_soft_alignment_mistakes_are_named(options, diagnosis):
    with pytest.raises(AssertionError, match=diagnosed(diagnosis)):
        lesson08.check_soft_alignment(
            lambda *args, **kwargs: soft_by_hand(*args, **kwargs, **options)
        )
