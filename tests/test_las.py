"""Tests for minispeech.models.las: shapes, masking, decoding consistency and guards, learning a
batch and decoding it back, scheduled sampling, presets and config validation. What every
recognizer promises (checkpoints, presets training, padding, transcribe) is in test_models.py."""

import math

import pytest
import torch

from minispeech.models import las
from minispeech.models.las import EOS_ID, LAS, LASConfig, LASOutput, targets_with_eos

N_MELS = 80


@pytest.mark.parametrize("attention", ["location", "content"])
def test_forward_shapes_and_attention_masks(attention, random_batch, tiny_las_config):
    torch.manual_seed(0)
    model = LAS(tiny_las_config(attention=attention)).eval()
    batch = random_batch([70, 33, 9], token_lengths=[5, 7, 2])
    lengths = batch["feature_lengths"]
    output = model(batch)
    assert isinstance(output, LASOutput)
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
    ctc_weight = model.config.ctc_weight
    torch.testing.assert_close(
        output.loss, (1 - ctc_weight) * output.attention_loss + ctc_weight * output.ctc_loss
    )


def test_targets_with_eos():
    tokens = torch.tensor([[5, 6, 7], [8, 0, 0]])
    assert targets_with_eos(tokens, torch.tensor([3, 1])).tolist() == [
        [5, 6, 7, EOS_ID],
        [8, EOS_ID, 0, 0],
    ]


def test_greedy_decoding_agrees_with_teacher_forcing_on_its_own_output(
    random_batch, tiny_las_config
):
    torch.manual_seed(0)
    model = LAS(tiny_las_config()).eval()
    batch = random_batch([40, 64])
    features, lengths = batch["features"], batch["feature_lengths"]
    for b, hypothesis in enumerate(model.transcribe(features, lengths)):
        tokens = torch.tensor([hypothesis.tokens])
        output = model({"features": features[b : b + 1, : lengths[b]], "feature_lengths": lengths[b : b + 1],
                        "tokens": tokens, "token_lengths": torch.tensor([len(tokens[0])])})  # fmt: skip
        expected = hypothesis.tokens + ([EOS_ID] if hypothesis.stopped else [])
        assert output.logits[0].argmax(-1)[: len(expected)].tolist() == expected
        assert hypothesis.attention_weights.shape == (len(expected), math.ceil(int(lengths[b]) / 8))


@pytest.mark.parametrize("beam_size", [1, 3])
def test_the_length_guard_stops_a_decoder_that_never_emits_eos(
    beam_size, random_batch, tiny_las_config
):
    torch.manual_seed(0)
    model = LAS(tiny_las_config(max_length_ratio=2.0)).eval()
    with torch.no_grad():
        model.speller.classifier.bias[EOS_ID] = -1e4  # <eos> can never win
    batch = random_batch([40, 16])
    hypotheses = model.transcribe(batch["features"], batch["feature_lengths"], beam_size=beam_size)
    for hypothesis, n in zip(hypotheses, batch["feature_lengths"].tolist(), strict=True):
        assert not hypothesis.stopped
        assert len(hypothesis.tokens) == math.ceil(2.0 * math.ceil(n / 8)) + 1
        assert EOS_ID not in hypothesis.tokens


def test_training_steps_reduce_the_loss_and_decoding_recovers_the_transcripts(
    random_batch, tiny_las_config
):
    torch.manual_seed(0)
    model = LAS(tiny_las_config(augment=False, dropout=0.0, label_smoothing=0.0))
    batch = random_batch([48, 40], token_lengths=[5, 4])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(80):
        output = model(batch)  # 0.7 cross-entropy + 0.3 CTC
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append(float(output.attention_loss.detach()))
    assert losses[-1] < 0.3 * losses[0], losses[::10]
    model.eval()
    tokens, token_lengths = batch["tokens"], batch["token_lengths"]
    wanted = [tokens[b, : token_lengths[b]].tolist() for b in range(2)]
    features, lengths = batch["features"], batch["feature_lengths"]
    assert [hypothesis.tokens for hypothesis in model.transcribe(features, lengths)] == wanted
    beams = model.transcribe(features, lengths, beam_size=4)
    assert [hypothesis.tokens for hypothesis in beams] == wanted and all(h.stopped for h in beams)


def test_scheduled_sampling_changes_the_inputs_only_when_asked(random_batch, tiny_las_config):
    torch.manual_seed(0)
    model = LAS(tiny_las_config(dropout=0.0)).eval()
    batch = random_batch([40, 40], token_lengths=[9, 9])
    teacher = model(batch, sampling_probability=0.0).logits
    torch.testing.assert_close(model(batch).logits, teacher)
    sampled = model(batch, sampling_probability=1.0).logits
    torch.testing.assert_close(sampled[:, 0], teacher[:, 0])  # the first step always reads <bos>
    assert not torch.allclose(sampled[:, 1:], teacher[:, 1:])


def test_beam_of_one_equals_greedy(random_batch, tiny_las_config):
    torch.manual_seed(1)
    model = LAS(tiny_las_config()).eval()
    batch = random_batch([30, 56, 44], seed=2)
    greedy = model.transcribe(batch["features"], batch["feature_lengths"])
    with (
        torch.no_grad()
    ):  # transcribe(beam_size=1) is the batched greedy loop: call the beam directly
        encoded = model.encode(batch["features"], batch["feature_lengths"])
        beam = [las._beam_one(model, *encoded[:4], b, 1, 0.0, None) for b in range(3)]
    assert [h.tokens for h in beam] == [h.tokens for h in greedy]
    assert [h.stopped for h in beam] == [h.stopped for h in greedy]


def test_presets_and_config_validation(random_batch, tiny_las_config):
    assert LASConfig.preset("cpu") == LASConfig()
    for name in ("ci", "cpu", "gpu"):
        assert LASConfig.preset(name).mel.n_mels == N_MELS
    with pytest.raises(ValueError, match="profile"):
        LASConfig.preset("laptop")
    with pytest.raises(ValueError, match="attention"):
        LASConfig(attention="dot")
    with pytest.raises(ValueError, match="n_mels"):
        LAS(tiny_las_config())(random_batch([10], n_mels=40))
    batch = random_batch([10])
    with pytest.raises(ValueError, match="beam_size"):
        LAS(tiny_las_config()).transcribe(batch["features"], batch["feature_lengths"], beam_size=0)
