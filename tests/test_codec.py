"""Tests for minispeech.models.codec: the presets' bitrates and hops, encode/decode lengths for any input
length (zero padding at the end, cropped back), one training step of the ci preset (finite losses, gradients
on the encoder and the decoder, EMA codebooks that move without gradients), decode(encode(x)) equal to the
eval-mode forward, fewer codebooks on request, quantizer dropout in training only, the checkpoint round trip,
named errors, and one step of the gpu preset on a CPU. Every input is a fraction of a second."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint
from minispeech.models import codec
from minispeech.models.codec import Codec, CodecConfig, Encoder, shortest_training_input

CI = CodecConfig.preset("ci")
HOP = CI.hop_length  # 256
K = CI.quantizer.n_quantizers  # 4
V = CI.quantizer.quantizer.codebook_size  # 16


def ci_model(seed: int = 0, **changes) -> Codec:
    torch.manual_seed(seed)
    return Codec(dataclasses.replace(CI, **changes) if changes else CI)


def noise(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """(B, T_wav) quiet white noise plus a 220 Hz tone, well inside [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    tone = 0.3 * torch.sin(2 * math.pi * 220 * torch.arange(length) / CI.sample_rate)
    return tone + 0.05 * torch.randn(batch, length, generator=generator)


def test_presets_bitrates_hops_and_the_6_kbps_budget():
    expected = {"ci": (4, 16, 22050 / 256), "cpu": (8, 256, 22050 / 256), "gpu": (8, 1024, 75.0)}
    for profile, (n_quantizers, codebook_size, frame_rate) in expected.items():
        config = CodecConfig.preset(profile)
        assert (config.quantizer.n_quantizers, config.quantizer.quantizer.codebook_size) == (n_quantizers,
                                                                                          codebook_size)
        assert math.prod(config.encoder_strides) == config.decoder.hop_length == config.hop_length
        assert config.frame_rate == pytest.approx(frame_rate)
        assert config.bitrate() == pytest.approx(n_quantizers * math.log2(codebook_size) * frame_rate)
        assert config.bitrate(1) == pytest.approx(config.bitrate() / n_quantizers)
        with pytest.raises(ValueError, match="n_quantizers must lie in"):
            config.bitrate(n_quantizers + 1)
    cpu, gpu = CodecConfig.preset("cpu"), CodecConfig.preset("gpu")
    assert cpu.sample_rate == 22050 and cpu.bitrate() == pytest.approx(5512.5) and cpu.bitrate() <= 6000
    assert 50 <= cpu.frame_rate <= 90
    assert gpu.sample_rate == gpu.mel.sample_rate == 24000 and gpu.bitrate() == pytest.approx(6000.0)
    with pytest.raises(ValueError, match="upsample_rates"):
        dataclasses.replace(CI, encoder_strides=(4, 4, 4, 2))  # hop 128 against the decoder's 256
    with pytest.raises(ValueError, match="latent_dim"):
        dataclasses.replace(CI, latent_dim=16)
    with pytest.raises(ValueError, match="mel.sample_rate"):
        dataclasses.replace(CI, sample_rate=24000)
    with pytest.raises(ValueError, match="segment_samples"):
        dataclasses.replace(CI, segment_samples=4000)
    with pytest.raises(ValueError, match="encoder_strides >= 2"):
        dataclasses.replace(CI, encoder_strides=(1, 4, 4, 4, 4))


def test_encode_decode_lengths_for_any_input_length_and_the_padding_is_zeros_at_the_end():
    model = ci_model().eval()
    for length in (1, 100, 255, 256, 257, 1000, 2085):
        x = noise(2, length)
        frames = math.ceil(length / HOP)
        codes = model.encode(x)
        assert codes.shape == (2, K, frames) and codes.dtype == torch.int64
        assert 0 <= int(codes.min()) and int(codes.max()) < V
        assert model.decode(codes).shape == (2, frames * HOP)
        assert model.decode(codes, length=length).shape == (2, length)
        assert torch.equal(codes, model.encode(F.pad(x, (0, frames * HOP - length))))
    assert Encoder(CI)(noise(2, 3 * HOP)).shape == (2, CI.latent_dim, 3)  # (B, D, T_wav / hop)
    for length in (shortest_training_input(CI.mel), 1100, 1536, 2085):
        assert model(noise(2, length)).reconstructed.shape == (2, length)


def test_one_training_step_gives_finite_losses_gradients_and_ema_codebooks():
    model = ci_model(seed=1).train()
    assert list(model.quantizer.parameters()) == []  # EMA codebooks are buffers: no gradient reaches them
    x = noise(2, CI.segment_samples, seed=1)
    optimizer = torch.optim.Adam(model.codec_parameters(), 1e-3)
    output = model(x, n_quantizers=K)  # k-means initializes the codebooks on this first batch
    parts = (output.commitment_loss, output.stft_loss, output.mel_loss, output.loss)
    assert all(torch.isfinite(part) and part > 0 for part in parts)
    assert output.codebook_loss == 0
    expected = (CI.stft_loss_weight * output.stft_loss + CI.mel_loss_weight * output.mel_loss
                + output.commitment_loss)  # fmt: skip
    torch.testing.assert_close(output.loss, expected)
    assert output.reconstructed.shape == x.shape and output.codes.shape == (2, K, CI.segment_samples // HOP)
    assert output.perplexities.shape == output.used_fractions.shape == (K,)
    assert all(1 <= float(p) <= V for p in output.perplexities)
    output.loss.backward()
    for name, module in (("encoder", model.encoder), ("decoder", model.decoder)):
        gradients = [p.grad for p in module.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in gradients), name
        assert sum(float(g.abs().sum()) for g in gradients) > 0, name
    assert all(p.grad is None for p in model.discriminator_parameters())
    first_layer = model.encoder.conv_pre.parametrizations.weight.original1.grad  # straight-through reached it
    assert first_layer.abs().sum() > 0
    optimizer.step()
    optimizer.zero_grad()
    before = [quantizer.codebook.clone() for quantizer in model.quantizer.quantizers]
    model(x, n_quantizers=K).loss.backward()  # the second batch moves the codebooks by EMA alone
    for quantizer, old in zip(model.quantizer.quantizers, before, strict=True):
        assert not isinstance(quantizer.codebook, nn.Parameter) and quantizer.codebook.grad is None
        assert not torch.equal(quantizer.codebook, old)


def test_with_ema_off_the_codebooks_learn_by_gradient():
    # random N(0, 1) codes: k-means on 8 frames would place a code on every frame (codebook loss 0)
    by_gradient = dataclasses.replace(CI.quantizer.quantizer, ema_decay=0.0, kmeans_init=False)
    quantizer = dataclasses.replace(CI.quantizer, quantizer=by_gradient)
    model = ci_model(seed=2, quantizer=quantizer).train()
    output = model(noise(1, 2048), n_quantizers=K)
    assert output.codebook_loss > 0
    output.loss.backward()
    codebooks = [stage.codebook for stage in model.quantizer.quantizers]
    assert all(any(c is p for p in model.codec_parameters()) for c in codebooks)
    assert all(c.grad is not None and c.grad.abs().sum() > 0 for c in codebooks)


def test_decode_of_encode_equals_the_eval_forward_which_changes_no_state():
    model = ci_model(seed=3).train()
    model(noise(2, 4096, seed=3))  # k-means and one EMA step, so the codes are not arbitrary
    model.eval()
    x = noise(2, 1500, seed=4)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    output = model(x)
    codes = model.encode(x)
    assert torch.equal(codes, output.codes)
    torch.testing.assert_close(model.decode(codes, length=1500), output.reconstructed, atol=1e-6, rtol=0)
    assert all(torch.equal(value, model.state_dict()[key]) for key, value in state.items())


def test_fewer_quantizers_give_fewer_rows_and_dropout_acts_in_training_only():
    always_drop = dataclasses.replace(CI.quantizer, quantizer_dropout=1.0)
    model = ci_model(seed=5, quantizer=always_drop)
    x = noise(1, 1100)
    model.train()
    model(x, n_quantizers=K)  # initialize every codebook
    model.eval()
    all_codes = model.encode(x)
    for n in (1, 2, 3):
        assert torch.equal(model.encode(x, n), all_codes[:, :n])  # the first n codebooks' codes, unchanged
        output = model(x, n_quantizers=n)
        assert output.codes.shape == (1, n, 5) and output.perplexities.shape == (n,)
        assert model.decode(all_codes[:, :n], length=1100).shape == (1, 1100)
    for seed in range(4):
        torch.manual_seed(seed)
        assert model(x).codes.shape[1] == K  # eval: no quantizer dropout
    model.train()
    used = set()
    for seed in range(8):
        torch.manual_seed(seed)
        used.add(model(x).codes.shape[1])
    assert used <= set(range(1, K + 1)) and len(used) > 1


def test_config_and_checkpoint_round_trips(tmp_path, monkeypatch):
    for profile in ("ci", "cpu", "gpu"):
        config = CodecConfig.preset(profile)
        assert checkpoint.config_from_dict(CodecConfig, dataclasses.asdict(config)) == config
        as_json = json.loads(json.dumps(dataclasses.asdict(config)))  # every tuple, nested ones too, a list
        assert checkpoint.config_from_dict(CodecConfig, as_json) == config
    model = ci_model(seed=6).train()
    optimizer = torch.optim.Adam(model.codec_parameters(), 1e-3)
    model(noise(2, 4096)).loss.backward()
    optimizer.step()
    path = checkpoint.save(tmp_path / "codec.pt", model, optimizer, step=5, config=model.config)
    assert checkpoint.config_from_checkpoint(path, CodecConfig) == CI
    fresh = ci_model(seed=7)
    fresh_optimizer = torch.optim.Adam(fresh.codec_parameters(), 1e-3)
    step, _ = checkpoint.load(path, fresh, fresh_optimizer, config=fresh.config)
    assert step == 5
    saved, restored = model.state_dict(), fresh.state_dict()
    assert saved.keys() == restored.keys() and all(torch.equal(saved[key], restored[key]) for key in saved)
    loaded = codec.load_pretrained(path)
    assert not loaded.training and loaded.config == CI
    x = noise(1, 1000, seed=8)
    assert torch.equal(loaded.encode(x), model.eval().encode(x))
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path / "nowhere"))
    assert codec.artifact_path("ci").name == "codec_ci.pt" and codec.artifact_path().name == "codec.pt"
    with pytest.raises(FileNotFoundError, match="11_codec"):
        codec.load_pretrained()


def test_bad_input_raises_errors_that_name_the_problem():
    model = ci_model().eval()
    x = noise(1, 2048)
    codes = model.encode(x, sample_rate=22050)
    cases = [
        (lambda: model.encode(x, sample_rate=16000), "22050 Hz.*16000 Hz.*resample"),
        (lambda: model(x, sample_rate=24000), "resample"),
        (lambda: model.encode(x.clone().index_fill_(1, torch.tensor([5]), float("nan"))), "NaN"),
        (lambda: model(x.clone().index_fill_(1, torch.tensor([5]), float("inf"))), "infinite"),
        (lambda: model.encode(torch.zeros(1, 0)), "empty"),
        (lambda: model.encode(torch.zeros(0, 300)), "empty"),
        (lambda: model.encode(x[0]), "unsqueeze\\(0\\)"),
        (lambda: model(x[0]), "add the batch axis"),
        (lambda: model.encode(x[None]), "\\(B, T_wav\\) mono"),
        (lambda: model.encode((x * 32768).short()), "float tensor"),
        (lambda: model(noise(1, 1000)), "encode/decode for shorter audio"),
        (lambda: model.encode(x, n_quantizers=K + 1), "n_quantizers"),
        (lambda: model.encode(x, n_quantizers=0), "n_quantizers"),
        (lambda: model.decode(codes.clone().fill_(V)), "out of range.*0..15"),
        (lambda: model.decode(codes.clone().fill_(-1)), "out of range"),
        (lambda: model.decode(codes.float()), "integer"),
        (lambda: model.decode(codes[0]), "\\(B, Q, T_frames\\)"),
        (lambda: model.decode(torch.zeros(1, K + 1, 3, dtype=torch.int64)), "1..4 codebooks"),
        (lambda: model.decode(torch.zeros(1, K, 0, dtype=torch.int64)), "at least one frame"),
        (lambda: ci_model(discriminators=False).discriminate(x), "no discriminators"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    scores, features = model.discriminate(x)  # the GAN phase's discriminators: 2 periods + 1 scale
    assert len(scores) == len(features) == 3 and all(s.shape[0] == 1 for s in scores)
    assert ci_model(discriminators=False).discriminator_parameters() == []


def test_the_gpu_preset_runs_one_training_step_on_a_cpu():
    torch.manual_seed(0)
    config = CodecConfig.preset("gpu")
    model = Codec(config).train()
    length = 1300  # 5 frames of 320 samples at 24 kHz after padding
    x = noise(1, length)
    output = model(x, n_quantizers=config.quantizer.n_quantizers, sample_rate=24000)
    assert output.reconstructed.shape == (1, length) and output.codes.shape == (1, 8, 5)
    assert torch.isfinite(output.loss)
    output.loss.backward()
    first_layer = model.encoder.conv_pre.parametrizations.weight.original1.grad
    assert first_layer is not None and torch.isfinite(first_layer).all() and first_layer.abs().sum() > 0
    assert model.eval().encode(noise(1, 321), n_quantizers=2).shape == (1, 2, 2)  # strides (2, 4, 5, 8)


def test_warm_start_copies_a_matching_vocoder_and_names_what_differs():
    from minispeech.models.hifigan import HiFiGAN, HiFiGANConfig

    vocoder = HiFiGAN(HiFiGANConfig.preset("ci"))
    assert CI.decoder == vocoder.config.generator  # the ci presets match too
    model = ci_model()
    codec.warm_start_decoder(model, vocoder)
    z = torch.randn(1, 80, 5)
    with torch.no_grad():
        torch.testing.assert_close(model.decoder(z), vocoder.generator(z))
    narrow = dataclasses.replace(CI, latent_dim=8, decoder=dataclasses.replace(CI.decoder, n_mels=8),
                                 quantizer=dataclasses.replace(CI.quantizer, quantizer=dataclasses.replace(
                                     CI.quantizer.quantizer, dim=8)))  # fmt: skip
    with pytest.raises(ValueError, match=r"n_mels \(80 vs 8\)"):
        codec.warm_start_decoder(Codec(narrow), vocoder)
    # lesson 11 warm-starts the cpu codec from lesson 09's cpu vocoder
    assert CodecConfig.preset("cpu").decoder == HiFiGANConfig.preset("cpu").generator


def test_the_latent_has_one_frame_per_hop_of_the_zero_padded_waveform():
    model = ci_model().eval()
    x = noise(2, 3 * HOP + 7)
    latent = model.latent(x)
    assert latent.shape == (2, CI.latent_dim, 4)
    with torch.no_grad():
        torch.testing.assert_close(latent, model.encoder(F.pad(x, (0, HOP - 7))))
