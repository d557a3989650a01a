"""Tests for HiFi-GAN: minispeech.nn.generator (lengths, the MRF and ResBlocks against hand-written
loops, weight norm), minispeech.nn.discriminators (period_reshape against numpy, the score and feature
lists, spectral vs weight norm), minispeech.nn.gan_losses on hand-made inputs, and
minispeech.models.hifigan (presets and variants, a GAN checkpoint with two optimizers, a full training
step of the paper's V1 on a CPU, vocode, and the errors for bad input). Every model here is tiny or
runs on a few frames."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm, _WeightNorm

from minispeech import checkpoint
from minispeech.dsp import MelConfig
from minispeech.models import hifigan
from minispeech.models.hifigan import HiFiGAN, HiFiGANConfig
from minispeech.nn.discriminators import (
    DiscriminatorConfig,
    DiscriminatorOutput,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    period_reshape,
)
from minispeech.nn.gan_losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    multi_resolution_stft_loss,
)
from minispeech.nn.generator import (
    Generator,
    GeneratorConfig,
    MultiReceptiveFieldFusion,
    ResBlock1,
    ResBlock2,
    remove_weight_norm,
)

N_MELS = 80
HOP = MelConfig().hop_length  # 256


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5) -> None:
    torch.testing.assert_close(actual, expected, atol=atol, rtol=1e-5)


def random_mel(frames: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A log-mel-like (B, T_mel, n_mels) tensor around -5, time first as HiFiGAN.forward wants."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, N_MELS, generator=generator) - 5.0


def tiny_model(seed: int = 0) -> HiFiGAN:
    torch.manual_seed(seed)
    return HiFiGAN(HiFiGANConfig.preset("ci"))


def convolutions(module: torch.nn.Module) -> list[torch.nn.Module]:
    kinds = (torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.Conv2d)
    return [child for child in module.modules() if isinstance(child, kinds)]


def norm_of(conv: torch.nn.Module) -> type | None:
    """The parametrization class on conv.weight (weight norm, spectral norm), None without one."""
    if not parametrize.is_parametrized(conv, "weight"):
        return None
    (parametrization,) = conv.parametrizations.weight
    return type(parametrization)


def assert_same_state(first, second, where: str = "") -> None:
    """Nested dicts / lists of tensors and plain values, compared exactly (torch.equal on tensors)."""
    assert type(first) is type(second), where
    if isinstance(first, dict):
        assert first.keys() == second.keys(), where
        for key in first:
            assert_same_state(first[key], second[key], f"{where}.{key}")
    elif isinstance(first, (list, tuple)):
        assert len(first) == len(second), where
        for index, (a, b) in enumerate(zip(first, second, strict=True)):
            assert_same_state(a, b, f"{where}[{index}]")
    elif torch.is_tensor(first):
        assert first.shape == second.shape and torch.equal(first, second), where
    else:
        assert first == second, where


# 1. the generator: T_mel frames -> T_mel * hop_length samples in [-1, 1]


@pytest.mark.parametrize("frames", [1, 7, 33])
def test_ci_generator_makes_hop_length_samples_per_frame(frames):
    model = tiny_model()
    with torch.no_grad():
        waveform = model(random_mel(frames, batch=2))
    assert waveform.shape == (2, frames * HOP) and waveform.dtype == torch.float32
    assert waveform.abs().max() <= 1.0 and waveform.std() > 0


@pytest.mark.parametrize("name", ["V1", "V2", "V3", "cpu"])
def test_paper_variants_and_cpu_preset_generators_make_hop_length_samples_per_frame(name):
    config = HiFiGANConfig.preset("cpu") if name == "cpu" else HiFiGANConfig.variant(name)
    assert config.generator.hop_length == config.mel.hop_length == HOP
    torch.manual_seed(0)
    generator = Generator(config.generator)
    with torch.no_grad():
        waveform = generator(random_mel(2).transpose(1, 2))  # (B, n_mels, T_mel)
    assert waveform.shape == (1, 2 * HOP)
    assert torch.isfinite(waveform).all() and waveform.abs().max() <= 1.0


def test_variants_have_the_papers_layouts():
    v1, v2, v3 = (HiFiGANConfig.variant(name).generator for name in ("V1", "V2", "V3"))
    assert (v1.upsample_initial_channels, v1.resblock, v1.upsample_rates) == (512, 1, (8, 8, 2, 2))
    assert (v2.upsample_initial_channels, v2.resblock) == (128, 1)
    assert (v3.upsample_initial_channels, v3.resblock, v3.upsample_rates) == (256, 2, (8, 8, 4))
    assert HiFiGANConfig.preset("gpu") == HiFiGANConfig.variant("V1")
    n_generator_parameters = sum(p.numel() for p in Generator(v1).parameters())
    assert 13_000_000 < n_generator_parameters < 15_000_000  # the paper's 13.92 M


# 2. period_reshape against numpy


@st.composite
def waveform_and_period(draw):
    period = draw(st.integers(1, 11))
    # torch's reflect padding needs the pad (< period) shorter than the waveform: length >= period
    length = draw(st.integers(period, 60))
    batch = draw(st.integers(1, 3))
    values = draw(st.lists(st.floats(-1, 1, width=32), min_size=batch * length, max_size=batch * length))
    return np.asarray(values, dtype=np.float32).reshape(batch, length), period


@settings(max_examples=60, deadline=None)
@given(waveform_and_period())
def test_period_reshape_matches_numpy_reflect_padding(data):
    waveform, period = data
    batch, length = waveform.shape
    rows = math.ceil(length / period)
    result = period_reshape(torch.from_numpy(waveform), period)
    assert result.shape == (batch, 1, rows, period)
    for b in range(batch):
        for i in range(rows):
            for j in range(period):
                if i * period + j < length:
                    assert result[b, 0, i, j] == waveform[b, i * period + j]
    padded = np.pad(waveform, ((0, 0), (0, rows * period - length)), mode="reflect")
    np.testing.assert_array_equal(result.reshape(batch, -1).numpy(), padded)
    if length % period == 0:
        np.testing.assert_array_equal(result.reshape(batch, -1).numpy(), waveform)


def test_period_reshape_puts_every_pth_sample_in_one_column():
    waveform = torch.arange(10.0).unsqueeze(0)  # 0..9, period 4: pad 2 reflected samples (8, 7)
    result = period_reshape(waveform, 4)
    assert result.tolist() == [[[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 7]]]]
    assert period_reshape(waveform, 5).tolist() == [[[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]]]


# 3. discriminators


def test_multi_period_and_multi_scale_discriminators_return_one_entry_per_sub_discriminator():
    torch.manual_seed(0)
    config = HiFiGANConfig.preset("ci").discriminator
    waveform = 0.1 * torch.randn(2, 3 * HOP)
    periods = MultiPeriodDiscriminator(config)(waveform)
    scales = MultiScaleDiscriminator(config)(waveform)
    assert isinstance(periods, DiscriminatorOutput) and isinstance(scales, DiscriminatorOutput)
    assert len(periods.scores) == len(periods.features) == len(config.periods) == 2
    assert len(scales.scores) == len(scales.features) == config.scales == 2
    for score, features in zip(periods.scores, periods.features, strict=True):
        assert score.dim() == 2 and score.shape[0] == 2 and score.shape[1] >= 1
        assert len(features) == len(config.period_channels) + 1
        assert [f.shape[1] for f in features] == list(config.period_channels) + [1]
        assert all(f.dim() == 4 for f in features)
    for score, features in zip(scales.scores, scales.features, strict=True):
        assert score.dim() == 2 and score.shape[0] == 2 and score.shape[1] >= 1
        assert len(features) == 8  # 7 convolutions + conv_post
        assert [f.shape[1] for f in features] == list(config.scale_channels) + [1]
    # each period discriminator scores (rows after its strides) x period positions
    assert [score.shape[1] % period for score, period in zip(periods.scores, config.periods, strict=True)] == [0, 0]
    # the second scale sees the waveform average-pooled by 2: about half as many scores
    assert scales.scores[1].shape[1] < scales.scores[0].shape[1]


def test_discriminate_joins_period_then_scale_entries():
    model = tiny_model().eval()  # eval: spectral norm does no power iteration, so calls repeat exactly
    waveform = 0.1 * torch.randn(1, 2 * HOP, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        joined = model.discriminate(waveform)
        periods, scales = model.period_discriminator(waveform), model.scale_discriminator(waveform)
    n_periods, n_scales = len(model.config.discriminator.periods), model.config.discriminator.scales
    assert len(joined.scores) == len(joined.features) == n_periods + n_scales
    for ours, theirs in zip(joined.scores, periods.scores + scales.scores, strict=True):
        assert torch.equal(ours, theirs)
    for ours, theirs in zip(joined.features, periods.features + scales.features, strict=True):
        assert len(ours) == len(theirs) and all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert [len(f) for f in joined.features] == [len(model.config.discriminator.period_channels) + 1] * n_periods + [
        8] * n_scales  # fmt: skip


def test_first_scale_discriminator_uses_spectral_norm_and_the_rest_weight_norm():
    model = HiFiGAN(HiFiGANConfig.preset("cpu"))  # three scales
    first, *others = model.scale_discriminator.discriminators
    assert len(others) == 2
    assert [norm_of(conv) for conv in convolutions(first)] == [_SpectralNorm] * 8
    for discriminator in others:
        assert [norm_of(conv) for conv in convolutions(discriminator)] == [_WeightNorm] * 8
    for discriminator in model.period_discriminator.discriminators:
        assert all(norm_of(conv) is _WeightNorm for conv in convolutions(discriminator))


# 4. losses on hand-made inputs


def test_lsgan_losses_on_constant_scores():
    ones, zeros = [torch.ones(2, 5), torch.ones(3, 1)], [torch.zeros(2, 5), torch.zeros(3, 1)]
    assert discriminator_loss(ones[:1], zeros[:1]).item() == 0.0
    assert discriminator_loss(ones, zeros).item() == 0.0
    assert discriminator_loss(zeros[:1], ones[:1]).item() == 2.0
    assert discriminator_loss(zeros, ones).item() == 4.0  # 2 per sub-discriminator, summed
    # real 0.5 (0.25) + generated 1.0 (1) on one, real 1 (0) + generated 0.5 (0.25) on the other
    assert discriminator_loss([torch.full((2, 3), 0.5), torch.ones(1, 4)],
                              [torch.ones(2, 7), torch.full((1, 2), 0.5)]).item() == pytest.approx(1.5)  # fmt: skip
    halves = [torch.full((2, 3), 0.5), torch.full((1, 7), 0.5)]
    assert generator_adversarial_loss(halves).item() == pytest.approx(0.5)  # 0.25 per sub-discriminator
    assert generator_adversarial_loss(halves[:1]).item() == pytest.approx(0.25)
    assert generator_adversarial_loss(ones).item() == 0.0
    assert generator_adversarial_loss([torch.tensor([[0.0, 2.0]])]).item() == pytest.approx(1.0)


def test_feature_matching_loss_is_the_sum_of_mean_absolute_differences():
    real = [[torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.0, 0.0]])],
            [torch.tensor([[[1.0], [1.0]]]), torch.tensor([[4.0]])]]  # fmt: skip
    generated = [[torch.tensor([[1.0, 0.0, 6.0]]), torch.tensor([[1.0, -3.0]])],
                 [torch.tensor([[[1.0], [1.0]]]), torch.tensor([[2.5]])]]  # fmt: skip
    # layer means: (0 + 2 + 3) / 3, (1 + 3) / 2, 0, 1.5
    expected = 5 / 3 + 2.0 + 0.0 + 1.5
    assert feature_matching_loss(real, generated).item() == pytest.approx(expected)
    assert feature_matching_loss(real, real).item() == 0.0


def test_multi_resolution_stft_loss_is_zero_only_for_identical_waveforms_and_has_a_gradient():
    generator = torch.Generator().manual_seed(0)
    real = 0.3 * torch.randn(2, 4096, generator=generator)
    assert multi_resolution_stft_loss(real, real.clone()).item() == pytest.approx(0.0, abs=1e-6)
    generated = (real + 0.05 * torch.randn(2, 4096, generator=generator)).requires_grad_()
    loss = multi_resolution_stft_loss(generated, real)
    assert loss.dim() == 0 and loss.item() > 0
    assert multi_resolution_stft_loss(0.5 * real, real).item() > loss.item() > 0  # a louder mismatch costs more
    loss.backward()
    assert generated.grad is not None and torch.isfinite(generated.grad).all() and generated.grad.abs().sum() > 0


# 5. the MRF and the ResBlocks against hand-written loops


def test_mrf_is_the_mean_of_its_resblocks():
    torch.manual_seed(0)
    config = GeneratorConfig(resblock_kernel_sizes=(3, 5, 7), resblock_dilations=((1, 2), (1,), (2, 3)))
    fusion = MultiReceptiveFieldFusion(6, config)
    assert [len(block.dilated) for block in fusion.resblocks] == [2, 1, 2]
    assert all(isinstance(block, ResBlock1) for block in fusion.resblocks)
    x = torch.randn(2, 6, 20)
    with torch.no_grad():
        outputs = torch.stack([block(x) for block in fusion.resblocks])  # (3, B, C, T)
        result = fusion(x)
    assert_close(result, outputs.mean(0))
    assert not torch.allclose(result, outputs.sum(0), atol=1e-3)  # the mean, not the paper's sum


def _hand_conv(conv: torch.nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """conv(x) written out: its (weight-normed) weight, its dilation, 'same' padding d (k - 1) / 2."""
    (kernel_size,), (dilation,) = conv.kernel_size, conv.dilation
    return F.conv1d(x, conv.weight, conv.bias, dilation=dilation, padding=dilation * (kernel_size - 1) // 2)


def test_resblock2_is_a_residual_loop_over_dilated_convolutions():
    torch.manual_seed(0)
    block = ResBlock2(4, 5, (1, 3, 7))
    assert [conv.dilation for conv in block.dilated] == [(1,), (3,), (7,)]
    x = torch.randn(2, 4, 30)
    with torch.no_grad():
        expected = x
        for conv in block.dilated:
            expected = expected + _hand_conv(conv, F.leaky_relu(expected, 0.1))
        assert_close(block(x), expected)
        assert block(x).shape == x.shape and not torch.allclose(block(x), x)


def test_resblock1_has_two_convolutions_per_dilation():
    torch.manual_seed(0)
    block = ResBlock1(4, 3, (1, 5))
    x = torch.randn(1, 4, 25)
    with torch.no_grad():
        expected = x
        for dilated, plain in zip(block.dilated, block.plain, strict=True):
            assert plain.dilation == (1,)
            inner = _hand_conv(dilated, F.leaky_relu(expected, 0.1))
            expected = expected + _hand_conv(plain, F.leaky_relu(inner, 0.1))
        assert_close(block(x), expected)


# 6. weight norm


def test_remove_weight_norm_keeps_the_output_and_leaves_plain_weights():
    torch.manual_seed(0)
    generator = Generator(HiFiGANConfig.preset("ci").generator)
    convs = convolutions(generator)
    assert len(convs) == 2 + 3 + 3 * 2  # conv_pre + conv_post, 3 upsamplings, 3 ResBlock2 of 2 dilations
    assert all(norm_of(conv) is _WeightNorm for conv in convs)
    conv = generator.conv_pre
    g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
    assert_close(conv.weight, g * v / v.norm(dim=(1, 2), keepdim=True))  # w = g v / |v|
    mel = random_mel(5).transpose(1, 2)
    n_parameters = sum(parameter.numel() for parameter in generator.parameters())
    with torch.no_grad():
        before = generator(mel)
    assert remove_weight_norm(generator) is generator
    with torch.no_grad():
        after = generator(mel)
    assert_close(after, before)
    assert not any(parametrize.is_parametrized(module) for module in generator.modules())
    assert not any("parametrizations" in key for key in generator.state_dict())
    assert all(isinstance(conv.weight, torch.nn.Parameter) for conv in convolutions(generator))
    # every magnitude g (one per slice along weight dim 0) is folded away, the directions v stay as weights
    g_sizes = sum(conv.weight.shape[0] for conv in convs)
    assert sum(parameter.numel() for parameter in generator.parameters()) == n_parameters - g_sizes


def test_remove_weight_norm_under_no_grad_still_leaves_parameters():
    torch.manual_seed(0)
    generator = Generator(HiFiGANConfig.preset("ci").generator)
    with torch.no_grad():  # as inference code calls it
        remove_weight_norm(generator)
    assert all(isinstance(conv.weight, torch.nn.Parameter) for conv in convolutions(generator))


# 7. checkpoints: one module, two optimizers


def _one_gan_step(model: HiFiGAN, g_optimizer, d_optimizer, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    mel, real = random_mel(4, seed=seed), 0.1 * torch.randn(1, 4 * HOP, generator=generator)
    generated = model(mel)
    d_optimizer.zero_grad()
    real_out, generated_out = model.discriminate(real), model.discriminate(generated.detach())
    discriminator_loss(real_out.scores, generated_out.scores).backward()
    d_optimizer.step()
    g_optimizer.zero_grad()
    generated_out = model.discriminate(generated)
    with torch.no_grad():
        real_out = model.discriminate(real)
    loss = (generator_adversarial_loss(generated_out.scores)
            + model.config.feature_matching_weight * feature_matching_loss(real_out.features, generated_out.features)
            + model.config.mel_loss_weight * model.mel_l1(generated, real))  # fmt: skip
    loss.backward()
    g_optimizer.step()


def _optimizers(model: HiFiGAN):
    discriminators = list(model.period_discriminator.parameters()) + list(model.scale_discriminator.parameters())
    return torch.optim.AdamW(model.generator.parameters(), 2e-4), torch.optim.AdamW(discriminators, 2e-4)


def test_checkpoint_with_two_optimizers_round_trips(tmp_path):
    model = tiny_model()
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    g_optimizer, d_optimizer = _optimizers(model)
    _one_gan_step(model, g_optimizer, d_optimizer)
    assert any(not torch.equal(initial[key], value) for key, value in model.state_dict().items())
    assert len(g_optimizer.state) > 0 and len(d_optimizer.state) > 0
    path = checkpoint.save(tmp_path / "h.pt", model, {"generator": g_optimizer, "discriminator": d_optimizer},
                           step=3, config=model.config)  # fmt: skip

    fresh = HiFiGAN(model.config)  # other random weights
    assert any(not torch.equal(model.state_dict()[key], value) for key, value in fresh.state_dict().items())
    fresh_g, fresh_d = _optimizers(fresh)
    step, extra = checkpoint.load(path, fresh, {"generator": fresh_g, "discriminator": fresh_d}, config=model.config)
    assert (step, extra) == (3, {})
    assert_same_state(fresh.state_dict(), model.state_dict(), "model")
    assert_same_state(fresh_g.state_dict(), g_optimizer.state_dict(), "generator optimizer")
    assert_same_state(fresh_d.state_dict(), d_optimizer.state_dict(), "discriminator optimizer")
    assert len(fresh_g.state_dict()["state"]) == len(list(model.generator.parameters()))

    loaded = hifigan.load_pretrained(path=path)
    assert isinstance(loaded, HiFiGAN) and not any(module.training for module in loaded.modules())
    assert loaded.config == model.config
    mel = random_mel(3, seed=5)
    with torch.no_grad():
        assert torch.equal(loaded(mel), model(mel))


def test_config_round_trips_through_a_checkpoint_and_plain_json(tmp_path):
    for config in (HiFiGANConfig.preset("ci"), HiFiGANConfig.variant("V3"), HiFiGANConfig.preset("cpu")):
        data = json.loads(json.dumps(dataclasses.asdict(config)))  # every tuple becomes a list
        assert isinstance(data["generator"]["resblock_dilations"][0], list)
        rebuilt = checkpoint.config_from_dict(HiFiGANConfig, data)
        assert rebuilt == config
        assert rebuilt.generator.resblock_dilations == config.generator.resblock_dilations
        assert isinstance(rebuilt.generator.resblock_dilations[0], tuple)
    config = HiFiGANConfig.preset("ci")
    path = checkpoint.save(tmp_path / "c.pt", torch.nn.Linear(1, 1), config=config)
    assert checkpoint.config_from_checkpoint(path, HiFiGANConfig) == config
    lists = GeneratorConfig(**(dataclasses.asdict(config.generator) | {"resblock_dilations": [[1, 2]]}))
    assert lists == config.generator and hash(lists) == hash(config.generator)


def test_artifact_paths_and_missing_artifact(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    assert hifigan.artifact_path("ci") == tmp_path / "artifacts" / "hifigan_ci.pt"
    assert hifigan.artifact_path("cpu").name == hifigan.artifact_path("gpu").name == "hifigan.pt"
    with pytest.raises(FileNotFoundError, match="09_hifigan"):
        hifigan.load_pretrained()


# 8. bad input


def test_bad_input_raises_errors_that_name_the_problem():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"n_mels = 80\) log-mel tensor, time first, got \(1, 4, 40\)"):
        model(torch.zeros(1, 4, 40))
    with pytest.raises(ValueError, match=r"time first, got \(1, 80, 4\)"):
        model(torch.zeros(1, 80, 4))  # frequency first
    with pytest.raises(ValueError, match=r"\(B, T_mel, n_mels = 80\).*got \(4, 80\)"):
        model(torch.zeros(4, 80))
    with pytest.raises(ValueError, match="0 frames"):
        model(torch.zeros(1, 0, 80))
    nan = torch.zeros(1, 3, 80)
    nan[0, 1, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(nan)
    infinite = torch.zeros(1, 3, 80)
    infinite[0, 2, 0] = -float("inf")
    with pytest.raises(ValueError, match="infinite"):
        model(infinite)
    with pytest.raises(ValueError, match=r"one \(T_mel, n_mels\) log-mel, got shape \(1, 3, 80\)"):
        model.vocode(np.zeros((1, 3, 80), dtype=np.float32))


def test_bad_configs_raise_errors_that_name_the_problem():
    with pytest.raises(ValueError, match=r"upsample by mel.hop_length = 256.*prod\(upsample_rates\) = 128"):
        HiFiGANConfig(generator=GeneratorConfig(upsample_rates=(8, 8, 2), upsample_kernel_sizes=(16, 16, 4)))
    with pytest.raises(ValueError, match="mel.n_mels = 80"):
        HiFiGANConfig(generator=GeneratorConfig(n_mels=40))
    with pytest.raises(ValueError, match=r"\(k - u\) even"):
        GeneratorConfig(upsample_kernel_sizes=(16, 16, 4, 5))
    with pytest.raises(ValueError, match="one upsample kernel size per rate"):
        GeneratorConfig(upsample_kernel_sizes=(16, 16, 4))
    with pytest.raises(ValueError, match="ResBlock kernel sizes odd"):
        GeneratorConfig(resblock_kernel_sizes=(3, 6, 11))
    with pytest.raises(ValueError, match="divisible by its groups"):
        DiscriminatorConfig(scale_channels=(4, 6, 8, 8, 8, 8, 8), scale_groups=(1, 4, 2, 2, 2, 2, 1))
    with pytest.raises(ValueError, match="divisible by its groups"):
        DiscriminatorConfig(scale_channels=(6, 8, 8, 8, 8, 8, 8), scale_groups=(1, 4, 2, 2, 2, 2, 1))  # in 6 / 4
    with pytest.raises(ValueError, match="unknown 'V9'"):
        HiFiGANConfig.variant("V9")
    with pytest.raises(ValueError, match="no preset"):
        HiFiGANConfig.preset("tpu")


# 9. the paper's V1 trains on a CPU


def test_gpu_preset_runs_one_full_training_step_on_cpu():
    torch.manual_seed(0)
    model = HiFiGAN(HiFiGANConfig.preset("gpu"))
    mel, real = random_mel(4), 0.1 * torch.randn(1, 4 * HOP)
    generated = model(mel)
    assert generated.shape == (1, 4 * HOP)
    both = model.discriminate(torch.cat([real, generated.detach()]))  # one batch: real, then generated
    assert len(both.scores) == len(both.features) == 5 + 3
    d_loss = discriminator_loss([score[:1] for score in both.scores], [score[1:] for score in both.scores])
    d_loss.backward()
    assert torch.isfinite(d_loss) and d_loss > 0
    assert model.generator.conv_pre.parametrizations.weight.original1.grad is None  # generated was detached
    d_grad = model.scale_discriminator.discriminators[0].conv_post.parametrizations.weight.original.grad
    assert d_grad is not None and d_grad.abs().sum() > 0
    generated_out = model.discriminate(generated)
    real_features = [[feature[:1].detach() for feature in features] for features in both.features]
    g_loss = (generator_adversarial_loss(generated_out.scores)
              + model.config.feature_matching_weight * feature_matching_loss(real_features, generated_out.features)
              + model.config.mel_loss_weight * model.mel_l1(generated, real))  # fmt: skip
    g_loss.backward()
    g_grad = model.generator.conv_pre.parametrizations.weight.original1.grad
    assert torch.isfinite(g_loss) and g_grad is not None and torch.isfinite(g_grad).all() and g_grad.abs().sum() > 0


# 10. vocode


def test_vocode_returns_float32_numpy_of_hop_length_samples_per_frame():
    model = tiny_model().eval()
    mel = random_mel(3)[0]  # (T_mel, n_mels)
    waveform = model.vocode(mel.numpy().astype(np.float64))
    assert isinstance(waveform, np.ndarray) and waveform.dtype == np.float32 and waveform.shape == (3 * HOP,)
    with torch.no_grad():
        np.testing.assert_allclose(waveform, model(mel.unsqueeze(0))[0].numpy(), atol=1e-6)
    cut = model.vocode(mel, length=500)
    assert cut.dtype == np.float32 and cut.shape == (500,)
    np.testing.assert_array_equal(cut, waveform[:500])


def test_multi_resolution_stft_loss_names_short_or_mismatched_input():
    with pytest.raises(ValueError, match="too short"):
        multi_resolution_stft_loss(torch.zeros(1, 1000), torch.zeros(1, 1000))
    with pytest.raises(ValueError, match=r"\(B, T_wav\)"):
        multi_resolution_stft_loss(torch.zeros(1, 4096), torch.zeros(2, 4096))
