"""Tests for minispeech.models.speaker: the GE2E similarity matrix against a loop over its definition, the loss
against cross-entropy written out, the EER on hand-made and random scores (against a brute-force sweep), the
encoder's shapes, lengths and unit norm, embed()'s windows, training that separates made-up speakers, the
checkpoint round trip, named errors, and one gpu-preset step on a CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech import checkpoint
from minispeech.models import speaker
from minispeech.models.speaker import (
    SpeakerEncoder,
    SpeakerEncoderConfig,
    equal_error_rate,
    ge2e_loss,
    ge2e_similarity,
)

CI = SpeakerEncoderConfig.preset("ci")


def similarity_by_definition(embeddings: torch.Tensor, weight: float, bias: float) -> torch.Tensor:
    speakers, utterances, _ = embeddings.shape
    result = torch.zeros(speakers, utterances, speakers, dtype=embeddings.dtype)
    for j in range(speakers):
        for i in range(utterances):
            for k in range(speakers):
                if k == j:
                    others = [embeddings[j, m] for m in range(utterances) if m != i]
                    centroid = torch.stack(others).mean(0)
                else:
                    centroid = embeddings[k].mean(0)
                result[j, i, k] = weight * F.cosine_similarity(embeddings[j, i], centroid, dim=0) + bias
    return result


@settings(max_examples=25, deadline=None)
@given(speakers=st.integers(2, 4), utterances=st.integers(2, 4), size=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_the_similarity_matrix_follows_its_definition(speakers, utterances, size, seed):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(speakers, utterances, size, generator=generator, dtype=torch.float64)
    weight, bias = torch.tensor(3.0, dtype=torch.float64), torch.tensor(-1.5, dtype=torch.float64)
    torch.testing.assert_close(ge2e_similarity(embeddings, weight, bias),
                               similarity_by_definition(embeddings, 3.0, -1.5))  # fmt: skip


def test_the_loss_is_the_cross_entropy_of_each_utterance_against_its_own_speaker():
    similarity = torch.randn(3, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    by_hand = []
    for j in range(3):
        for i in range(2):
            by_hand.append(-similarity[j, i, j] + torch.logsumexp(similarity[j, i], dim=0))
    torch.testing.assert_close(ge2e_loss(similarity), torch.stack(by_hand).mean())
    # embeddings that cluster by speaker score a lower loss than shuffled ones
    generator = torch.Generator().manual_seed(1)
    centres = torch.randn(4, 1, 8, generator=generator)
    clustered = centres + 0.1 * torch.randn(4, 5, 8, generator=generator)
    shuffled = clustered.reshape(20, 8)[torch.randperm(20, generator=generator)].reshape(4, 5, 8)
    weight, bias = torch.tensor(10.0), torch.tensor(-5.0)
    assert ge2e_loss(ge2e_similarity(clustered, weight, bias)) < ge2e_loss(ge2e_similarity(shuffled, weight, bias))


def test_the_equal_error_rate_on_hand_made_scores():
    # perfectly separated: EER 0 with a threshold between the two groups
    eer, threshold = equal_error_rate(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False]))
    assert eer == 0.0 and 0.2 < threshold <= 0.8
    # one impostor above one target of four each: FAR = FRR = 1/4 at a threshold between them
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.6, 0.3, 0.2, 0.1])
    same = np.array([True, True, True, True, False, False, False, False])
    eer, _ = equal_error_rate(scores, same)
    assert eer == pytest.approx(0.25)
    # reversed scores: everything wrong
    assert equal_error_rate(-scores, same)[0] == pytest.approx(1.0, abs=0.26)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), pairs=st.integers(4, 40), shift=st.floats(0.0, 3.0))
def test_the_equal_error_rate_lies_where_the_two_error_rates_cross(seed, pairs, shift):
    """Both rates are step functions of the threshold, so no threshold makes them equal in general; the EER
    lies between the best threshold's larger rate and the best threshold's smaller one (brute force)."""
    rng = np.random.default_rng(seed)
    same = rng.random(pairs) < 0.5
    same[0], same[1] = True, False
    scores = np.round(rng.normal(size=pairs) + shift * same, 1)  # rounded: ties between pairs happen
    eer, _ = equal_error_rate(scores, same)
    rates = []
    for threshold in [*sorted(set(scores.tolist())), math.inf]:
        false_accept = sum(score >= threshold for score, s in zip(scores, same, strict=True) if not s) / (~same).sum()
        false_reject = sum(score < threshold for score, s in zip(scores, same, strict=True) if s) / same.sum()
        rates.append((false_accept, false_reject))
    assert max(min(rate) for rate in rates) - 1e-9 <= eer <= min(max(rate) for rate in rates) + 1e-9


def test_the_encoder_gives_unit_embeddings_and_respects_lengths():
    torch.manual_seed(0)
    model = SpeakerEncoder(CI).eval()
    mels = torch.randn(3, 25, 80)
    with torch.no_grad():
        embeddings = model(mels, torch.tensor([25, 10, 3]))
        assert embeddings.shape == (3, CI.embedding_size)
        torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3))
        torch.testing.assert_close(embeddings[1], model(mels[1:2, :10])[0])  # padding after 10 frames ignored
        torch.testing.assert_close(embeddings[0], model(mels[:1])[0])
    with pytest.raises(ValueError, match="80"):
        model(torch.randn(1, 10, 40))


def test_embed_averages_windows_and_names_bad_input():
    torch.manual_seed(0)
    model = SpeakerEncoder(CI).eval()
    rng = np.random.default_rng(0)
    long_wave = (0.1 * rng.standard_normal(22050)).astype(np.float32)  # 87 frames: windows of 40 every 20
    vector = model.embed(long_wave)
    assert vector.shape == (CI.embedding_size,) and math.isclose(float(np.linalg.norm(vector)), 1.0, rel_tol=1e-5)
    with torch.no_grad():
        mel = model.log_mel(torch.from_numpy(long_wave)).T
        windows = torch.stack([mel[s : s + 40] for s in range(0, len(mel) - 40 + 1, 20)])
        expected = F.normalize(model(windows).mean(0), dim=0).numpy()
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    assert model.embed(long_wave[:2000]).shape == (CI.embedding_size,)  # shorter than a window: one window
    for bad, message in [(np.zeros(0, np.float32), "non-empty"), (np.full(100, np.nan, np.float32), "finite"),
                         (np.zeros((2, 100), np.float32), "T_wav")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            model.embed(bad)
    with pytest.raises(ValueError, match="resample"):
        model.embed(long_wave, sample_rate=16000)


def test_ge2e_training_separates_made_up_speakers():
    """Four 'speakers' (tones of their own pitch in noise): 60 steps of GE2E bring their EER down."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = SpeakerEncoder(CI)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    pitches = [110.0, 180.0, 300.0, 450.0]
    time = np.arange(int(0.5 * 22050)) / 22050

    def utterance(pitch: float) -> torch.Tensor:
        wave = 0.3 * np.sin(2 * np.pi * pitch * rng.uniform(0.97, 1.03) * time) + 0.05 * rng.standard_normal(len(time))
        return model.log_mel(torch.from_numpy(wave.astype(np.float32))).T[: CI.window_frames]  # (40, 80)

    def batch() -> torch.Tensor:
        return torch.stack([torch.stack([utterance(p) for _ in range(3)]) for p in pitches])  # (4, 3, 40, 80)

    def eer() -> float:
        with torch.no_grad():
            mels = batch()
            embeddings = model(mels.reshape(12, *mels.shape[2:]))
        scores = (embeddings @ embeddings.T).numpy()
        labels = np.repeat(np.arange(4), 3)
        upper = np.triu_indices(12, 1)
        return equal_error_rate(scores[upper], (labels[:, None] == labels[None])[upper])[0]

    before = eer()
    for _ in range(60):
        mels = batch()
        embeddings = model(mels.reshape(12, *mels.shape[2:])).reshape(4, 3, -1)
        loss = ge2e_loss(ge2e_similarity(embeddings, model.ge2e_weight, model.ge2e_bias))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert eer() < max(before, 0.05) and eer() <= 0.1


def test_checkpoint_round_trip_and_the_missing_artifact(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = SpeakerEncoder(CI)
    path = checkpoint.save(tmp_path / "speaker_encoder.pt", model, step=3, config=CI)
    loaded = speaker.load_pretrained(path)
    assert not loaded.training and loaded.config == CI
    wave = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    np.testing.assert_allclose(loaded.embed(wave), model.eval().embed(wave))
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path / "nowhere"))
    assert speaker.artifact_path("ci").name == "speaker_encoder_ci.pt"
    with pytest.raises(FileNotFoundError, match="12_valle"):
        speaker.load_pretrained()


def test_bad_sizes_and_too_few_utterances_are_named():
    with pytest.raises(ValueError, match="every size"):
        SpeakerEncoderConfig(layers=0)
    with pytest.raises(ValueError, match="2 speakers x 2 utterances"):
        ge2e_similarity(torch.randn(1, 3, 4), torch.tensor(1.0), torch.tensor(0.0))
    with pytest.raises(ValueError, match="both same-speaker and different-speaker"):
        equal_error_rate(np.array([0.1, 0.2]), np.array([True, True]))


def test_the_gpu_preset_runs_one_ge2e_step_on_a_cpu():
    torch.manual_seed(0)
    model = SpeakerEncoder(SpeakerEncoderConfig.preset("gpu"))
    mels = torch.randn(2 * 2, 12, 80)
    embeddings = model(mels).reshape(2, 2, -1)
    loss = ge2e_loss(ge2e_similarity(embeddings, model.ge2e_weight, model.ge2e_bias))
    loss.backward()
    assert torch.isfinite(loss) and model.lstm.weight_ih_l0.grad.abs().sum() > 0
