"""Tests for minispeech.models.fastspeech2: the length regulator against a Python loop, durations
from alignments, buckets, shapes and masks, outputs that do not depend on padding or batch-mates,
the speed, pitch and energy controls, the synthesis guard, learning a tiny batch, checkpoints,
presets and the errors for bad input. Batches are synthetic, as data.tts_collate makes them."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech import checkpoint
from minispeech.dp.mas import maximum_path
from minispeech.dsp import MelConfig
from minispeech.models import fastspeech2
from minispeech.models.fastspeech2 import (
    SEMITONE,
    FastSpeech2,
    FastSpeech2Config,
    FastSpeech2Output,
    SynthesisOutput,
    bucketize,
    durations_from_alignment,
    length_regulate,
    pitch_targets,
    scale_durations,
)
from minispeech.nn.attention import padding_mask

FIRST_TOKEN_ID = 3  # after <pad>, <bos>, <eos>
VOCABULARY_SIZE = FastSpeech2Config().vocabulary_size


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """float32 through a few layers: 1e-5 is far below what leaked padding would change."""
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def tiny_config(**changes) -> FastSpeech2Config:
    return dataclasses.replace(FastSpeech2Config.preset("ci"), **changes)


def make_batch(durations: list[list[int]], n_mels: int = 80, seed: int = 0) -> dict:
    """A tts_collate-style batch: item b has len(durations[b]) tokens (ids >= 3) with those frame
    counts; its mel is a fixed spectrum per token id (around -5, learnable) plus a little noise;
    phoneme_f0 80-120 Hz with every third token unvoiced (0); zeros past each length."""
    generator = torch.Generator().manual_seed(seed)
    token_lengths = torch.tensor([len(item) for item in durations])
    n_tokens = int(token_lengths.max())
    keep = padding_mask(token_lengths, n_tokens)  # (B, T_txt)
    padded = torch.tensor([item + [0] * (n_tokens - len(item)) for item in durations])  # (B, T_txt)
    tokens = torch.randint(FIRST_TOKEN_ID, VOCABULARY_SIZE, padded.shape, generator=generator) * keep
    spectra = torch.randn(VOCABULARY_SIZE, n_mels, generator=generator) - 5.0  # (V, n_mels)
    mel_lengths = padded.sum(1)
    mel = torch.zeros(len(durations), int(mel_lengths.max()), n_mels)
    for b in range(len(durations)):
        frames = spectra[tokens[b].repeat_interleave(padded[b])]  # (T_mel_b, n_mels)
        mel[b, : len(frames)] = frames + 0.1 * torch.randn(frames.shape, generator=generator)
    voiced = torch.arange(n_tokens) % 3 != 2  # (T_txt,)
    phoneme_f0 = (80 + 40 * torch.rand(padded.shape, generator=generator)) * voiced * keep
    phoneme_energy = 0.15 * torch.rand(padded.shape, generator=generator) * keep
    return {"tokens": tokens, "token_lengths": token_lengths, "durations": padded, "phoneme_f0": phoneme_f0,
            "phoneme_energy": phoneme_energy, "mel": mel, "mel_lengths": mel_lengths}  # fmt: skip


def item(batch: dict, b: int) -> dict:
    """Utterance b of a batch, alone and cut to its lengths."""
    t, n = int(batch["token_lengths"][b]), int(batch["mel_lengths"][b])
    alone = {key: batch[key][b : b + 1, :t] for key in ("tokens", "durations", "phoneme_f0", "phoneme_energy")}
    return alone | {"token_lengths": batch["token_lengths"][b : b + 1], "mel": batch["mel"][b : b + 1, :n],
                    "mel_lengths": batch["mel_lengths"][b : b + 1]}  # fmt: skip


def set_durations(model: FastSpeech2, frames: float, keep_weights: bool = False) -> None:
    """Make the duration predictor say about `frames` frames per token (exactly, unless keep_weights)."""
    projection = model.variance_adaptor.duration_predictor.projection
    with torch.no_grad():
        if not keep_weights:
            projection.weight.zero_()
        projection.bias.fill_(math.log1p(frames))


def regulate_with_a_loop(hidden: torch.Tensor, durations: torch.Tensor, speed: float) -> list[torch.Tensor]:
    """The reference: for each item, row k appended floor(d_k / speed + 1/2) times, in Python floats."""
    expanded = []
    for rows, counts in zip(hidden, durations.tolist(), strict=True):
        repeats = [math.floor(count / speed + 0.5) for count in counts]
        frames = [row for row, repeat in zip(rows, repeats, strict=True) for _ in range(repeat)]
        expanded.append(torch.stack(frames) if frames else hidden.new_zeros(0, hidden.shape[2]))
    return expanded


# ---------------------------------------------------------------------------------------------
# Length regulator, durations, buckets
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    durations=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=7), min_size=1, max_size=4),
    speed=st.sampled_from([1.0, 2.0, 0.5, 1.3, 0.75, 3.0]),
    extra=st.integers(0, 3),
)
def test_length_regulate_equals_a_python_loop(durations, speed, extra):
    n_tokens = max(len(row) for row in durations)
    durations = torch.tensor([row + [0] * (n_tokens - len(row)) for row in durations])  # padding: 0 frames
    hidden = torch.randn(len(durations), n_tokens, 3)
    expected = regulate_with_a_loop(hidden, durations, speed)
    longest = max(len(frames) for frames in expected)
    expanded, mel_lengths = length_regulate(hidden, durations, speed, max_length=longest + extra)
    assert expanded.shape == (len(durations), longest + extra, 3)
    assert mel_lengths.tolist() == [len(frames) for frames in expected]
    for b, frames in enumerate(expected):
        assert torch.equal(expanded[b, : len(frames)], frames)
        assert (expanded[b, len(frames) :] == 0).all()
    assert length_regulate(hidden, durations, speed)[0].shape[1] == longest  # default T_mel: the longest


def test_scale_durations_rounds_half_up_and_speed_shortens():
    durations = torch.tensor([[5, 3, 1, 0, 4, 7]])
    assert scale_durations(durations).tolist() == [[5, 3, 1, 0, 4, 7]]
    assert scale_durations(durations, 2.0).tolist() == [[3, 2, 1, 0, 2, 4]]  # 2.5 -> 3, 1.5 -> 2, 0.5 -> 1
    assert scale_durations(durations, 0.5).tolist() == [[10, 6, 2, 0, 8, 14]]
    assert scale_durations(torch.tensor([[2.49, 2.5, 0.4]])).tolist() == [[2, 3, 0]]
    hidden = torch.randn(1, 6, 2)
    lengths = [int(length_regulate(hidden, durations, speed)[1]) for speed in (0.5, 1.0, 1.5, 2.0)]
    assert lengths == sorted(lengths, reverse=True) and lengths[0] > lengths[1] > lengths[3]


@settings(max_examples=60, deadline=None)
@given(durations=st.lists(st.integers(0, 5), min_size=1, max_size=10))
def test_durations_from_frame_labels_sum_to_the_frames(durations):
    labels = torch.arange(len(durations)).repeat_interleave(torch.tensor(durations))  # (T_mel,)
    recovered = durations_from_alignment(labels, n_tokens=len(durations))
    assert recovered.tolist() == durations and int(recovered.sum()) == len(labels)
    assert durations_from_alignment(labels.numpy()).sum() == len(labels)  # NumPy in; n_tokens = last + 1


@settings(max_examples=40, deadline=None)
@given(durations=st.lists(st.integers(1, 5), min_size=1, max_size=8), extra_frames=st.integers(0, 3))
def test_durations_from_a_hard_path_sum_to_the_frames(durations, extra_frames):
    labels = np.repeat(np.arange(len(durations)), durations)
    path = np.zeros((len(durations), len(labels) + extra_frames), dtype=np.int32)  # padded frames: all 0
    path[labels, np.arange(len(labels))] = 1
    assert durations_from_alignment(path).tolist() == durations
    assert durations_from_alignment(torch.from_numpy(path)[None]).tolist() == [durations]  # (B, T_txt, T_mel)


def test_durations_from_maximum_path_cover_every_real_frame():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 6, 20))
    text_lengths, mel_lengths = np.array([6, 4, 1]), np.array([20, 9, 5])
    mask = (np.arange(6)[None, :, None] < text_lengths[:, None, None]) & (
        np.arange(20)[None, None, :] < mel_lengths[:, None, None])  # (B, T_txt, T_mel)  # fmt: skip
    durations = durations_from_alignment(maximum_path(values, mask))  # (B, T_txt)
    assert durations.sum(1).tolist() == mel_lengths.tolist()
    for b, n_tokens in enumerate(text_lengths):
        assert (durations[b, :n_tokens] >= 1).all() and (durations[b, n_tokens:] == 0).all()


def test_bucketize_counts_the_boundaries_below():
    boundaries = torch.linspace(-1.0, 1.0, 5)  # 6 buckets
    values = torch.tensor([-5.0, -1.0, -0.99, 0.0, 0.2, 1.0, 1.01, 9.0])
    indices = bucketize(values, boundaries)
    assert indices.tolist() == (values[:, None] > boundaries).sum(1).tolist()
    assert indices.tolist() == [0, 0, 1, 2, 3, 4, 5, 5]


def test_pitch_targets_normalize_log_f0_and_put_unvoiced_tokens_at_the_mean():
    config = tiny_config()
    mean, std = config.log_f0_mean, config.log_f0_std
    phoneme_f0 = torch.tensor([[math.exp(mean), 0.0, math.exp(mean + std)]])
    assert_close(pitch_targets(phoneme_f0, config), torch.tensor([[0.0, 0.0, 1.0]]))


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_postnet", [False, True])
def test_forward_shapes_masks_and_loss_parts(use_postnet):
    torch.manual_seed(0)
    config = tiny_config(use_postnet=use_postnet)
    model = FastSpeech2(config).eval()
    batch = make_batch([[3, 0, 2, 4], [1, 5], [2, 2, 2, 2, 2, 1]])
    output = model(batch)
    assert isinstance(output, FastSpeech2Output)
    assert output.mel.shape == output.mel_postnet.shape == (3, 11, 80)
    for b, (t, n) in enumerate(zip([4, 2, 6], [9, 6, 11], strict=True)):
        assert (output.mel[b, n:] == 0).all() and (output.mel_postnet[b, n:] == 0).all()
        for prediction in output.predictions:
            assert prediction.shape == (3, 6) and (prediction[b, t:] == 0).all()
    parts = output.mel_loss + output.postnet_loss + output.pitch_loss + output.energy_loss
    torch.testing.assert_close(output.loss, parts + config.duration_loss_weight * output.duration_loss)
    assert all(torch.isfinite(value) and value > 0 for value in (output[1], *output[3:6]))
    if use_postnet:
        assert output.postnet_loss > 0 and not torch.equal(output.mel, output.mel_postnet)
    else:
        assert output.postnet_loss == 0 and torch.equal(output.mel, output.mel_postnet)


def test_an_item_does_not_depend_on_padding_or_batch_mates():
    torch.manual_seed(0)
    model = FastSpeech2(tiny_config(use_postnet=True)).eval()
    set_durations(model, 3.0, keep_weights=True)
    batch = make_batch([[3, 0, 2, 4], [1, 5], [2, 2, 2, 2, 2, 1]], seed=1)
    noisy = {key: value.clone() for key, value in batch.items()}
    noisy["tokens"][1, 2:] = 50  # whatever the padding holds
    noisy["durations"][1, 2:] = 7
    noisy["phoneme_f0"][1, 2:] = 300.0
    noisy["mel"][0, 9:] = 1e3
    with torch.no_grad():
        together = model(noisy)
        spoken = model.synthesize(noisy["tokens"], noisy["token_lengths"])
        for b in range(3):
            alone = model(item(batch, b))
            t, n = int(batch["token_lengths"][b]), int(batch["mel_lengths"][b])
            assert_close(together.mel_postnet[b, :n], alone.mel_postnet[0])
            for ours, theirs in zip(together.predictions, alone.predictions, strict=True):
                assert_close(ours[b, :t], theirs[0])
            by_itself = model.synthesize(batch["tokens"][b : b + 1, :t], batch["token_lengths"][b : b + 1])
            m = int(by_itself.mel_lengths[0])
            assert int(spoken.mel_lengths[b]) == m and torch.equal(spoken.durations[b, :t], by_itself.durations[0])
            assert_close(spoken.mel[b, :m], by_itself.mel[0])
            assert (spoken.mel[b, m:] == 0).all() and (spoken.durations[b, t:] == 0).all()


def test_synthesize_shapes_and_that_speed_shortens_in_the_stated_direction():
    torch.manual_seed(0)
    model = FastSpeech2(tiny_config()).train()
    batch = make_batch([[1] * 5, [1] * 3])
    tokens, token_lengths = batch["tokens"], batch["token_lengths"]
    set_durations(model, 4.0)  # exactly 4 frames a token
    result = model.synthesize(tokens, token_lengths)
    assert isinstance(result, SynthesisOutput) and model.training  # the mode is restored
    assert result.durations.tolist() == [[4] * 5, [4] * 3 + [0] * 2] and result.mel_lengths.tolist() == [20, 12]
    assert result.mel.shape == (2, 20, 80) and (result.mel[1, 12:] == 0).all() and not result.hit_guard.any()
    assert model.synthesize(tokens, token_lengths, speed=2.0).durations.tolist() == [[2] * 5, [2] * 3 + [0] * 2]
    assert model.synthesize(tokens, token_lengths, speed=0.5).mel_lengths.tolist() == [40, 24]
    set_durations(model, 3.0, keep_weights=True)  # uneven durations: the order still holds
    lengths = [model.synthesize(tokens, token_lengths, speed=speed).mel_lengths for speed in (0.5, 1.0, 2.0)]
    assert (lengths[0] > lengths[1]).all() and (lengths[1] > lengths[2]).all()


def test_pitch_shift_raises_the_predicted_log_f0_and_changes_the_mel_energy_scale_scales():
    torch.manual_seed(0)
    model = FastSpeech2(tiny_config())
    set_durations(model, 2.0)
    batch = make_batch([[1] * 6, [1] * 4])
    tokens, token_lengths = batch["tokens"], batch["token_lengths"]
    plain = model.synthesize(tokens, token_lengths)
    octave = model.synthesize(tokens, token_lengths, pitch_shift_semitones=12.0)
    keep = padding_mask(token_lengths, 6)
    assert_close(octave.log_f0 - plain.log_f0, 12 * SEMITONE * keep.float())  # ln 2 higher: twice the Hz
    assert_close(model.synthesize(tokens, token_lengths, pitch_shift_semitones=-3.0).log_f0,
                 (plain.log_f0 - 3 * SEMITONE) * keep)  # fmt: skip
    assert torch.equal(octave.durations, plain.durations)  # durations are predicted before the pitch
    assert (octave.mel - plain.mel).abs().max() > 1e-3  # the pitch embedding reached the decoder
    louder = model.synthesize(tokens, token_lengths, energy_scale=2.0)
    assert_close(louder.energy, 2 * plain.energy)
    assert (louder.mel - plain.mel).abs().max() > 1e-3


def test_synthesis_guard_cuts_at_max_frames_and_never_returns_an_empty_mel():
    torch.manual_seed(0)
    model = FastSpeech2(tiny_config(max_frames=30)).eval()
    batch = make_batch([[1] * 8, [1] * 2])
    set_durations(model, 6.0)
    result = model.synthesize(batch["tokens"], batch["token_lengths"])
    assert result.hit_guard.tolist() == [True, False] and result.mel_lengths.tolist() == [30, 12]
    assert result.durations[0].tolist() == [6, 6, 6, 6, 6, 0, 0, 0]  # the last tokens lose their frames
    assert model.synthesize(batch["tokens"], batch["token_lengths"], max_frames=10).mel_lengths.tolist() == [10, 10]
    set_durations(model, 0.0)  # every token rounds to 0 frames
    silent = model.synthesize(batch["tokens"], batch["token_lengths"])
    assert silent.mel_lengths.tolist() == [1, 1] and silent.durations[:, 0].tolist() == [1, 1]
    assert torch.isfinite(silent.mel).all()


def test_loss_falls_when_overfitting_a_tiny_batch():
    torch.manual_seed(0)
    model = FastSpeech2(FastSpeech2Config.preset("ci")).train()
    batch = make_batch([[3, 1, 4, 2, 2], [2, 5, 1]], seed=6)
    real_frames = batch["mel"][padding_mask(batch["mel_lengths"], batch["mel"].shape[1])]  # (ΣT_mel, n_mels)
    model.set_mel_statistics(real_frames.mean(0), real_frames.std(0))  # as data.mel_statistics would
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        output = model(batch)
        assert torch.isfinite(output.loss)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append([round(value.item(), 3) for value in output[:6]])
    first, last = losses[0], losses[-1]
    assert last[0] < 0.3 * first[0] and last[1] < 0.5 * first[1], losses[::5]  # loss and mel loss
    assert all(last[part] < 0.5 * first[part] for part in (3, 4, 5)), losses[::5]  # duration, pitch, energy


def test_mel_statistics_set_the_internal_scale_and_mels_come_back_as_log_mels():
    torch.manual_seed(0)
    model = FastSpeech2(tiny_config()).eval()
    batch = make_batch([[2, 3]])
    before = model(batch)
    model.set_mel_statistics(torch.full((80,), -5.0), torch.full((80,), 2.0))
    after = model(batch)
    assert_close(after.mel, before.mel * 2.0 - 5.0)  # the same normalized output, read back as log-mel
    with pytest.raises(ValueError, match=r"need mean and std of shape \(80,\) with std > 0"):
        model.set_mel_statistics(torch.zeros(80), torch.zeros(80))


def test_checkpoint_round_trip_and_another_preset_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    path = fastspeech2.artifact_path("ci")
    assert path == tmp_path / "artifacts" / "fastspeech2_ci.pt"
    assert fastspeech2.artifact_path("cpu").name == "fastspeech2.pt"
    with pytest.raises(FileNotFoundError, match="08_fastspeech2"):
        fastspeech2.load_pretrained()
    torch.manual_seed(0)
    model = FastSpeech2(tiny_config(use_postnet=True))
    model.set_mel_statistics(torch.linspace(-8, -2, 80), torch.linspace(1, 3, 80))
    set_durations(model, 3.0, keep_weights=True)
    checkpoint.save(path, model, config=model.config)
    model.eval()
    batch = make_batch([[2, 1, 3], [4, 4]])
    with torch.no_grad():
        ours = model(batch), model.synthesize(batch["tokens"], batch["token_lengths"], speed=1.3)
        for loaded in (fastspeech2.load_pretrained(path), fastspeech2.load_pretrained()):
            assert loaded.config == model.config and not loaded.training
            assert torch.equal(loaded.mel_std, model.mel_std)
            theirs = loaded(batch), loaded.synthesize(batch["tokens"], batch["token_lengths"], speed=1.3)
            assert torch.equal(ours[0].loss, theirs[0].loss)
            assert torch.equal(ours[0].mel_postnet, theirs[0].mel_postnet)
            assert torch.equal(ours[1].mel, theirs[1].mel) and torch.equal(ours[1].durations, theirs[1].durations)
    other = FastSpeech2Config.preset("cpu")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        checkpoint.load(path, FastSpeech2(other), config=other)


def test_presets_have_the_sizes_they_promise_and_statistics_come_from_stats_json(tmp_path):
    def n_parameters(config: FastSpeech2Config) -> int:
        return sum(parameter.numel() for parameter in FastSpeech2(config).parameters())

    assert n_parameters(FastSpeech2Config.preset("ci")) < 150_000
    assert 2_000_000 < n_parameters(FastSpeech2Config.preset("cpu")) < 5_000_000
    gpu = FastSpeech2Config.preset("gpu")  # the paper's sizes
    assert (gpu.model_size, gpu.encoder_layers, gpu.decoder_layers, gpu.n_heads, gpu.feedforward_size) == (
        256, 4, 4, 2, 1024)  # fmt: skip
    assert (gpu.encoder_kernel_size, gpu.decoder_kernel_size, gpu.n_bins) == (9, 9, 256)
    with pytest.raises(ValueError, match="no preset"):
        FastSpeech2Config.preset("tpu")
    statistics = {"log_f0_voiced": {"mean": 5.0, "std": 0.2, "min": 4.5, "max": 5.8},
                  "phoneme_energy": {"mean": 0.1, "std": 0.05, "min": 0.0, "max": 0.3}, "mel_mean": [0.0]}  # fmt: skip
    (tmp_path / "stats.json").write_text(json.dumps(statistics))
    for source in (statistics, tmp_path, str(tmp_path)):
        config = FastSpeech2Config.preset("ci").with_statistics(source)
        assert (config.log_f0_mean, config.log_f0_max, config.energy_std, config.energy_max) == (5.0, 5.8, 0.05, 0.3)
    with pytest.raises(ValueError, match="the statistics lack 'phoneme_energy'"):
        FastSpeech2Config().with_statistics({"log_f0_voiced": statistics["log_f0_voiced"]})
    with pytest.raises(FileNotFoundError, match="python -m minispeech.data tts"):
        FastSpeech2Config().with_statistics(tmp_path / "nowhere")


def test_gpu_preset_builds_and_takes_one_training_step_on_cpu():
    torch.manual_seed(0)
    model = FastSpeech2(FastSpeech2Config.preset("gpu")).train()
    assert 20_000_000 < sum(parameter.numel() for parameter in model.parameters()) < 30_000_000
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = make_batch([[2, 1, 3], [1, 2]])
    before = model.mel_projection.weight.detach().clone()
    output = model(batch)
    optimizer.zero_grad()
    output.loss.backward()
    optimizer.step()
    assert torch.isfinite(output.loss) and not torch.equal(before, model.mel_projection.weight)
    assert model.synthesize(batch["tokens"], batch["token_lengths"], max_frames=20).mel.shape[2] == 80


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_length_regulator_and_alignments_reject_bad_durations():
    hidden = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"durations\[1, 2\] = -1.0 is negative"):
        length_regulate(hidden, torch.tensor([[1, 2, 0], [3, 1, -1]]))
    with pytest.raises(ValueError, match=r"durations\[0, 1\] = nan is NaN or infinite"):
        length_regulate(hidden, torch.tensor([[1.0, math.nan, 0.0], [3.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="speed must be a finite number > 0"):
        length_regulate(hidden, torch.ones(2, 3), speed=0.0)
    with pytest.raises(ValueError, match=r"need hidden \(B, T_txt, C\) and durations \(B, T_txt\)"):
        length_regulate(hidden, torch.ones(2, 4))
    with pytest.raises(ValueError, match="max_length 2 is shorter than the longest total 3"):
        length_regulate(hidden, torch.ones(2, 3), max_length=2)
    with pytest.raises(ValueError, match="frame 3 goes back from token 2 to 1"):
        durations_from_alignment(torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match=r"token indices in \[0, 2\)"):
        durations_from_alignment(torch.tensor([0, 1, 2]), n_tokens=2)
    with pytest.raises(ValueError, match="only 0 and 1|0/1 paths"):
        durations_from_alignment(torch.full((3, 5), 0.2))
    with pytest.raises(ValueError, match="a frame goes to more than one token"):
        durations_from_alignment(torch.ones(2, 3))


def test_bad_input_raises_errors_that_name_the_problem():
    model = FastSpeech2(tiny_config()).train()
    batch = make_batch([[2, 1, 3], [1, 2]])
    with pytest.raises(ValueError, match=r"utterance 1 has no tokens \(length 0\); drop empty texts"):
        model(dict(batch, token_lengths=torch.tensor([3, 0])))
    with pytest.raises(ValueError, match="no tokens"):
        model.synthesize(batch["tokens"], torch.tensor([3, 0]))
    assert model.training  # refused before leaving training mode
    outside = dict(batch, tokens=batch["tokens"].clone())
    outside["tokens"][0, 2] = VOCABULARY_SIZE
    with pytest.raises(ValueError, match=rf"token id {VOCABULARY_SIZE} is outside the vocabulary"):
        model(outside)
    with pytest.raises(ValueError, match="is outside the vocabulary"):
        model.synthesize(outside["tokens"], outside["token_lengths"])
    with pytest.raises(ValueError, match=r"n_mels = 80\) log-mels, time first, got \(2, 6, 40\); transpose"):
        model(make_batch([[2, 1, 3], [1, 2]], n_mels=40))
    negative = dict(batch, durations=batch["durations"].clone())
    negative["durations"][0, 1] = -1
    with pytest.raises(ValueError, match=r"durations\[0, 1\] = -1.0 is negative"):
        model(negative)
    with pytest.raises(ValueError, match="is NaN"):
        model(dict(batch, durations=batch["durations"].float().fill_(math.nan)))
    with pytest.raises(ValueError, match="utterance 1 has mel length 2 .* durations summing to 3; they must agree"):
        model(dict(batch, mel_lengths=torch.tensor([6, 2])))
    with pytest.raises(ValueError, match=r"the batch lacks \['phoneme_f0'\]"):
        model({key: value for key, value in batch.items() if key != "phoneme_f0"})
    with pytest.raises(ValueError, match="need finite speed > 0"):
        model.synthesize(batch["tokens"], batch["token_lengths"], speed=-1.0)
    with pytest.raises(ValueError, match="encoder_kernel_size, decoder_kernel_size.* must be odd"):
        FastSpeech2Config(encoder_kernel_size=4)
    with pytest.raises(ValueError, match="log_f0_min < log_f0_max"):
        FastSpeech2Config(log_f0_min=6.0, log_f0_max=5.0)
    forty = FastSpeech2(tiny_config(mel=MelConfig(n_mels=40)))
    assert forty(make_batch([[2, 1, 3], [1, 2]], n_mels=40)).mel.shape == (2, 6, 40)
