"""Tests for minispeech.models.las: shapes, masking, padding invariance, decoding consistency and
guards, a few training steps, presets, checkpoint round trip and the missing-artifact message."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from minispeech.models import las
from minispeech.models.ctc_asr import frame_mask
from minispeech.models.las import (
    EOS_ID,
    LAS,
    LASConfig,
    beam_search,
    greedy_decode,
    load_pretrained,
    targets_with_eos,
)
from minispeech.train import load_checkpoint, save_checkpoint

N_MELS = 80


def tiny_config(**changes) -> LASConfig:
    base = LASConfig(conv_channels=16, listener_size=16, listener_layers=2, embedding_size=8, decoder_size=24,
                     attention_size=16, location_filters=4, location_kernel_size=5)  # fmt: skip
    return dataclasses.replace(base, **changes)


def random_batch(lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    features = torch.randn(len(lengths), int(lengths.max()), N_MELS, generator=generator) - 5.0
    return features * frame_mask(lengths, features.shape[1])[:, :, None], lengths


def random_tokens(token_lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    token_lengths = torch.tensor(token_lengths)
    tokens = torch.randint(
        3, 30, (len(token_lengths), int(token_lengths.max())), generator=generator
    )
    tokens = tokens * frame_mask(token_lengths, tokens.shape[1])  # <pad> = 0 after the end
    return tokens, token_lengths


@pytest.mark.parametrize("attention", ["location", "content"])
def test_forward_shapes_and_attention_masks(attention):
    torch.manual_seed(0)
    model = LAS(tiny_config(attention=attention)).eval()
    features, lengths = random_batch([70, 33, 9])
    tokens, token_lengths = random_tokens([5, 7, 2])
    output = model(features, lengths, tokens, token_lengths)
    expected = [math.ceil(n / 8) for n in lengths.tolist()]  # x4 convolutions, x2 pyramid
    assert output.encoder_lengths.tolist() == expected and model.config.time_reduction == 8
    assert output.logits.shape == (3, 8, model.config.vocabulary_size)
    assert output.attention_weights.shape == (3, 8, max(expected))
    torch.testing.assert_close(output.attention_weights.sum(-1), torch.ones(3, 8))
    for b, n in enumerate(expected):
        assert (output.attention_weights[b, :, n:] == 0).all()  # never on padding
    assert output.ctc_lengths.tolist() == [math.ceil(n / 4) for n in lengths.tolist()]
    torch.testing.assert_close(
        output.ctc_log_probs.exp().sum(-1), torch.ones(output.ctc_log_probs.shape[:2])
    )


def test_targets_with_eos():
    tokens = torch.tensor([[5, 6, 7], [8, 0, 0]])
    assert targets_with_eos(tokens, torch.tensor([3, 1])).tolist() == [
        [5, 6, 7, EOS_ID],
        [8, EOS_ID, 0, 0],
    ]


def test_padding_does_not_change_an_utterance_in_eval_mode():
    torch.manual_seed(0)
    model = LAS(tiny_config()).eval()
    features, lengths = random_batch([51, 80, 17], seed=1)
    tokens, token_lengths = random_tokens([6, 3, 4], seed=1)
    noisy = features.clone()
    noisy[2, 17:] = 1e3  # whatever the padding holds
    batch = model(noisy, lengths, tokens, token_lengths)
    for b in range(3):
        n, s = int(lengths[b]), int(token_lengths[b]) + 1
        alone = model(
            features[b : b + 1, :n],
            lengths[b : b + 1],
            tokens[b : b + 1, : s - 1],
            token_lengths[b : b + 1],
        )
        # float32 through LSTMs: 1e-5 is far below what leaking padding would change
        torch.testing.assert_close(batch.logits[b, :s], alone.logits[0], atol=1e-5, rtol=1e-5)
        greedy_alone = greedy_decode(model, features[b : b + 1, :n], lengths[b : b + 1])[0]
        assert greedy_decode(model, noisy, lengths)[b].tokens == greedy_alone.tokens


def test_greedy_decoding_agrees_with_teacher_forcing_on_its_own_output():
    torch.manual_seed(0)
    model = LAS(tiny_config()).eval()
    features, lengths = random_batch([40, 64])
    for b, hypothesis in enumerate(greedy_decode(model, features, lengths)):
        tokens = torch.tensor([hypothesis.tokens])
        output = model(
            features[b : b + 1, : lengths[b]],
            lengths[b : b + 1],
            tokens,
            torch.tensor([len(tokens[0])]),
        )
        expected = hypothesis.tokens + ([EOS_ID] if hypothesis.stopped else [])
        assert output.logits[0].argmax(-1)[: len(expected)].tolist() == expected
        assert hypothesis.weights.shape == (len(expected), math.ceil(int(lengths[b]) / 8))


def test_the_length_guard_stops_a_decoder_that_never_emits_eos():
    torch.manual_seed(0)
    model = LAS(tiny_config(max_length_ratio=2.0)).eval()
    with torch.no_grad():
        model.speller.classifier.bias[EOS_ID] = -1e4  # <eos> can never win
    features, lengths = random_batch([40, 16])
    for decode in (greedy_decode, lambda *batch: beam_search(*batch, beam_size=3)):
        for hypothesis, n in zip(decode(model, features, lengths), lengths.tolist(), strict=True):
            assert not hypothesis.stopped
            assert len(hypothesis.tokens) == math.ceil(2.0 * math.ceil(n / 8)) + 1
            assert EOS_ID not in hypothesis.tokens


def train_steps(model, features, lengths, tokens, token_lengths, n_steps, lr=3e-3):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(n_steps):
        output = model(features, lengths, tokens, token_lengths)
        loss = F.cross_entropy(
            output.logits.transpose(1, 2), targets_with_eos(tokens, token_lengths), ignore_index=0
        )
        ctc = F.ctc_loss(output.ctc_log_probs.transpose(0, 1), tokens, output.ctc_lengths, token_lengths,
                         zero_infinity=True)  # fmt: skip
        optimizer.zero_grad()
        (0.7 * loss + 0.3 * ctc).backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_training_steps_reduce_the_loss_and_decoding_recovers_the_transcripts():
    torch.manual_seed(0)
    model = LAS(tiny_config(dropout=0.0, freq_masks=0, time_masks=0, warp_range=0.0))
    features, lengths = random_batch([48, 40])
    tokens, token_lengths = random_tokens([5, 4])
    losses = train_steps(model, features, lengths, tokens, token_lengths, n_steps=80, lr=1e-2)
    assert losses[-1] < 0.3 * losses[0], losses[::10]
    model.eval()
    wanted = [tokens[b, : token_lengths[b]].tolist() for b in range(2)]
    assert [hypothesis.tokens for hypothesis in greedy_decode(model, features, lengths)] == wanted
    beams = beam_search(model, features, lengths, beam_size=4)
    assert [hypothesis.tokens for hypothesis in beams] == wanted and all(h.stopped for h in beams)


def test_scheduled_sampling_changes_the_inputs_only_when_asked():
    torch.manual_seed(0)
    model = LAS(tiny_config(dropout=0.0)).eval()
    features, lengths = random_batch([40, 40])
    tokens, token_lengths = random_tokens([9, 9])
    teacher = model(features, lengths, tokens, token_lengths, sampling_probability=0.0).logits
    torch.testing.assert_close(model(features, lengths, tokens, token_lengths).logits, teacher)
    sampled = model(features, lengths, tokens, token_lengths, sampling_probability=1.0).logits
    torch.testing.assert_close(sampled[:, 0], teacher[:, 0])  # the first step always reads <bos>
    assert not torch.allclose(sampled[:, 1:], teacher[:, 1:])


def test_beam_of_one_equals_greedy():
    torch.manual_seed(1)
    model = LAS(tiny_config()).eval()
    features, lengths = random_batch([30, 56, 44], seed=2)
    greedy = greedy_decode(model, features, lengths)
    beam = beam_search(model, features, lengths, beam_size=1, length_penalty=0.0)
    assert [h.tokens for h in beam] == [h.tokens for h in greedy]
    assert [h.stopped for h in beam] == [h.stopped for h in greedy]


def test_gpu_preset_builds_and_takes_a_training_step_on_cpu():
    torch.manual_seed(0)
    model = LAS(LASConfig.preset("gpu"))
    assert sum(p.numel() for p in model.parameters()) > 10_000_000  # sized for a GPU
    features, lengths = random_batch([64, 48])
    tokens, token_lengths = random_tokens([6, 4])
    losses = train_steps(model, features, lengths, tokens, token_lengths, n_steps=1, lr=1e-4)
    assert math.isfinite(losses[0])


def test_presets_and_config_validation():
    assert LASConfig.preset("cpu") == LASConfig()
    for name in ("ci", "cpu", "gpu"):
        assert LASConfig.preset(name).mel.n_mels == N_MELS
    with pytest.raises(ValueError, match="profile"):
        LASConfig.preset("laptop")
    with pytest.raises(ValueError, match="attention"):
        LASConfig(attention="dot")
    with pytest.raises(ValueError, match="n_mels"):
        LAS(tiny_config())(torch.zeros(1, 10, 40), torch.tensor([10]), torch.zeros(1, 1, dtype=torch.long),
                           torch.tensor([1]))  # fmt: skip
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(LAS(tiny_config()), *random_batch([10]), beam_size=0)


def test_load_pretrained_round_trip_and_config_mismatch(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    assert las.artifact_path("ci") == tmp_path / "artifacts" / "las_ci.pt"
    with pytest.raises(FileNotFoundError, match="05_attention"):
        load_pretrained()
    ci_model = LAS(tiny_config())
    save_checkpoint(
        las.artifact_path("ci"), ci_model, config=ci_model.config, extra={"train_seconds": 1.0}
    )
    assert load_pretrained().config == ci_model.config  # only the ci artifact: use it
    real_model = LAS(tiny_config(decoder_size=32))
    save_checkpoint(las.artifact_path("cpu"), real_model, config=real_model.config)
    loaded = load_pretrained()
    assert loaded.config == real_model.config and not loaded.training  # the real one wins
    features, lengths = random_batch([30])
    assert (
        greedy_decode(loaded, features, lengths)[0].tokens
        == greedy_decode(real_model, features, lengths)[0].tokens
    )
    with pytest.raises(ValueError, match="config"):
        load_checkpoint(las.artifact_path("cpu"), LAS(tiny_config()), config=tiny_config())
