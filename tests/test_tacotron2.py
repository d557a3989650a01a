"""Tests for minispeech.models.tacotron2: the frame grouping and stop targets, shapes and masks,
outputs that do not depend on padding or batch-mates, the prenet dropout left on, per-item
stopping and the guard in synthesis, learning two utterances, checkpoints, presets and the errors
for bad input. (test_models.py's registry is for recognizers: transcribe and ASR batches.)"""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from torch import nn

from minispeech import checkpoint
from minispeech.dsp import MelConfig
from minispeech.models import tacotron2
from minispeech.models.tacotron2 import (
    SynthesisOutput,
    Tacotron2,
    Tacotron2Config,
    Tacotron2Output,
    group_frames,
    masked_mel_loss,
    stop_targets,
    ungroup_frames,
)
from minispeech.nn.attention import padding_mask

FIRST_TOKEN_ID = 3  # after <pad>, <bos>, <eos>


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """float32 through a few layers: 1e-5 is far below what leaked padding or a later step would change."""
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def tiny_config(**changes) -> Tacotron2Config:
    return dataclasses.replace(Tacotron2Config.preset("ci"), **changes)


def quiet_config(**changes) -> Tacotron2Config:
    """The ci preset without the prenet dropout, the one dropout eval mode keeps: eval outputs are
    then a function of the input alone (the other dropouts stay, to show that eval switches them off)."""
    return tiny_config(prenet_dropout=0.0, **changes)


def make_batch(token_lengths, mel_lengths, n_mels=80, vocabulary_size=124, seed=0) -> dict:
    """A batch as data.tts_collate makes it: tokens (B, T_txt) ids >= 3, mel (B, T_mel, n_mels)
    log-mel-like values around -5, zeros past each length."""
    generator = torch.Generator().manual_seed(seed)
    token_lengths, mel_lengths = torch.tensor(token_lengths), torch.tensor(mel_lengths)
    tokens = torch.randint(FIRST_TOKEN_ID, vocabulary_size, (len(token_lengths), int(token_lengths.max())),
                           generator=generator)  # fmt: skip
    tokens = tokens * padding_mask(token_lengths, tokens.shape[1])  # (B, T_txt)
    mel = torch.randn(len(mel_lengths), int(mel_lengths.max()), n_mels, generator=generator) - 5.0
    mel = mel * padding_mask(mel_lengths, mel.shape[1])[:, :, None]  # (B, T_mel, n_mels)
    return {"tokens": tokens, "token_lengths": token_lengths, "mel": mel, "mel_lengths": mel_lengths}


def item(batch: dict, b: int) -> dict:
    """Utterance b of a batch, alone and cut to its lengths."""
    t, n = int(batch["token_lengths"][b]), int(batch["mel_lengths"][b])
    return {"tokens": batch["tokens"][b : b + 1, :t], "token_lengths": batch["token_lengths"][b : b + 1],
            "mel": batch["mel"][b : b + 1, :n], "mel_lengths": batch["mel_lengths"][b : b + 1]}  # fmt: skip


class StopAfter(nn.Module):
    """A stand-in stop head: says "stop" (a huge logit) to row b from its stop_steps[b]-th call on."""

    def __init__(self, stop_steps: list[int]) -> None:
        super().__init__()
        self.stop_steps = torch.tensor(stop_steps)
        self.calls = 0

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = torch.where(self.calls >= self.stop_steps, 1e4, -1e4)[:, None]  # (B, 1)
        self.calls += 1
        return logits.to(features)


@pytest.mark.parametrize("n_frames", [6, 7, 8, 1])
@pytest.mark.parametrize("r", [1, 3])
def test_group_frames_round_trip_and_layout(n_frames, r):
    mel = torch.randn(2, n_frames, 5)
    grouped = group_frames(mel, r)
    n_steps = -(-n_frames // r)
    assert grouped.shape == (2, n_steps, r * 5)
    for s in range(n_steps):
        for i in range(r):
            expected = mel[:, s * r + i] if s * r + i < n_frames else torch.zeros(2, 5)  # zero padding
            assert torch.equal(grouped[:, s, i * 5 : (i + 1) * 5], expected)
    ungrouped = ungroup_frames(grouped, r)
    assert ungrouped.shape == (2, n_steps * r, 5)
    assert torch.equal(ungrouped[:, :n_frames], mel)


def test_stop_targets_are_one_from_the_step_holding_the_last_real_frame():
    targets = stop_targets(torch.tensor([6, 7, 1, 9]), n_steps=4, r=3)
    assert targets.tolist() == [[0, 1, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]]
    assert stop_targets(torch.tensor([3]), n_steps=4, r=1).tolist() == [[0, 0, 1, 1]]


@pytest.mark.parametrize("kind", ["mse", "l1"])
def test_masked_mel_loss_counts_real_frames_only(kind):
    target, prediction = torch.zeros(2, 4, 3), torch.ones(2, 4, 3)
    prediction[1, 2:] = 100.0  # past utterance 1's end: ignored
    assert masked_mel_loss(prediction, target, torch.tensor([4, 2]), kind) == 1.0


@pytest.mark.parametrize(
    "token_lengths, mel_lengths",
    [([5], [9]), ([4, 9, 1], [20, 7, 13]), ([7, 7], [12, 12]), ([3, 6, 2, 8], [1, 10, 5, 16])],
)
def test_forward_shapes_masks_and_loss_parts(token_lengths, mel_lengths):
    torch.manual_seed(0)
    config = tiny_config(reduction_factor=3)
    model = Tacotron2(config).eval()
    batch = make_batch(token_lengths, mel_lengths)
    output = model(batch)
    assert isinstance(output, Tacotron2Output)
    batch_size, n_frames, n_steps = len(mel_lengths), max(mel_lengths), -(-max(mel_lengths) // 3)
    assert output.mel.shape == output.mel_postnet.shape == (batch_size, n_frames, 80)
    assert output.stop_logits.shape == (batch_size, n_steps)
    assert output.alignments.shape == (batch_size, n_steps, max(token_lengths))
    for b, (t, n) in enumerate(zip(token_lengths, mel_lengths, strict=True)):
        assert (output.mel[b, n:] == 0).all() and (output.mel_postnet[b, n:] == 0).all()
        assert (output.alignments[b, :, t:] == 0).all()  # never on padding tokens
        torch.testing.assert_close(output.alignments[b].sum(-1), torch.ones(n_steps))
    parts = output.mel_loss + output.postnet_loss + output.stop_loss
    torch.testing.assert_close(output.loss, parts + config.guided_attention_weight * output.guided_loss)
    assert all(torch.isfinite(value) and value > 0 for value in output[1:5])
    torch.manual_seed(1)
    unguided = Tacotron2(tiny_config(reduction_factor=3, guided_attention_weight=0.0)).eval()(batch)
    torch.testing.assert_close(unguided.loss, unguided.mel_loss + unguided.postnet_loss + unguided.stop_loss)


def test_teacher_forced_output_of_an_item_does_not_depend_on_padding_or_batch_mates():
    torch.manual_seed(0)
    # the prenet dropout is on even in eval: switch it off so that the comparison is exact
    model = Tacotron2(quiet_config(reduction_factor=2)).eval()
    batch = make_batch([6, 11, 2], [17, 9, 30], seed=3)
    noisy = dict(batch, tokens=batch["tokens"].clone(), mel=batch["mel"].clone())
    noisy["tokens"][2, 2:] = 50  # whatever the padding holds
    noisy["mel"][1, 9:] = 1e3
    with torch.no_grad():
        together = model(noisy)
        for b in range(3):
            alone = model(item(batch, b))
            t, n = int(batch["token_lengths"][b]), int(batch["mel_lengths"][b])
            steps = -(-n // 2)
            assert_close(together.mel[b, :n], alone.mel[0])
            assert_close(together.mel_postnet[b, :n], alone.mel_postnet[0])
            assert_close(together.stop_logits[b, :steps], alone.stop_logits[0])
            assert_close(together.alignments[b, :steps, :t], alone.alignments[0])


def test_prenet_dropout_stays_on_in_eval_mode():
    model = Tacotron2(tiny_config()).eval()
    batch = make_batch([5, 3], [12, 8])
    with torch.no_grad():
        runs = []
        for seed in (0, 0, 1):
            torch.manual_seed(seed)
            runs.append(model(batch).mel)
    assert torch.equal(runs[0], runs[1])  # seeded: repeatable
    assert not torch.equal(runs[0], runs[2])  # the prenet's noise, in eval mode
    quiet = Tacotron2(quiet_config()).eval()
    with torch.no_grad():
        assert torch.equal(quiet(batch).mel, quiet(batch).mel)


def test_synthesize_stops_each_item_on_its_own_and_later_steps_change_nothing():
    torch.manual_seed(0)
    model = Tacotron2(quiet_config(reduction_factor=3)).train()
    batch = make_batch([6, 11, 2], [1, 1, 1], seed=4)
    tokens, token_lengths = batch["tokens"], batch["token_lengths"]
    model.decoder.stop_projection = StopAfter([2, 5, 0])
    result = model.synthesize(tokens, token_lengths, max_steps=10)
    assert isinstance(result, SynthesisOutput) and model.training  # the mode is restored
    assert result.mel_lengths.tolist() == [9, 18, 3] and not result.hit_guard.any()
    assert result.mel.shape == (3, 18, 80) and result.alignments.shape == (3, 6, 11)
    for b, (n, t) in enumerate(zip([9, 18, 3], token_lengths.tolist(), strict=True)):
        assert (result.mel[b, n:] == 0).all() and (result.alignments[b, n // 3 :] == 0).all()
        torch.testing.assert_close(result.alignments[b, : n // 3, :t].sum(-1), torch.ones(n // 3))
    model.decoder.stop_projection = StopAfter([2, 2, 0])  # utterance 1 now stops early too
    early = model.synthesize(tokens, token_lengths, max_steps=10)
    assert early.mel.shape == (3, 9, 80)
    assert_close(result.mel[0, :9], early.mel[0])
    assert_close(result.alignments[0, :3], early.alignments[0])
    model.decoder.stop_projection = StopAfter([2])
    alone = model.synthesize(tokens[:1, :6], token_lengths[:1], max_steps=10)
    assert_close(result.mel[0, :9], alone.mel[0])


def test_synthesis_feeds_back_the_last_of_its_r_frames_as_teacher_forcing_does():
    torch.manual_seed(0)
    model = Tacotron2(quiet_config(reduction_factor=3)).eval()
    batch = make_batch([7], [1], seed=7)
    tokens, token_lengths = batch["tokens"], batch["token_lengths"]
    model.decoder.stop_projection = StopAfter([3])
    result = model.synthesize(tokens, token_lengths)
    assert result.mel_lengths.tolist() == [12]
    with torch.no_grad():  # the loop by hand: step s reads frame 3 s - 1, the last of step s - 1
        memory, projected_keys, memory_mask = model.encode(tokens, token_lengths)
        state, frame, frames = model.decoder.initial_state(memory), torch.zeros(1, 80), []
        for _ in range(4):
            step_frames, _, state = tacotron2.decoder_step(
                model.decoder, frame, state, memory, projected_keys, memory_mask
            )
            frames.append(step_frames)
            frame = step_frames[:, -80:]  # (1, n_mels)
        decoder_mel, expected = model.frames_to_mel(torch.stack(frames, 1), torch.tensor([12]), 12)
        assert_close(result.mel, expected)
        teacher_forced = model(dict(batch, mel=decoder_mel, mel_lengths=torch.tensor([12])))
    assert_close(teacher_forced.mel_postnet, result.mel)


def test_scheduled_sampling_reads_the_true_or_the_own_previous_frame():
    """own_frame_probability 1 is free running with the losses of teacher forcing; 0 is teacher forcing."""
    torch.manual_seed(0)
    model = Tacotron2(quiet_config(reduction_factor=3)).eval()
    model.set_mel_statistics(torch.full((80,), -5.0), torch.full((80,), 2.0))
    batch = make_batch([7, 5], [12, 9], seed=8)
    model.decoder.stop_projection = StopAfter([3, 2])
    free = model.synthesize(batch["tokens"], batch["token_lengths"])
    assert free.mel_lengths.tolist() == [12, 9]
    with torch.no_grad():
        own = model(batch, own_frame_probability=1.0)
        true = model(batch, own_frame_probability=0.0)
    assert_close(own.mel_postnet, free.mel)  # every step read its own last frame, as in synthesis
    assert torch.equal(true.mel_postnet, model(batch).mel_postnet)
    assert not torch.allclose(true.mel_postnet, own.mel_postnet)
    mixed = []  # with p = 0.5, some draws read both kinds of frame (only 6 draws a batch: try a few seeds)
    for seed in range(8):
        torch.manual_seed(seed)
        with torch.no_grad():
            half = model(batch, own_frame_probability=0.5).mel_postnet
        mixed.append(not torch.allclose(half, own.mel_postnet) and not torch.allclose(half, true.mel_postnet))
    assert any(mixed)


def test_synthesize_reports_the_items_that_hit_the_guard():
    torch.manual_seed(0)
    model = Tacotron2(tiny_config(reduction_factor=2, max_decoder_steps=7))
    batch = make_batch([6, 11, 2], [1, 1, 1], seed=5)
    model.decoder.stop_projection = StopAfter([2, 50, 0])
    result = model.synthesize(batch["tokens"], batch["token_lengths"], max_steps=4)
    assert result.hit_guard.tolist() == [False, True, False]
    assert result.mel_lengths.tolist() == [6, 8, 2]
    model.decoder.stop_projection = nn.Linear(64 + 32, 1)  # the real head again, its bias forced
    with torch.no_grad():
        model.decoder.stop_projection.weight.zero_()
        model.decoder.stop_projection.bias.fill_(-20.0)  # never stops: config.max_decoder_steps
        never = model.synthesize(batch["tokens"], batch["token_lengths"])
        model.decoder.stop_projection.bias.fill_(20.0)  # stops at once: one step of r frames
        at_once = model.synthesize(batch["tokens"], batch["token_lengths"])
    assert never.hit_guard.all() and never.mel_lengths.tolist() == [14] * 3
    assert not at_once.hit_guard.any() and at_once.mel_lengths.tolist() == [2] * 3
    assert torch.isfinite(never.mel).all() and never.mel.shape == (3, 14, 80)


def test_loss_falls_when_overfitting_two_utterances():
    torch.manual_seed(0)
    # MSE and a light guided loss: the squared error of random mels falls fast (the presets use L1 and 10)
    model = Tacotron2(tiny_config(mel_loss="mse", guided_attention_weight=1.0)).train()
    batch = make_batch([5, 8], [18, 24], seed=6)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        output = model(batch)
        assert torch.isfinite(output.loss)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append((output.loss.item(), output.mel_loss.item(), output.postnet_loss.item()))
    (first, first_mel, first_postnet), (last, last_mel, last_postnet) = losses[0], losses[-1]
    # the stop loss needs more than 30 steps to leave its constant optimum: not asserted here
    assert last < 0.3 * first, losses[::5]
    assert last_mel < 0.3 * first_mel and last_postnet < 0.3 * first_postnet, losses[::5]


def test_mels_are_normalized_inside_and_log_mels_outside():
    """The losses see (mel - mean) / std per band; forward's and synthesize's mels are log-mels again."""
    torch.manual_seed(0)
    model = Tacotron2(quiet_config()).eval()
    batch = make_batch([5, 3], [10, 7], seed=2)
    mean, std = torch.linspace(-8.0, -2.0, 80), torch.linspace(0.5, 3.0, 80)
    with torch.no_grad():
        plain = model(batch)
        model.set_mel_statistics(mean, std)
        scaled = model(batch)
        # the target mel seen on the model's scale is the same as the plain model's scale of the normalized mel
        normalized = dict(batch, mel=(batch["mel"] - mean) / std * padding_mask(batch["mel_lengths"], 10)[:, :, None])
        model.set_mel_statistics(torch.zeros(80), torch.ones(80))
        on_plain_scale = model(normalized)
    assert_close(scaled.mel_loss, on_plain_scale.mel_loss)
    assert_close(scaled.postnet_loss, on_plain_scale.postnet_loss)
    keep = padding_mask(batch["mel_lengths"], 10)[:, :, None]
    assert_close(scaled.mel_postnet, (on_plain_scale.mel_postnet * std + mean) * keep)
    assert not torch.allclose(plain.mel_loss, scaled.mel_loss)
    model.set_mel_statistics(mean, std)
    synthesized = model.synthesize(batch["tokens"], batch["token_lengths"], max_steps=4)
    assert abs(float(synthesized.mel[0].mean()) - float(mean.mean())) < 2.0  # around the corpus's level, not 0
    assert set(dict(model.state_dict())) >= {"mel_mean", "mel_std"}  # saved with the weights
    with pytest.raises(ValueError, match="set_mel_statistics"):
        model.set_mel_statistics(torch.zeros(79), torch.ones(79))
    with pytest.raises(ValueError, match="std > 0"):
        model.set_mel_statistics(torch.zeros(80), torch.zeros(80))


def test_checkpoint_round_trip_and_another_preset_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    path = tacotron2.artifact_path("ci")
    assert path == tmp_path / "artifacts" / "tacotron2_ci.pt"
    with pytest.raises(FileNotFoundError, match="07_tacotron2"):
        tacotron2.load_pretrained()
    torch.manual_seed(0)
    model = Tacotron2(Tacotron2Config.preset("ci"))
    model.set_mel_statistics(torch.linspace(-8.0, -2.0, 80), torch.linspace(0.5, 3.0, 80))  # saved too
    checkpoint.save(path, model, config=model.config)
    model.eval()
    batch = make_batch([5, 3], [10, 7])
    for loaded in (tacotron2.load_pretrained(path), tacotron2.load_pretrained()):
        assert loaded.config == model.config and not loaded.training
        outputs = []
        for candidate in (loaded, model):
            torch.manual_seed(1)  # the same prenet dropout masks for both
            with torch.no_grad():
                speech = candidate.synthesize(batch["tokens"], batch["token_lengths"], max_steps=5)
                outputs.append((candidate(batch), speech))
        (ours, our_speech), (theirs, their_speech) = outputs
        assert torch.equal(ours.loss, theirs.loss) and torch.equal(ours.mel_postnet, theirs.mel_postnet)
        assert torch.equal(our_speech.mel, their_speech.mel)
    other = Tacotron2Config.preset("cpu")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        checkpoint.load(path, Tacotron2(other), config=other)


def test_presets_have_the_sizes_they_promise():
    def n_parameters(profile: str) -> int:
        model = Tacotron2(Tacotron2Config.preset(profile))
        return sum(parameter.numel() for parameter in model.parameters())

    assert n_parameters("ci") < 500_000
    assert 4_000_000 < n_parameters("cpu") < 7_000_000  # a laptop trains it in ~15 minutes
    assert Tacotron2Config.preset("cpu").reduction_factor == 3
    gpu = Tacotron2Config.preset("gpu")  # the paper's sizes, r = 2
    assert (gpu.embedding_size, gpu.decoder_size, gpu.attention_size) == (512, 1024, 128)
    assert gpu.reduction_factor == 2
    with pytest.raises(ValueError, match="no preset"):
        Tacotron2Config.preset("tpu")


def test_gpu_preset_builds_and_takes_one_training_step_on_cpu():
    torch.manual_seed(0)
    model = Tacotron2(Tacotron2Config.preset("gpu")).train()
    assert sum(parameter.numel() for parameter in model.parameters()) > 20_000_000
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss = model(make_batch([4, 6], [8, 5])).loss
    optimizer.zero_grad()
    loss.backward()
    assert torch.isfinite(loss)
    gradients = [parameter.grad for parameter in model.parameters() if parameter.grad is not None]
    assert gradients and all(torch.isfinite(gradient).all() for gradient in gradients)
    optimizer.step()


@pytest.mark.parametrize(
    "changes, message",
    [({"encoder_kernel_size": 4}, "odd"), ({"reduction_factor": 0}, "reduction_factor"),
     ({"encoder_size": 33}, "even"), ({"prenet_dropout": 1.0}, r"\[0, 1\)"), ({"mel_loss": "l2"}, "mel_loss"),
     ({"guided_attention_weight": -1.0}, "guided_attention_weight")],
)  # fmt: skip
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**changes)


def test_bad_input_raises_naming_what_is_wrong_and_the_fix():
    model = Tacotron2(tiny_config()).train()
    batch = make_batch([5, 3], [10, 7])
    empty = dict(batch, token_lengths=torch.tensor([5, 0]))
    with pytest.raises(ValueError, match=r"utterance 1 has no tokens \(length 0\); drop empty texts"):
        model(empty)
    with pytest.raises(ValueError, match="no tokens"):
        model.synthesize(empty["tokens"], empty["token_lengths"])
    assert model.training  # refused before leaving training mode
    outside = dict(batch, tokens=batch["tokens"].clone())
    outside["tokens"][0, 2] = 124
    with pytest.raises(ValueError, match=r"token id 124 is outside the vocabulary \[0, 124\); encode texts"):
        model(outside)
    with pytest.raises(ValueError, match=r"n_mels = 80\) log-mels, time first, got \(2, 10, 40\); transpose"):
        model(make_batch([5, 3], [10, 7], n_mels=40))
    with pytest.raises(ValueError, match=r"got \(2, 80, 10\)"):
        model(dict(batch, mel=batch["mel"].transpose(1, 2)))
    forty = Tacotron2(tiny_config(mel=MelConfig(n_mels=40)))
    assert forty(make_batch([5, 3], [10, 7], n_mels=40)).mel.shape == (2, 10, 40)
