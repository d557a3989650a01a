"""Numba dynamic-programming kernels, each beside a plain NumPy/Python reference.

Every kernel module holds a readable `*_reference` (what the lesson shows) and an
`@numba.njit(cache=True)` twin behind the public name, tested equal to each other, to
brute-force enumeration on tiny inputs, and to a trusted library.

| file           | name                                  | computes                                        | parity with                  | lesson   |
|----------------|---------------------------------------|-------------------------------------------------|------------------------------|----------|
| levenshtein.py | edit_distance, edit_distances,        | Levenshtein distance of token sequences         | jiwer / rapidfuzz            | 04 §5    |
|                |   word_edit_distances, alignment_ops  |   and its substitutions/deletions/insertions    |                              |          |
| warping.py     | dtw                                   | (distance, path) through a cost matrix          | librosa.sequence.dtw         | 03 §1    |
| hmm.py         | hmm_forward, hmm_backward, viterbi,   | HMM log α, log β, best state path               | hmmlearn (_hmmc)             | 03 §2-4  |
|                |   logsumexp                           |                                                 |                              |          |
| ctc.py         | ctc_loss, ctc_loss_and_grad,          | CTC loss and gradient; (B, T, V) batch-first    | torch.nn.functional.ctc_loss | 04 §2-3  |
|                |   ctc_loss_torch, CTCLoss             |   torch autograd wrapper                        |                              |          |
| align.py       | ctc_forced_align                      | best CTC alignment -> frame labels (T,)         | brute force                  | 04 §4    |
| mas.py         | maximum_path, maximum_path_torch      | monotonic alignment search (Glow-TTS, VITS)     | brute force                  | 10 §3    |

No file is named like a name it exports, so `minispeech.dp.dtw` is always the function.

Metrics built on these (wer, cer) live in minispeech.metrics; the YIN difference function
is in minispeech.dp.yin. Importing this package imports numba but not torch.
"""

from minispeech.dp.align import ctc_forced_align
from minispeech.dp.ctc import ctc_loss, ctc_loss_and_grad, ctc_loss_torch
from minispeech.dp.hmm import hmm_backward, hmm_forward, logsumexp, viterbi
from minispeech.dp.levenshtein import (
    EditOps,
    alignment_ops,
    edit_distance,
    edit_distances,
    word_edit_distances,
)
from minispeech.dp.mas import maximum_path, maximum_path_torch
from minispeech.dp.warping import dtw

__all__ = [
    "CTCLoss",
    "EditOps",
    "alignment_ops",
    "ctc_forced_align",
    "ctc_loss",
    "ctc_loss_and_grad",
    "ctc_loss_torch",
    "dtw",
    "edit_distance",
    "edit_distances",
    "hmm_backward",
    "hmm_forward",
    "logsumexp",
    "maximum_path",
    "maximum_path_torch",
    "viterbi",
    "word_edit_distances",
]


def __getattr__(name: str):
    # CTCLoss subclasses torch.autograd.Function: built on first access (imports torch then).
    if name == "CTCLoss":
        from minispeech.dp.ctc import _ctc_loss_function_class

        return _ctc_loss_function_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
