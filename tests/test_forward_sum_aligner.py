"""The forward-sum aligner (models/forward_sum_aligner.py): the soft alignment against a direct
computation, the prior against scipy's beta-binomial, the loss against brute force over every
monotonic alignment, MAS durations, padding independence, learning on a tiny batch, named errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from minispeech.models.forward_sum_aligner import (
    MASKED,
    ForwardSumAligner,
    ForwardSumAlignerConfig,
    alignment_log_probs,
    beta_binomial_prior,
    forward_sum_loss,
    mas_durations,
)
from minispeech.nn.attention import padding_mask


def test_soft_alignment_is_a_masked_softmax_of_negative_squared_distances():
    torch.manual_seed(0)
    queries, keys = torch.randn(2, 7, 5, dtype=torch.float64), torch.randn(2, 4, 5, dtype=torch.float64)
    token_mask = padding_mask(torch.tensor([4, 2]), 4)
    log_probs = alignment_log_probs(queries, keys, token_mask, temperature=0.3)
    distance = ((queries[:, :, None, :] - keys[:, None, :, :]) ** 2).sum(-1)  # (B, T_mel, T_txt, D) summed
    expected = torch.log_softmax(-0.3 * distance[1, :, :2], dim=-1)
    torch.testing.assert_close(log_probs[1, :, :2], expected)
    torch.testing.assert_close(log_probs.exp()[0].sum(-1), torch.ones(7, dtype=torch.float64))
    assert (log_probs[1, :, 2:] == MASKED).all()
    prior = torch.randn(2, 7, 4, dtype=torch.float64)
    with_prior = alignment_log_probs(queries, keys, token_mask, 0.3, prior)
    torch.testing.assert_close(with_prior[0], log_probs[0] + prior[0])


@pytest.mark.parametrize("n_frames, n_tokens, width", [(9, 4, 1.0), (5, 5, 0.5), (12, 1, 1.0)])
def test_prior_is_scipy_beta_binomial_and_travels_down_the_diagonal(n_frames, n_tokens, width):
    log_prior = beta_binomial_prior(torch.tensor([n_frames]), torch.tensor([n_tokens]), n_frames, n_tokens, width)[0]
    for t in range(n_frames):
        expected = stats.betabinom.logpmf(np.arange(n_tokens), n_tokens - 1, width * (t + 1), width * (n_frames - t))
        np.testing.assert_allclose(log_prior[t].numpy(), expected, atol=1e-4)
    peaks = log_prior.argmax(-1)
    assert (peaks[1:] >= peaks[:-1]).all() and peaks[0] == 0 and peaks[-1] == n_tokens - 1


def test_prior_is_zero_outside_each_utterance():
    log_prior = beta_binomial_prior(torch.tensor([6, 3]), torch.tensor([2, 3]), 6, 3)
    assert (log_prior[0, :, 2:] == 0).all() and (log_prior[1, 3:] == 0).all()
    assert torch.isfinite(log_prior).all()


def brute_force_loss(log_probs: np.ndarray) -> float:
    """-log of the sum over monotonic alignments (each token >= 1 frame, in order) / n_tokens."""
    n_frames, n_tokens = log_probs.shape
    total = -math.inf
    for cuts in itertools.combinations(range(1, n_frames), n_tokens - 1):
        bounds = (0, *cuts, n_frames)
        score = sum(log_probs[t, n] for n in range(n_tokens) for t in range(bounds[n], bounds[n + 1]))
        total = np.logaddexp(total, score)
    return -total / n_tokens


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 6), st.integers(1, 4))
def test_forward_sum_loss_is_the_sum_over_monotonic_alignments(seed, n_frames, n_tokens):
    if n_tokens > n_frames:
        n_tokens = n_frames
    rng = np.random.default_rng(seed)
    log_probs = torch.log_softmax(torch.from_numpy(rng.normal(size=(1, n_frames, n_tokens))), dim=-1)
    # a blank of probability ~0 leaves only the token paths
    loss = forward_sum_loss(log_probs, torch.tensor([n_frames]), torch.tensor([n_tokens]), blank_log_prob=-1e4)
    assert float(loss) == pytest.approx(brute_force_loss(log_probs[0].numpy()), rel=1e-4, abs=1e-4)


def test_forward_sum_loss_ignores_padding_and_averages_the_batch():
    torch.manual_seed(1)
    first = torch.log_softmax(torch.randn(1, 6, 3), dim=-1)
    second = torch.log_softmax(torch.randn(1, 4, 2), dim=-1)
    batch = torch.full((2, 6, 3), MASKED)
    batch[0], batch[1, :4, :2] = first[0], second[0]
    lengths = (torch.tensor([6, 4]), torch.tensor([3, 2]))
    alone = [forward_sum_loss(x, torch.tensor([x.shape[1]]), torch.tensor([x.shape[2]])) for x in (first, second)]
    torch.testing.assert_close(forward_sum_loss(batch, *lengths), (alone[0] + alone[1]) / 2)


def test_mas_durations_recover_a_planted_alignment_and_sum_to_the_lengths():
    durations = torch.tensor([[3, 1, 4, 2], [2, 2, 1, 0]])
    mel_lengths, token_lengths = durations.sum(1), torch.tensor([4, 3])
    log_probs = torch.full((2, 10, 4), -5.0)
    for b in range(2):
        ends = durations[b].cumsum(0)
        for t in range(int(mel_lengths[b])):
            log_probs[b, t, int(torch.searchsorted(ends, t, right=True))] = 0.0
    found = mas_durations(log_probs, mel_lengths, token_lengths)
    assert torch.equal(found, durations) and found.dtype == torch.int64
    with pytest.raises(ValueError, match="has 4 tokens but only 3 frames"):
        mas_durations(log_probs, torch.tensor([3, 5]), torch.tensor([4, 3]))


def tiny_batch(seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    token_lengths, mel_lengths = torch.tensor([5, 3]), torch.tensor([20, 11])
    tokens = torch.randint(3, 30, (2, 5), generator=generator) * padding_mask(token_lengths, 5)
    mel = torch.randn(2, 20, 80, generator=generator) * padding_mask(mel_lengths, 20)[:, :, None]
    return {"tokens": tokens, "token_lengths": token_lengths, "mel": mel, "mel_lengths": mel_lengths}


def test_aligner_shapes_padding_independence_and_durations():
    torch.manual_seed(0)
    model = ForwardSumAligner(ForwardSumAlignerConfig.preset("ci")).eval()
    batch = tiny_batch()
    output = model(batch)
    assert output.log_probs.shape == (2, 20, 5) and torch.isfinite(output.loss)
    alone = {key: batch[key][1:] for key in batch}
    alone["tokens"], alone["mel"] = alone["tokens"][:, :3], alone["mel"][:, :11]
    torch.testing.assert_close(model(alone).log_probs[0], output.log_probs[1, :11, :3], atol=1e-5, rtol=1e-5)
    durations = model.durations(batch)
    assert torch.equal(durations.sum(1), batch["mel_lengths"]) and (durations[0] >= 1).all()
    assert (durations[1, 3:] == 0).all() and (durations[1, :3] >= 1).all()


def test_aligner_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    model = ForwardSumAligner(ForwardSumAlignerConfig.preset("ci"))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = tiny_batch()
    losses = []
    for _ in range(30):
        loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0]


def test_aligner_named_errors():
    model = ForwardSumAligner(ForwardSumAlignerConfig.preset("ci"))
    batch = tiny_batch()
    with pytest.raises(ValueError, match="at least as many frames as tokens"):
        model(dict(batch, mel_lengths=torch.tensor([4, 11])))
    with pytest.raises(ValueError, match="ForwardSumAligner: token id 500 is outside the vocabulary"):
        model(dict(batch, tokens=batch["tokens"].index_fill(1, torch.tensor([0]), 500)))
    with pytest.raises(ValueError, match="ForwardSumAligner: utterance 1 has no tokens"):
        model(dict(batch, token_lengths=torch.tensor([5, 0])))
    with pytest.raises(ValueError, match="temperature > 0"):
        ForwardSumAlignerConfig(temperature=0.0)
    for profile in ("ci", "cpu", "gpu"):
        ForwardSumAligner(ForwardSumAlignerConfig.preset(profile))(tiny_batch()).loss.backward()
