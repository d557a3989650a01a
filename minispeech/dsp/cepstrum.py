"""The classic recognizer front end after the mel spectrogram: MFCC, deltas, CMVN.

MFCCConfig        every setting of mfcc(x, config) in one frozen dataclass (librosa's defaults,
                  at 22.05 kHz with a 1024-point FFT, hop 256 and 80 mels)
mfcc              mfcc(x, config): MFCCs from a waveform, exactly as librosa.feature.mfcc
mfcc_from_mel_db  the second half alone: DCT-II (+ lifter) of a dB mel spectrogram you already have
dct_matrix, dct   the DCT-II written out as a matrix (orthonormal by default)
deltas            Savitzky-Golay time derivatives, as librosa.feature.delta
cmvn              cepstral mean and variance normalization over time

Shapes   x (T_wav,) -> features (n_mfcc, T_mel), time last like librosa; transpose for the
         (T, D) sequences of minispeech.hmm.
Taught in lessons/02_mel_mfcc.ipynb, used by lessons/03 (HMM).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from minispeech.dsp.checks import check_positive_int, check_spectrogram
from minispeech.dsp.mel import melspectrogram, power_to_db
from minispeech.dsp.spectral import PAD_MODES, WINDOWS


@dataclasses.dataclass(frozen=True)
class MFCCConfig:
    """Settings of mfcc(x, config): the power mel spectrogram, its dB, then the DCT.

    sample_rate .. htk     the mel spectrogram (power 2), as melspectrogram's arguments;
                           fmax=None means sample_rate / 2 (librosa's default)
    n_mfcc                 coefficients kept (13: the phone, without most of the pitch)
    dct_norm               "ortho" (orthonormal DCT-II, librosa's default) or None
    lifter                 0 for none, else coefficient k is scaled by 1 + (lifter / 2) sin(π k / lifter)

    The dB step is power_to_db with ref=1 and top_db=80, like librosa. Lesson 02.
    """

    sample_rate: int = 22050
    n_mfcc: int = 13
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int | None = None
    window: str = "hann"
    center: bool = True
    pad_mode: str = "reflect"
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    dct_norm: str | None = "ortho"
    lifter: float = 0.0

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mfcc", "n_fft", "hop_length", "n_mels"):
            check_positive_int(getattr(self, name), name, "MFCCConfig")
        if self.win_length is not None:
            check_positive_int(self.win_length, "win_length", "MFCCConfig")
            if self.win_length > self.n_fft:
                raise ValueError(f"MFCCConfig: win_length={self.win_length} must be <= n_fft={self.n_fft}")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"MFCCConfig: n_mfcc={self.n_mfcc} must be <= n_mels={self.n_mels}")
        if self.window not in WINDOWS:
            raise ValueError(f"MFCCConfig: window must be one of {WINDOWS}, got {self.window!r}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"MFCCConfig: pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")
        fmax = self.sample_rate / 2 if self.fmax is None else self.fmax
        if not 0.0 <= self.fmin < fmax <= self.sample_rate / 2:
            raise ValueError(
                f"MFCCConfig: need 0 <= fmin < fmax <= sample_rate / 2 = {self.sample_rate / 2}, "
                f"got fmin={self.fmin}, fmax={self.fmax}"
            )
        if self.dct_norm not in ("ortho", None):
            raise ValueError(f"MFCCConfig: dct_norm must be 'ortho' or None, got {self.dct_norm!r}")
        if self.lifter < 0:
            raise ValueError(f"MFCCConfig: lifter must be >= 0, got {self.lifter}")


@functools.lru_cache(maxsize=32)
def dct_matrix(n_out: int, n_in: int, norm: str | None = "ortho") -> np.ndarray:
    """The DCT-II as a matrix (n_out, n_in), read-only: C[k, n] = cos(π k (2n + 1) / (2 n_in)).

    norm="ortho" scales row 0 by sqrt(1 / n_in) and the others by sqrt(2 / n_in), making the
    full square matrix orthonormal; norm=None scales by 2 (scipy's unnormalized DCT-II).
    Lesson 02.
    """
    n_out = check_positive_int(n_out, "n_out", "dct_matrix")
    n_in = check_positive_int(n_in, "n_in", "dct_matrix")
    if n_out > n_in:
        raise ValueError(f"dct_matrix: n_out={n_out} must be <= n_in={n_in}")
    if norm not in ("ortho", None):
        raise ValueError(f"dct_matrix: norm must be 'ortho' or None, got {norm!r}")
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))  # (n_out, n_in)
    if norm == "ortho":
        basis *= np.sqrt(2.0 / n_in)
        basis[0] *= np.sqrt(0.5)
    else:
        basis *= 2.0
    basis.setflags(write=False)
    return basis


def dct(x: np.ndarray, n: int | None = None, axis: int = -1, norm: str | None = "ortho") -> np.ndarray:
    """DCT-II of x along `axis`, keeping the first n coefficients (all when None).

    Equals scipy.fft.dct(x, type=2, norm=norm, axis=axis) truncated to n coefficients.
    Note: here n counts the outputs kept; in scipy n pads or truncates the input. Lesson 02.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"dct: x must be a float array, got dtype {x.dtype}")
    n_in = x.shape[axis]
    basis = dct_matrix(n_in if n is None else n, n_in, norm).astype(x.dtype)  # (n, n_in)
    moved = np.moveaxis(x, axis, -1)  # (..., n_in)
    return np.moveaxis(moved @ basis.T, -1, axis)


def mfcc(x: np.ndarray, config: MFCCConfig) -> np.ndarray:
    """MFCCs (n_mfcc, T_mel) of a waveform x (T_wav,), as librosa.feature.mfcc computes them.

    S = power_to_db(melspectrogram(x, power=2)) with ref=1 and top_db=80 over the whole
    utterance, then mfcc_from_mel_db(S, config.n_mfcc, config.dct_norm, config.lifter).
    Every setting comes from `config`, e.g. mfcc(x, MFCCConfig(sample_rate=16000)). Lesson 02.
    """
    if not isinstance(config, MFCCConfig):
        raise TypeError(
            f"mfcc: config must be an MFCCConfig, got {type(config).__name__} {config!r}; "
            f"for a sample rate alone pass mfcc(x, MFCCConfig(sample_rate=...)); "
            f"for a dB mel spectrogram you already have use mfcc_from_mel_db(S)"
        )
    mel = melspectrogram(
        x, config.sample_rate, config.n_fft, config.hop_length, config.win_length, config.n_mels,
        config.fmin, config.fmax, 2.0, config.center,
        window=config.window, pad_mode=config.pad_mode, htk=config.htk,
    )  # (n_mels, T_mel)
    return mfcc_from_mel_db(power_to_db(mel), config.n_mfcc, config.dct_norm, config.lifter)


def mfcc_from_mel_db(
    S: np.ndarray, n_mfcc: int = 13, norm: str | None = "ortho", lifter: float = 0.0
) -> np.ndarray:
    """MFCCs (n_mfcc, T_mel) from a log-power mel spectrogram in dB S (n_mels, T_mel).

    The DCT-II along the mel axis keeps n_mfcc coefficients, and lifter > 0 scales
    coefficient k (1-based) by 1 + (lifter / 2) sin(π k / lifter). Equals
    librosa.feature.mfcc(S=S, n_mfcc=n_mfcc, norm=norm, lifter=lifter). Lesson 02.
    """
    if lifter < 0:
        raise ValueError(f"mfcc_from_mel_db: lifter must be >= 0, got {lifter}")
    S = check_spectrogram(S, "mfcc_from_mel_db")
    n_mfcc = check_positive_int(n_mfcc, "n_mfcc", "mfcc_from_mel_db")
    if n_mfcc > S.shape[0]:
        raise ValueError(f"mfcc_from_mel_db: n_mfcc={n_mfcc} must be <= the number of mel bands {S.shape[0]}")
    coefficients = dct(S, n_mfcc, axis=0, norm=norm)  # (n_mfcc, T_mel)
    if lifter > 0:
        k = np.arange(1, n_mfcc + 1)
        coefficients *= (1.0 + (lifter / 2.0) * np.sin(np.pi * k / lifter))[:, None].astype(S.dtype)
    return coefficients


def deltas(features: np.ndarray, width: int = 9, order: int = 1) -> np.ndarray:
    """Time derivative of `order` along the last axis, same shape: librosa.feature.delta.

    A Savitzky-Golay filter: fit a polynomial of degree `order` to each window of `width`
    frames by least squares and take its order-th derivative at the centre. For order 1
    the weights are t / Σ t² for t = -width//2 .. width//2 (the HTK delta formula). As in
    librosa's mode="interp", the first and last width // 2 frames take the derivative of
    the fit to the first / last full window, which for a degree-`order` polynomial is the
    same constant as the window's centre frame. Lesson 02.
    """
    features = np.asarray(features)
    if not np.issubdtype(features.dtype, np.floating) or features.ndim == 0:
        raise ValueError(f"deltas: features must be a float array (..., T), got {features.dtype} {features.shape}")
    width = check_positive_int(width, "width", "deltas")
    order = check_positive_int(order, "order", "deltas")
    if width < 3 or width % 2 == 0:
        raise ValueError(f"deltas: width must be an odd integer >= 3, got {width}")
    if order >= width:
        raise ValueError(f"deltas: order={order} must be < width={width}")
    if features.shape[-1] < width:
        raise ValueError(f"deltas: need at least width={width} frames, got {features.shape[-1]}")
    half = width // 2
    positions = np.arange(-half, half + 1, dtype=np.float64)
    vandermonde = positions[:, None] ** np.arange(order + 1)  # (width, order + 1)
    # Row `order` of the pseudo-inverse gives the degree-`order` coefficient of the fit.
    weights = math.factorial(order) * np.linalg.pinv(vandermonde)[order]  # (width,)
    windows = np.lib.stride_tricks.sliding_window_view(features, width, axis=-1)  # (..., T - 2 half, width)
    centre = windows @ weights.astype(features.dtype)  # (..., T - 2 half)
    pad = [(0, 0)] * (features.ndim - 1) + [(half, half)]
    return np.pad(centre, pad, mode="edge")


def cmvn(features: np.ndarray, axis: int = -1, variance: bool = True, eps: float = 1e-8) -> np.ndarray:
    """Cepstral mean (and variance) normalization along `axis` (time, by default).

    (features - mean) / (std + eps), or features - mean with variance=False. Over one
    utterance this removes a fixed channel (a microphone's filter is additive in log
    and cepstral domains). Lesson 02.
    """
    features = np.asarray(features)
    if not np.issubdtype(features.dtype, np.floating) or features.size == 0:
        raise ValueError(f"cmvn: features must be a non-empty float array, got {features.dtype} {features.shape}")
    centred = features - features.mean(axis=axis, keepdims=True)
    if not variance:
        return centred
    return centred / (features.std(axis=axis, keepdims=True) + eps)
