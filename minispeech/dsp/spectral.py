"""Frames, windows, the STFT and its inverse, and Griffin-Lim phase reconstruction.

frame                  overlapping frames, librosa's layout (frame_length, n_frames)
get_window             periodic hann / hamming / blackman windows
stft, istft            short-time Fourier transform; inverse with window-sum-square normalization
griffin_lim            phase from a magnitude: fast Griffin-Lim (Perraudin et al., 2013)
spectral_convergence   ||S - Ŝ||_F / ||S||_F
stft_frames_first      the STFT transposed, (T_mel, n_freqs) C-contiguous: melspectrogram's layout

Shapes   x (T_wav,) float32 or float64; spectrograms (n_freqs, T_mel), n_freqs = n_fft // 2 + 1;
         with center=True, T_mel = 1 + T_wav // hop_length. float32 in, complex64 out.
Taught in lessons/01_stft.ipynb.
"""

from __future__ import annotations

import numpy as np

from minispeech.dsp.checks import (
    check_fft_sizes,
    check_positive_int,
    check_signal,
    check_spectrogram,
)

WINDOWS = ("hann", "hamming", "blackman")
PAD_MODES = ("reflect", "constant")


def frame(x: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Overlapping frames of x as a read-only view: (frame_length, n_frames), like librosa.

    Column t is x[t * hop_length : t * hop_length + frame_length]; n_frames =
    1 + (T_wav - frame_length) // hop_length. No padding: pad first for centered frames.
    Take `.T` for one frame per row (n_frames, frame_length). Lesson 01.
    """
    x = check_signal(x, "frame")
    frame_length = check_positive_int(frame_length, "frame_length", "frame")
    hop_length = check_positive_int(hop_length, "hop_length", "frame")
    if x.size < frame_length:
        raise ValueError(
            f"frame: x has {x.size} samples, fewer than frame_length={frame_length}; "
            f"pad x or use a shorter frame"
        )
    frames = np.lib.stride_tricks.sliding_window_view(x, frame_length)[::hop_length]  # (n_frames, frame_length)
    return frames.T  # (frame_length, n_frames)


def get_window(name: str, n: int) -> np.ndarray:
    """A periodic window of length n (float64), as scipy.signal.get_window(name, n, fftbins=True).

    Periodic means the length-(n + 1) symmetric window without its last sample, so
    hops of n/4 (hann, blackman) or n/2 (hann, hamming) overlap-add to a constant.
    hann 0.5 - 0.5 cos(2πk/n); hamming 0.54 - 0.46 cos(2πk/n);
    blackman 0.42 - 0.5 cos(2πk/n) + 0.08 cos(4πk/n). Lesson 01.
    """
    n = check_positive_int(n, "n", "get_window")
    if name in WINDOWS and n == 1:
        return np.ones(1)  # scipy's convention: a one-sample window passes the sample
    phase = 2.0 * np.pi * np.arange(n) / n
    if name == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    if name == "blackman":
        return 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)
    raise ValueError(f"get_window: unknown window {name!r}; choose one of {WINDOWS}")


def _fft_window(window: str, win_length: int, n_fft: int, dtype: np.dtype) -> np.ndarray:
    """get_window(window, win_length) zero-padded on both sides to n_fft, centered like librosa."""
    left = (n_fft - win_length) // 2
    padded = np.zeros(n_fft, dtype=dtype)
    padded[left : left + win_length] = get_window(window, win_length)
    return padded


def stft(
    x: np.ndarray,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "reflect",
) -> np.ndarray:
    """Short-time Fourier transform: (n_fft // 2 + 1, T_mel), complex64 (complex128 for float64 x).

    S[k, t] = Σ_n w[n] x[t * hop_length + n] exp(-2πi k n / n_fft), with w the window of
    win_length samples zero-padded to n_fft. center=True pads n_fft // 2 samples each side
    (pad_mode "reflect", or "constant" zeros: librosa's own default since 0.10 is "constant"),
    so frame t is centred on sample t * hop_length. Equals librosa.stft with the same
    arguments (and, like it, returns a Fortran-ordered array). Lesson 01.
    """
    return stft_frames_first(x, n_fft, hop_length, win_length, window, center, pad_mode, "stft").T


# Frames per batched FFT call: 64 frames of 1024 float32 samples (256 KiB) stay in cache.
_FRAMES_PER_BLOCK = 64


def stft_frames_first(
    x: np.ndarray, n_fft: int, hop_length: int, win_length: int | None, window: str,
    center: bool, pad_mode: str, caller: str,
) -> np.ndarray:
    """stft(x, ...).T as (T_mel, n_freqs), C-contiguous: one row per frame.

    The layout melspectrogram wants (frames as rows make its matrix product faster);
    `caller` names the public function in error messages.
    """
    import scipy.fft  # faster than numpy.fft here (overwrite_x); imported late to keep import light

    x = check_signal(x, caller)
    win_length = check_fft_sizes(caller, n_fft, hop_length, win_length)
    if center:
        if pad_mode not in PAD_MODES:
            raise ValueError(f"{caller}: pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        x = np.pad(x, n_fft // 2, mode=pad_mode)
    elif x.size < n_fft:
        raise ValueError(
            f"{caller}: x has {x.size} samples, too short for one frame of n_fft={n_fft} "
            f"with center=False; pad x or use center=True"
        )
    fft_window = _fft_window(window, win_length, n_fft, x.dtype)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length]  # (T_mel, n_fft), a view
    n_frames = frames.shape[0]
    complex_dtype = np.complex64 if x.dtype == np.float32 else np.complex128
    spectrum = np.empty((n_frames, n_fft // 2 + 1), dtype=complex_dtype)  # (T_mel, n_freqs)
    windowed = np.empty((_FRAMES_PER_BLOCK, n_fft), dtype=x.dtype)
    for start in range(0, n_frames, _FRAMES_PER_BLOCK):
        stop = min(start + _FRAMES_PER_BLOCK, n_frames)
        block = np.multiply(frames[start:stop], fft_window, out=windowed[: stop - start])
        spectrum[start:stop] = scipy.fft.rfft(block, axis=-1, overwrite_x=True)
    return spectrum


def _overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Sum frames (n_frames, frame_length) placed hop_length apart: (frame_length + hop * (n_frames - 1),).

    Cut every frame into chunks of hop_length samples; chunk k of frame t lands on block
    t + k of the output, so one vectorized add per chunk index does all frames at once.
    """
    n_frames, frame_length = frames.shape
    n_chunks = -(-frame_length // hop_length)  # ceil
    blocks = np.zeros((n_frames + n_chunks - 1, hop_length), dtype=frames.dtype)
    for k in range(n_chunks):
        chunk = frames[:, k * hop_length : (k + 1) * hop_length]  # (n_frames, <= hop_length)
        blocks[k : k + n_frames, : chunk.shape[1]] += chunk
    return blocks.reshape(-1)[: frame_length + hop_length * (n_frames - 1)]


def istft(
    S: np.ndarray,
    hop_length: int = 256,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    length: int | None = None,
    n_fft: int | None = None,
) -> np.ndarray:
    """Inverse STFT: (n_freqs, T_mel) complex -> (T_wav,) float32 (float64 for complex128 S).

    Inverse-FFT every frame, window it again, overlap-add, and divide by the overlap-added
    squared window (where it is not ~0): the least-squares signal of Griffin & Lim (1984),
    so istft(stft(x)) == x up to rounding whatever the hop. Without `length` the output has
    hop_length * (T_mel - 1) samples (center=True); with it, it is trimmed or zero-padded
    to length. n_fft defaults to 2 * (n_freqs - 1). Equals librosa.istft. Lesson 01.
    """
    S = check_spectrogram(S, "istft")
    if not np.iscomplexobj(S):
        raise ValueError(f"istft: S must be complex (an STFT), got dtype {S.dtype}")
    n_freqs, n_frames = S.shape
    n_fft = 2 * (n_freqs - 1) if n_fft is None else n_fft
    win_length = check_fft_sizes("istft", n_fft, hop_length, win_length)
    if n_fft // 2 + 1 != n_freqs:
        raise ValueError(f"istft: S has {n_freqs} frequencies but n_fft={n_fft} gives {n_fft // 2 + 1}")
    real_dtype = np.float32 if S.dtype == np.complex64 else np.float64
    fft_window = _fft_window(window, win_length, n_fft, real_dtype)
    frames = np.fft.irfft(S.T, n=n_fft, axis=-1) * fft_window  # (T_mel, n_fft)
    signal = _overlap_add(frames, hop_length)
    window_sum_square = _overlap_add(np.broadcast_to(fft_window**2, (n_frames, n_fft)), hop_length)
    nonzero = window_sum_square > np.finfo(real_dtype).tiny
    signal[nonzero] /= window_sum_square[nonzero]
    start = n_fft // 2 if center else 0
    if length is None:
        end = signal.size - start
    else:
        end = start + check_positive_int(length, "length", "istft")
    signal = signal[start:end]
    if signal.size < end - start:  # asked for more samples than the frames cover
        signal = np.pad(signal, (0, end - start - signal.size))
    return signal.astype(real_dtype, copy=False)


def griffin_lim(
    magnitude: np.ndarray,
    n_iter: int = 32,
    hop_length: int = 256,
    win_length: int | None = None,
    window: str = "hann",
    momentum: float = 0.99,
    seed: int = 0,
    length: int | None = None,
    n_fft: int | None = None,
) -> np.ndarray:
    """A waveform (T_wav,) whose STFT magnitude approximates `magnitude` (n_freqs, T_mel).

    Fast Griffin-Lim (Perraudin, Balazs & Søndergaard, 2013), as librosa.griffinlim:
    start from random phases (seeded), then n_iter times: invert, re-analyse, push the
    new phase past the previous one by momentum / (1 + momentum) (momentum=0 is plain
    Griffin-Lim), and keep only the phase. Uses center=True, pad_mode="reflect". Lesson 01.
    """
    magnitude = check_spectrogram(magnitude, "griffin_lim", "magnitude")
    if np.iscomplexobj(magnitude) or (magnitude < 0).any():
        raise ValueError("griffin_lim: magnitude must be real and >= 0; pass np.abs(S)")
    if not 0 <= momentum <= 1:
        raise ValueError(f"griffin_lim: momentum must be in [0, 1], got {momentum}")
    n_iter = check_positive_int(n_iter, "n_iter", "griffin_lim")
    if magnitude.dtype not in (np.float32, np.float64):
        magnitude = magnitude.astype(np.float64)
    n_fft = 2 * (magnitude.shape[0] - 1) if n_fft is None else n_fft
    complex_dtype = np.complex64 if magnitude.dtype == np.float32 else np.complex128
    tiny = np.finfo(magnitude.dtype).tiny

    def analyse(signal: np.ndarray) -> np.ndarray:
        return stft(signal, n_fft, hop_length, win_length, window, center=True, pad_mode="reflect")

    def synthesize(spectrum: np.ndarray) -> np.ndarray:
        return istft(spectrum, hop_length, win_length, window, center=True, length=length, n_fft=n_fft)

    rng = np.random.default_rng(seed)
    spectrum = (magnitude * np.exp(2j * np.pi * rng.random(magnitude.shape))).astype(complex_dtype)
    previous = None
    for _ in range(n_iter):
        rebuilt = analyse(synthesize(spectrum))  # (n_freqs, T_mel)
        if rebuilt.shape != magnitude.shape:
            raise ValueError(
                f"griffin_lim: length={length} gives {rebuilt.shape[1]} frames, "
                f"but magnitude has {magnitude.shape[1]}; leave length=None"
            )
        spectrum = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        spectrum = magnitude * spectrum / (np.abs(spectrum) + tiny)
        previous = rebuilt
    return synthesize(spectrum)


def spectral_convergence(target_magnitude: np.ndarray, estimate_magnitude: np.ndarray) -> float:
    """||S - Ŝ||_F / ||S||_F between two magnitude spectrograms of the same shape. Lesson 01."""
    target = np.asarray(target_magnitude, dtype=np.float64)
    estimate = np.asarray(estimate_magnitude, dtype=np.float64)
    if target.shape != estimate.shape:
        raise ValueError(
            f"spectral_convergence: shapes differ, target {target.shape} vs estimate {estimate.shape}"
        )
    target_norm = np.linalg.norm(target)
    if target_norm == 0:
        raise ValueError("spectral_convergence: the target magnitude is all zeros")
    return float(np.linalg.norm(target - estimate) / target_norm)
