"""Monotonic alignment search: Numba == reference == brute force; planted path; torch wrapper."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.dp.mas import maximum_path, maximum_path_reference, maximum_path_torch


def all_monotonic_paths(n_tokens: int, n_frames: int):
    """Every assignment of frames to tokens: token durations >= 1 summing to n_frames."""
    for cuts in itertools.combinations(range(1, n_frames), n_tokens - 1):
        bounds = (0, *cuts, n_frames)
        path = np.zeros((n_tokens, n_frames), dtype=np.int32)
        for token in range(n_tokens):
            path[token, bounds[token] : bounds[token + 1]] = 1
        yield path


def assert_valid_path(path, n_tokens, n_frames):
    assert path[n_tokens:].sum() == 0 and path[:, n_frames:].sum() == 0
    assert (path[:n_tokens, :n_frames].sum(axis=0) == 1).all()  # one token per frame
    assert (path[:n_tokens, :n_frames].sum(axis=1) >= 1).all()  # every token gets a frame
    tokens = path[:n_tokens, :n_frames].argmax(axis=0)
    assert tokens[0] == 0 and tokens[-1] == n_tokens - 1 and set(np.diff(tokens)) <= {0, 1}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(0, 4))
def test_matches_brute_force(seed, n_tokens, extra_frames):
    rng = np.random.default_rng(seed)
    n_frames = n_tokens + extra_frames
    values = rng.normal(size=(1, n_tokens + 1, n_frames + 2)).astype(np.float32)  # padded
    mask = np.zeros_like(values)
    mask[0, :n_tokens, :n_frames] = 1
    valid = values[0, :n_tokens, :n_frames].astype(np.float64)
    totals = [
        (float((path * valid).sum()), path) for path in all_monotonic_paths(n_tokens, n_frames)
    ]
    best = max(total for total, _ in totals)
    path = maximum_path(values, mask)
    assert np.array_equal(path, maximum_path_reference(values, mask))
    assert_valid_path(path[0], n_tokens, n_frames)
    assert float((path[0, :n_tokens, :n_frames] * valid).sum()) == pytest.approx(best, abs=1e-9)
    winners = [p for total, p in totals if total > best - 1e-9]
    if len(winners) == 1:
        assert np.array_equal(path[0, :n_tokens, :n_frames], winners[0])


def test_kernel_equals_reference_on_a_padded_batch():
    rng = np.random.default_rng(1)
    lengths = [(1, 1), (1, 9), (5, 5), (6, 40), (7, 40), (20, 37), (13, 13)]  # odd/even, no slack
    values = rng.normal(size=(len(lengths), 20, 40))
    mask = np.zeros_like(values)
    for b, (n_tokens, n_frames) in enumerate(lengths):
        mask[b, :n_tokens, :n_frames] = 1
    path = maximum_path(values, mask)
    assert path.dtype == np.int32
    assert np.array_equal(path, maximum_path_reference(values, mask))
    assert np.array_equal(path, maximum_path(values.astype(np.float32), mask))
    for b, (n_tokens, n_frames) in enumerate(lengths):
        assert_valid_path(path[b], n_tokens, n_frames)


def test_planted_path_is_recovered():
    rng = np.random.default_rng(2)
    n_tokens, n_frames = 30, 120
    durations = 1 + rng.multinomial(n_frames - n_tokens, np.ones(n_tokens) / n_tokens)
    planted = np.zeros((n_tokens, n_frames), dtype=np.int32)
    planted[np.repeat(np.arange(n_tokens), durations), np.arange(n_frames)] = 1
    values = -5.0 + rng.normal(size=(1, n_tokens, n_frames)) + 10.0 * planted
    assert np.array_equal(maximum_path(values, np.ones_like(values))[0], planted)


def test_too_long_text_raises():
    values = np.zeros((2, 6, 5))
    mask = np.zeros_like(values)
    mask[0, :3, :5] = 1
    mask[1, :6, :5] = 1  # 6 tokens, 5 frames
    with pytest.raises(ValueError, match="item 1 has 6 tokens and 5 frames"):
        maximum_path(values, mask)
    with pytest.raises(ValueError, match="item 1"):
        maximum_path_torch(torch.tensor(values), torch.tensor(mask))
    with pytest.raises(ValueError, match="shape"):
        maximum_path(values, mask[:, :, :4])


def test_torch_wrapper_keeps_dtype_and_matches_numpy():
    rng = np.random.default_rng(3)
    values = torch.tensor(rng.normal(size=(3, 8, 20)), dtype=torch.float32, requires_grad=True)
    mask = torch.ones(3, 8, 20)
    mask[1, 5:] = 0
    mask[2, :, 15:] = 0
    path = maximum_path_torch(values, mask)
    assert path.dtype == torch.float32 and path.device == values.device and not path.requires_grad
    assert np.array_equal(
        path.numpy().astype(np.int32), maximum_path(values.detach().numpy(), mask.numpy())
    )
