"""Tests for minispeech.models.valle: the AR sequence and prefix mask against a hand-built example, the loss on
exactly the target's tokens and <end>, KV-cache generation equal to full recomputation, sampling that respects
top-k and top-p (hypothesis) and the argmax at temperature 0, the NAR stage input and shapes, padding that
changes nothing, the guards, synthesize's named errors, the checkpoint round trip and one gpu-preset step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech import checkpoint
from minispeech.data.tts_tokens import TTS_SYMBOLS
from minispeech.models import valle
from minispeech.models.valle import (
    IGNORE,
    PAD,
    PROMPT,
    TARGET,
    TEXT,
    VALLE,
    VALLEConfig,
    ar_attention_mask,
    ar_batch,
    sample_logits,
)

CI = VALLEConfig.preset("ci", codebook_size=16, n_codebooks=4)
V, K = CI.codebook_size, CI.n_codebooks
END, BOS = CI.end_id, CI.bos_id


def ci_model(seed: int = 0, **changes) -> VALLE:
    torch.manual_seed(seed)
    return VALLE(dataclasses.replace(CI, **changes) if changes else CI).eval()


def test_the_default_phoneme_count_is_the_tts_token_table():
    assert VALLEConfig().n_phonemes == CI.n_phonemes == len(TTS_SYMBOLS)


def test_the_ar_sequence_and_its_mask_by_hand():
    # row 0: 2 phonemes, a 1-frame prompt, 2 target frames; row 1: 1 phoneme, no prompt, 1 target frame
    batch = ar_batch([torch.tensor([5, 6]), torch.tensor([7])], [torch.tensor([3]), torch.zeros(0, dtype=torch.int64)],
                     [torch.tensor([8, 9]), torch.tensor([4])], CI)  # fmt: skip
    assert batch.text.tolist() == [[5, 6, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]]
    assert batch.audio.tolist() == [[0, 0, BOS, 3, 8, 9], [0, BOS, 4, 0, 0, 0]]
    assert batch.segments.tolist() == [[TEXT, TEXT, PROMPT, PROMPT, TARGET, TARGET], [TEXT, PROMPT, TARGET, PAD, PAD, PAD]]
    assert batch.positions.tolist() == [[0, 1, 0, 1, 2, 3], [0, 0, 1, 0, 0, 0]]
    # a_P predicts b_1, b_1 -> b_2, b_2 -> <end>; with no prompt <bos> predicts b_1
    assert batch.labels.tolist() == [[IGNORE, IGNORE, IGNORE, 8, 9, END], [IGNORE, 4, END, IGNORE, IGNORE, IGNORE]]
    assert batch.lengths.tolist() == [6, 3]
    expected_row_0 = [  # keys: t t b a b b
        [1, 1, 0, 0, 0, 0],  # text reads the text only
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],  # <bos> reads the text and itself
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1],
    ]
    expected_row_1 = [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 0],  # padding reads only itself; no one reads padding
        [0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 1],
    ]
    assert batch.mask.int().tolist() == [expected_row_0, expected_row_1]
    assert torch.equal(ar_attention_mask(torch.tensor([2, 1]), torch.tensor([4, 2]), 6), batch.mask)


def test_the_ar_loss_reads_only_the_labelled_positions_and_padding_changes_nothing():
    model = ci_model()
    phonemes, prompt, target = torch.tensor([5, 6, 7]), torch.tensor([1, 2]), torch.tensor([3, 4, 5])
    alone = ar_batch([phonemes], [prompt], [target], CI)
    padded = ar_batch([phonemes, torch.tensor([9] * 8)], [prompt, torch.tensor([1] * 5)], [target, torch.tensor([2] * 6)], CI)
    with torch.no_grad():
        logits_alone = model.autoregressive(alone)[0]
        logits_padded = model.autoregressive(padded)[0, : alone.lengths[0]]
    torch.testing.assert_close(logits_padded, logits_alone, atol=1e-5, rtol=1e-5)
    # 3 phonemes (0-2), <bos> (3), a_1 a_2 (4, 5), b_1..b_3 (6-8): positions 5..8 predict b_1, b_2, b_3, <end>
    by_hand = torch.nn.functional.cross_entropy(logits_alone[[5, 6, 7, 8]], torch.tensor([3, 4, 5, END]))
    torch.testing.assert_close(model.autoregressive.loss(alone), by_hand)


def test_kv_cache_generation_equals_full_recomputation():
    model = ci_model(seed=1, max_repeats=1000)
    phonemes, prompt = torch.tensor([5, 6, 7, 8]), torch.randint(0, V, (6,), generator=torch.Generator().manual_seed(0))
    for seed in range(3):
        cached, why_cached = model.autoregressive.generate(phonemes, prompt, generator=torch.Generator().manual_seed(seed))
        full, why_full = model.autoregressive.generate(phonemes, prompt, generator=torch.Generator().manual_seed(seed),
                                                       use_cache=False)  # fmt: skip
        assert torch.equal(cached, full) and why_cached == why_full


def test_the_guards_stop_runaway_generations():
    model = ci_model(seed=2)
    with torch.no_grad():  # make <end> impossible and one code certain: the repetition guard must fire
        model.autoregressive.head.weight.zero_()
        model.autoregressive.head.bias.fill_(-1e4)
        model.autoregressive.head.bias[3] = 1e4
    codes, why = model.autoregressive.generate(torch.tensor([5, 6]), torch.tensor([1]))
    assert why == "repetition" and len(codes) == CI.max_repeats and set(codes.tolist()) == {3}
    with torch.no_grad():  # alternate two codes: only the length guard can stop it
        model.autoregressive.head.bias[4] = 1e4
    codes, why = model.autoregressive.generate(torch.tensor([5, 6]), torch.tensor([1]), temperature=1.0,
                                               generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert why in ("length", "repetition")
    short = ci_model(seed=2, max_repeats=10_000, max_frames_per_phoneme=3.0)
    with torch.no_grad():
        short.autoregressive.head.bias.fill_(-1e4)
        short.autoregressive.head.bias[3] = 1e4
    codes, why = short.autoregressive.generate(torch.tensor([5, 6]), torch.tensor([1]))
    assert why == "length" and len(codes) == 6


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), vocabulary=st.integers(2, 12), top_k=st.one_of(st.none(), st.integers(1, 12)),
       top_p=st.one_of(st.none(), st.floats(0.05, 1.0)), temperature=st.floats(0.1, 3.0))
def test_sampling_respects_top_k_and_top_p(seed, vocabulary, top_k, top_p, temperature):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, vocabulary, generator=generator) * 3
    probabilities = (logits / temperature).softmax(-1)  # top-p reads the distribution after the temperature
    for _ in range(5):
        ids = sample_logits(logits, temperature, top_k, top_p, generator)
        assert ids.shape == (3,) and ids.dtype == torch.int64
        for row, chosen in enumerate(ids.tolist()):
            rank = int((logits[row] > logits[row, chosen]).sum())  # how many are strictly more likely
            if top_k is not None:
                assert rank < top_k
            if top_p is not None:
                above = float(probabilities[row][logits[row] > logits[row, chosen]].sum())  # mass ranked above
                assert rank == 0 or above < top_p + 1e-6


def test_temperature_zero_is_the_argmax_and_bad_settings_are_named():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    assert sample_logits(logits, temperature=0).tolist() == [1, 0]
    assert sample_logits(logits, temperature=1.0, top_k=1).tolist() == [1, 0]
    assert sample_logits(logits, temperature=1.0, top_p=0.01).tolist() == [1, 0]
    for kwargs, message in [({"temperature": -1.0}, "temperature"), ({"top_k": 0}, "top_k"), ({"top_p": 0.0}, "top_p")]:
        with pytest.raises(ValueError, match=message):
            sample_logits(logits, **kwargs)
    with pytest.raises(ValueError, match="\\(B, V\\)"):
        sample_logits(logits[0])


def test_the_nar_stage_input_sums_the_earlier_codebooks_and_predicts_the_target_frames():
    model = ci_model(seed=3).non_autoregressive
    codes = torch.randint(0, V, (2, K, 5), generator=torch.Generator().manual_seed(0))
    stage_two = model.stage_input(codes, 2)
    by_hand = model.code_embeddings[0](codes[:, 0]) + model.code_embeddings[1](codes[:, 1])
    torch.testing.assert_close(stage_two, by_hand)
    phonemes, prompt = torch.randint(1, 50, (2, 7)), torch.randint(0, V, (2, K, 4))
    lengths = lambda *values: torch.tensor(values)  # noqa: E731
    for stage in range(1, K):
        logits = model(phonemes, lengths(7, 5), prompt, lengths(4, 3), codes[:, :stage], lengths(5, 2), stage)
        assert logits.shape == (2, 5, V)
    with torch.no_grad():  # padding in the other row does not change row 1's real frames
        alone = model(phonemes[1:, :5], lengths(5), prompt[1:, :, :3], lengths(3), codes[1:, :2, :2], lengths(2), 2)
        padded = model(phonemes, lengths(7, 5), prompt, lengths(4, 3), codes[:, :2], lengths(5, 2), 2)[1:, :2]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)
    loss = model.loss(phonemes, lengths(7, 5), prompt, lengths(4, 3), codes, lengths(5, 2), 3)
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="stage"):
        model(phonemes, lengths(7, 5), prompt, lengths(4, 3), codes, lengths(5, 2), K)


def test_generate_fills_every_codebook_and_names_bad_prompts():
    model = ci_model(seed=4)
    result = model.generate(torch.tensor([5, 6, 7]), torch.randint(0, V, (K, 6)), generator=torch.Generator().manual_seed(1))
    assert result.codes.shape[0] == K and result.codes.dtype == torch.int64
    assert result.stopped_by in ("end", "length", "repetition") and result.ar_seconds >= 0
    assert result.codes.numel() == 0 or int(result.codes.max()) < V
    with pytest.raises(ValueError, match="\\(K = 4, P\\)"):
        model.generate(torch.tensor([5]), torch.zeros(2, 6, dtype=torch.int64))
    with pytest.raises(ValueError, match="non-empty"):
        model.generate(torch.zeros(0, dtype=torch.int64), torch.zeros(K, 6, dtype=torch.int64))


def test_synthesize_names_short_prompts_wrong_rates_and_empty_text():
    from minispeech.models.codec import Codec, CodecConfig

    torch.manual_seed(0)
    codec_model = Codec(CodecConfig.preset("ci")).eval()
    model = VALLE(dataclasses.replace(CI, codebook_size=codec_model.config.quantizer.quantizer.codebook_size,
                                      n_codebooks=codec_model.config.quantizer.n_quantizers)).eval()  # fmt: skip
    prompt = (0.1 * np.random.default_rng(0).standard_normal(22050)).astype(np.float32)  # 1 s
    waveform, result = valle.synthesize(model, codec_model, "hello there", prompt, 22050,
                                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert waveform.ndim == 1 and len(waveform) == result.codes.shape[1] * codec_model.config.hop_length
    for kwargs, message in [({"prompt_waveform": prompt[:5000]}, "at least 0.5 s"),
                            ({"sample_rate": 16000}, "resample"), ({"text": "   "}, "empty")]:  # fmt: skip
        arguments = {"text": "hello", "prompt_waveform": prompt, "sample_rate": 22050, **kwargs}
        with pytest.raises(ValueError, match=message):
            valle.synthesize(model, codec_model, **arguments)


def test_checkpoint_round_trip_and_the_missing_artifact(tmp_path, monkeypatch):
    model = ci_model(seed=5)
    path = checkpoint.save(tmp_path / "valle.pt", model, step=2, config=CI)
    loaded = valle.load_pretrained(path)
    assert not loaded.training and loaded.config == CI
    batch = ar_batch([torch.tensor([5, 6])], [torch.tensor([1])], [torch.tensor([2, 3])], CI)
    with torch.no_grad():
        torch.testing.assert_close(loaded.autoregressive(batch), model.autoregressive(batch))
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path / "nowhere"))
    assert valle.artifact_path("ci").name == "valle_ci.pt"
    with pytest.raises(FileNotFoundError, match="12_valle"):
        valle.load_pretrained()
    with pytest.raises(ValueError, match="n_codebooks >= 2"):
        VALLEConfig(n_codebooks=1)


def test_the_gpu_preset_takes_one_training_step_on_a_cpu():
    torch.manual_seed(0)
    config = VALLEConfig.preset("gpu")
    model = VALLE(config).train()
    batch = ar_batch([torch.randint(1, 100, (6,))], [torch.randint(0, 256, (4,))], [torch.randint(0, 256, (5,))], config)
    codes = torch.randint(0, 256, (1, 8, 5))
    lengths = lambda *values: torch.tensor(values)  # noqa: E731
    loss = model.autoregressive.loss(batch) + model.non_autoregressive.loss(
        batch.text[:, :6], lengths(6), torch.randint(0, 256, (1, 8, 4)), lengths(4), codes, lengths(5), 1)
    loss.backward()
    assert torch.isfinite(loss) and model.autoregressive.head.weight.grad.abs().sum() > 0
