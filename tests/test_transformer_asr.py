"""Tests for minispeech.models.transformer_asr: shapes, decoder targets, the joint loss against its
two parts, KV-cache decoding equal to full recomputation, beam search, CTC rescoring, presets and
config validation. What every recognizer promises (checkpoints, presets training, padding,
transcribe) is in test_models.py."""

import pytest
import torch
import torch.nn.functional as F

from minispeech.decoding import ctc_sequence_log_probs, rank
from minispeech.models.ctc_asr import CTCASRConfig
from minispeech.models.transformer_asr import (
    BOS_ID,
    EOS_ID,
    IGNORE_INDEX,
    TransformerASR,
    TransformerASRConfig,
    TransformerASROutput,
    decoder_targets,
    greedy_decode,
)
from minispeech.nn.encoder import EncoderConfig


@pytest.fixture
def random_model(tiny_transformer_config):
    def build(seed=0, **changes) -> TransformerASR:
        torch.manual_seed(seed)
        model = TransformerASR(tiny_transformer_config(**changes)).eval()
        with torch.no_grad():  # a sharper random decoder, so that argmax ties are impossible
            model.classifier.weight.mul_(20.0)
        return model

    return build


def features_and_lengths(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    return batch["features"], batch["feature_lengths"]


def test_decoder_targets_shift_and_ignore_padding():
    tokens = torch.tensor([[5, 6, 7], [8, 0, 0]])
    inputs, targets = decoder_targets(tokens, torch.tensor([3, 1]))
    assert inputs.tolist() == [[BOS_ID, 5, 6, 7], [BOS_ID, 8, 0, 0]]
    assert targets.tolist() == [[5, 6, 7, EOS_ID], [8, EOS_ID, IGNORE_INDEX, IGNORE_INDEX]]


@pytest.mark.parametrize("kind", ["conformer", "transformer"])
def test_shapes(kind, random_model, random_batch):
    model = random_model(kind=kind)
    features, lengths = features_and_lengths(random_batch([37, 20, 9], seed=1))
    memory, out_lengths = model.encode(features, lengths)
    assert memory.shape == (3, int(out_lengths.max()), model.config.encoder.model_size)
    assert out_lengths.tolist() == model.encoder.output_lengths(lengths).tolist()
    tokens = torch.tensor([[BOS_ID, 5, 6, 7], [BOS_ID, 8, 9, 0], [BOS_ID, 4, 0, 0]])
    logits = model.decode(tokens, memory, out_lengths)
    assert logits.shape == (3, 4, model.config.vocabulary_size)
    ctc = model.ctc_log_probs(memory)
    torch.testing.assert_close(ctc.exp().sum(-1), torch.ones(ctc.shape[:2]))


def test_joint_loss_is_the_weighted_sum_of_ctc_and_label_smoothed_ce(random_model, random_batch):
    model = random_model(ctc_weight=0.3, label_smoothing=0.1)
    batch = random_batch([40, 30], token_lengths=[4, 2])
    features, lengths = features_and_lengths(batch)
    tokens, token_lengths = batch["tokens"], batch["token_lengths"]
    output = model(batch)
    assert isinstance(output, TransformerASROutput)
    torch.testing.assert_close(output.loss, 0.3 * output.ctc_loss + 0.7 * output.attention_loss)
    memory, out_lengths = model.encode(features, lengths)
    expected_ctc = F.ctc_loss(
        model.ctc_log_probs(memory).transpose(0, 1), tokens, out_lengths, token_lengths
    )
    torch.testing.assert_close(output.ctc_loss, expected_ctc)
    inputs, targets = decoder_targets(tokens, token_lengths)
    logits = model.decode(inputs, memory, out_lengths)
    real = targets != IGNORE_INDEX  # 5 + 3 real targets, <eos> included
    expected_ce = F.cross_entropy(logits[real], targets[real], label_smoothing=0.1)
    torch.testing.assert_close(output.attention_loss, expected_ce)
    expected_accuracy = (logits[real].argmax(-1) == targets[real]).float().mean()
    torch.testing.assert_close(output.accuracy, expected_accuracy)


def test_cached_decoding_equals_full_recomputation(random_model, random_batch):
    model = random_model(decoder_layers=2)
    features, lengths = features_and_lengths(random_batch([50, 33]))
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
    assert [h.tokens for h in model.transcribe(features, lengths)] == with_cache


def test_greedy_decoding_respects_the_length_guard(random_model, random_batch):
    model = random_model(max_output_length=5)
    with torch.no_grad():  # a decoder that never says <eos>
        model.classifier.bias[EOS_ID] = -1e4
    outputs = greedy_decode(model, *features_and_lengths(random_batch([60, 40])))
    assert [len(row) for row in outputs] == [5, 5]
    (hypotheses,) = model.n_best(*features_and_lengths(random_batch([60])), beam_size=3)
    assert all(len(h.tokens) <= 5 and not h.stopped for h in hypotheses)


def test_beam_search_with_cache_equals_without_and_beam_one_is_greedy(random_model, random_batch):
    model = random_model()
    features, lengths = features_and_lengths(random_batch([45]))
    (cached,) = model.n_best(features, lengths, beam_size=3)
    (uncached,) = model.n_best(features, lengths, beam_size=3, use_cache=False)
    assert [h.tokens for h in cached] == [h.tokens for h in uncached] and len(cached) >= 3
    for one, other in zip(cached, uncached, strict=True):
        assert abs(one.log_prob - other.log_prob) < 1e-4
        assert one.ctc_log_prob == other.ctc_log_prob
    (beam_of_one,) = model.n_best(features, lengths, beam_size=1)
    assert [h.tokens for h in beam_of_one] == greedy_decode(model, features, lengths)
    scores = [score for _, score in rank(cached)]
    assert scores == sorted(scores, reverse=True)


def test_ctc_rescoring_uses_the_ctc_sequence_probability(random_model, random_batch):
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
    features, lengths = features_and_lengths(random_batch([45]))
    (hypotheses,) = model.n_best(features, lengths, beam_size=3)
    for weight in (0.0, 0.5, 1.0):
        best, score = rank(hypotheses, weight)[0]
        assert model.transcribe(features, lengths, 3, ctc_weight=weight)[0].tokens == best.tokens
        expected = [h.log_prob / (len(h.tokens) + 1) if weight == 0 else
                    (1 - weight) * h.log_prob + weight * h.ctc_log_prob for h in hypotheses]  # fmt: skip
        assert score == max(expected)


def test_presets_and_config_validation(random_model):
    assert TransformerASRConfig.preset("cpu").encoder == CTCASRConfig.preset("cpu").encoder
    with pytest.raises(ValueError, match="profile"):
        TransformerASRConfig.preset("laptop")
    with pytest.raises(ValueError, match="kind"):
        TransformerASRConfig(encoder=EncoderConfig(kind="lstm"))
    with pytest.raises(ValueError, match="ctc_weight"):
        TransformerASRConfig(ctc_weight=1.5)
    with pytest.raises(ValueError, match="decoder_heads"):
        TransformerASRConfig(decoder_heads=5)
    with pytest.raises(ValueError, match="n_mels"):
        random_model().encode(torch.zeros(1, 10, 40), torch.tensor([10]))
