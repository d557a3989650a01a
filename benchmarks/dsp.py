"""Speed of minispeech.dsp (stft, melspectrogram, mfcc, yin) against librosa and torch.stft, 60 s of audio.

Run:  python benchmarks/dsp.py [--seconds 60] [--rounds 5]

Single thread everywhere (Numba, torch, and BLAS/FFT via environment variables set before
NumPy loads), one warm-up call, then the median of --rounds timed calls. Goals: stft and
melspectrogram within 1.5x of librosa; yin at least as fast as librosa.yin.
Settings: 22,050 Hz float32, n_fft=1024, hop 256, 80 mels, 13 MFCCs, YIN 60-500 Hz.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

SAMPLE_RATE = 22050
N_FFT = 1024
HOP_LENGTH = 256
N_MELS = 80


def speech_like_signal(seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A harmonic tone with a gliding pitch (100-250 Hz), syllable-rate loudness, and noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 175 + 75 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 16))
    loudness = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.3 * loudness * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def median_seconds(function: Callable[[], object], rounds: int) -> float:
    function()  # warm-up: JIT compilation, caches, FFT plans
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import librosa
    import numba
    import torch

    from minispeech import dsp

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", FutureWarning)
    x = speech_like_signal(args.seconds)
    x_torch = torch.from_numpy(x)
    window_torch = torch.hann_window(N_FFT)
    mel = dict(n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS)
    mfcc_config = dsp.MFCCConfig(SAMPLE_RATE, n_mfcc=13, **mel)

    cases = {
        "stft": (
            lambda: dsp.stft(x, N_FFT, HOP_LENGTH),
            lambda: librosa.stft(x, n_fft=N_FFT, hop_length=HOP_LENGTH, pad_mode="reflect"),
            lambda: torch.stft(x_torch, N_FFT, HOP_LENGTH, window=window_torch, center=True,
                               pad_mode="reflect", return_complex=True),
        ),
        "melspectrogram": (
            lambda: dsp.melspectrogram(x, SAMPLE_RATE, **mel),
            lambda: librosa.feature.melspectrogram(y=x, sr=SAMPLE_RATE, pad_mode="reflect", **mel),
            None,
        ),
        "mfcc": (
            lambda: dsp.mfcc(x, mfcc_config),
            lambda: librosa.feature.mfcc(y=x, sr=SAMPLE_RATE, n_mfcc=13, pad_mode="reflect", **mel),
            None,
        ),
        "yin": (
            lambda: dsp.yin(x, SAMPLE_RATE, fmin=60, fmax=500, frame_length=1024, hop_length=HOP_LENGTH),
            lambda: librosa.yin(x, fmin=60, fmax=500, sr=SAMPLE_RATE, frame_length=1024, hop_length=HOP_LENGTH),
            None,
        ),
    }
    print(f"{args.seconds:g} s of {SAMPLE_RATE} Hz audio, median of {args.rounds} rounds, 1 thread")
    print(f"{'function':<16}{'ours ms':>10}{'librosa ms':>12}{'torch ms':>10}{'ours/librosa':>14}")
    for name, (ours, reference, torch_version) in cases.items():
        ours_s = median_seconds(ours, args.rounds)
        reference_s = median_seconds(reference, args.rounds)
        torch_text = f"{1000 * median_seconds(torch_version, args.rounds):10.1f}" if torch_version else f"{'-':>10}"
        print(f"{name:<16}{1000 * ours_s:10.1f}{1000 * reference_s:12.1f}{torch_text}{ours_s / reference_s:14.2f}")


if __name__ == "__main__":
    main()
