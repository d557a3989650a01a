"""Tests for minispeech.models.transformer_asr: shapes, padding invariance, decoder targets, the joint
loss against its two parts, KV-cache decoding equal to full recomputation, beam search, CTC rescoring,
presets, training steps, checkpoint round trip and the missing-artifact message."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from minispeech.models import transformer_asr
from minispeech.models.ctc_asr import CTCASRConfig, frame_mask
from minispeech.models.transformer_asr import (
    BOS_ID,
    EOS_ID,
    IGNORE_INDEX,
    TransformerASR,
    TransformerASRConfig,
    beam_search,
    ctc_sequence_log_probs,
    decoder_targets,
    greedy_decode,
    load_pretrained,
    n_best,
    rank,
)
from minispeech.train import save_checkpoint

N_MELS = 80


def tiny_config(**changes) -> TransformerASRConfig:
    return dataclasses.replace(TransformerASRConfig.preset("ci"), **changes)


def random_batch(lengths, n_mels=N_MELS, seed=0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    features = torch.randn(len(lengths), int(lengths.max()), n_mels, generator=generator) - 5.0
    features = features * frame_mask(lengths, features.shape[1])[:, :, None]  # zero padding
    return features, lengths


def random_model(seed=0, **changes) -> TransformerASR:
    torch.manual_seed(seed)
    model = TransformerASR(tiny_config(**changes)).eval()
    with torch.no_grad():  # a sharper random decoder, so that argmax ties are impossible
        model.classifier.weight.mul_(20.0)
    return model


def test_decoder_targets_shift_and_ignore_padding():
    tokens = torch.tensor([[5, 6, 7], [8, 0, 0]])
    inputs, targets = decoder_targets(tokens, torch.tensor([3, 1]))
    assert inputs.tolist() == [[BOS_ID, 5, 6, 7], [BOS_ID, 8, 0, 0]]
    assert targets.tolist() == [[5, 6, 7, EOS_ID], [8, EOS_ID, IGNORE_INDEX, IGNORE_INDEX]]


@pytest.mark.parametrize("encoder_kind", ["conformer", "transformer"])
def test_shapes_and_padding_does_not_change_outputs(encoder_kind):
    model = random_model(encoder_kind=encoder_kind)
    features, lengths = random_batch([37, 20, 9], seed=1)
    memory, out_lengths = model.encode(features, lengths)
    assert memory.shape == (3, int(out_lengths.max()), model.config.encoder.model_size)
    tokens = torch.tensor([[BOS_ID, 5, 6, 7], [BOS_ID, 8, 9, 0], [BOS_ID, 4, 0, 0]])
    logits = model.decode(tokens, memory, out_lengths)
    assert logits.shape == (3, 4, model.config.encoder.vocabulary_size)
    ctc = model.ctc_log_probs(memory)
    for b, length in enumerate(lengths.tolist()):
        alone_memory, alone_lengths = model.encode(features[b : b + 1, :length], lengths[b : b + 1])
        n = int(alone_lengths[0])
        torch.testing.assert_close(
            ctc[b, :n], model.ctc_log_probs(alone_memory)[0], atol=1e-5, rtol=1e-5
        )
        alone_logits = model.decode(tokens[b : b + 1], alone_memory, alone_lengths)
        torch.testing.assert_close(logits[b], alone_logits[0], atol=1e-4, rtol=1e-4)


def test_joint_loss_is_the_weighted_sum_of_ctc_and_label_smoothed_ce():
    model = random_model(ctc_weight=0.3, label_smoothing=0.1)
    features, lengths = random_batch([40, 30])
    tokens, token_lengths = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([4, 2])
    losses = model(features, lengths, tokens, token_lengths)
    torch.testing.assert_close(
        losses["loss"], 0.3 * losses["ctc_loss"] + 0.7 * losses["attention_loss"]
    )
    memory, out_lengths = model.encode(features, lengths)
    expected_ctc = F.ctc_loss(
        model.ctc_log_probs(memory).transpose(0, 1), tokens, out_lengths, token_lengths
    )
    torch.testing.assert_close(losses["ctc_loss"], expected_ctc)
    inputs, targets = decoder_targets(tokens, token_lengths)
    logits = model.decode(inputs, memory, out_lengths)
    real = targets != IGNORE_INDEX  # 5 + 3 real targets, <eos> included
    expected_ce = F.cross_entropy(logits[real], targets[real], label_smoothing=0.1)
    torch.testing.assert_close(losses["attention_loss"], expected_ce)


def test_cached_decoding_equals_full_recomputation():
    model = random_model(decoder_layers=2)
    features, lengths = random_batch([50, 33])
    memory, out_lengths = model.encode(features, lengths)
    prefixes = torch.tensor([[BOS_ID, 5, 9, 3, 12, 7], [BOS_ID, 6, 6, 20, 4, 3]])
    cache = model.new_cache()
    for step in range(1, prefixes.shape[1] + 1):
        cached = model.decode_step(prefixes[:, :step], memory, out_lengths, cache)
        full = model.decode_step(prefixes[:, :step], memory, out_lengths)
        torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
    assert cache[0][0].length == prefixes.shape[1]
    with_cache = greedy_decode(model, features, lengths, use_cache=True)
    without = greedy_decode(model, features, lengths, use_cache=False)
    assert with_cache == without and any(len(row) > 0 for row in with_cache)


def test_greedy_decoding_respects_the_length_guard():
    model = random_model(max_output_length=5)
    with torch.no_grad():  # a decoder that never says <eos>
        model.classifier.bias[EOS_ID] = -1e4
    outputs = greedy_decode(model, *random_batch([60, 40]))
    assert [len(row) for row in outputs] == [5, 5]
    assert all(len(h.tokens) <= 5 for h in n_best(model, random_batch([60])[0][0], 3))


def test_beam_search_with_cache_equals_without_and_beam_one_is_greedy():
    model = random_model()
    features, lengths = random_batch([45])
    cached = n_best(model, features[0], beam_size=3)
    uncached = n_best(model, features[0], beam_size=3, use_cache=False)
    assert [h.tokens for h in cached] == [h.tokens for h in uncached] and len(cached) >= 3
    for one, other in zip(cached, uncached, strict=True):
        assert abs(one.attention_score - other.attention_score) < 1e-4
        assert one.ctc_score == other.ctc_score
    assert (
        beam_search(model, features[0], beam_size=1) == greedy_decode(model, features, lengths)[0]
    )
    scores = [score for _, score in rank(cached)]
    assert scores == sorted(scores, reverse=True)


def test_ctc_rescoring_uses_the_ctc_sequence_probability():
    log_probs = torch.log_softmax(
        torch.randn(6, 10, generator=torch.Generator().manual_seed(0)), -1
    )
    hypotheses = [[4, 5], [4, 4, 4, 4], []]
    scores = ctc_sequence_log_probs(log_probs, 6, hypotheses)
    for hypothesis, score in zip(hypotheses, scores, strict=True):
        expected = -F.ctc_loss(log_probs[:, None], torch.tensor([hypothesis or [0]]), torch.tensor([6]),
                               torch.tensor([len(hypothesis)]), reduction="sum")  # fmt: skip
        torch.testing.assert_close(score, expected)
    # 4 4 4 4 needs 7 frames (blanks between repeats): impossible in 6
    assert scores[1] == float("-inf")
    model = random_model()
    features, _ = random_batch([45])
    hypotheses = n_best(model, features[0], beam_size=3)
    for weight in (0.0, 0.5, 1.0):
        best, score = rank(hypotheses, weight)[0]
        assert beam_search(model, features[0], 3, ctc_weight=weight) == best.tokens
        expected = [h.attention_score / (len(h.tokens) + 1) if weight == 0 else
                    (1 - weight) * h.attention_score + weight * h.ctc_score for h in hypotheses]  # fmt: skip
        assert score == max(expected)


def test_a_few_steps_on_one_batch_reduce_the_loss():
    torch.manual_seed(0)
    model = TransformerASR(tiny_config(decoder_dropout=0.0, encoder=dataclasses.replace(
        CTCASRConfig.preset("ci"), freq_masks=0, time_masks=0, warp_range=0.0)))  # fmt: skip
    features, lengths = random_batch([40, 32, 36])
    tokens, token_lengths = torch.randint(3, 12, (3, 6)), torch.tensor([6, 5, 4])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = model(features, lengths, tokens, token_lengths)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses


def test_gpu_preset_builds_and_takes_a_training_step_on_cpu():
    torch.manual_seed(0)
    model = TransformerASR(TransformerASRConfig.preset("gpu"))
    assert sum(p.numel() for p in model.parameters()) > 10_000_000  # sized for a GPU
    features, lengths = random_batch([60, 48])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss = model(features, lengths, torch.randint(3, 30, (2, 8)), torch.tensor([8, 6]))["loss"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)


def test_presets_and_config_validation():
    assert TransformerASRConfig.preset("cpu").encoder == CTCASRConfig.preset("cpu")
    with pytest.raises(ValueError, match="profile"):
        TransformerASRConfig.preset("laptop")
    with pytest.raises(ValueError, match="encoder_kind"):
        TransformerASRConfig(encoder_kind="lstm")
    with pytest.raises(ValueError, match="ctc_weight"):
        TransformerASRConfig(ctc_weight=1.5)
    with pytest.raises(ValueError, match="decoder_heads"):
        TransformerASRConfig(decoder_heads=5)
    with pytest.raises(ValueError, match="n_mels"):
        random_model().encode(torch.zeros(1, 10, 40), torch.tensor([10]))
    with pytest.raises(ValueError, match="one utterance"):
        beam_search(random_model(), torch.zeros(1, 10, N_MELS))


def test_load_pretrained_round_trip_preference_and_config_mismatch(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    assert transformer_asr.artifact_path("ci") == tmp_path / "artifacts" / "transformer_asr_ci.pt"
    with pytest.raises(FileNotFoundError, match="06_transformer"):
        load_pretrained()
    ci_model = TransformerASR(tiny_config())
    save_checkpoint(transformer_asr.artifact_path("ci"), ci_model, config=ci_model.config)
    assert load_pretrained().config == ci_model.config  # only the ci artifact: use it
    real_model = TransformerASR(tiny_config(decoder_layers=2))
    save_checkpoint(transformer_asr.artifact_path("cpu"), real_model, config=real_model.config)
    loaded = load_pretrained()
    assert loaded.config == real_model.config and not loaded.training  # the real one wins
    features, lengths = random_batch([20])
    assert greedy_decode(loaded, features, lengths) == greedy_decode(
        real_model.eval(), features, lengths
    )
    with pytest.raises(ValueError, match="decoder_layers"):
        from minispeech.train import load_checkpoint

        load_checkpoint(transformer_asr.artifact_path("cpu"), TransformerASR(tiny_config()), config=tiny_config())
