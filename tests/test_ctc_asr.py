"""Tests for minispeech.models.ctc_asr: shapes, padding invariance, presets, training steps,
checkpoint round trip and the missing-artifact message."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from minispeech.models import ctc_asr
from minispeech.models.ctc_asr import (
    CTCASR,
    CTCASRConfig,
    frame_mask,
    load_pretrained,
    normalize_features,
    spec_augment_batch,
)
from minispeech.train import save_checkpoint

N_MELS = 80


def tiny_config(**changes) -> CTCASRConfig:
    return dataclasses.replace(CTCASRConfig.preset("ci"), **changes)


def random_batch(lengths, n_mels=N_MELS, seed=0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    features = torch.randn(len(lengths), int(lengths.max()), n_mels, generator=generator) - 5.0
    features = features * frame_mask(lengths, features.shape[1])[:, :, None]  # zero padding
    return features, lengths


@pytest.mark.parametrize("subsampling", [1, 2, 4])
def test_forward_shapes_and_log_softmax(subsampling):
    torch.manual_seed(0)
    model = CTCASR(tiny_config(subsampling=subsampling)).eval()
    features, lengths = random_batch([37, 20, 5])
    log_probs, out_lengths = model(features, lengths)
    expected_lengths = (lengths + subsampling - 1) // subsampling  # ceil(T / subsampling)
    assert out_lengths.tolist() == expected_lengths.tolist()
    assert log_probs.shape == (3, int(expected_lengths.max()), model.config.vocabulary_size)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)
    assert model.output_lengths(lengths).tolist() == out_lengths.tolist()


@pytest.mark.parametrize("subsampling", [1, 2, 4])
def test_padding_does_not_change_the_real_frames(subsampling):
    torch.manual_seed(0)
    model = CTCASR(tiny_config(subsampling=subsampling)).eval()
    features, lengths = random_batch([23, 41, 9], seed=1)
    batch_log_probs, batch_lengths = model(features, lengths)
    for b, length in enumerate(lengths.tolist()):
        alone, alone_length = model(features[b : b + 1, :length], lengths[b : b + 1])
        n = int(alone_length[0])
        assert n == int(batch_lengths[b])
        # float32 through a few layers: 1e-5 is far below what padding leaking in would change
        torch.testing.assert_close(batch_log_probs[b, :n], alone[0, :n], atol=1e-5, rtol=1e-5)


def test_garbage_in_the_padding_is_ignored():
    model = CTCASR(tiny_config()).eval()
    features, lengths = random_batch([30, 12])
    noisy = features.clone()
    noisy[1, 12:] = 1e3  # whatever the padding holds
    clean_out, _ = model(features, lengths)
    noisy_out, _ = model(noisy, lengths)
    torch.testing.assert_close(clean_out[1, :6], noisy_out[1, :6], atol=1e-5, rtol=1e-5)


def test_normalize_features_uses_only_real_frames():
    features, lengths = random_batch([10, 4], n_mels=3)
    normalized = normalize_features(features, lengths)
    real = normalized[1, :4]
    torch.testing.assert_close(real.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(real.std(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    assert (normalized[1, 4:] == 0).all()


def test_spec_augment_masks_bands_and_spans_within_limits():
    torch.manual_seed(0)
    config = tiny_config(freq_masks=1, freq_mask_width=5, time_masks=1, time_mask_width=100)
    features = torch.ones(64, 200, N_MELS)
    lengths = torch.full((64,), 200)
    masked = spec_augment_batch(features, lengths, config)
    zero_bands = (masked == 0).all(dim=1).sum(dim=1)  # (B,) bands zero in every frame
    zero_frames = (masked == 0).all(dim=2).sum(dim=1)  # (B,) frames zero in every band
    assert zero_bands.max() <= 5 and zero_bands.max() > 0
    assert zero_frames.max() <= 20 and zero_frames.max() > 0  # at most 10 % of 200 frames
    assert (features == 1).all()  # the input is untouched


def test_training_mode_augments_and_eval_mode_is_deterministic():
    model = CTCASR(tiny_config(dropout=0.0))
    features, lengths = random_batch([50, 50])
    model.train()
    first, _ = model(features, lengths)
    second, _ = model(features, lengths)
    assert not torch.allclose(first, second)  # SpecAugment draws new masks
    model.eval()
    torch.testing.assert_close(model(features, lengths)[0], model(features, lengths)[0])


def ctc_step(model, optimizer, features, lengths, tokens, token_lengths) -> float:
    log_probs, out_lengths = model(features, lengths)
    loss = F.ctc_loss(log_probs.transpose(0, 1), tokens, out_lengths, token_lengths, blank=0)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def test_gpu_preset_builds_and_takes_a_training_step_on_cpu():
    torch.manual_seed(0)
    config = CTCASRConfig.preset("gpu")
    model = CTCASR(config)
    assert sum(p.numel() for p in model.parameters()) > 10_000_000  # sized for a GPU
    features, lengths = random_batch([60, 48])
    tokens = torch.randint(3, config.vocabulary_size, (2, 8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss = ctc_step(model, optimizer, features, lengths, tokens, torch.tensor([8, 6]))
    assert torch.isfinite(torch.tensor(loss))


def test_a_few_steps_on_one_batch_reduce_the_loss():
    torch.manual_seed(0)
    model = CTCASR(tiny_config(dropout=0.0, freq_masks=0, time_masks=0))
    features, lengths = random_batch([40, 32, 36])
    tokens = torch.randint(3, 12, (3, 6))
    token_lengths = torch.tensor([6, 5, 4])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = [ctc_step(model, optimizer, features, lengths, tokens, token_lengths) for _ in range(15)]
    assert losses[-1] < 0.7 * losses[0], losses


def test_presets_and_config_validation():
    assert CTCASRConfig.preset("cpu") == CTCASRConfig()
    for name in ("ci", "cpu", "gpu"):
        assert CTCASRConfig.preset(name).mel.n_mels == N_MELS
    with pytest.raises(ValueError, match="profile"):
        CTCASRConfig.preset("laptop")
    with pytest.raises(ValueError, match="subsampling"):
        CTCASRConfig(subsampling=3)
    with pytest.raises(ValueError, match="n_heads"):
        CTCASRConfig(model_size=100, n_heads=3)
    with pytest.raises(ValueError, match="n_mels"):
        CTCASR(tiny_config())(torch.zeros(1, 10, 40), torch.tensor([10]))


def test_load_pretrained_round_trip_and_preference(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    assert ctc_asr.artifact_path("ci") == tmp_path / "artifacts" / "ctc_asr_ci.pt"
    with pytest.raises(FileNotFoundError, match="04_ctc"):
        load_pretrained()
    ci_model = CTCASR(tiny_config())
    save_checkpoint(ctc_asr.artifact_path("ci"), ci_model, config=ci_model.config)
    assert load_pretrained().config == ci_model.config  # only the ci artifact: use it
    real_model = CTCASR(tiny_config(model_size=32, feedforward_size=64))
    save_checkpoint(ctc_asr.artifact_path("cpu"), real_model, config=real_model.config)
    loaded = load_pretrained()
    assert loaded.config == real_model.config and not loaded.training  # the real one wins
    features, lengths = random_batch([20])
    torch.testing.assert_close(loaded(features, lengths)[0], real_model.eval()(features, lengths)[0])
