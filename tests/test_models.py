"""What every recognizer (CTCASR, LAS, TransformerASR) promises, one parametrized test each:
checkpoint round trip through minispeech.checkpoint and load_pretrained, the gpu preset trains on a
CPU, the ci preset learns one batch, transcribe's one Hypothesis per utterance, and eval outputs
that do not depend on the batch. Model-specific behaviour is tested in test_<model>.py."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from types import ModuleType

import pytest
import torch

from minispeech import checkpoint
from minispeech.decoding import Hypothesis
from minispeech.models import ctc_asr, las, transformer_asr
from minispeech.models.transformer_asr import decoder_targets
from minispeech.nn.asr_frontend import AugmentConfig

NO_AUGMENT = AugmentConfig(warp_range=0.0, freq_masks=0, time_masks=0)  # training mode repeatable


def ctc_utterance_outputs(model, batch: dict) -> list[torch.Tensor]:
    features, lengths = batch["features"], batch["feature_lengths"]
    log_probs, lengths = model.log_probs(features, lengths)  # (B, T_out, V)
    return [log_probs[b, :n] for b, n in enumerate(lengths.tolist())]


def las_utterance_outputs(model, batch: dict) -> list[torch.Tensor]:
    output = model(batch)  # teacher forcing on the batch's tokens
    steps = (batch["token_lengths"] + 1).tolist()  # the characters and <eos>
    return [torch.cat([output.logits[b, :s].flatten(), output.ctc_log_probs[b, :n].flatten()])
            for b, (s, n) in enumerate(zip(steps, output.ctc_lengths.tolist(), strict=True))]  # fmt: skip


def transformer_utterance_outputs(model, batch: dict) -> list[torch.Tensor]:
    memory, lengths = model.encode(batch["features"], batch["feature_lengths"])  # (B, T_out, C)
    inputs, _ = decoder_targets(batch["tokens"], batch["token_lengths"])  # (B, S + 1)
    logits = model.decode(inputs, memory, lengths)  # (B, S + 1, V)
    ctc = model.ctc_log_probs(memory)  # (B, T_out, V)
    steps = (batch["token_lengths"] + 1).tolist()
    return [torch.cat([logits[b, :s].flatten(), ctc[b, :n].flatten()])
            for b, (s, n) in enumerate(zip(steps, lengths.tolist(), strict=True))]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Recognizer:
    name: str  # the artifact name
    module: ModuleType
    model_class: type
    config_class: type
    lesson: str  # what the missing-artifact message names
    utterance_outputs: Callable  # (model, batch) -> one tensor per utterance, padding cut off
    quiet: Callable  # config -> the same without augmentation and dropout

    def preset(self, profile: str):
        return self.config_class.preset(profile)


RECOGNIZERS = [
    Recognizer("ctc_asr", ctc_asr, ctc_asr.CTCASR, ctc_asr.CTCASRConfig, "04_ctc", ctc_utterance_outputs,
               lambda config: dataclasses.replace(config, augment=NO_AUGMENT)),
    Recognizer("las", las, las.LAS, las.LASConfig, "05_attention", las_utterance_outputs,
               lambda config: dataclasses.replace(config, augment=NO_AUGMENT, dropout=0.0)),
    Recognizer("transformer_asr", transformer_asr, transformer_asr.TransformerASR,
               transformer_asr.TransformerASRConfig, "06_transformer", transformer_utterance_outputs,
               lambda config: dataclasses.replace(config, augment=NO_AUGMENT, decoder_dropout=0.0)),
]  # fmt: skip


def summary(hypotheses: list[Hypothesis]) -> list[tuple]:
    """What to compare of hypotheses (attention_weights is an array: == would be ambiguous)."""
    return [(h.tokens, h.score, h.log_prob, h.stopped) for h in hypotheses]


@pytest.fixture(params=RECOGNIZERS, ids=[recognizer.name for recognizer in RECOGNIZERS])
def recognizer(request) -> Recognizer:
    return request.param


def test_checkpoint_round_trip_and_another_preset_is_rejected(
    recognizer, random_batch, tmp_path, monkeypatch
):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    path = recognizer.module.artifact_path("ci")
    assert path == tmp_path / "artifacts" / f"{recognizer.name}_ci.pt"
    with pytest.raises(FileNotFoundError, match=recognizer.lesson):
        recognizer.module.load_pretrained()
    torch.manual_seed(0)
    model = recognizer.model_class(recognizer.preset("ci"))
    checkpoint.save(path, model, config=model.config)
    model.eval()
    batch = random_batch([40, 27], seed=1)
    features, lengths = batch["features"], batch["feature_lengths"]
    for loaded in (recognizer.module.load_pretrained(path), recognizer.module.load_pretrained()):
        assert loaded.config == model.config and not loaded.training
        with torch.no_grad():
            assert loaded(batch).loss == model(batch).loss
            for ours, theirs in zip(recognizer.utterance_outputs(loaded, batch),
                                    recognizer.utterance_outputs(model, batch), strict=True):  # fmt: skip
                assert torch.equal(ours, theirs)
        assert summary(loaded.transcribe(features, lengths)) == summary(
            model.transcribe(features, lengths)
        )
    other = recognizer.preset("cpu")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        checkpoint.load(path, recognizer.model_class(other), config=other)


def test_gpu_preset_builds_and_takes_one_training_step_on_cpu(recognizer, random_batch):
    torch.manual_seed(0)
    model = recognizer.model_class(recognizer.preset("gpu"))
    n_parameters = sum(parameter.numel() for parameter in model.parameters())
    assert n_parameters > 10_000_000  # sized for a GPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss = model(random_batch([64, 48], token_lengths=[6, 4])).loss
    optimizer.zero_grad()
    loss.backward()
    assert torch.isfinite(loss)
    gradients = [parameter.grad for parameter in model.parameters() if parameter.grad is not None]
    assert gradients and all(torch.isfinite(gradient).all() for gradient in gradients)
    optimizer.step()


def test_ci_preset_loss_is_finite_and_falls_on_one_batch(recognizer, random_batch):
    torch.manual_seed(0)
    model = recognizer.model_class(recognizer.quiet(recognizer.preset("ci")))
    batch = random_batch([40, 32, 36], token_lengths=[4, 3, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = model(batch).loss
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses[::4]


@pytest.mark.parametrize("beam_size", [1, 3])
def test_transcribe_returns_one_hypothesis_per_utterance(recognizer, random_batch, beam_size):
    torch.manual_seed(0)
    model = recognizer.model_class(recognizer.preset("ci")).train()
    batch = random_batch([30, 45, 12], seed=2)
    hypotheses = model.transcribe(batch["features"], batch["feature_lengths"], beam_size=beam_size)
    assert len(hypotheses) == 3 and all(isinstance(h, Hypothesis) for h in hypotheses)
    for hypothesis in hypotheses:
        assert all(isinstance(token, int) and 0 <= token < model.config.vocabulary_size
                   for token in hypothesis.tokens)  # fmt: skip
        assert hypothesis.score is None or math.isfinite(hypothesis.score)
    assert model.training  # transcribe runs in eval mode and restores the mode


def test_eval_output_of_an_utterance_does_not_depend_on_its_batch(recognizer, random_batch):
    torch.manual_seed(0)
    model = recognizer.model_class(recognizer.preset("ci")).eval()
    batch = random_batch([51, 80, 17], token_lengths=[5, 3, 2], seed=1)
    noisy = dict(batch, features=batch["features"].clone())
    noisy["features"][2, 17:] = 1e3  # whatever the padding holds
    with torch.no_grad():
        together = recognizer.utterance_outputs(model, noisy)
        greedy_together = model.transcribe(noisy["features"], noisy["feature_lengths"])
    for b in range(3):
        n, s = int(batch["feature_lengths"][b]), int(batch["token_lengths"][b])
        alone = {"features": batch["features"][b : b + 1, :n], "feature_lengths": batch["feature_lengths"][b : b + 1],
                 "tokens": batch["tokens"][b : b + 1, :s], "token_lengths": batch["token_lengths"][b : b + 1]}  # fmt: skip
        with torch.no_grad():
            (alone_output,) = recognizer.utterance_outputs(model, alone)
        # float32 through a few layers: 1e-5 is far below what padding leaking in would change
        torch.testing.assert_close(together[b], alone_output, atol=1e-5, rtol=1e-5)
        (greedy_alone,) = model.transcribe(alone["features"], alone["feature_lengths"])
        assert greedy_together[b].tokens == greedy_alone.tokens
