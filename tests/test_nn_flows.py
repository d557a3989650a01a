"""Tests for minispeech.nn.wavenet (the gated stack against a hand-written loop, masking and padding,
conditioning, the receptive field by an impulse, weight norm) and minispeech.nn.flows (a new coupling
is the identity, reverse(forward(x)) == x, the log-determinant against a brute-force autograd
Jacobian, Flip, the block's order of layers, padding, conditioning), and both configs' errors.
Every module is tiny (a few channels, a few frames)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils import parametrize

from minispeech.nn.attention import padding_mask
from minispeech.nn.flows import Flip, FlowConfig, ResidualCouplingBlock, ResidualCouplingLayer
from minispeech.nn.generator import remove_weight_norm
from minispeech.nn.wavenet import WaveNet, WaveNetConfig

TINY_FLOW = FlowConfig(channels=4, hidden_channels=6, kernel_size=3, dilation_rate=2, wavenet_layers=2, n_flows=2)
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}  # round trips; stated in the lesson too


def keep_mask(lengths, frames: int) -> torch.Tensor:
    """(B, 1, T) bool keep-mask: True on the first lengths[b] frames."""
    return padding_mask(torch.tensor(lengths), frames)[:, None, :]


def zero_padded(shape, lengths, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """Standard normal (B, C, T) values, zero past each item's length."""
    values = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return values * keep_mask(lengths, shape[2])


def randomize_post(module: torch.nn.Module, seed: int = 0, std: float = 0.3) -> torch.nn.Module:
    """Give every coupling's zero-initialized post convolution random weights, so that m and log_s are not 0."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, ResidualCouplingLayer):
                for parameter in (layer.post.weight, layer.post.bias):
                    parameter.copy_(std * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return module


def build(cls, config, seed: int = 0, dtype=torch.float32, random_post: bool = True):
    torch.manual_seed(seed)
    module = cls(config).to(dtype)
    return randomize_post(module, seed) if random_post else module


# 1. WaveNet


def _hand_conv(conv: torch.nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    (kernel_size,), (dilation,) = conv.kernel_size, conv.dilation
    return F.conv1d(x, conv.weight, conv.bias, dilation=dilation, padding=dilation * (kernel_size - 1) // 2)


def test_wavenet_matches_a_hand_written_gated_loop():
    config = WaveNetConfig(channels=3, kernel_size=3, dilation_rate=2, layers=3, gin_channels=2)
    wavenet = build(WaveNet, config, dtype=torch.float64)
    assert [conv.dilation for conv in wavenet.dilated] == [(1,), (2,), (4,)]
    assert [conv.out_channels for conv in wavenet.res_skips] == [6, 6, 3]  # the last layer: skip only
    x, mask = zero_padded((2, 3, 11), [11, 8], dtype=torch.float64), keep_mask([11, 8], 11)
    g = torch.randn(2, 2, 1, dtype=torch.float64)
    with torch.no_grad():
        hidden, expected, keep = x, torch.zeros_like(x), mask.double()
        for index, (dilated, condition, res_skip) in enumerate(
            zip(wavenet.dilated, wavenet.conditions, wavenet.res_skips, strict=True)
        ):
            pre_activation = _hand_conv(dilated, hidden) + _hand_conv(condition, g)
            gated = torch.tanh(pre_activation[:, :3]) * torch.sigmoid(pre_activation[:, 3:])
            projected = _hand_conv(res_skip, gated)
            if index < 2:
                hidden = (hidden + projected[:, :3]) * keep
                expected = expected + projected[:, 3:]
            else:
                expected = expected + projected
        torch.testing.assert_close(wavenet(x, mask, g), expected * keep, atol=1e-12, rtol=1e-12)


def test_wavenet_is_zero_past_the_mask_and_ignores_what_the_padding_holds():
    wavenet = build(WaveNet, WaveNetConfig(channels=4, kernel_size=5, layers=3)).eval()
    lengths = [13, 6, 1]
    x, mask = zero_padded((3, 4, 13), lengths), keep_mask(lengths, 13)
    noisy = torch.where(mask, x, torch.full_like(x, 1e3))
    with torch.no_grad():
        output, from_noisy = wavenet(x, mask), wavenet(noisy, mask)
        assert output.shape == (3, 4, 13) and (output[~mask.expand_as(output)] == 0).all()
        torch.testing.assert_close(from_noisy, output)
        torch.testing.assert_close(wavenet(x, mask.float()), output)  # a 0/1 float mask acts as the bool one
        for item, length in enumerate(lengths):  # each item alone, cut to its length: the same real frames
            alone = wavenet(x[item : item + 1, :, :length], keep_mask([length], length))
            torch.testing.assert_close(alone[0], output[item, :, :length])


def test_wavenet_conditioning_changes_the_output_per_utterance():
    wavenet = build(WaveNet, WaveNetConfig(channels=4, kernel_size=3, layers=2, gin_channels=3))
    x, mask = zero_padded((2, 4, 7), [7, 7]), keep_mask([7, 7], 7)
    g = torch.randn(1, 3, 1).expand(2, 3, 1)
    with torch.no_grad():
        same = wavenet(x[:1].expand(2, 4, 7), mask, g)
        torch.testing.assert_close(same[0], same[1])  # one input, one speaker: one output
        other = g.clone()
        other[1] += 1.0  # another speaker for the second utterance only
        changed = wavenet(x[:1].expand(2, 4, 7), mask, other)
        torch.testing.assert_close(changed[0], same[0])
        assert (changed[1] - same[1]).abs().max() > 1e-3


@pytest.mark.parametrize("kernel_size, dilation_rate, layers, receptive_field",
                         [(3, 1, 3, 7), (3, 2, 3, 15), (5, 3, 2, 17), (1, 2, 2, 1)])  # fmt: skip
def test_wavenet_receptive_field_by_an_impulse(kernel_size, dilation_rate, layers, receptive_field):
    config = WaveNetConfig(channels=3, kernel_size=kernel_size, dilation_rate=dilation_rate, layers=layers)
    assert config.receptive_field == receptive_field == 1 + (kernel_size - 1) * sum(config.dilations)
    wavenet = build(WaveNet, config, dtype=torch.float64)
    frames = receptive_field + 12
    centre, radius = frames // 2, (receptive_field - 1) // 2
    quiet = torch.zeros(1, 3, frames, dtype=torch.float64)
    impulse = quiet.clone()
    impulse[0, :, centre] = 1.0
    mask = keep_mask([frames], frames)
    with torch.no_grad():
        change = (wavenet(impulse, mask) - wavenet(quiet, mask)).abs().amax(dim=1)[0]  # (T,)
    assert torch.nonzero(change > 0).flatten().tolist() == list(range(centre - radius, centre + radius + 1))


def test_wavenet_receptive_field_grows_with_the_dilation_rate():
    fields = [WaveNetConfig(kernel_size=3, dilation_rate=rate, layers=4).receptive_field for rate in (1, 2, 3)]
    assert fields == [9, 31, 81]  # 1 + 2 * (1 + r + r^2 + r^3)


def test_wavenet_convolutions_are_weight_normed_and_remove_weight_norm_keeps_the_output():
    wavenet = build(WaveNet, WaveNetConfig(channels=4, kernel_size=3, layers=2, gin_channels=2))
    convs = [m for m in wavenet.modules() if isinstance(m, torch.nn.Conv1d)]
    assert len(convs) == 6 and all(parametrize.is_parametrized(conv, "weight") for conv in convs)
    x, mask, g = zero_padded((1, 4, 9), [9]), keep_mask([9], 9), torch.randn(1, 2, 1)
    with torch.no_grad():
        before = wavenet(x, mask, g)
        remove_weight_norm(wavenet)
        assert not any(parametrize.is_parametrized(conv, "weight") for conv in convs)
        torch.testing.assert_close(wavenet(x, mask, g), before, atol=1e-6, rtol=1e-6)


# 2. a coupling layer starts as the identity


@pytest.mark.parametrize("mean_only", [True, False])
def test_a_new_coupling_layer_is_the_identity_and_still_learns(mean_only):
    config = dataclasses.replace(TINY_FLOW, mean_only=mean_only)
    layer = build(ResidualCouplingLayer, config, random_post=False)
    assert layer.post.out_channels == (2 if mean_only else 4)
    x, mask = zero_padded((2, 4, 6), [6, 3]), keep_mask([6, 3], 6)
    y, log_determinant = layer(x, mask)
    assert torch.equal(y, x) and torch.equal(log_determinant, torch.zeros(2))
    assert torch.equal(layer(x, mask, reverse=True), x)
    (y * torch.randn_like(y)).sum().backward()  # zero weights still get a gradient: training can move them
    assert layer.post.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("n_flows", [2, 3])
def test_a_new_block_is_its_flips(n_flows):
    block = build(ResidualCouplingBlock, dataclasses.replace(TINY_FLOW, n_flows=n_flows), random_post=False)
    x, mask = zero_padded((1, 4, 5), [5]), keep_mask([5], 5)
    y, log_determinant = block(x, mask)
    assert torch.equal(y, x if n_flows % 2 == 0 else x.flip(1)) and log_determinant.item() == 0.0


# 3. reverse(forward(x)) == x


@st.composite
def flow_case(draw):
    config = FlowConfig(channels=2 * draw(st.integers(1, 3)), hidden_channels=draw(st.integers(1, 5)),
                        kernel_size=draw(st.sampled_from([1, 3, 5])), dilation_rate=draw(st.integers(1, 3)),
                        wavenet_layers=draw(st.integers(1, 3)), n_flows=draw(st.integers(1, 3)),
                        gin_channels=draw(st.sampled_from([0, 2])), mean_only=draw(st.booleans()))  # fmt: skip
    frames = draw(st.integers(1, 9))
    lengths = draw(st.lists(st.integers(1, frames), min_size=1, max_size=3))
    return config, frames, lengths, draw(st.integers(0, 2**16))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@settings(max_examples=30, deadline=None)
@given(case=flow_case())
def test_reverse_undoes_forward_and_padding_stays_zero(dtype, case):
    config, frames, lengths, seed = case
    block = build(ResidualCouplingBlock, config, seed=seed, dtype=dtype)
    x, mask = zero_padded((len(lengths), config.channels, frames), lengths, seed, dtype), keep_mask(lengths, frames)
    g = torch.randn(len(lengths), config.gin_channels, 1, dtype=dtype) if config.gin_channels else None
    with torch.no_grad():
        y, log_determinant = block(x, mask, g)
        restored = block(y, mask, g, reverse=True)
    padding = ~mask.expand_as(x)
    assert y.dtype == restored.dtype == log_determinant.dtype == dtype and log_determinant.shape == (len(lengths),)
    assert (y[padding] == 0).all() and (restored[padding] == 0).all()
    tolerance = TOLERANCE[dtype]
    torch.testing.assert_close(restored, x, atol=tolerance, rtol=tolerance)
    if config.mean_only:
        assert (log_determinant == 0).all()


def test_forward_undoes_reverse_too():
    block = build(ResidualCouplingBlock, dataclasses.replace(TINY_FLOW, mean_only=False), dtype=torch.float64)
    z, mask = zero_padded((2, 4, 7), [7, 4], dtype=torch.float64), keep_mask([7, 4], 7)
    with torch.no_grad():
        x = block(z, mask, reverse=True)
        assert not torch.allclose(x, z)
        torch.testing.assert_close(block(x, mask)[0], z, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("mean_only", [True, False])
def test_padding_never_reaches_the_real_frames(mean_only):
    block = build(ResidualCouplingBlock, dataclasses.replace(TINY_FLOW, mean_only=mean_only))
    lengths = [8, 5, 2]
    x, mask = zero_padded((3, 4, 8), lengths), keep_mask(lengths, 8)
    real = mask.expand_as(x)
    noisy = torch.where(real, x, torch.full_like(x, 1e3))
    with torch.no_grad():
        y, log_determinant = block(x, mask)
        y_noisy, log_determinant_noisy = block(noisy, mask)
        torch.testing.assert_close(y_noisy[real], y[real])
        torch.testing.assert_close(log_determinant_noisy, log_determinant)
        torch.testing.assert_close(block(y_noisy, mask, reverse=True)[real], x[real], atol=1e-5, rtol=1e-5)
        for item, length in enumerate(lengths):  # each item alone, cut to its length
            alone, alone_log_determinant = block(x[item : item + 1, :, :length], keep_mask([length], length))
            torch.testing.assert_close(alone[0], y[item, :, :length])
            torch.testing.assert_close(alone_log_determinant[0], log_determinant[item])


# 4. the log-determinant against a brute-force Jacobian


def jacobian_log_determinant(flow: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log |det dy/dx| over the real entries of one utterance: autograd's full Jacobian, then slogdet."""
    real = mask.expand_as(x)

    def real_to_real(values: torch.Tensor) -> torch.Tensor:
        y, _ = flow(torch.zeros_like(x).masked_scatter(real, values), mask)
        return y[real]

    jacobian = torch.autograd.functional.jacobian(real_to_real, x[real])  # (N, N), N real entries
    return torch.linalg.slogdet(jacobian).logabsdet


@pytest.mark.parametrize("kind", [ResidualCouplingLayer, ResidualCouplingBlock])
@pytest.mark.parametrize("length", [3, 2])  # all frames real; one padded frame
@pytest.mark.parametrize("mean_only", [False, True])
def test_log_determinant_matches_a_brute_force_jacobian(kind, length, mean_only):
    config = dataclasses.replace(TINY_FLOW, mean_only=mean_only)
    flow = randomize_post(build(kind, config, dtype=torch.float64), std=0.5)
    x, mask = zero_padded((1, 4, 3), [length], seed=1, dtype=torch.float64), keep_mask([length], 3)
    _, log_determinant = flow(x, mask)
    expected = jacobian_log_determinant(flow, x, mask)
    if mean_only:
        assert log_determinant.item() == 0.0  # volume preserving
        assert abs(expected.item()) < 1e-10
    else:
        assert abs(expected.item()) > 1e-2  # the test would be empty if log_s were ~0
        torch.testing.assert_close(log_determinant[0], expected, atol=1e-10, rtol=1e-10)


# 5. Flip and the order of the block's layers


def test_flip_reverses_channels_is_its_own_inverse_and_has_log_determinant_zero():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)  # (B, C, T)
    flip = Flip()
    y, log_determinant = flip(x, keep_mask([3, 3], 3))
    assert torch.equal(y, x[:, [3, 2, 1, 0]]) and torch.equal(log_determinant, torch.zeros(2))
    assert torch.equal(flip(y, reverse=True), x) and torch.equal(flip(x, reverse=True), y)
    assert torch.equal(flip(flip(x)[0])[0], x)


def test_block_alternates_couplings_and_flips_and_reverse_runs_them_backwards():
    config = dataclasses.replace(TINY_FLOW, n_flows=3, mean_only=False)
    block = build(ResidualCouplingBlock, config, dtype=torch.float64)
    assert [type(flow) for flow in block.flows] == [ResidualCouplingLayer, Flip] * 3
    couplings = block.flows[::2]
    x, mask = zero_padded((2, 4, 6), [6, 4], dtype=torch.float64), keep_mask([6, 4], 6)
    with torch.no_grad():
        expected, total = x, torch.zeros(2, dtype=torch.float64)
        for coupling in couplings:
            expected, log_determinant = coupling(expected, mask)
            expected, total = expected.flip(1), total + log_determinant
        y, block_log_determinant = block(x, mask)
        torch.testing.assert_close(y, expected, atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(block_log_determinant, total, atol=1e-12, rtol=1e-12)
        back = y
        for coupling in reversed(couplings):
            back = coupling(back.flip(1), mask, reverse=True)
        torch.testing.assert_close(block(y, mask, reverse=True), back, atol=1e-12, rtol=1e-12)


def test_flow_conditioning_changes_the_output_and_reverse_needs_the_same_g():
    block = build(ResidualCouplingBlock, dataclasses.replace(TINY_FLOW, gin_channels=3), dtype=torch.float64)
    x, mask = zero_padded((1, 4, 6), [6], dtype=torch.float64), keep_mask([6], 6)
    g, other = torch.randn(2, 1, 3, 1, dtype=torch.float64)
    with torch.no_grad():
        y, _ = block(x, mask, g)
        assert (block(x, mask, other)[0] - y).abs().max() > 1e-3
        torch.testing.assert_close(block(y, mask, g, reverse=True), x, atol=1e-10, rtol=1e-10)
        assert (block(y, mask, other, reverse=True) - x).abs().max() > 1e-3


# 6. errors


@pytest.mark.parametrize("change, message", [
    ({"kernel_size": 4}, "an odd kernel_size"), ({"dilation_rate": 0}, "dilation_rate >= 1"),
    ({"layers": 0}, "layers >= 1"), ({"channels": 0}, "channels >= 1"),
    ({"gin_channels": -1}, "gin_channels >= 0"), ({"dropout": 1.0}, r"dropout in \[0, 1\)"),
])  # fmt: skip
def test_wavenet_config_rejects_bad_sizes(change, message):
    with pytest.raises(ValueError, match=f"WaveNetConfig: need {message}"):
        dataclasses.replace(WaveNetConfig(), **change)


@pytest.mark.parametrize("change, message", [
    ({"channels": 5}, r"channels even and >= 2 \(.*got 5"), ({"channels": 0}, "channels even"),
    ({"kernel_size": 2}, "an odd kernel_size"), ({"n_flows": 0}, "n_flows >= 1"),
    ({"wavenet_layers": 0}, "wavenet_layers >= 1"), ({"hidden_channels": 0}, "hidden_channels >= 1"),
    ({"mean_only": "yes"}, "mean_only True or False"),
])  # fmt: skip
def test_flow_config_rejects_bad_sizes(change, message):
    with pytest.raises(ValueError, match=f"FlowConfig: need {message}"):
        dataclasses.replace(FlowConfig(), **change)


def test_flow_config_builds_a_wavenet_without_dropout():
    config = FlowConfig(channels=4, hidden_channels=8, kernel_size=3, dilation_rate=2, wavenet_layers=3,
                        gin_channels=5)  # fmt: skip
    assert config.wavenet == WaveNetConfig(channels=8, kernel_size=3, dilation_rate=2, layers=3, gin_channels=5)


def test_bad_input_raises_errors_that_name_the_problem():
    wavenet = WaveNet(WaveNetConfig(channels=4, kernel_size=3, layers=1))
    x, mask = torch.zeros(2, 4, 5), keep_mask([5, 3], 5)
    with pytest.raises(ValueError, match=r"WaveNet: x must be \(B, C = 4, T\), channels first, got shape \(2, 5, 4\)"):
        wavenet(x.transpose(1, 2), mask)
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, T\) = \(2, 1, 5\).*got \(2, 5\).*padding_mask"):
        wavenet(x, mask[:, 0])
    with pytest.raises(ValueError, match=r"got \(2, 1, 4\)"):
        wavenet(x, mask[:, :, :4])
    with pytest.raises(ValueError, match="floats, got dtype torch.int64"):
        wavenet(x.long(), mask)
    with pytest.raises(ValueError, match="built with gin_channels = 0"):
        wavenet(x, mask, torch.zeros(2, 3, 1))
    conditioned = WaveNet(WaveNetConfig(channels=4, kernel_size=3, layers=1, gin_channels=3))
    with pytest.raises(ValueError, match=r"gin_channels = 3, so it needs g of shape \(B, 3, 1\)"):
        conditioned(x, mask)
    with pytest.raises(ValueError, match=r"g must be \(B, gin_channels, 1\) = \(2, 3, 1\).*got \(2, 3, 5\)"):
        conditioned(x, mask, torch.zeros(2, 3, 5))
    layer, block = ResidualCouplingLayer(TINY_FLOW), ResidualCouplingBlock(TINY_FLOW)
    with pytest.raises(ValueError, match=r"ResidualCouplingLayer: x must be \(B, C = 4, T\).*\(2, 5, 5\)"):
        layer(torch.zeros(2, 5, 5), mask)
    with pytest.raises(ValueError, match=r"ResidualCouplingBlock: mask must be \(B, 1, T\)"):
        block(x, mask[:1], reverse=True)
    with pytest.raises(ValueError, match=r"Flip: x must be \(B, C, T\)"):
        Flip()(torch.zeros(4, 5))
