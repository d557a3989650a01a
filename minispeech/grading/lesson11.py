"""Checks for lessons/11_codec.ipynb: nearest code with the straight-through, the residual loop, the EMA
codebook update, the bitrate.

check_quantize           exercise 11.1, against minispeech.nn.quantize.nearest_codes and straight_through:
                         the values, the codes and the gradient that reaches x
check_residual_quantize  exercise 11.2, the residual loop over K codebooks, against
                         minispeech.nn.quantize.ResidualVectorQuantizer's
check_ema_update         exercise 11.3, one EMA step of the counts, the sums and the Laplace-smoothed
                         codebook, against minispeech.nn.quantize.VectorQuantizer's update
check_bitrate            exercise 11.4, against minispeech.nn.quantize.bitrate

Everything runs in float64. Each check's `diagnose` recomputes the answers of the likely mistakes (a
distance that forgets the codes' norms, a loop that quantizes x every time, the decay on the wrong side,
...) and names the one the student's answer equals.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import as_tensor, check_function, random_cases, tensors_close

# --- 11.1 nearest code and the straight-through estimator ------------------------------------------


def _codebook(rng: np.random.Generator, codebook_size: int, dim: int) -> np.ndarray:
    """Codes of very different norms, so that a dot-product 'distance' picks other codes than L2."""
    return rng.normal(size=(codebook_size, dim)) * rng.uniform(0.2, 3.0, size=(codebook_size, 1))


def _quantize_case(rng: np.random.Generator) -> tuple:
    vectors, dim, codebook_size = int(rng.integers(1, 12)), int(rng.integers(1, 6)), int(rng.integers(2, 9))
    x = rng.normal(size=(vectors, dim)) * 1.5
    weights = rng.normal(size=(vectors, dim))  # the gradient that comes back from the loss
    return (as_tensor(x), as_tensor(_codebook(rng, codebook_size, dim)), as_tensor(weights))


def _quantize_fixed_cases() -> list[tuple]:
    import torch

    rng = np.random.default_rng(110)
    # x = (0.9, 0) is nearest to the short code (1, 0) by L2, but its dot product is larger with (4, 0)
    x = torch.tensor([[0.9, 0.0], [3.5, 0.1], [-1.0, -1.0]], dtype=torch.float64)
    codebook = torch.tensor([[1.0, 0.0], [4.0, 0.0], [-1.0, -1.0]], dtype=torch.float64)
    return [(x, codebook, torch.ones_like(x)), _quantize_case(rng), _quantize_case(rng)]


def _with_gradient(quantize: Callable, x, codebook, weights) -> tuple:
    """Call quantize(x, codebook) with x requiring a gradient; -> (quantized values, codes, d/dx of
    sum(weights * quantized)), the gradient None when it does not reach x."""
    import torch

    x = x.clone().requires_grad_(True)
    result = quantize(x, codebook)
    if not isinstance(result, tuple) or len(result) != 2:
        return result  # the diagnosis says what to return
    quantized, codes = result
    gradient = None
    if isinstance(quantized, torch.Tensor) and quantized.requires_grad and quantized.shape == weights.shape:
        (gradient,) = torch.autograd.grad((quantized * weights).sum(), x, allow_unused=True)
    values = quantized.detach() if isinstance(quantized, torch.Tensor) else quantized
    return values, codes, gradient


def _reference_quantize(x, codebook, weights) -> tuple:
    from minispeech.nn.quantize import nearest_codes, straight_through

    def reference(x, codebook):
        codes = nearest_codes(x, codebook)
        return straight_through(x, codebook[codes]), codes

    return _with_gradient(reference, x, codebook, weights)


def _quantize_mistakes(x, codebook) -> dict:
    """What is wrong -> the codes (N,) that mistake picks."""
    squared = x.pow(2).sum(1, keepdim=True) - 2 * x @ codebook.T + codebook.pow(2).sum(1)  # (N, V)
    return {
        "the nearest code has the smallest distance: argmin, not argmax": squared.argmax(1),
        "the largest dot product x.c is not the nearest code: ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2 also "
        "needs each code's squared norm": (x @ codebook.T).argmax(1),
        "the expansion is ||x||^2 - 2 x.c + ||c||^2: the cross term has a factor 2":
            (x.pow(2).sum(1, keepdim=True) - x @ codebook.T + codebook.pow(2).sum(1)).argmin(1),
        "the distance is the squared Euclidean one (L2), not the sum of absolute differences (L1)":
            (x[:, None, :] - codebook[None]).abs().sum(-1).argmin(1),
    }  # fmt: skip


def _diagnose_quantize(actual, expected, case) -> str | None:
    import torch

    x, codebook, weights = case
    if not isinstance(actual, tuple) or len(actual) != 3:
        return "return a tuple (quantized (N, D), codes (N,))"
    values, codes, gradient = actual
    want_values, want_codes, _ = expected
    if not isinstance(codes, torch.Tensor) or codes.is_floating_point():
        return "codes are indices into the codebook: an int64 tensor (N,), as argmin returns"
    if not tensors_close(codes, want_codes, atol=0, rtol=0):
        for what, value in _quantize_mistakes(x, codebook).items():
            if tensors_close(codes, value, atol=0, rtol=0):
                return what
        return None
    if not isinstance(values, torch.Tensor) or values.shape != want_values.shape:
        return f"quantized has one code vector per row of x: shape {tuple(want_values.shape)}"
    if tensors_close(values, 2 * x - want_values):
        return "your output has the value x - (q - x) = 2x - q, not the code q: its detached correction goes the wrong way"
    if not tensors_close(values, want_values):
        return None
    if gradient is None:
        return ("the values are right, but no gradient reaches x (argmin has none): the output needs a path "
                "from x that passes the gradient on unchanged (the straight-through estimator above)")  # fmt: skip
    if tensors_close(gradient, -weights):
        return "the gradient reaches x with the wrong sign: the term that carries x's gradient enters as -x"
    if tensors_close(gradient, torch.zeros_like(weights)):
        return "the gradient is zero: everything that depends on x is detached"
    return None


def check_quantize(student_quantize: Callable) -> None:
    """Exercise 11.1: nearest codes (squared L2) and the straight-through output, against
    minispeech.nn.quantize.nearest_codes and straight_through: the values, the codes and the gradient
    d sum(w * quantized) / dx, which must be w (the identity)."""
    __tracebackhide__ = True
    cases = _quantize_fixed_cases() + random_cases(111, 12, _quantize_case)
    check_function(
        lambda x, codebook, weights: _with_gradient(student_quantize, x, codebook, weights),
        _reference_quantize, cases, name="quantize", atol=1e-9, rtol=1e-7,
        parts=("quantized", "codes", "gradient reaching x"), diagnose=_diagnose_quantize,
        hint="for every row of x, the code at the smallest squared Euclidean distance: expand the square so "
        "that one matrix product does all rows at once. The output must carry the code's value forward but "
        "let the loss's gradient pass to x unchanged, as if quantization were the identity.",
    )  # fmt: skip


# --- 11.2 the residual loop ------------------------------------------------------------------------


def _residual_case(rng: np.random.Generator) -> tuple:
    vectors, dim = int(rng.integers(1, 10)), int(rng.integers(1, 5))
    stages, codebook_size = int(rng.integers(1, 5)), int(rng.integers(2, 7))
    x = rng.normal(size=(vectors, dim)) * 2.0
    scales = [2.0 / (stage + 1) for stage in range(stages)]  # later codebooks finer, as trained ones are
    codebooks = [as_tensor(rng.normal(size=(codebook_size, dim)) * scale) for scale in scales]
    return (as_tensor(x), codebooks)


def _residual_fixed_cases() -> list[tuple]:
    import torch

    rng = np.random.default_rng(112)
    # one dimension: 2.6 -> code 2 (residual 0.6) -> code 0.5 (residual 0.1) -> code 0.1
    x = torch.tensor([[2.6], [-1.2]], dtype=torch.float64)
    codebooks = [torch.tensor([[-4.0], [-2.0], [0.0], [2.0], [4.0]], dtype=torch.float64),
                 torch.tensor([[-3.0], [-0.5], [0.0], [0.5], [3.0]], dtype=torch.float64),
                 torch.tensor([[-0.3], [-0.1], [0.0], [0.1], [0.3]], dtype=torch.float64)]  # fmt: skip
    return [(x, codebooks), (x, codebooks[:1]), _residual_case(rng), _residual_case(rng)]


def _residual_variant(x, codebooks, update="subtract", total="sum"):
    import torch

    from minispeech.nn.quantize import nearest_codes

    residual, quantized, codes = x, torch.zeros_like(x), []
    for codebook in codebooks:
        stage_codes = nearest_codes(residual if update != "input" else x, codebook)
        vectors = codebook[stage_codes]
        codes.append(stage_codes)
        quantized = quantized + vectors if total == "sum" else vectors
        residual = residual - vectors if update == "subtract" else residual + vectors
    return (quantized, torch.stack(codes)) if total != "residual" else (residual, torch.stack(codes))


def _reference_residual(x, codebooks):
    import torch

    from minispeech.nn.quantize import (
        QuantizerConfig,
        ResidualQuantizerConfig,
        ResidualVectorQuantizer,
    )

    dim, size = x.shape[1], codebooks[0].shape[0]
    config = ResidualQuantizerConfig(QuantizerConfig(dim=dim, codebook_size=size, kmeans_init=False),
                                     n_quantizers=len(codebooks))  # fmt: skip
    quantizer = ResidualVectorQuantizer(config).double().eval()
    with torch.no_grad():
        for stage, codebook in zip(quantizer.quantizers, codebooks, strict=True):
            stage.codebook.copy_(codebook)
        output = quantizer(x.T[None])  # (1, D, N): each vector a frame
    return output.quantized[0].T, output.codes[0]  # (N, D), (K, N)


def _diagnose_residual(actual, expected, case) -> str | None:
    import torch

    x, codebooks = case
    if not isinstance(actual, tuple) or len(actual) != 2:
        return "return a tuple (quantized (N, D), codes (K, N))"
    quantized, codes = actual
    want_quantized, want_codes = expected
    if isinstance(codes, torch.Tensor) and codes.shape == want_codes.shape[::-1] and codes.shape != want_codes.shape:
        return "codes are (K, N), one row per codebook (torch.stack of the stages' codes); yours is (N, K)"
    mistakes = {
        "every stage quantizes what the stages before it left, the residual, not x itself":
            _residual_variant(x, codebooks, update="input"),
        "the residual is what is left: subtract each stage's code vectors, do not add them":
            _residual_variant(x, codebooks, update="add"),
        "the output is the sum of every stage's code vectors, not the last stage's alone":
            _residual_variant(x, codebooks, total="last"),
        "the output is the sum of the code vectors (the approximation of x), not the final residual":
            _residual_variant(x, codebooks, total="residual"),
    }  # fmt: skip
    for what, (want_q, want_c) in mistakes.items():
        if tensors_close(codes, want_c, atol=0, rtol=0) and tensors_close(quantized, want_q):
            return what
    if tensors_close(codes, want_codes, atol=0, rtol=0) and tensors_close(quantized, x - want_quantized):
        return "the output is the sum of the code vectors (the approximation of x), not the final residual"
    return None


def check_residual_quantize(student_residual_quantize: Callable) -> None:
    """Exercise 11.2: residual vector quantization with K = 1..4 codebooks, against
    minispeech.nn.quantize.ResidualVectorQuantizer (its codebooks set to the case's, eval mode)."""
    __tracebackhide__ = True
    cases = _residual_fixed_cases() + random_cases(113, 12, _residual_case)
    check_function(
        student_residual_quantize, _reference_residual, cases, name="residual_quantize", atol=1e-9, rtol=1e-7,
        parts=("quantized", "codes"), diagnose=_diagnose_residual,
        hint="each codebook in turn quantizes the part of x that the codebooks before it could not express; "
        "after each stage, update that part. The output approximates x by everything the stages chose, and "
        "codes hold one row of indices per codebook.",
    )  # fmt: skip


# --- 11.3 the EMA codebook update ----------------------------------------------------------------


def _ema_case(rng: np.random.Generator) -> tuple:
    codebook_size, dim, vectors = int(rng.integers(2, 7)), int(rng.integers(1, 5)), int(rng.integers(1, 14))
    cluster_size = rng.uniform(0.0, 5.0, size=codebook_size)  # some codes nearly unused
    embedding_sum = rng.normal(size=(codebook_size, dim)) * cluster_size[:, None]
    batch = rng.normal(size=(vectors, dim))
    codes = rng.integers(0, codebook_size, size=vectors)
    decay = float(rng.choice([0.5, 0.8, 0.9, 0.99]))
    epsilon = float(rng.choice([1e-5, 0.1, 0.5]))  # large ones make the smoothing visible
    return (as_tensor(cluster_size), as_tensor(embedding_sum), as_tensor(batch), as_tensor(codes), decay, epsilon)


def _ema_fixed_cases() -> list[tuple]:
    import torch

    rng = np.random.default_rng(114)
    # two codes, two vectors both on code 0: n = (0.5 * 2 + 0.5 * 2, 0.5 * 2) = (2, 1)
    cluster_size = torch.tensor([2.0, 2.0], dtype=torch.float64)
    embedding_sum = torch.tensor([[2.0], [-2.0]], dtype=torch.float64)
    batch = torch.tensor([[3.0], [5.0]], dtype=torch.float64)
    codes = torch.tensor([0, 0])
    return [(cluster_size, embedding_sum, batch, codes, 0.5, 1e-5), _ema_case(rng), _ema_case(rng)]


def _ema_variant(cluster_size, embedding_sum, vectors, codes, decay, epsilon, swap=False, smooth=True,
                 means=False, ema=True):  # fmt: skip
    import torch

    size = cluster_size.shape[0]
    counts = torch.bincount(codes, minlength=size).to(vectors.dtype)  # (V,)
    sums = torch.zeros_like(embedding_sum).index_add_(0, codes, vectors)  # (V, D)
    if means:
        sums = sums / counts.clamp_min(1)[:, None]
    keep, new = (1 - decay, decay) if swap else (decay, 1 - decay)
    if ema:
        cluster_size, embedding_sum = keep * cluster_size + new * counts, keep * embedding_sum + new * sums
    else:
        cluster_size, embedding_sum = counts, sums
    total = cluster_size.sum()
    smoothed = (cluster_size + epsilon) * total / (total + size * epsilon) if smooth else cluster_size
    return cluster_size, embedding_sum, embedding_sum / smoothed[:, None]


def _reference_ema(cluster_size, embedding_sum, vectors, codes, decay, epsilon):
    import torch

    from minispeech.nn.quantize import QuantizerConfig, VectorQuantizer

    size, dim = embedding_sum.shape
    quantizer = VectorQuantizer(QuantizerConfig(dim=dim, codebook_size=size, ema_decay=decay, epsilon=epsilon,
                                                dead_code_threshold=0.0, kmeans_init=False)).double()  # fmt: skip
    with torch.no_grad():
        quantizer.cluster_size.copy_(cluster_size)
        quantizer.embedding_sum.copy_(embedding_sum)
        counts = torch.bincount(codes, minlength=size).to(vectors.dtype)
        quantizer._update(vectors, codes, counts)
    return quantizer.cluster_size.clone(), quantizer.embedding_sum.clone(), quantizer.codebook.clone()


def _diagnose_ema(actual, expected, case) -> str | None:
    if not isinstance(actual, tuple) or len(actual) != 3:
        return "return a tuple (cluster_size (V,), embedding_sum (V, D), codebook (V, D))"
    mistakes = {
        "the decay weighs the old statistics: n <- decay n + (1 - decay) count; yours weighs the new batch by it":
            _ema_variant(*case, swap=True),
        "the codebook divides by the Laplace-smoothed counts (n_k + eps) N / (N + V eps), not the raw n_k":
            _ema_variant(*case, smooth=False),
        "embedding_sum accumulates the sum of each code's vectors, not their mean (the division comes at the end)":
            _ema_variant(*case, means=True),
        "this is an exponential moving average: mix the batch's counts and sums into the old ones, do not "
        "replace them": _ema_variant(*case, ema=False),
    }  # fmt: skip
    for what, values in mistakes.items():
        if all(tensors_close(got, want) for got, want in zip(actual, values, strict=True)):
            return what
    return None


def check_ema_update(student_ema_update: Callable) -> None:
    """Exercise 11.3: one EMA step of the cluster sizes and embedding sums and the Laplace-smoothed
    codebook, against minispeech.nn.quantize.VectorQuantizer's update (no dead-code restarts)."""
    __tracebackhide__ = True
    cases = _ema_fixed_cases() + random_cases(115, 12, _ema_case)
    check_function(
        student_ema_update, _reference_ema, cases, name="ema_update", atol=1e-9, rtol=1e-7,
        parts=("cluster_size", "embedding_sum", "codebook"), diagnose=_diagnose_ema,
        hint="count how many vectors each code got and add up those vectors, per code; blend both into the "
        "running statistics, the old ones weighted by the decay. Each code is the running sum over the "
        "running count, with the counts smoothed so that an unused code never divides by zero.",
    )  # fmt: skip


# --- 11.4 the bitrate ----------------------------------------------------------------------------


def _bitrate_case(rng: np.random.Generator) -> tuple:
    return (int(rng.integers(1, 33)), int(2 ** rng.integers(1, 13)) if rng.random() < 0.7 else int(rng.integers(2, 3000)),
            int(rng.choice([16000, 22050, 24000, 44100, 48000])), int(rng.choice([160, 256, 320, 512, 600])))  # fmt: skip


def _reference_bitrate(n_quantizers, codebook_size, sample_rate, hop_length):
    from minispeech.nn.quantize import bitrate

    return bitrate(n_quantizers, codebook_size, sample_rate / hop_length)


def _diagnose_bitrate(actual, expected, case) -> str | None:
    n_quantizers, codebook_size, sample_rate, hop_length = case
    frame_rate, bits = sample_rate / hop_length, math.log2(codebook_size)
    if not isinstance(actual, (int, float, np.floating, np.integer)):
        return "return one number, bits per second (a float)"
    mistakes = {
        "a code of a V-entry codebook carries log2(V) bits, not V": n_quantizers * codebook_size * frame_rate,
        "bits are base-2 logarithms: log2(V), not the natural log": n_quantizers * math.log(codebook_size) * frame_rate,
        "frames per second are sample_rate / hop_length, not their product": n_quantizers * bits * sample_rate * hop_length,
        "frames per second are sample_rate / hop_length (a frame every hop samples), not hop_length / sample_rate":
            n_quantizers * bits * hop_length / sample_rate,
        "every one of the n_quantizers codebooks sends a code per frame: multiply by n_quantizers": bits * frame_rate,
        "the answer is in bits per second, not kilobits": expected / 1000,
        "the answer is in bits per second, not bytes": expected / 8,
    }  # fmt: skip
    for what, value in mistakes.items():
        if math.isclose(float(actual), value, rel_tol=1e-9, abs_tol=1e-9):
            return what
    return None


def check_bitrate(student_bitrate: Callable) -> None:
    """Exercise 11.4: bits per second of K codebooks of V codes at sample_rate / hop_length frames a
    second, against minispeech.nn.quantize.bitrate (EnCodec's 6 kbps among the cases)."""
    __tracebackhide__ = True
    cases = [(8, 1024, 24000, 320), (1, 2, 16000, 160), (8, 256, 22050, 256)] + random_cases(116, 12, _bitrate_case)
    check_function(
        student_bitrate, _reference_bitrate, cases, name="bitrate", atol=1e-9, rtol=1e-9, diagnose=_diagnose_bitrate,
        hint="how many frames does the encoder emit each second, how many codes does each frame send, and how "
        "many bits does choosing one of V codes take?",
    )  # fmt: skip
