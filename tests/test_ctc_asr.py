"""Tests for minispeech.models.ctc_asr: shapes, the loss against torch's CTC on its own outputs,
training-mode augmentation, transcribe against the CTC decoders, presets and config validation.
What every recognizer promises (checkpoints, presets training, padding, transcribe) is in
test_models.py; the front end in test_nn_asr_frontend.py, the encoder in test_nn_encoder.py."""

import pytest
import torch
import torch.nn.functional as F

from minispeech.decoding import CharNgramLM, greedy_decode, prefix_beam_search
from minispeech.models.ctc_asr import BLANK_ID, CTCASR, CTCASRConfig, CTCASROutput
from minispeech.nn.encoder import EncoderConfig

N_MELS = 80


@pytest.mark.parametrize("subsampling", [1, 2, 4])
def test_forward_shapes_and_log_softmax(subsampling, random_batch, tiny_ctc_config):
    torch.manual_seed(0)
    model = CTCASR(tiny_ctc_config(subsampling=subsampling)).eval()
    batch = random_batch([37, 20, 5])
    lengths = batch["feature_lengths"]
    log_probs, out_lengths = model.log_probs(batch["features"], lengths)
    expected_lengths = (lengths + subsampling - 1) // subsampling  # ceil(T / subsampling)
    assert out_lengths.tolist() == expected_lengths.tolist()
    assert log_probs.shape == (3, int(expected_lengths.max()), model.config.vocabulary_size)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)
    assert model.output_lengths(lengths).tolist() == out_lengths.tolist()
    output = model(batch)
    assert isinstance(output, CTCASROutput)
    torch.testing.assert_close(output.log_probs, log_probs)
    assert output.lengths.tolist() == out_lengths.tolist()


def test_the_loss_is_torch_ctc_loss_of_its_own_log_probs(random_batch, tiny_ctc_config):
    torch.manual_seed(0)
    model = CTCASR(tiny_ctc_config()).eval()
    batch = random_batch([40, 32, 36], token_lengths=[6, 5, 4])
    output = model(batch)
    expected = F.ctc_loss(output.log_probs.transpose(0, 1), batch["tokens"], output.lengths,
                          batch["token_lengths"], blank=BLANK_ID)  # fmt: skip
    torch.testing.assert_close(output.loss, expected)


def test_training_mode_augments_and_eval_mode_is_deterministic(random_batch, tiny_ctc_config):
    model = CTCASR(tiny_ctc_config(dropout=0.0))
    batch = random_batch([50, 50])
    features, lengths = batch["features"], batch["feature_lengths"]
    model.train()
    first, _ = model.log_probs(features, lengths)
    second, _ = model.log_probs(features, lengths)
    assert not torch.allclose(first, second)  # SpecAugment draws new masks
    model.eval()
    torch.testing.assert_close(
        model.log_probs(features, lengths)[0], model.log_probs(features, lengths)[0]
    )


def test_transcribe_is_greedy_or_prefix_beam_search_of_the_log_probs(random_batch, tiny_ctc_config):
    torch.manual_seed(0)
    model = CTCASR(tiny_ctc_config()).eval()
    batch = random_batch([40, 23], seed=3)
    log_probs, out_lengths = model.log_probs(batch["features"], batch["feature_lengths"])
    lm = CharNgramLM(order=2).fit(["the cat sat", "a dog"])
    greedy = model.transcribe(batch["features"], batch["feature_lengths"])
    beam = model.transcribe(
        batch["features"], batch["feature_lengths"], beam_size=4, lm=lm, lm_weight=0.3
    )
    for b, n in enumerate(out_lengths.tolist()):
        frames = log_probs[b, :n].detach().numpy()  # (T_out, V)
        assert greedy[b].tokens == greedy_decode(frames, blank=BLANK_ID)
        assert greedy[b].score == pytest.approx(float(frames.max(axis=1).sum()), abs=1e-4)
        expected = prefix_beam_search(frames, beam_size=4, blank=BLANK_ID, lm=lm, lm_weight=0.3)
        assert beam[b].tokens == expected and beam[b].score is None
    assert all(isinstance(token, int) for token in greedy[0].tokens + beam[0].tokens)
    assert all(BLANK_ID not in h.tokens for h in greedy + beam)


def test_presets_and_config_validation(tiny_ctc_config):
    assert CTCASRConfig.preset("cpu") == CTCASRConfig()
    for name in ("ci", "cpu", "gpu"):
        assert CTCASRConfig.preset(name).mel.n_mels == N_MELS
    with pytest.raises(ValueError, match="profile"):
        CTCASRConfig.preset("laptop")
    with pytest.raises(ValueError, match="subsampling"):
        CTCASRConfig(encoder=EncoderConfig(subsampling=3))
    with pytest.raises(ValueError, match="n_heads"):
        CTCASRConfig(encoder=EncoderConfig(model_size=100, n_heads=3))
    with pytest.raises(ValueError, match="n_mels"):
        CTCASR(tiny_ctc_config()).log_probs(torch.zeros(1, 10, 40), torch.tensor([10]))
