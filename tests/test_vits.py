"""Tests for minispeech.models.vits: the shapes of every piece on the ci preset, the linear spectrogram
against nn.LogMel, the alignment log-likelihood against a brute-force loop (float64), MAS paths (monotone,
complete, a planted alignment recovered), the KL estimate by hand and by Monte-Carlo, the waveform window
under the latent window, one full GAN training step, synthesis lengths, the gpu preset's size, config and
checkpoint round trips, and the errors for bad input. Batches are fabricated as data.tts_collate makes them
(random tokens, random waveforms, log-mels from dsp.log_mel)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from minispeech import checkpoint
from minispeech.dsp import MelConfig, log_mel, stft
from minispeech.models import vits
from minispeech.models.vits import (
    VITS,
    DurationPredictor,
    PosteriorEncoder,
    SynthesisOutput,
    TextEncoder,
    VITSConfig,
    VITSOutput,
    alignment_log_likelihood,
    frame_count,
    kl_loss,
    monotonic_alignment,
    path_from_durations,
    random_segment_starts,
    slice_segments,
)
from minispeech.nn.attention import padding_mask
from minispeech.nn.features import LogMel
from minispeech.nn.gan_losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)

FIRST_TOKEN_ID = 3  # after <pad>, <bos>, <eos>
CI = VITSConfig.preset("ci")
HOP = CI.mel.hop_length  # 256
SAMPLE_RATE = CI.mel.sample_rate  # 22050


def fabricated_batch(waveform_lengths=(11025, 7000), token_lengths=(9, 5), seed: int = 0) -> dict:
    """tts_collate's keys: random tokens (zero padding), random noise-like waveforms (0.5 s and less at
    22,050 Hz, zero padding) with their lengths, and the log-mels dsp.log_mel gives (B, T_mel, n_mels)."""
    generator = torch.Generator().manual_seed(seed)
    token_lengths, waveform_lengths = torch.tensor(token_lengths), torch.tensor(waveform_lengths)
    keep = padding_mask(token_lengths, int(token_lengths.max()))
    tokens = torch.randint(FIRST_TOKEN_ID, CI.vocabulary_size, keep.shape, generator=generator) * keep
    waveform = 0.1 * torch.randn(len(waveform_lengths), int(waveform_lengths.max()), generator=generator)
    waveform = waveform * padding_mask(waveform_lengths, waveform.shape[1])
    pairs = zip(waveform, waveform_lengths, strict=True)
    mels = [torch.from_numpy(log_mel(w[:n].numpy(), CI.mel).T) for w, n in pairs]  # (T_mel, n_mels) each
    mel_lengths = torch.tensor([len(m) for m in mels])
    mel = torch.nn.utils.rnn.pad_sequence(mels, batch_first=True)  # (B, T_mel, n_mels)
    return {"tokens": tokens, "token_lengths": token_lengths, "waveform": waveform,
            "waveform_lengths": waveform_lengths, "mel": mel, "mel_lengths": mel_lengths}  # fmt: skip


def ci_model(seed: int = 0) -> VITS:
    torch.manual_seed(seed)
    return VITS(CI)


# ---------------------------------------------------------------- the pieces, their shapes and masks


def test_frame_count_matches_the_corpus_mels_and_the_spectrogram_matches_log_mel():
    batch = fabricated_batch()
    assert frame_count(batch["waveform_lengths"], CI.mel).tolist() == batch["mel_lengths"].tolist()
    waveform = batch["waveform"][:1, :11025]
    spectrogram = LogMel(CI.mel).magnitude(waveform)  # (1, n_freqs, T_mel): the posterior's input
    assert spectrogram.shape == (1, CI.mel.n_freqs, 44)
    reference = np.abs(stft(waveform[0].numpy(), CI.mel.n_fft, CI.mel.hop_length, CI.mel.win_length))  # NumPy twin
    np.testing.assert_allclose(spectrogram[0].numpy(), reference, atol=1e-4, rtol=1e-4)


def test_text_and_posterior_encoders_shapes_and_zero_padding():
    torch.manual_seed(0)
    batch = fabricated_batch()
    text_encoder = TextEncoder(CI).eval()
    hidden, prior_mean, prior_log_std, text_mask = text_encoder(batch["tokens"], batch["token_lengths"])
    assert hidden.shape == (2, CI.hidden_channels, 9)
    assert prior_mean.shape == prior_log_std.shape == (2, CI.inter_channels, 9)
    assert text_mask.tolist()[1] == [True] * 5 + [False] * 4
    for tensor in (hidden, prior_mean, prior_log_std):
        assert (tensor[1, :, 5:] == 0).all()
    spectrogram = LogMel(CI.mel).magnitude(batch["waveform"])  # (B, n_freqs, T_mel)
    frame_mask = padding_mask(frame_count(batch["waveform_lengths"], CI.mel), spectrogram.shape[2])
    z, mean, log_std = PosteriorEncoder(CI)(spectrogram, frame_mask)
    assert z.shape == mean.shape == log_std.shape == (2, CI.inter_channels, 44)
    short = int(batch["mel_lengths"][1])
    assert short < 44 and all((tensor[1, :, short:] == 0).all() for tensor in (z, mean, log_std))
    assert not torch.equal(z, mean)  # a sample, not the mean


def test_duration_predictor_masks_padding_and_does_not_train_the_encoder():
    torch.manual_seed(0)
    predictor = DurationPredictor(CI)
    hidden = torch.randn(2, CI.hidden_channels, 6, requires_grad=True)
    mask = padding_mask(torch.tensor([6, 3]), 6)
    log_duration = predictor(hidden, mask)
    assert log_duration.shape == (2, 6) and (log_duration[1, 3:] == 0).all()
    log_duration.sum().backward()
    assert hidden.grad is None  # it reads the hidden detached
    assert all(p.grad is not None for p in predictor.parameters())


def test_alignment_log_likelihood_equals_brute_force_per_pair():
    generator = torch.Generator().manual_seed(0)
    batch, channels, n_tokens, n_frames = 2, 3, 4, 6
    z_p = torch.randn(batch, channels, n_frames, generator=generator, dtype=torch.float64)
    mean = torch.randn(batch, channels, n_tokens, generator=generator, dtype=torch.float64)
    log_std = 0.5 * torch.randn(batch, channels, n_tokens, generator=generator, dtype=torch.float64)
    text_mask, frame_mask = padding_mask(torch.tensor([4, 2]), n_tokens), padding_mask(torch.tensor([6, 5]), n_frames)
    fast = alignment_log_likelihood(z_p, mean, log_std, text_mask, frame_mask)
    assert fast.shape == (batch, n_tokens, n_frames) and fast.dtype == torch.float64
    for b in range(batch):
        for i in range(n_tokens):
            for t in range(n_frames):
                normal = torch.distributions.Normal(mean[b, :, i], log_std[b, :, i].exp())
                expected = normal.log_prob(z_p[b, :, t]).sum() if text_mask[b, i] and frame_mask[b, t] else 0.0
                torch.testing.assert_close(fast[b, i, t], torch.as_tensor(expected, dtype=torch.float64),
                                           atol=1e-10, rtol=1e-10)  # fmt: skip


def test_mas_paths_are_monotone_complete_and_recover_a_planted_alignment():
    generator = torch.Generator().manual_seed(1)
    durations = torch.tensor([[3, 1, 4, 2, 5], [2, 2, 6, 0, 0]])  # item 1 has 3 tokens, 10 frames
    token_lengths, frame_lengths = torch.tensor([5, 3]), durations.sum(1)
    n_frames = int(frame_lengths.max())
    text_mask, frame_mask = padding_mask(token_lengths, 5), padding_mask(frame_lengths, n_frames)
    planted = path_from_durations(durations, n_frames)  # (B, T_txt, T_mel)
    mean = 4 * torch.randn(2, 6, 5, generator=generator) * text_mask[:, None]  # well separated tokens
    log_std = torch.full((2, 6, 5), -1.0) * text_mask[:, None]
    z_p = (mean @ planted + 0.1 * torch.randn(2, 6, n_frames, generator=generator)) * frame_mask[:, None]
    path = monotonic_alignment(alignment_log_likelihood(z_p, mean, log_std, text_mask, frame_mask),
                               text_mask, frame_mask)  # fmt: skip
    assert torch.equal(path, planted)
    # properties on random scores: one token a real frame, none on padding, monotone, every token >= 1 frame
    scores = torch.randn(2, 5, n_frames, generator=generator)
    path = monotonic_alignment(scores, text_mask, frame_mask)
    assert torch.equal(path.sum(1), frame_mask.float())
    assert (path * ~(text_mask[:, :, None] & frame_mask[:, None, :]) == 0).all()
    token_of_frame = path.argmax(1)  # (B, T_mel)
    for b in range(2):
        steps = torch.diff(token_of_frame[b, : frame_lengths[b]])
        assert ((steps == 0) | (steps == 1)).all()
    durations_found = path.sum(2)
    assert (durations_found[text_mask] >= 1).all() and torch.equal(durations_found.sum(1), frame_lengths.float())


def test_kl_loss_by_hand_and_zero_in_expectation_when_the_posterior_is_the_prior():
    # one item, 1 channel, 2 frames, the second padded: log 2 - 0 - 1/2 + 1/2 (1 - 0)^2 / 4 on frame 0
    z_p, log_q = torch.tensor([[[1.0, 7.0]]]), torch.tensor([[[0.0, 3.0]]])
    mean_p, log_p = torch.tensor([[[0.0, 1.0]]]), torch.tensor([[[math.log(2.0), 2.0]]])
    mask = torch.tensor([[[1.0, 0.0]]])
    assert kl_loss(z_p, log_q, mean_p, log_p, mask).item() == pytest.approx(math.log(2) - 0.5 + 0.125)
    # Monte-Carlo: 4 channels x 50,000 frames; each frame's estimate has std sqrt(4 x 0.5) = 1.4, so the
    # mean over frames has std 0.0063: tolerance 0.03 (~5 sigma). With the posterior moved, its mean is
    # the closed-form KL(N(mq, sq) || N(mp, sp)) = log(sp / sq) + (sq^2 + (mq - mp)^2) / (2 sp^2) - 1/2.
    generator = torch.Generator().manual_seed(0)
    shape = (1, 4, 50_000)
    mean, log_std = torch.randn(shape, generator=generator), 0.3 * torch.randn(shape, generator=generator)
    mask = torch.ones(1, 1, shape[2])
    z = mean + torch.randn(shape, generator=generator) * log_std.exp()  # a sample of q = p (identity flow)
    assert abs(kl_loss(z, log_std, mean, log_std, mask).item()) < 0.03
    mean_q, log_std_q = mean + 0.5, log_std - 0.2
    z = mean_q + torch.randn(shape, generator=generator) * log_std_q.exp()
    closed_form = (log_std - log_std_q + ((2 * log_std_q).exp() + 0.25) / (2 * (2 * log_std).exp()) - 0.5)
    expected = closed_form.sum().item() / shape[2]
    assert kl_loss(z, log_std_q, mean, log_std, mask).item() == pytest.approx(expected, abs=0.03)


def test_the_waveform_window_lies_exactly_under_the_latent_window():
    frames, segment = torch.tensor([44, 30, 5]), 8
    torch.manual_seed(0)
    for _ in range(20):
        starts = random_segment_starts(frames, segment)
        assert (starts >= 0).all() and (starts <= (frames - segment).clamp(min=0)).all()
    starts = torch.tensor([0, 22, 40])  # the last window runs 4 frames past the 44
    latent = torch.arange(44.0).expand(3, 2, 44)  # (B, inter, T_mel): frame t holds t
    waveform = torch.arange(44.0 * HOP).expand(3, -1)  # (B, T_wav): sample n holds n
    latent_window = slice_segments(latent, starts, segment)  # (B, 2, S)
    waveform_window = slice_segments(waveform[:, None], starts * HOP, segment * HOP)[:, 0]  # (B, S * hop)
    for b, start in enumerate(starts.tolist()):
        frames_in = torch.arange(start, start + segment, dtype=torch.float32)
        samples = torch.arange(start * HOP, (start + segment) * HOP, dtype=torch.float32)
        torch.testing.assert_close(latent_window[b, 0], frames_in * (frames_in < 44))  # zeros past the end
        torch.testing.assert_close(waveform_window[b], samples * (samples < 44 * HOP))
        # sample n of the window is under latent frame n // hop of the window
        assert torch.equal(waveform_window[b, ::HOP] // HOP, latent_window[b, 0] * (frames_in < 44))


# ---------------------------------------------------------------- the model


def test_one_gan_training_step_gives_finite_losses_and_gradients_everywhere():
    model, batch = ci_model(), fabricated_batch()
    generator_optimizer = torch.optim.AdamW(model.generator_side_parameters(), 2e-4, betas=(0.8, 0.99))
    discriminator_optimizer = torch.optim.AdamW(model.discriminator_parameters(), 2e-4, betas=(0.8, 0.99))
    output = model(batch)
    assert isinstance(output, VITSOutput)
    window = CI.segment_frames * HOP
    assert output.generated.shape == output.real.shape == (2, window)
    assert output.path.shape == (2, 9, 44)
    assert torch.equal(output.path.sum(1), padding_mask(batch["mel_lengths"], 44).float())
    assert (output.segment_starts <= batch["mel_lengths"] - CI.segment_frames).all()
    padded = torch.nn.functional.pad(batch["waveform"], (0, window))  # the real window may run past the end
    for b, start in enumerate(output.segment_starts.tolist()):
        assert torch.equal(output.real[b], padded[b, start * HOP : start * HOP + window])
    # the discriminator step, on detached audio
    real_scores = model.discriminate(output.real)
    fake_scores = model.discriminate(output.generated.detach())
    discriminator_optimizer.zero_grad()
    discriminator_loss(real_scores.scores, fake_scores.scores).backward()
    for name, parameter in model.named_parameters():
        is_discriminator = name.startswith(("period_discriminator", "scale_discriminator"))
        assert (parameter.grad is not None) == is_discriminator, name
    discriminator_optimizer.step()
    # the generator step: the VAE losses + adversarial + 2 x feature matching
    real_features = [[f.detach() for f in layers] for layers in model.discriminate(output.real).features]
    scored = model.discriminate(output.generated)
    adversarial = generator_adversarial_loss(scored.scores)
    matching = feature_matching_loss(real_features, scored.features)
    generator_optimizer.zero_grad()
    total = output.loss + adversarial + CI.feature_matching_weight * matching
    total.backward()
    parts = (output.mel_loss, output.kl_loss, output.duration_loss, output.stochastic_duration_loss, adversarial,
             matching, total)  # fmt: skip
    assert all(torch.isfinite(part) for part in parts)
    torch.testing.assert_close(output.loss, 45 * output.mel_loss + output.kl_loss + output.duration_loss
                               + output.stochastic_duration_loss)  # fmt: skip
    for parameter in model.generator_side_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
    # a new coupling's output layer is zero, so what feeds it gets a zero gradient at the first step: the
    # flow's pre and WaveNet layers, and in the stochastic duration predictor everything but its couplings'
    # output layers and the element-wise affine flows (its conditioning feeds the couplings alone); every
    # other parameter gets a nonzero one
    silent = {name for name, p in model.named_parameters() if p.grad is not None and not p.grad.any()}
    before_post = {f"flow.{name}" for name, _ in model.flow.named_parameters() if ".pre." in name or ".wavenet." in name}
    before_post |= {f"stochastic_duration_predictor.{name}"
                    for name, _ in model.stochastic_duration_predictor.named_parameters()
                    if ".post." not in name and not name.startswith(("flows.0.", "posterior_flows.0."))}  # fmt: skip
    assert silent == before_post
    generator_optimizer.step()


def test_synthesize_returns_finite_audio_of_the_durations_length():
    model, batch = ci_model(), fabricated_batch()
    torch.manual_seed(0)
    result = model.synthesize(batch["tokens"], batch["token_lengths"])
    assert isinstance(result, SynthesisOutput) and model.training  # the mode is restored
    assert result.durations.shape == (2, 9) and (result.durations[1, 5:] == 0).all()
    assert (result.durations[padding_mask(batch["token_lengths"], 9)] >= 1).all()
    assert torch.equal(result.waveform_lengths, result.durations.sum(1) * HOP)
    assert result.waveform.shape == (2, int(result.waveform_lengths.max())) and torch.isfinite(result.waveform).all()
    assert (result.waveform[1, int(result.waveform_lengths[1]):] == 0).all()
    slower = model.synthesize(batch["tokens"], batch["token_lengths"], noise_scale=0.0, length_scale=3.0)
    with torch.no_grad():  # the durations are ceil(exp(log d) x length_scale) of the predictor's log d
        hidden, _, _, text_mask = model.eval().text_encoder(batch["tokens"], batch["token_lengths"])
        expected = torch.ceil(model.duration_predictor(hidden, text_mask).exp() * 3.0) * text_mask
    assert torch.equal(slower.durations, expected.long())
    assert (slower.durations >= result.durations).all() and (slower.waveform_lengths > result.waveform_lengths).all()
    guarded = model.synthesize(batch["tokens"], batch["token_lengths"], max_frames=4)
    assert (guarded.waveform_lengths <= 4 * HOP).all() and (guarded.durations.sum(1) <= 4).all()


def test_presets_sizes_and_the_gpu_preset_is_the_papers_model():
    """gpu: 34.8 M generator-side parameters (text encoder 4.5 M, posterior 7.2 M, flow 7.1 M, duration
    predictors 0.35 M + 1.3 M, V1 decoder 14.3 M) and 51 M in the discriminators. The paper's VITS is ~36 M:
    our conv FFN's second layer is 1x1 (theirs kernel 3: +1.8 M) and our stochastic predictor's couplings
    are affine (theirs splines)."""
    model = VITS(VITSConfig.preset("gpu"))
    counts = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    generator_side = sum(p.numel() for p in model.generator_side_parameters())
    assert generator_side == sum(counts[name] for name in ("text_encoder", "posterior_encoder", "flow",
                                                           "duration_predictor", "stochastic_duration_predictor",
                                                           "generator"))  # fmt: skip
    assert 34e6 < generator_side < 35.5e6 and 14e6 < counts["generator"] < 15e6
    assert 1e6 < counts["stochastic_duration_predictor"] < 1.5e6
    assert model.config.hidden_channels == model.config.inter_channels == 192
    assert (model.config.text_encoder_layers, model.config.n_heads, model.config.filter_channels) == (6, 2, 768)
    cpu = sum(p.numel() for p in VITS(VITSConfig.preset("cpu")).generator_side_parameters())
    ci = sum(p.numel() for p in VITS(CI).generator_side_parameters())
    assert 5e6 < cpu < 8e6 and ci < 1e5
    with pytest.raises(ValueError, match="inter_channels"):
        VITSConfig(inter_channels=128)  # the flow and the decoder still read 192 channels
    with pytest.raises(ValueError, match="hop_length"):
        dataclasses.replace(CI, mel=MelConfig(hop_length=200, n_fft=1024, win_length=800))


def test_config_and_checkpoint_round_trips(tmp_path, monkeypatch):
    for profile in ("ci", "cpu", "gpu"):
        config = VITSConfig.preset(profile)
        assert checkpoint.config_from_dict(VITSConfig, dataclasses.asdict(config)) == config
    model, batch = ci_model(seed=1), fabricated_batch()
    generator_optimizer = torch.optim.AdamW(model.generator_side_parameters(), 1e-3)
    discriminator_optimizer = torch.optim.AdamW(model.discriminator_parameters(), 1e-3)
    model(batch).loss.backward()
    generator_optimizer.step()
    optimizers = {"generator": generator_optimizer, "discriminator": discriminator_optimizer}
    path = checkpoint.save(tmp_path / "vits.pt", model, optimizers, step=3, config=model.config)
    assert checkpoint.config_from_checkpoint(path, VITSConfig) == CI
    fresh = ci_model(seed=2)
    fresh_optimizers = {"generator": torch.optim.AdamW(fresh.generator_side_parameters(), 1e-3),
                        "discriminator": torch.optim.AdamW(fresh.discriminator_parameters(), 1e-3)}  # fmt: skip
    step, _ = checkpoint.load(path, fresh, fresh_optimizers, config=fresh.config)
    assert step == 3
    saved, restored = model.state_dict(), fresh.state_dict()
    assert saved.keys() == restored.keys() and all(torch.equal(saved[key], restored[key]) for key in saved)
    moments = [optimizer.state_dict()["state"][0]["exp_avg"] for optimizer in (generator_optimizer,
                                                                          fresh_optimizers["generator"])]
    assert torch.equal(*moments)
    loaded = vits.load_pretrained(path)
    assert not loaded.training and loaded.config == CI
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path / "nowhere"))
    assert vits.artifact_path("ci").name == "vits_ci.pt"
    with pytest.raises(FileNotFoundError, match="10_vits"):
        vits.load_pretrained()


def test_bad_input_raises_errors_that_name_the_problem():
    model, batch = ci_model(), fabricated_batch()
    cases = [
        ({"tokens": batch["tokens"].clone().index_fill_(1, torch.tensor([0]), 999)}, "outside the vocabulary"),
        ({"token_lengths": torch.tensor([9, 0])}, "no tokens"),
        ({"waveform": None}, "lacks \\['waveform'\\].*with_waveform=True"),
        ({"waveform": batch["waveform"].clone().index_fill_(1, torch.tensor([5]), float("nan"))}, "NaN"),
        ({"waveform": (batch["waveform"] * 32768).short()}, "float samples"),
        ({"waveform_lengths": torch.tensor([11025, 700])}, "utterance 1 has 5 tokens but 3 frames"),
    ]
    for change, message in cases:
        broken = {**batch, **change}
        broken = {key: value for key, value in broken.items() if value is not None}
        with pytest.raises(ValueError, match=message):
            model(broken)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.synthesize(torch.tensor([[3, 500]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="length_scale > 0"):
        model.synthesize(batch["tokens"], batch["token_lengths"], length_scale=0.0)
    with pytest.raises(ValueError, match="noise_scale >= 0"):
        model.synthesize(batch["tokens"], batch["token_lengths"], noise_scale=float("nan"))


def test_warm_start_copies_a_matching_vocoder_and_names_what_differs():
    from minispeech.models.hifigan import HiFiGAN, HiFiGANConfig

    vocoder = HiFiGAN(HiFiGANConfig.preset("ci"))
    matching = dataclasses.replace(CI, generator=vocoder.config.generator, inter_channels=80,
                                   flow=dataclasses.replace(CI.flow, channels=80))  # fmt: skip
    model = VITS(matching)
    vits.warm_start_decoder(model, vocoder)
    z = torch.randn(1, 80, 5)
    with torch.no_grad():
        torch.testing.assert_close(model.generator(z), vocoder.generator(z))
    with pytest.raises(ValueError, match=r"n_mels \(80 vs 8\)"):
        vits.warm_start_decoder(VITS(CI), vocoder)
    cpu_vits, cpu_vocoder = VITSConfig.preset("cpu"), HiFiGANConfig.preset("cpu")
    assert cpu_vits.generator == cpu_vocoder.generator  # lesson 10 warm-starts from lesson 09's cpu vocoder


def test_synthesize_with_the_stochastic_predictor_respects_masks_and_noise():
    model, batch = ci_model(), fabricated_batch()
    first = model.synthesize(batch["tokens"], batch["token_lengths"], stochastic=True, duration_noise_scale=0.0)
    again = model.synthesize(batch["tokens"], batch["token_lengths"], stochastic=True, duration_noise_scale=0.0)
    assert torch.equal(first.durations, again.durations)  # no duration noise: one rhythm
    assert (first.durations[1, 5:] == 0).all() and (first.durations[padding_mask(batch["token_lengths"], 9)] >= 1).all()
    with pytest.raises(ValueError, match="duration_noise_scale"):
        model.synthesize(batch["tokens"], batch["token_lengths"], stochastic=True, duration_noise_scale=-1.0)


def test_the_gpu_preset_runs_one_training_step_on_cpu():
    """The paper-size model (V1 decoder, 192-channel latent) takes one VAE + GAN step on a short batch."""
    torch.manual_seed(0)
    model = VITS(VITSConfig.preset("gpu"))
    batch = fabricated_batch(waveform_lengths=(9000, 8400), token_lengths=(6, 4))
    output = model(batch)
    scored = model.discriminate(output.generated)
    loss = output.loss + generator_adversarial_loss(scored.scores)
    loss.backward()
    assert torch.isfinite(loss) and output.generated.shape == (2, 32 * HOP)
    assert all(p.grad is not None for p in model.generator.parameters())
