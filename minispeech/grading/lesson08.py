"""Checks for lessons/08_fastspeech2.ipynb: the length regulator, pitch buckets, CTC durations, the
soft alignment.

check_regulate_length           exercise 8.1, against minispeech.models.fastspeech2.length_regulate
check_pitch_buckets             exercise 8.2, against fastspeech2.bucketize of fastspeech2.pitch_targets
                                on VarianceAdaptor(config).pitch_boundaries (built in float64)
check_durations_from_ctc_path   exercise 8.3, against minispeech.dp.align.ctc_durations
check_soft_alignment            exercise 8.4, against
                                minispeech.models.forward_sum_aligner.alignment_log_probs

Everything runs in float64. Each check's `diagnose` recomputes the answers of the likely mistakes
(round half to even, Hz instead of log, leading blanks lost, a softmax over frames, ...) and names
the one the student's answer equals.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import as_tensor, check_function, random_cases

# --- 8.1 the length regulator ------------------------------------------------------------------


def _lengths_mask(lengths, max_length: int):
    import torch

    return torch.arange(max_length)[None, :] < torch.as_tensor(lengths)[:, None]


def _regulate_case(rng: np.random.Generator) -> dict:
    batch_size, n_tokens = int(rng.integers(1, 4)), int(rng.integers(1, 9))
    token_lengths = np.concatenate([[n_tokens], rng.integers(1, n_tokens + 1, batch_size - 1)])
    if rng.random() < 0.5:  # frame counts, as the corpus gives them
        durations = rng.integers(0, 6, (batch_size, n_tokens)).astype(np.int64)
    else:  # predictions: real numbers, halves included
        halves = rng.integers(0, 12, (batch_size, n_tokens)) / 2
        durations = np.where(rng.random((batch_size, n_tokens)) < 0.5, halves,
                             rng.uniform(0, 6, (batch_size, n_tokens)))  # fmt: skip
    durations[:, 0] = np.maximum(durations[:, 0], 1)  # every item at least one frame
    durations = durations * _lengths_mask(token_lengths, n_tokens).numpy()  # 0 on padding tokens
    hidden = rng.normal(size=(batch_size, n_tokens, int(rng.integers(1, 5))))
    return {"hidden": as_tensor(hidden), "durations": as_tensor(durations),
            "speed": float(rng.choice([1.0, 1.0, 2.0, 0.5, 1.25, 0.8]))}  # fmt: skip


def _regulate_fixed_cases() -> list[dict]:
    import torch

    hidden = torch.arange(10, dtype=torch.float64).reshape(1, 5, 2)
    halves = torch.tensor([[2.5, 0.5, 1.5, 3.0, 0.0]], dtype=torch.float64)
    ragged = torch.tensor([[3, 5, 1, 0], [2, 1, 0, 0]])
    hidden_ragged = torch.arange(16, dtype=torch.float64).reshape(2, 4, 2)
    return [{"hidden": hidden, "durations": halves, "speed": 1.0},
            {"hidden": hidden_ragged, "durations": ragged, "speed": 2.0},
            {"hidden": hidden_ragged, "durations": ragged, "speed": 0.5}]  # fmt: skip


def _reference_regulate(hidden, durations, speed=1.0):
    from minispeech.models.fastspeech2 import length_regulate

    return length_regulate(hidden, durations, speed)


def _rounding_mistakes(durations, speed: float) -> dict:
    """What is wrong -> the frames per token (B, T_txt) that mistake gives."""
    import torch

    scaled = durations.double() / speed
    return {
        "mel_lengths differ where d / speed ends in exactly .5: round half up (2.5 -> 3, 0.5 -> 1); "
        "torch.round and Python's round() send a half to the even neighbour (2.5 -> 2)":
            torch.round(scaled),
        "the frame counts are truncated (1.7 -> 1): round half up to the nearest frame instead":
            torch.trunc(scaled),
        "the frame counts are rounded up (1.2 -> 2): round half up to the nearest frame instead":
            torch.ceil(scaled),
        "the durations are multiplied by the speed: speed 2 is twice as fast, so half the frames":
            torch.floor(durations.double() * speed + 0.5),
        "the speed is ignored: each duration must be divided by it before rounding":
            torch.floor(durations.double() + 0.5),
        "the speed is ignored, and a half is rounded to the even neighbour: divide by the speed, "
        "then round half up": torch.round(durations.double()),
    }  # fmt: skip


def _diagnose_regulate(actual, expected, case) -> str | None:
    import torch

    from minispeech.models.fastspeech2 import length_regulate

    expanded, mel_lengths = actual
    want_expanded, want_lengths = expected
    if not isinstance(mel_lengths, torch.Tensor) or mel_lengths.shape != want_lengths.shape:
        return f"mel_lengths is a tensor (B,) = {tuple(want_lengths.shape)}: one total per item"
    if mel_lengths.is_floating_point() or mel_lengths.dtype == torch.bool:
        return f"mel_lengths must be int64 frame counts, not {mel_lengths.dtype}"
    if not torch.equal(mel_lengths.long(), want_lengths):
        hidden, durations = case["hidden"], case["durations"]
        mistakes = _rounding_mistakes(durations, case["speed"])
        lengths_match = [what for what, frames in mistakes.items()
                         if torch.equal(frames.long().sum(1), mel_lengths.long())]  # fmt: skip
        for what in lengths_match:  # the mistake whose expansion matches too, if there is one
            wrong = length_regulate(hidden, mistakes[what].long(), 1.0)[0]
            if isinstance(expanded, torch.Tensor) and expanded.shape == wrong.shape:
                if torch.equal(expanded.detach().double(), wrong.double()):
                    return what
        if lengths_match:
            return lengths_match[0]
        return ("mel_lengths[b] is the sum of item b's frame counts, each duration divided by the "
                "speed and rounded half up")  # fmt: skip
    if not isinstance(expanded, torch.Tensor) or expanded.dim() != 3:
        return f"expanded is a tensor (B, T_mel, C) = {tuple(want_expanded.shape)}"
    if expanded.shape[1] != want_expanded.shape[1]:
        return (f"expanded has {expanded.shape[1]} frames; T_mel is the longest total, "
                f"max(mel_lengths) = {want_expanded.shape[1]}")  # fmt: skip
    if expanded.shape != want_expanded.shape:
        return f"expanded is (B, T_mel, C) = {tuple(want_expanded.shape)}"
    expanded = expanded.detach().double()
    past = ~_lengths_mask(want_lengths, expanded.shape[1])[:, :, None]
    if (expanded * past).abs().max() > 0 or not torch.isfinite(expanded).all():
        return ("expanded has non-zero (or uninitialized) frames past an item's total: the frames "
                "after mel_lengths[b] must be zeros")  # fmt: skip
    return ("the totals are right but the frames are not: row k of item b fills the next d_k frames, "
            "tokens in order, and a token with 0 frames fills none")  # fmt: skip


def check_regulate_length(student_regulate_length: Callable) -> None:
    """Exercise 8.1: (expanded (B, T_mel, C), mel_lengths (B,)) for int and real durations, halves,
    padding tokens and speeds 0.5 to 2."""
    __tracebackhide__ = True
    cases = _regulate_fixed_cases() + random_cases(81, 14, _regulate_case)
    check_function(
        student_regulate_length, _reference_regulate, cases, name="regulate_length", atol=0.0,
        rtol=0.0, parts=("expanded", "mel_lengths"), diagnose=_diagnose_regulate,
        hint="each duration becomes a whole number of frames: divide it by the speed, then round "
        "half up (2.5 becomes 3, which is not what round-half-to-even does). Token k's row is then "
        "repeated that many times, in order, into a zero tensor as long as the longest item.",
    )  # fmt: skip


# --- 8.2 pitch buckets -------------------------------------------------------------------------


@functools.cache
def _library_pitch_boundaries(config):
    """VarianceAdaptor(config).pitch_boundaries, built in float64 (the module's buffers are float32
    by default), without touching the caller's random state."""
    import torch

    from minispeech.models.fastspeech2 import VarianceAdaptor

    saved = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        try:
            torch.set_default_dtype(torch.float64)
            return VarianceAdaptor(config).pitch_boundaries.clone()
        finally:
            torch.set_default_dtype(saved)


def _reference_pitch_buckets(phoneme_f0, config):
    from minispeech.models.fastspeech2 import bucketize, pitch_targets

    return bucketize(pitch_targets(phoneme_f0, config), _library_pitch_boundaries(config))


def _boundary_config():
    """A config whose boundaries are exactly -3, -2, ..., 3 in every linspace: an unvoiced token
    (p = 0) lies exactly on a boundary. Mean ln(100 Hz), std 1/2; min and max 1.5 away from the
    mean: all sums and differences exact in float64."""
    import math

    from minispeech.models.fastspeech2 import FastSpeech2Config

    mean = math.log(100.0)
    return dataclasses.replace(FastSpeech2Config.preset("ci"), n_bins=8, log_f0_mean=mean,
                               log_f0_std=0.5, log_f0_min=mean - 1.5, log_f0_max=mean + 1.5)  # fmt: skip


def _pitch_case(rng: np.random.Generator, config=None) -> dict:
    from minispeech.models.fastspeech2 import FastSpeech2Config

    if config is None:
        config = dataclasses.replace(
            FastSpeech2Config.preset("ci"), n_bins=int(rng.choice([2, 5, 8, 16, 32])),
            log_f0_mean=float(rng.uniform(4.4, 5.0)), log_f0_std=float(rng.uniform(0.08, 0.3)),
        )  # fmt: skip
    batch_size, n_tokens = int(rng.integers(1, 4)), int(rng.integers(1, 13))
    margin = 0.4  # values below log_f0_min and above log_f0_max too
    log_f0 = rng.uniform(
        config.log_f0_min - margin, config.log_f0_max + margin, (batch_size, n_tokens)
    )
    f0 = np.where(rng.random((batch_size, n_tokens)) < 0.25, 0.0, np.exp(log_f0))  # 0 = unvoiced
    return {"phoneme_f0": as_tensor(f0), "config": config}


def _pitch_fixed_cases() -> list[dict]:
    import torch

    from minispeech.models.fastspeech2 import FastSpeech2Config

    ci = dataclasses.replace(FastSpeech2Config.preset("ci"), n_bins=8)
    low, high = np.exp(ci.log_f0_min), np.exp(ci.log_f0_max)
    spread = torch.tensor([[0.0, 0.5 * low, low * 1.01, np.exp(ci.log_f0_mean), 0.99 * high,
                            2.0 * high, 0.0]], dtype=torch.float64)  # fmt: skip
    on_boundary = _boundary_config()
    # p = 2 (ln f0 - ln 100): voiced values between the boundaries; unvoiced zeros exactly on 0
    hz = [100.0 * np.exp(p / 2) for p in (-3.5, -2.5, -0.5, 0.25, 1.5, 2.7, 3.5)]
    f0 = torch.tensor([[0.0, *hz[:3], 0.0], [hz[3], 0.0, *hz[4:]]], dtype=torch.float64)
    return [{"phoneme_f0": spread, "config": ci}, {"phoneme_f0": f0, "config": on_boundary}]


def _pitch_mistakes(phoneme_f0, config) -> dict:
    """What is wrong -> the buckets (B, T_txt) that mistake gives."""
    import math

    import torch

    f0 = phoneme_f0.double()
    voiced = f0 > 0
    mean, std = config.log_f0_mean, config.log_f0_std

    def normalized(values):
        return torch.where(voiced, (values - mean) / std, 0.0)

    log_f0 = torch.log(torch.where(voiced, f0, 1.0))
    p = normalized(log_f0)
    low, high = (config.log_f0_min - mean) / std, (config.log_f0_max - mean) / std

    def count(values, boundaries, strict=True):
        above = values[..., None] > boundaries if strict else values[..., None] >= boundaries
        return above.sum(-1)

    right = torch.linspace(low, high, config.n_bins - 1, dtype=torch.float64)
    raw = torch.linspace(
        config.log_f0_min, config.log_f0_max, config.n_bins - 1, dtype=torch.float64
    )
    return {
        "a value equal to a boundary is counted as above it: the bucket counts the boundaries "
        "strictly below the value": count(p, right, strict=False),
        "there are n_bins - 1 boundaries (n_bins buckets: one below the first boundary, one "
        "above the last), not n_bins":
            count(p, torch.linspace(low, high, config.n_bins, dtype=torch.float64)),
        "the pitch is modelled as the natural log of F0, normalized; yours uses F0 in Hz":
            count(normalized(f0), right),
        "the pitch is the natural log of F0 (ln); yours uses another base":
            count(normalized(log_f0 / math.log(10)), right),
        "the pitch is the natural log of F0 (ln), not log2": count(normalized(log_f0 / math.log(2)), right),
        "the log-F0 is not normalized: subtract log_f0_mean and divide by log_f0_std, for the "
        "values and the boundaries alike": count(torch.where(voiced, log_f0, 0.0), right),
        "the boundaries are not normalized: log_f0_min and log_f0_max are in ln Hz, like the "
        "values before normalizing; normalize both ends the same way": count(p, raw),
    }  # fmt: skip


def _diagnose_pitch(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return f"return a tensor of bucket indices (B, T_txt) = {tuple(expected.shape)}"
    if actual.is_floating_point() or actual.dtype == torch.bool:
        return f"bucket indices are int64, not {actual.dtype}: they index an embedding"
    actual = actual.long()
    n_bins = case["config"].n_bins
    if actual.min() < 0 or actual.max() > n_bins - 1:
        return (f"a bucket index lies outside [0, n_bins - 1] = [0, {n_bins - 1}]: n_bins - 1 "
                "boundaries make n_bins buckets")  # fmt: skip
    for what, buckets in _pitch_mistakes(case["phoneme_f0"], case["config"]).items():
        if torch.equal(actual, buckets):
            return what
    voiced = case["phoneme_f0"] > 0
    wrong = actual != expected
    if wrong.any() and not (wrong & voiced).any():
        return ("only unvoiced tokens (f0 = 0) are wrong: their pitch is p = 0, the mean, in the "
                "normalized scale; the log of 0 is not a pitch")  # fmt: skip
    return None


def check_pitch_buckets(student_pitch_buckets: Callable) -> None:
    """Exercise 8.2: int64 buckets (B, T_txt) for unvoiced tokens, pitches below the minimum and
    above the maximum, 2 to 32 buckets, and zeros lying exactly on a boundary."""
    __tracebackhide__ = True
    cases = _pitch_fixed_cases() + random_cases(82, 14, _pitch_case)
    cases += random_cases(83, 2, lambda rng: _pitch_case(rng, _boundary_config()))
    check_function(
        student_pitch_buckets, _reference_pitch_buckets, cases, name="pitch_buckets", atol=0.0,
        rtol=0.0, diagnose=_diagnose_pitch,
        hint="first the value: the natural log of F0, normalized with the config's mean and "
        "standard deviation, and the mean itself (0) for an unvoiced token. Then the boundaries: "
        "n_bins - 1 of them, evenly spaced, both ends included, in the same normalized scale. The "
        "bucket counts the boundaries strictly below the value.",
    )  # fmt: skip


# --- 8.3 durations from a CTC path -------------------------------------------------------------


def _ctc_path_case(rng: np.random.Generator) -> dict:
    """A random valid CTC path: optional leading blanks, each token 1-3 frames, a blank required
    between two equal adjacent labels and optional elsewhere, optional trailing blanks."""
    blank = 0 if rng.random() < 0.7 else int(rng.choice([3, 6]))
    labels = [label for label in range(7) if label != blank][:4]  # a small alphabet: many repeats
    n_tokens = int(rng.integers(1, 9))
    target = [int(rng.choice(labels))]
    for _ in range(n_tokens - 1):
        target.append(target[-1] if rng.random() < 0.3 else int(rng.choice(labels)))
    path = [blank] * int(rng.integers(0, 3))
    for k, label in enumerate(target):
        if k > 0:
            least = 1 if label == target[k - 1] else 0
            path += [blank] * int(rng.integers(least, 3))
        path += [label] * int(rng.integers(1, 4))
    path += [blank] * int(rng.integers(0, 3))
    return {"frame_labels": np.array(path, np.int64), "n_tokens": n_tokens, "blank": blank}


def _ctc_fixed_cases() -> list:
    return [
        (np.array([0, 5, 5, 0, 7, 0, 7], np.int64), 3),  # ctc_durations' docstring
        (np.array([0, 0, 5, 0, 5, 7], np.int64), 3),
        (np.array([2, 2, 3, 3, 3, 1], np.int64), 3),  # no blank at all
        {
            "frame_labels": np.array([4, 0, 0, 4, 0, 1, 4, 1, 4], np.int64),
            "n_tokens": 4,
            "blank": 4,
        },
    ]


def _reference_ctc_durations(frame_labels, n_tokens, blank=0):
    from minispeech.dp.align import ctc_durations

    return ctc_durations(frame_labels, n_tokens, blank)


def _ctc_arguments(case) -> tuple[np.ndarray, int, int]:
    if isinstance(case, dict):
        return np.asarray(case["frame_labels"]), case["n_tokens"], case.get("blank", 0)
    return (np.asarray(case[0]), case[1], case[2] if len(case) > 2 else 0)


def _ctc_mistakes(labels: np.ndarray, n_tokens: int, blank: int) -> dict:
    """What is wrong -> the durations that mistake gives, one per token that mistake finds."""
    previous = np.concatenate([[blank], labels[:-1]])
    is_label = labels != blank
    last_label = np.maximum.accumulate(np.where(is_label, np.arange(len(labels)), -1))
    previous_label = np.concatenate(
        [[blank], np.where(last_label >= 0, labels[last_label], blank)[:-1]]
    )

    def counts(starts, frames=None, leading="first", blanks_to="previous"):
        token = np.cumsum(starts) - 1  # (T,): the token each frame belongs to, -1 before the first
        if blanks_to == "next":
            token = np.where(is_label, token, np.minimum(token + 1, max(int(starts.sum()) - 1, 0)))
        keep = np.ones(len(labels), bool) if frames is None else frames.copy()
        if leading == "lost":
            keep &= token >= 0
        token = np.where(token >= 0, token, int(starts.sum()) - 1 if leading == "last" else 0)
        return np.bincount(token[keep], minlength=int(starts.sum()))

    starts = is_label & (labels != previous)
    zero_blank = {}
    if blank != 0:
        other = labels != 0
        zero_previous = np.concatenate([[0], labels[:-1]])
        zero_blank = {f"the blank is the `blank` argument (here {blank}), not always 0":
                      counts(other & (labels != zero_previous))}  # fmt: skip
    return {
        **zero_blank,
        "a label repeated on consecutive frames is one token: only a change of label, or a blank "
        "in between, starts a new one (lesson 04's collapse rule)": counts(is_label),
        "a blank between two equal labels separates two tokens: compare each frame with the "
        "previous frame, blanks included, not with the previous label":
            counts(is_label & (labels != previous_label)),
        "the blanks before the first token belong to the first token; yours drops them":
            counts(starts, leading="lost"),
        "the blanks before the first token belong to the first token; yours gives them to the "
        "last token": counts(starts, leading="last"),
        "blank frames count too: each blank belongs to the token before it, so that the durations "
        "sum to the number of frames": counts(starts, frames=is_label),
        "a blank belongs to the token before it (the spike marks where a token starts), not to the "
        "one after it": counts(starts, blanks_to="next"),
    }  # fmt: skip


def _diagnose_ctc(actual, expected, case) -> str | None:
    labels, n_tokens, blank = _ctc_arguments(case)
    if not isinstance(actual, np.ndarray):
        return f"return a NumPy int64 array of n_tokens = {n_tokens} frame counts"
    if actual.ndim == 1:  # a mistake finds its own number of tokens; a fixed-size array pads it
        for what, durations in _ctc_mistakes(labels, n_tokens, blank).items():
            padded = np.pad(durations, (0, max(n_tokens - len(durations), 0)))
            if np.array_equal(durations, actual) or np.array_equal(padded, actual):
                return what
    if actual.shape != (n_tokens,):
        if actual.ndim == 1 and len(actual) > n_tokens:
            return (f"{len(actual)} durations for {n_tokens} tokens: a label repeated on consecutive "
                    "frames is one token; only a change of label, or a blank in between, starts a "
                    "new one (lesson 04's collapse rule)")  # fmt: skip
        if actual.ndim == 1 and len(actual) < n_tokens:
            return (f"{len(actual)} durations for {n_tokens} tokens: a token starts at every frame "
                    "whose label is not blank and differs from the previous frame's")  # fmt: skip
        return f"the durations are one count per token: shape ({n_tokens},)"
    if actual.dtype.kind not in "iu":
        return f"frame counts are whole numbers: return int64, not {actual.dtype}"
    if int(actual.sum()) != len(labels):
        return (f"the durations sum to {int(actual.sum())}, but the path has {len(labels)} frames: "
                "every frame, blank or not, belongs to exactly one token")  # fmt: skip
    return None


def check_durations_from_ctc_path(student_durations_from_ctc_path: Callable) -> None:
    """Exercise 8.3: int64 (n_tokens,) frames per token on ctc_durations' examples and random valid
    paths: leading and trailing blanks, repeated labels, blank 0 and other blank ids."""
    __tracebackhide__ = True
    cases = _ctc_fixed_cases() + random_cases(84, 20, _ctc_path_case)
    check_function(
        student_durations_from_ctc_path, _reference_ctc_durations, cases,
        name="durations_from_ctc_path", atol=0, rtol=0, diagnose=_diagnose_ctc,
        hint="walk the frames remembering the previous frame's label: a token starts where the "
        "label is not blank and differs from the previous frame's. Every frame, blank or not, "
        "belongs to the token that started most recently; the blanks before the first token "
        "belong to the first.",
    )  # fmt: skip


# --- 8.4 the soft alignment --------------------------------------------------------------------


def _soft_case(rng: np.random.Generator, with_prior: bool | None = None) -> dict:
    batch_size, n_frames, n_tokens = (
        int(rng.integers(1, 4)),
        int(rng.integers(1, 9)),
        int(rng.integers(2, 8)),
    )
    size = int(rng.integers(1, 6))
    token_lengths = np.concatenate([[n_tokens], rng.integers(1, n_tokens, batch_size - 1)])
    with_prior = rng.random() < 0.5 if with_prior is None else with_prior
    prior = rng.normal(-2.0, 1.0, (batch_size, n_frames, n_tokens)) if with_prior else None
    return {"queries": as_tensor(rng.normal(size=(batch_size, n_frames, size))),
            "keys": as_tensor(rng.normal(size=(batch_size, n_tokens, size))),
            "token_mask": _lengths_mask(token_lengths, n_tokens),
            "temperature": float(rng.choice([0.5, 1.0, 0.2, 2.0])),
            "log_prior": None if prior is None else as_tensor(prior)}  # fmt: skip


def _reference_soft(queries, keys, token_mask, temperature, log_prior=None):
    from minispeech.models.forward_sum_aligner import alignment_log_probs

    return alignment_log_probs(queries, keys, token_mask, temperature, log_prior)


def _soft_mistakes(queries, keys, token_mask, temperature, log_prior=None) -> dict:
    """What is wrong -> the log-probabilities (B, T_mel, T_txt) that mistake gives."""
    from minispeech.models.forward_sum_aligner import MASKED

    padding = ~token_mask[:, None, :]  # (B, 1, T_txt)
    distance = (queries[:, :, None, :] - keys[:, None, :, :]).square().sum(-1)  # (B, T_mel, T_txt)
    prior = 0.0 if log_prior is None else log_prior

    def soft(scores, axis=-1, mask_first=True, prior=prior, prior_first=False):
        if prior_first:
            scores = scores + prior
        if mask_first:
            scores = scores.masked_fill(padding, MASKED)
        log_probs = scores.log_softmax(axis)
        return log_probs if prior_first else log_probs + prior

    mistakes = {
        "the log-softmax runs over the frames; each frame's probabilities over the tokens must "
        "sum to 1, so normalize across tokens (the last axis)": soft(-temperature * distance, 1),
        "the padding tokens take probability: mask them out before the softmax, not only after":
            soft(-temperature * distance, mask_first=False),
        "the score's sign is flipped: a key far from the query must score lower, so the score is "
        "minus the temperature times the distance": soft(temperature * distance),
        "the distance must be squared (the squared Euclidean distance between query and key)":
            soft(-temperature * distance.sqrt()),
        "the temperature multiplies the distance; yours divides by it":
            soft(-distance / temperature),
    }  # fmt: skip
    if log_prior is not None:
        mistakes = {
            "the prior is missing: add log_prior to the log-probabilities when it is given":
                soft(-temperature * distance, prior=0.0),
            "the prior is added before the softmax; it is added to the log-probabilities after it":
                soft(-temperature * distance, prior_first=True),
            **mistakes,
        }  # fmt: skip
    return mistakes


def _diagnose_soft(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return f"log P is a tensor (B, T_mel, T_txt) = {tuple(expected.shape)}"
    actual = actual.detach().double()
    real = case["token_mask"][:, None, :].expand_as(actual)  # (B, T_mel, T_txt)

    def close(a, b):
        return bool(torch.isclose(a[real], b[real], atol=1e-9, rtol=1e-7).all())

    if close(actual, expected):
        if torch.isneginf(actual[~real]).any():
            return ("the real tokens are right; the padding tokens' entries are -inf: set them to "
                    "-1e4 (forward_sum_aligner.MASKED) at the very end")  # fmt: skip
        return ("the real tokens are right; the padding tokens' entries must be -1e4 "
                "(forward_sum_aligner.MASKED), set at the very end, after the prior")  # fmt: skip
    for what, log_probs in _soft_mistakes(**case).items():
        if close(actual, log_probs):
            return what
    return None


def check_soft_alignment(student_soft_alignment: Callable) -> None:
    """Exercise 8.4: log P (B, T_mel, T_txt) in float64, padding tokens, temperatures 0.2 to 2,
    with and without a log-prior."""
    __tracebackhide__ = True
    cases = random_cases(85, 2, lambda rng: _soft_case(rng, with_prior=False))
    cases += random_cases(86, 2, lambda rng: _soft_case(rng, with_prior=True))
    cases += random_cases(87, 10, _soft_case)
    check_function(
        student_soft_alignment, _reference_soft, cases, name="soft_alignment", atol=1e-9, rtol=1e-7,
        diagnose=_diagnose_soft,
        hint="for each frame, one score per token: the squared distance between the frame's query "
        "and the token's key, times minus the temperature. The log-softmax normalizes across the "
        "tokens, the real ones only, so padding must be out before it; the prior is added to the "
        "log-probabilities after; padding entries get -1e4 last.",
    )  # fmt: skip
