"""Mel inversion: from a mel spectrogram back to a linear magnitude, then to a waveform.

mel_to_stft        magnitude S (n_freqs, T_mel) >= 0 whose mel is M, by non-negative least squares
mel_to_audio       mel_to_stft, then griffin_lim: librosa.feature.inverse.mel_to_audio's recipe
log_mel_to_audio   exp of log_mel, then mel_to_audio: the baseline vocoder of lessons 07-08

The mel filterbank F (n_mels, n_freqs) has far fewer rows than columns, so F S = M has many
solutions S; mel_to_stft wants a non-negative one, as close to M as possible:

    minimize ||F S - M||²  subject to S >= 0          (one problem per frame, solved together)

librosa starts from the pseudo-inverse pinv(F) M with negative entries set to 0, then runs
L-BFGS-B on the squared error divided by M.size. That division makes the gradient smaller
than L-BFGS-B's stopping tolerance from the first step, so librosa returns its starting point
(measured with librosa 0.11: equal to 1e-15). `nnls_iterations=0` gives exactly that start,
equal to librosa's output (tested). The default goes on with accelerated projected gradient
steps (FISTA, Beck & Teboulle, 2009) on the unscaled error: after 100 steps the mel of S is
within ~1e-6 of M where the clipped pseudo-inverse misses by ~5 %, and Griffin-Lim has a
better magnitude to start from.

Conventions (as librosa): the same Slaney filterbank as melspectrogram; power=1 for our
magnitude mel (log_mel), power=2 for a power mel; Griffin-Lim with center=True and "reflect"
padding (our stft's pad_mode; pass pad_mode="reflect" to librosa to compare).

Shapes   M (n_mels, T_mel), frequency first like every dsp transform; S (n_freqs, T_mel);
         waveform (T_wav,) with T_wav = hop_length * (T_mel - 1) unless `length` is given.
Taught in lessons/07_tacotron2.ipynb (Griffin-Lim from predicted mels); used by lesson 08.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from minispeech.dsp.checks import check_spectrogram
from minispeech.dsp.mel import MelConfig
from minispeech.dsp.spectral import griffin_lim

DEFAULT_NNLS_ITERATIONS = 100


class _InversionOperators(NamedTuple):
    filterbank: object  # F (n_mels, n_freqs), scipy.sparse CSR: each FFT bin feeds <= 2 filters
    filterbank_transposed: object  # F^T (n_freqs, n_mels), CSR
    pseudo_inverse: np.ndarray  # pinv(F) (n_freqs, n_mels), dense, read-only
    step: float  # 1 / ||F||², the largest step that keeps FISTA stable


@functools.lru_cache(maxsize=8)
def _inversion_operators(config: MelConfig) -> _InversionOperators:
    """The filterbank as sparse matrices (about 730 non-zeros of 41,000: the FISTA steps cost
    O(nnz T_mel), and no multithreaded BLAS call, which crawls on a busy 2-core machine)."""
    import scipy.sparse

    filterbank = config.filterbank()  # (n_mels, n_freqs) float64
    pseudo_inverse = np.linalg.pinv(filterbank)  # (n_freqs, n_mels)
    pseudo_inverse.setflags(write=False)
    lipschitz = np.linalg.norm(filterbank, 2) ** 2  # largest eigenvalue of F^T F
    return _InversionOperators(
        scipy.sparse.csr_matrix(filterbank), scipy.sparse.csr_matrix(filterbank.T), pseudo_inverse,
        1.0 / lipschitz,
    )  # fmt: skip


def _check_config(config: MelConfig, caller: str) -> MelConfig:
    if not isinstance(config, MelConfig):
        raise TypeError(
            f"{caller}: config must be the MelConfig the mel was made with, got "
            f"{type(config).__name__}; e.g. {caller}(M, MelConfig())"
        )
    return config


def _check_mel(M: np.ndarray, config: MelConfig, caller: str, name: str = "M") -> np.ndarray:
    """M as a float (n_mels, T_mel) array matching config.n_mels, or an error that says the fix."""
    M = check_spectrogram(M, caller, name)
    if M.shape[0] != config.n_mels:
        hint = (
            f"; it looks time first (T_mel, n_mels): pass {name}.T"
            if M.shape[1] == config.n_mels
            else "; use the MelConfig the mel was computed with"
        )
        raise ValueError(
            f"{caller}: {name} must be (n_mels, T_mel) with n_mels = config.n_mels = "
            f"{config.n_mels}, got shape {M.shape}{hint}"
        )
    if M.dtype not in (np.float32, np.float64):
        M = M.astype(np.float64)
    return M


def mel_to_stft(
    M: np.ndarray,
    config: MelConfig,
    power: float = 1.0,
    nnls_iterations: int = DEFAULT_NNLS_ITERATIONS,
) -> np.ndarray:
    """Linear magnitude S (n_freqs, T_mel) >= 0 with F S ≈ M, in M's dtype (see the module doc).

    M is the mel of |STFT| ** power: power=1 (default) for melspectrogram(..., power=1) and
    exp(log_mel); power=2 for librosa's default power mel. Solves the non-negative least
    squares problem for S ** power, then takes the power-th root, like librosa.
    nnls_iterations=0 returns the clipped pseudo-inverse, which is librosa's result.
    Lesson 07.
    """
    config = _check_config(config, "mel_to_stft")
    M = _check_mel(M, config, "mel_to_stft")
    if (M < 0).any():
        raise ValueError(
            "mel_to_stft: M has negative values, so it is not a mel spectrogram; "
            "for log-mel features use log_mel_to_audio (or np.exp first)"
        )
    if not power > 0:
        raise ValueError(f"mel_to_stft: power must be > 0, got {power}")
    whole = isinstance(nnls_iterations, int) and not isinstance(nnls_iterations, bool)
    if not whole or nnls_iterations < 0:
        raise ValueError(
            f"mel_to_stft: nnls_iterations must be an integer >= 0, got {nnls_iterations!r}"
        )
    operators = _inversion_operators(config)
    target = M.astype(np.float64)  # (n_mels, T_mel)
    # librosa's start, the clipped pseudo-inverse: (n_freqs, T_mel)
    solution = np.maximum(operators.pseudo_inverse @ target, 0.0)
    # FISTA: a gradient step on ½||F S - M||² from the extrapolated point, then S >= 0.
    extrapolated, momentum = solution, 1.0
    for _ in range(nnls_iterations):
        residual = operators.filterbank @ extrapolated - target  # (n_mels, T_mel)
        gradient = operators.filterbank_transposed @ residual  # (n_freqs, T_mel)
        previous = solution
        solution = np.maximum(extrapolated - operators.step * gradient, 0.0)
        next_momentum = (1.0 + np.sqrt(1.0 + 4.0 * momentum**2)) / 2.0
        extrapolated = solution + ((momentum - 1.0) / next_momentum) * (solution - previous)
        momentum = next_momentum
    if power != 1.0:
        solution = solution ** (1.0 / power)
    return solution.astype(M.dtype)


def mel_to_audio(
    M: np.ndarray,
    config: MelConfig,
    n_iter: int = 32,
    power: float = 1.0,
    momentum: float = 0.99,
    seed: int = 0,
    length: int | None = None,
    nnls_iterations: int = DEFAULT_NNLS_ITERATIONS,
) -> np.ndarray:
    """A waveform (T_wav,) whose mel approximates M (n_mels, T_mel): mel_to_stft + griffin_lim.

    n_iter Griffin-Lim iterations from seeded random phases (momentum 0.99, the fast variant),
    hop, window and FFT sizes from `config`; float32 M gives float32 audio. With
    nnls_iterations=0 this is librosa.feature.inverse.mel_to_audio's recipe exactly: its
    mel_to_stft, then librosa.griffinlim(..., pad_mode="reflect",
    random_state=np.random.default_rng(seed)) (tested equal). Lesson 07.
    """
    config = _check_config(config, "mel_to_audio")
    if not config.center:
        raise ValueError(
            "mel_to_audio: Griffin-Lim here assumes centred frames, but config.center is False; "
            "use a MelConfig with center=True"
        )
    magnitude = mel_to_stft(M, config, power, nnls_iterations)  # (n_freqs, T_mel)
    return griffin_lim(
        magnitude, n_iter, config.hop_length, config.win_length, "hann", momentum, seed, length,
        config.n_fft,
    )


def log_mel_to_audio(
    log_mel_features: np.ndarray,
    config: MelConfig,
    n_iter: int = 32,
    seed: int = 0,
    length: int | None = None,
    nnls_iterations: int = DEFAULT_NNLS_ITERATIONS,
) -> np.ndarray:
    """A waveform (T_wav,) from log_mel features (n_mels, T_mel): exp, then mel_to_audio.

    log_mel is the natural log of the *magnitude* mel clamped at config.log_floor, so exp
    gives the magnitude mel back (power=1) except below the floor, where it gives the floor
    (≈ -100 dB: inaudible). A model's (T_mel, n_mels) output needs `.T` first. Lesson 07.
    """
    config = _check_config(config, "log_mel_to_audio")
    features = _check_mel(log_mel_features, config, "log_mel_to_audio", "log_mel_features")
    ceiling = np.log(np.finfo(np.float32).max)  # ~88.7: exp overflows float32 above this
    if features.max() > ceiling:
        raise ValueError(
            f"log_mel_to_audio: log_mel_features reach {features.max():.1f}, above "
            f"log(float32 max); these are not natural-log mel magnitudes "
            f"(for dB values multiply by ln(10) / 20 first)"
        )
    magnitude_mel = np.exp(features)  # (n_mels, T_mel)
    return mel_to_audio(
        magnitude_mel, config, n_iter, power=1.0, seed=seed, length=length,
        nnls_iterations=nnls_iterations,
    )
