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


def forced_align_row() -> Row:
    rng = np.random.default_rng(5)
    log_probs = log_softmax(rng.normal(size=(400, 40)))
    target = rng.integers(1, 40, size=80)
    return Row("CTC forced alignment (T=400 V=40 S=80)",
               median_ms(lambda: ctc_forced_align(log_probs, target)), "NumPy reference",
               median_ms(lambda: ctc_forced_align_reference(log_probs, target), 3),
               "(no C++ aligner installed)")  # fmt: skip


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
        forced_align_row(),
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
