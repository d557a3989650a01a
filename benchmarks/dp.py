"""Speed of the minispeech.dp kernels against trusted references, measured in one process.

    python benchmarks/dp.py            (about a minute on a laptop CPU)

Single thread for everyone (numba.set_num_threads(1), torch.set_num_threads(1)); each time
is the median of several rounds after one warm-up call; ratio = ours / reference (lower is
better). References: torch.nn.functional.ctc_loss (C++), hmmlearn's C++ _hmmc kernels,
librosa.sequence.dtw (Numba), jiwer (rapidfuzz, C++), and our own plain NumPy references
where no library exists (MAS; CTC forced alignment: torchaudio is not a dependency).
Timings on a shared machine are noisy; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import torch
import torch.nn.functional as F

from minispeech.dp import (
    ctc_forced_align,
    ctc_loss_and_grad,
    ctc_loss_torch,
    dtw,
    hmm_backward,
    hmm_forward,
    maximum_path,
    viterbi,
)
from minispeech.dp.align import ctc_forced_align_reference
from minispeech.dp.mas import maximum_path_reference
from minispeech.metrics import cer, wer

ROUNDS = 7


@dataclass(frozen=True)
class Row:
    name: str
    ours_ms: float
    reference_name: str
    reference_ms: float
    goal: str


def median_ms(function: Callable[[], object], rounds: int = ROUNDS) -> float:
    function()  # warm-up: compile / load caches
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def ctc_rows(batch_size: int, n_frames: int, n_labels: int, rounds: int) -> list[Row]:
    rng = np.random.default_rng(0)
    vocabulary_size = 40
    log_probs = log_softmax(rng.normal(size=(batch_size, n_frames, vocabulary_size)))
    targets = rng.integers(1, vocabulary_size, size=(batch_size, n_labels))
    input_lengths = np.full(batch_size, n_frames)
    target_lengths = np.full(batch_size, n_labels)
    time_major = torch.tensor(log_probs).transpose(0, 1).contiguous()  # torch's (T, B, V)
    batch_first = torch.tensor(log_probs)
    torch_targets = torch.tensor(targets)
    torch_lengths = torch.tensor(input_lengths), torch.tensor(target_lengths)

    def torch_reference():
        x = time_major.clone().requires_grad_()
        F.ctc_loss(x, torch_targets, *torch_lengths).backward()

    def ours_numpy():
        ctc_loss_and_grad(log_probs, targets, input_lengths, target_lengths)

    def ours_autograd():
        x = batch_first.clone().requires_grad_()
        ctc_loss_torch(x, torch_targets, *torch_lengths).backward()

    reference_ms = median_ms(torch_reference, rounds)
    size = f"B={batch_size} T={n_frames} V={vocabulary_size} S={n_labels}"
    return [
        Row(
            f"CTC fwd+bwd, NumPy ({size})",
            median_ms(ours_numpy, rounds),
            "torch ctc_loss",
            reference_ms,
            "<= 1.0",
        ),  # fmt: skip
        Row(
            f"CTC fwd+bwd, autograd ({size})",
            median_ms(ours_autograd, rounds),
            "torch ctc_loss",
            reference_ms,
            "<= 1.0",
        ),  # fmt: skip
    ]


def hmm_rows() -> list[Row]:
    from hmmlearn import _hmmc

    rng = np.random.default_rng(1)
    n_states, n_frames = 50, 10_000
    pi = rng.dirichlet(np.ones(n_states))
    A = rng.dirichlet(np.ones(n_states), size=n_states)
    log_B = 3.0 * rng.normal(size=(n_frames, n_states))
    log_pi, log_A = np.log(pi), np.log(A)
    size = f"N={n_states} T={n_frames}"
    return [
        Row(f"HMM forward ({size})", median_ms(lambda: hmm_forward(log_pi, log_A, log_B)),
            "hmmlearn forward_log", median_ms(lambda: _hmmc.forward_log(pi, A, log_B)), "<= 1.0"),
        Row(f"HMM backward ({size})", median_ms(lambda: hmm_backward(log_A, log_B)),
            "hmmlearn backward_log", median_ms(lambda: _hmmc.backward_log(pi, A, log_B)), "<= 1.0"),
        Row(f"Viterbi ({size})", median_ms(lambda: viterbi(log_pi, log_A, log_B)),
            "hmmlearn viterbi", median_ms(lambda: _hmmc.viterbi(pi, A, log_B)), "<= 1.0"),
    ]  # fmt: skip


def dtw_row() -> Row:
    import librosa

    cost = np.random.default_rng(2).random((2000, 2000))
    return Row("DTW (2000 x 2000)", median_ms(lambda: dtw(cost)), "librosa.sequence.dtw",
               median_ms(lambda: librosa.sequence.dtw(C=cost)), "<= 0.5")  # fmt: skip


def error_rate_rows() -> list[Row]:
    import jiwer

    rng = random.Random(3)
    words = ["".join(rng.choices("abcdefghij", k=rng.randrange(2, 8))) for _ in range(3000)]
    references, hypotheses = [], []
    for _ in range(5000):
        reference = rng.choices(words, k=rng.randrange(5, 26))
        hypothesis = [w if rng.random() > 0.15 else rng.choice(words) for w in reference]
        if rng.random() < 0.3:
            del hypothesis[rng.randrange(len(hypothesis))]
        references.append(" ".join(reference))
        hypotheses.append(" ".join(hypothesis))
    return [
        Row("WER (5,000 sentence pairs)", median_ms(lambda: wer(references, hypotheses)),
            "jiwer.wer", median_ms(lambda: jiwer.wer(references, hypotheses)), "<= 0.25"),
        Row("CER (5,000 sentence pairs)", median_ms(lambda: cer(references, hypotheses)),
            "jiwer.cer", median_ms(lambda: jiwer.cer(references, hypotheses)), "<= 0.25"),
    ]  # fmt: skip


def mas_row() -> Row:
    rng = np.random.default_rng(4)
    values = rng.normal(size=(16, 150, 800)).astype(np.float32)
    mask = np.ones_like(values)
    return Row("MAS (B=16 T_txt=150 T_mel=800)", median_ms(lambda: maximum_path(values, mask)),
               "NumPy reference", median_ms(lambda: maximum_path_reference(values, mask), 3),
               "< 3 ms")  # fmt: skip


def load_cpp_forced_aligner() -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """The C++ CTC aligner of PyPI ctc-forced-aligner 1.0.2 (a port of torchaudio's CPU
    forced_align), called through ctypes; None when it is not installed. Install it for this
    benchmark only, without its run-time dependencies (onnxruntime, ...):
        pip install --no-deps ctc-forced-aligner==1.0.2
    Its package __init__ imports onnxruntime, so we load the compiled library directly."""
    import ctypes
    import glob
    import importlib.util
    import os

    spec = importlib.util.find_spec("ctc_forced_aligner")
    if spec is None or not spec.submodule_search_locations:
        return None
    libraries = glob.glob(os.path.join(spec.submodule_search_locations[0], "align_ops*.so"))
    if not libraries:
        return None
    library = ctypes.CDLL(libraries[0])
    float_p, int64_p = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int64)
    library.align_sequences.argtypes = [float_p, int64_p, int64_p, float_p, ctypes.c_int, ctypes.c_int,
                                        ctypes.c_int, ctypes.c_int, ctypes.c_int64]  # fmt: skip

    def align(log_probs: np.ndarray, target: np.ndarray) -> np.ndarray:
        log_probs = np.ascontiguousarray(log_probs, dtype=np.float32)  # (T, V), one utterance
        target = np.ascontiguousarray(target, dtype=np.int64)
        paths = np.zeros(log_probs.shape[0], dtype=np.int64)
        scores = np.zeros(log_probs.shape[0], dtype=np.float32)
        library.align_sequences(log_probs.ctypes.data_as(float_p), target.ctypes.data_as(int64_p),
                                paths.ctypes.data_as(int64_p), scores.ctypes.data_as(float_p),
                                1, log_probs.shape[0], log_probs.shape[1], len(target), 0)  # fmt: skip
        return paths

    return align


def forced_align_rows() -> list[Row]:
    """B=16 utterances of T=400, S=80 (one call each), and one long utterance T=20,000, S=3,000.
    float32 log-probabilities, as a model outputs them. Against the C++ aligner when installed,
    else against our NumPy reference on the small workload only."""
    rng = np.random.default_rng(5)
    batch = [(log_softmax(rng.normal(size=(400, 40))).astype(np.float32), rng.integers(1, 40, size=80))
             for _ in range(16)]  # fmt: skip
    long_log_probs = log_softmax(rng.normal(size=(20_000, 40))).astype(np.float32)
    long_target = rng.integers(1, 40, size=3_000)

    def ours_batch() -> None:
        for log_probs, target in batch:
            ctc_forced_align(log_probs, target)

    cpp_align = load_cpp_forced_aligner()
    if cpp_align is None:
        return [Row("CTC forced alignment (B=16 T=400 V=40 S=80)", median_ms(ours_batch), "NumPy reference",
                    median_ms(lambda: [ctc_forced_align_reference(*item) for item in batch], 3),
                    "<= 0.8 vs C++ (pip install --no-deps ctc-forced-aligner==1.0.2)")]  # fmt: skip
    for log_probs, target in [*batch, (long_log_probs, long_target)]:
        # the C++ code accumulates in float32, we in float64: paths may differ on near-ties, and
        # ours must score at least as well (summed in float64)
        frames = np.arange(len(log_probs))
        ours = log_probs[frames, ctc_forced_align(log_probs, target)].astype(np.float64).sum()
        theirs = log_probs[frames, cpp_align(log_probs, target)].astype(np.float64).sum()
        assert ours >= theirs - 1e-9, (ours, theirs)
    return [
        Row("CTC forced alignment (B=16 T=400 V=40 S=80)", median_ms(ours_batch), "ctc-forced-aligner C++",
            median_ms(lambda: [cpp_align(*item) for item in batch]), "<= 0.8"),
        Row("CTC forced alignment (T=20000 V=40 S=3000)", median_ms(lambda: ctc_forced_align(long_log_probs, long_target)),
            "ctc-forced-aligner C++", median_ms(lambda: cpp_align(long_log_probs, long_target)), "<= 0.8"),
    ]  # fmt: skip


def main() -> None:
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = [
        *ctc_rows(16, 400, 80, ROUNDS),
        *ctc_rows(32, 1000, 200, ROUNDS),
        *hmm_rows(),
        dtw_row(),
        *error_rate_rows(),
        mas_row(),
        *forced_align_rows(),
    ]
    header = f"| {'kernel':<48} | {'ours ms':>9} | {'reference':<22} | {'ref ms':>9} | {'ratio':>6} | goal"
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:]))
    for row in rows:
        print(
            f"| {row.name:<48} | {row.ours_ms:>9.2f} | {row.reference_name:<22} | "
            f"{row.reference_ms:>9.2f} | {row.ours_ms / row.reference_ms:>6.3f} | {row.goal}"
        )
    print(f"\nsingle thread, median of {ROUNDS} rounds (3 for the slow NumPy references); "
          f"total {time.perf_counter() - start:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
