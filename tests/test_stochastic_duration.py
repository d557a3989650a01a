"""nn/stochastic_duration: every flow inverts exactly with the log-determinant of its Jacobian, the
bound is finite and ignores padding, sampling respects the mask, and training on known durations
teaches it to sample them."""

from __future__ import annotations

import pytest
import torch

from minispeech.nn.flows import Flip
from minispeech.nn.stochastic_duration import (
    ConditionedCoupling,
    ElementwiseAffine,
    LogFlow,
    StochasticDurationConfig,
    StochasticDurationPredictor,
)

TINY = StochasticDurationConfig(in_channels=6, filter_channels=8, conv_layers=2, n_flows=2, dropout=0.0)


def randomized(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """The module in float64 with every parameter random (a new coupling is the identity otherwise)."""
    generator = torch.Generator().manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return module.eval()


def test_every_flow_inverts_and_its_log_determinant_is_the_jacobians():
    torch.manual_seed(0)
    mask = torch.ones(1, 1, 4, dtype=torch.float64)
    h = torch.randn(1, TINY.filter_channels, 4, dtype=torch.float64)
    for flow in (randomized(ConditionedCoupling(TINY)), randomized(ElementwiseAffine(2)), Flip()):
        x = torch.randn(1, 2, 4, dtype=torch.float64)
        y, log_determinant = flow(x, mask, h)
        torch.testing.assert_close(flow(y, mask, h, reverse=True), x, atol=1e-12, rtol=0)
        jacobian = torch.autograd.functional.jacobian(lambda v, f=flow: f(v[None], mask, h)[0][0], x[0])
        _, brute_force = torch.linalg.slogdet(jacobian.reshape(8, 8))
        torch.testing.assert_close(log_determinant[0], brute_force, atol=1e-10, rtol=0)
    x = torch.rand(1, 1, 4, dtype=torch.float64) * 5 + 0.5
    y, log_determinant = LogFlow()(x, mask)
    torch.testing.assert_close(LogFlow()(y, mask, reverse=True), x)
    torch.testing.assert_close(log_determinant[0], -torch.log(x).sum())  # log|d log x / dx| = -log x


def test_the_bound_is_finite_per_sentence_and_ignores_padding():
    model = randomized(StochasticDurationPredictor(TINY), seed=1)
    hidden = torch.randn(2, 6, 5, dtype=torch.float64)
    mask = torch.ones(2, 1, 5, dtype=torch.float64)
    mask[1, :, 3:] = 0
    durations = torch.tensor([[3, 1, 2, 5, 4], [2, 2, 7, 0, 0]])
    torch.manual_seed(5)
    bound = model.negative_log_likelihood(hidden, mask, durations)
    assert bound.shape == (2,) and torch.isfinite(bound).all()
    changed_hidden, changed_durations = hidden.clone(), durations.clone()
    changed_hidden[1, :, 3:] = 100.0
    changed_durations[1, 3:] = 9
    torch.manual_seed(5)
    torch.testing.assert_close(model.negative_log_likelihood(changed_hidden, mask, changed_durations), bound)
    samples = model.sample(hidden, mask, noise_scale=0.8)
    assert samples.shape == (2, 5) and (samples[1, 3:] == 0).all()
    torch.testing.assert_close(model.sample(hidden, mask, 0.0), model.sample(hidden, mask, 0.0))


def test_trained_on_known_durations_it_samples_them():
    """Token 0 lasts 2 frames and token 1 lasts 6, always: after training, sampled durations say so."""
    torch.manual_seed(0)
    model = StochasticDurationPredictor(StochasticDurationConfig(in_channels=4, filter_channels=16,
                                                                 conv_layers=2, n_flows=2, dropout=0.0))  # fmt: skip
    kinds = torch.randint(0, 2, (16, 12))  # (B, T) which token
    hidden = torch.nn.functional.one_hot(kinds, 4).float().transpose(1, 2)  # (B, 4, T)
    durations = torch.where(kinds == 0, 2, 6)
    mask = torch.ones(16, 1, 12)
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(150):
        loss = model.negative_log_likelihood(hidden, mask, durations).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 1.0
    with torch.no_grad():
        sampled = torch.ceil(torch.exp(model.sample(hidden, mask, noise_scale=0.8)))
    assert (sampled == durations).float().mean() > 0.8


@pytest.mark.parametrize("change", [{"kernel_size": 4}, {"n_flows": 0}, {"dropout": 1.0}])
def test_bad_sizes_are_named(change):
    with pytest.raises(ValueError, match="StochasticDurationConfig"):
        StochasticDurationConfig(**change)
