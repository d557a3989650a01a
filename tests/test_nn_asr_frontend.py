"""minispeech.nn.asr_frontend: per-utterance normalization over the real frames, SpecAugment masks
within their limits, the frequency warp (identity at 0, a convex mix of neighbouring bands, a
shift of spectral peaks), and ASRFrontEnd's training/eval behaviour."""

import pytest
import torch

from minispeech.dsp import MelConfig
from minispeech.nn.asr_frontend import (
    ASRFrontEnd,
    AugmentConfig,
    normalize_features,
    spec_augment_batch,
    warp_frequencies,
)

N_MELS = 80


def test_normalize_features_uses_only_real_frames(random_batch):
    batch = random_batch([10, 4], n_mels=3)
    normalized = normalize_features(batch["features"], batch["feature_lengths"])
    real = normalized[1, :4]
    torch.testing.assert_close(real.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(real.std(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    assert (normalized[1, 4:] == 0).all()


def test_spec_augment_masks_bands_and_spans_within_limits():
    torch.manual_seed(0)
    augment = AugmentConfig(freq_masks=1, freq_mask_width=5, time_masks=1, time_mask_width=100)
    features = torch.ones(64, 200, N_MELS)
    lengths = torch.full((64,), 200)
    masked = spec_augment_batch(features, lengths, augment)
    zero_bands = (masked == 0).all(dim=1).sum(dim=1)  # (B,) bands zero in every frame
    zero_frames = (masked == 0).all(dim=2).sum(dim=1)  # (B,) frames zero in every band
    assert zero_bands.max() <= 5 and zero_bands.max() > 0
    assert zero_frames.max() <= 20 and zero_frames.max() > 0  # at most 10 % of 200 frames
    assert (features == 1).all()  # the input is untouched


def test_spec_augment_time_masks_stay_inside_each_utterance():
    torch.manual_seed(0)
    augment = AugmentConfig(freq_masks=0, time_masks=3, time_mask_width=50)
    lengths = torch.tensor([200, 60, 31])
    features = torch.ones(3, 200, N_MELS)
    for _ in range(20):
        masked = spec_augment_batch(features, lengths, augment)
        zero_frames = (masked == 0).all(dim=2)  # (B, T)
        for b, n in enumerate(lengths.tolist()):
            assert not zero_frames[b, n:].any()  # a mask never starts in the padding
            assert zero_frames[b, :n].sum() <= 3 * (n // 10)


def test_warp_of_range_zero_is_the_identity():
    features = torch.randn(2, 7, N_MELS)
    torch.testing.assert_close(
        warp_frequencies(features, MelConfig(), 0.0), features, atol=1e-4, rtol=0
    )


def test_warp_mixes_neighbouring_bands_and_moves_peaks():
    torch.manual_seed(0)
    features = torch.randn(16, 5, N_MELS)
    warped = warp_frequencies(features, MelConfig(), 0.2)
    assert warped.shape == features.shape
    # each output band is a convex mix of input bands of the same frame
    assert torch.all(warped <= features.amax(dim=2, keepdim=True) + 1e-5)
    assert torch.all(warped >= features.amin(dim=2, keepdim=True) - 1e-5)
    constant = torch.full((4, 3, N_MELS), -3.0)
    torch.testing.assert_close(warp_frequencies(constant, MelConfig(), 0.2), constant)
    # a peak in band 40 moves by a different amount for each utterance's random vocal tract
    peak = torch.zeros(32, 1, N_MELS)
    peak[:, :, 40] = 1.0
    peak_positions = warp_frequencies(peak, MelConfig(), 0.2).argmax(dim=2).flatten()
    assert peak_positions.unique().numel() > 3 and (peak_positions - 40).abs().max() <= 12


def test_front_end_augments_only_in_training_mode_and_checks_the_layout(random_batch):
    front_end = ASRFrontEnd(MelConfig(), AugmentConfig())
    batch = random_batch([50, 30])
    features, lengths = batch["features"], batch["feature_lengths"]
    front_end.eval()
    torch.testing.assert_close(front_end(features, lengths), normalize_features(features, lengths))
    front_end.train()
    torch.manual_seed(0)
    first = front_end(features, lengths)
    assert not torch.allclose(first, front_end(features, lengths))  # new warp and masks each call
    assert (first[1, 30:] == 0).all()  # padding stays zero
    with pytest.raises(ValueError, match="transpose"):
        front_end(features.transpose(1, 2), lengths)  # (B, n_mels, T_mel): the dsp layout


def test_augment_config_rejects_bad_values():
    with pytest.raises(ValueError, match="warp_range"):
        AugmentConfig(warp_range=1.0)
    with pytest.raises(ValueError, match="time_masks"):
        AugmentConfig(time_masks=-1)
