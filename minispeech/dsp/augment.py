"""SpecAugment on one feature matrix (NumPy): frequency and time masks (Park et al., 2019).

spec_augment   a masked copy of features (n_mels, T_mel); time warping is left out

The batched torch twin the ASR models train with (spec_augment_batch) is part of the ASR
front end in minispeech/nn/.
Taught in lessons/02_mel_mfcc.ipynb.
"""

from __future__ import annotations

import numpy as np


def spec_augment(
    features: np.ndarray,
    n_freq_masks: int = 2,
    freq_mask_width: int = 15,
    n_time_masks: int = 2,
    time_mask_width: int = 40,
    time_mask_fraction: float = 0.2,
    seed: int | np.random.Generator | None = None,
    mask_value: float | None = None,
) -> np.ndarray:
    """A masked copy of features (n_mels, T_mel): SpecAugment without time warping.

    Each frequency mask covers f ~ U{0, .., freq_mask_width} consecutive bands starting at
    f0 ~ U{0, .., n_mels - f}; each time mask t ~ U{0, .., min(time_mask_width,
    time_mask_fraction * T_mel)} frames (the bound p of Park et al., 2019: 0.2 in their LD
    policy), likewise placed. Masks may overlap. Masked cells get mask_value, by default the
    mean of `features` (0 for normalized features, as in the paper). `seed` is an int or a
    np.random.Generator (reproducible) or None (fresh randomness). The input is never
    modified. Lesson 02.
    """
    features = np.asarray(features)
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.floating):
        raise ValueError(
            f"spec_augment: features must be a float (n_mels, T_mel) array, got {features.dtype} {features.shape}"
        )
    if not 0.0 <= time_mask_fraction <= 1.0:
        raise ValueError(f"spec_augment: time_mask_fraction must be in [0, 1], got {time_mask_fraction}")
    for name, value in [("n_freq_masks", n_freq_masks), ("freq_mask_width", freq_mask_width),
                        ("n_time_masks", n_time_masks), ("time_mask_width", time_mask_width)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"spec_augment: {name} must be an integer >= 0, got {value!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_mels, n_frames = features.shape
    masked = features.copy()
    fill = features.mean() if mask_value is None else mask_value
    max_time_width = min(time_mask_width, int(time_mask_fraction * n_frames))
    for size, max_width, n_masks, axis in [(n_mels, min(freq_mask_width, n_mels), n_freq_masks, 0),
                                           (n_frames, max_time_width, n_time_masks, 1)]:
        for _ in range(n_masks):
            width = int(rng.integers(0, max_width + 1))
            start = int(rng.integers(0, size - width + 1))
            if axis == 0:
                masked[start : start + width, :] = fill
            else:
                masked[:, start : start + width] = fill
    return masked
