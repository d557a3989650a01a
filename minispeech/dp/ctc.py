"""Connectionist Temporal Classification loss (Graves et al., 2006) and its gradient.

ctc_loss              batched negative log-likelihood: NumPy in, NumPy out (Numba kernel)
ctc_loss_and_grad     the same, plus the gradient with respect to log_probs
ctc_loss_torch        a torch function with autograd; backward comes from the same kernel
CTCLoss               the torch.autograd.Function behind it (per-utterance losses)
ctc_log_alpha_reference / ctc_log_beta_reference   the lattice recursions the lesson shows
ctc_loss_reference / ctc_loss_and_grad_reference   plain NumPy twins, same signatures

Shapes   log_probs (B, T, V) log-softmax outputs (batch first, unlike torch's (T, B, V));
         targets (B, S) padded, or 1-D concatenated like torch; input_lengths and
         target_lengths (B,). The blank is index `blank` (0 by default).

The lattice. Interleave blanks with the target: l' = (∅, y1, ∅, y2, ..., ∅), L = 2S + 1
states. A path moves from state s to s (stay), s + 1, or s + 2 when l'[s + 2] is not blank
and differs from l'[s] (skipping the blank between two different labels).
    log α_t(s) = log p_t(l'_s) + logsumexp(log α_t-1(s), log α_t-1(s-1), [log α_t-1(s-2)])
    log β_t(s) = logsumexp over s' in {s, s+1, [s+2]} of log p_t+1(l'_s') + log β_t+1(s')
with β_T-1 = 1 on the last two states (β excludes the frame-t emission), and
    loss = -log(α_T-1(L-1) + α_T-1(L-2)),   γ_t(s) = α_t(s) β_t(s) e^loss  (occupation).

Gradient convention (torch's): grad[t, v] = exp(log_probs[t, v]) - Σ_{s: l'_s = v} γ_t(s).
This is the gradient of the loss with respect to the *logits* when log_probs =
log_softmax(logits); torch's ctc_loss returns it as the gradient for log_probs, and so do
we. (The exact derivative with respect to log_probs is -Σ γ; the two agree after the
log-softmax backward, which is why training works either way.)
Reductions follow torch: "none" (B,), "sum", "mean" = mean over the batch of loss_b divided
by max(target_length_b, 1). An impossible alignment (T too short for the target, counting a
blank between repeated labels) gives loss inf and NaN gradient rows, like torch; with
zero_infinity=True it gives loss 0 and gradient 0.

The Numba kernel computes in float64 whatever the input dtype, skips lattice cells that
cannot lie on a complete path (a band: s <= 2t + 1 and s >= L - 2(T - t)), and does each
log-sum-exp with one shared maximum per frame: one exp and one log per cell instead of three
exps and a log. A cell whose sum underflows falls back to the exact log-sum-exp, so very
peaky distributions (logits x 100) stay exact.

Taught in lessons/04_ctc.ipynb, sections 2-3.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

_UNDERFLOW = 1e-280  # a probability-space sum below this may have lost digits: redo in logs
_REDUCTIONS = ("none", "sum", "mean")


# ----------------------------------------------------------------------------------------
# Input checks shared by the reference and the kernel
# ----------------------------------------------------------------------------------------


def _prepare(log_probs, targets, input_lengths, target_lengths, blank, reduction):
    """Validate and convert -> (log_probs f8 (B, T, V), targets i8 (B, S), lengths i8 (B,) x2)."""
    log_probs = np.asarray(log_probs)
    if log_probs.ndim != 3:
        raise ValueError(
            f"log_probs must be (B, T, V) batch-first, got shape {log_probs.shape}; "
            "for torch's (T, B, V) layout pass log_probs.transpose(0, 1)"
        )
    batch_size, max_frames, vocabulary_size = log_probs.shape
    log_probs = np.ascontiguousarray(log_probs, dtype=np.float64)
    input_lengths = np.asarray(input_lengths, dtype=np.int64).reshape(-1)
    target_lengths = np.asarray(target_lengths, dtype=np.int64).reshape(-1)
    if input_lengths.shape != (batch_size,) or target_lengths.shape != (batch_size,):
        raise ValueError(
            f"input_lengths and target_lengths must have one entry per utterance ({batch_size}), "
            f"got {input_lengths.shape} and {target_lengths.shape}"
        )
    if (input_lengths < 0).any() or (input_lengths > max_frames).any():
        raise ValueError(f"input_lengths must lie in [0, T = {max_frames}], got {input_lengths}")
    if (target_lengths < 0).any():
        raise ValueError(f"target_lengths must be >= 0, got {target_lengths}")
    if not 0 <= blank < vocabulary_size:
        raise ValueError(f"blank must be a class index in [0, V = {vocabulary_size}), got {blank}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")

    targets = np.asarray(targets, dtype=np.int64)
    if targets.ndim == 1:  # torch's concatenated form -> padded (B, S)
        if targets.shape[0] != target_lengths.sum():
            raise ValueError(
                f"1-D targets must hold sum(target_lengths) = {target_lengths.sum()} labels, "
                f"got {targets.shape[0]}"
            )
        padded = np.zeros((batch_size, max(int(target_lengths.max(initial=0)), 1)), np.int64)
        starts = np.concatenate([[0], np.cumsum(target_lengths)])
        for b in range(batch_size):
            padded[b, : target_lengths[b]] = targets[starts[b] : starts[b + 1]]
        targets = padded
    if targets.ndim != 2 or targets.shape[0] != batch_size:
        raise ValueError(f"targets must be (B, S) padded or 1-D concatenated, got {targets.shape}")
    if (target_lengths > targets.shape[1]).any():
        raise ValueError(
            f"target_lengths {target_lengths} exceed the targets' width S = {targets.shape[1]}"
        )
    used = np.arange(targets.shape[1])[None, :] < target_lengths[:, None]
    used_labels = targets[used]
    if ((used_labels < 0) | (used_labels >= vocabulary_size)).any():
        raise ValueError(f"targets must be class indices in [0, V = {vocabulary_size})")
    if (used_labels == blank).any():
        raise ValueError(f"targets contain the blank index {blank}; remove it from the labels")
    return log_probs, np.ascontiguousarray(targets), input_lengths, target_lengths


def _gradient_scale(target_lengths: np.ndarray, reduction: str) -> np.ndarray:
    """d reduced loss / d loss_b for each utterance."""
    if reduction == "mean":
        return 1.0 / (np.maximum(target_lengths, 1) * len(target_lengths)).astype(np.float64)
    return np.ones(len(target_lengths))


def _reduce(losses: np.ndarray, target_lengths: np.ndarray, reduction: str):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return (losses / np.maximum(target_lengths, 1).astype(losses.dtype)).mean()


# ----------------------------------------------------------------------------------------
# References: what the lesson shows
# ----------------------------------------------------------------------------------------


def _extended_labels(target: np.ndarray, blank: int) -> np.ndarray:
    """l' = (∅, y1, ∅, y2, ..., yS, ∅), length 2S + 1."""
    labels = np.full(2 * len(target) + 1, blank, dtype=np.int64)
    labels[1::2] = target
    return labels


def ctc_log_alpha_reference(
    log_probs: np.ndarray, target: np.ndarray, blank: int = 0
) -> np.ndarray:
    """Forward variables log α (T, 2S + 1) of one utterance: log_probs (T, V), target (S,)."""
    labels = _extended_labels(np.asarray(target), blank)
    n_frames, n_states = len(log_probs), len(labels)
    log_alpha = np.full((n_frames, n_states), -np.inf)
    log_alpha[0, 0] = log_probs[0, blank]
    if n_states > 1:
        log_alpha[0, 1] = log_probs[0, labels[1]]
    for t in range(1, n_frames):
        for s in range(n_states):
            total = log_alpha[t - 1, s]
            if s >= 1:
                total = np.logaddexp(total, log_alpha[t - 1, s - 1])
            if s >= 2 and labels[s] != blank and labels[s] != labels[s - 2]:
                total = np.logaddexp(total, log_alpha[t - 1, s - 2])
            log_alpha[t, s] = total + log_probs[t, labels[s]]
    return log_alpha


def ctc_log_beta_reference(log_probs: np.ndarray, target: np.ndarray, blank: int = 0) -> np.ndarray:
    """Backward variables log β (T, 2S + 1), excluding the frame-t emission."""
    labels = _extended_labels(np.asarray(target), blank)
    n_frames, n_states = len(log_probs), len(labels)
    log_beta = np.full((n_frames, n_states), -np.inf)
    log_beta[-1, -1] = 0.0
    if n_states > 1:
        log_beta[-1, -2] = 0.0
    for t in range(n_frames - 2, -1, -1):
        ahead = log_beta[t + 1] + log_probs[t + 1, labels]  # (L,): emit at t+1, continue
        for s in range(n_states):
            total = ahead[s]
            if s + 1 < n_states:
                total = np.logaddexp(total, ahead[s + 1])
            if s + 2 < n_states and labels[s + 2] != blank and labels[s + 2] != labels[s]:
                total = np.logaddexp(total, ahead[s + 2])
            log_beta[t, s] = total
    return log_beta


def _utterance_loss_and_grad_reference(log_probs, target, blank):
    """One utterance -> (loss, d loss / d log_probs (T, V) in torch's convention)."""
    n_frames = len(log_probs)
    if n_frames == 0:
        return (0.0 if len(target) == 0 else np.inf), np.zeros_like(log_probs)
    labels = _extended_labels(target, blank)
    log_alpha = ctc_log_alpha_reference(log_probs, target, blank)
    loss = -np.logaddexp.reduce(log_alpha[-1, -2:])
    if np.isinf(loss):
        return np.inf, np.full_like(log_probs, np.nan)
    log_beta = ctc_log_beta_reference(log_probs, target, blank)
    occupation = np.exp(log_alpha + log_beta + loss)  # γ_t(s), (T, L)
    occupation_by_class = np.zeros_like(log_probs)
    for s, label in enumerate(labels):
        occupation_by_class[:, label] += occupation[:, s]
    return loss, np.exp(log_probs) - occupation_by_class


def ctc_loss_and_grad_reference(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
):
    """Plain NumPy twin of `ctc_loss_and_grad`."""
    input_dtype = np.asarray(log_probs).dtype
    log_probs, targets, input_lengths, target_lengths = _prepare(
        log_probs, targets, input_lengths, target_lengths, blank, reduction
    )
    losses = np.empty(len(log_probs))
    grad = np.zeros_like(log_probs)
    for b in range(len(log_probs)):
        n_frames = input_lengths[b]
        target = targets[b, : target_lengths[b]]
        losses[b], grad[b, :n_frames] = _utterance_loss_and_grad_reference(
            log_probs[b, :n_frames], target, blank
        )
        if zero_infinity and np.isinf(losses[b]):
            losses[b], grad[b] = 0.0, 0.0
    grad *= _gradient_scale(target_lengths, reduction)[:, None, None]
    out_dtype = input_dtype if input_dtype in (np.float32, np.float64) else np.float64
    loss = _reduce(losses, target_lengths, reduction)
    return np.asarray(loss, dtype=out_dtype)[()], grad.astype(out_dtype)


def ctc_loss_reference(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
):
    """Plain NumPy twin of `ctc_loss`."""
    loss, _ = ctc_loss_and_grad_reference(
        log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity
    )
    return loss


# ----------------------------------------------------------------------------------------
# Numba kernel
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _logaddexp(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    if a > b:
        return a + np.log1p(np.exp(b - a))
    return b + np.log1p(np.exp(a - b))


@numba.njit(cache=True)
def _fill(array, start, stop, value):
    """array[start:stop] = value, as a loop (slice assignments compile much slower)."""
    for k in range(start, stop):
        array[k] = value


@numba.njit(cache=True)
def _band(t, n_frames, n_states):
    """States at frame t that are reachable from the start and can still reach the end."""
    return max(0, n_states - 2 * (n_frames - t)), min(n_states - 1, 2 * t + 1)


@numba.njit(cache=True)
def _forward(log_probs, labels, can_skip, n_frames, n_states, log_alpha, shifted):
    """Fill log_alpha[:n_frames, :n_states] (-inf outside the band)."""
    for t in range(n_frames):
        low, high = _band(t, n_frames, n_states)
        row = log_alpha[t]
        _fill(row, 0, low, -np.inf)
        _fill(row, high + 1, n_states, -np.inf)
        if t == 0:
            for s in range(low, high + 1):
                log_alpha[0, s] = log_probs[0, labels[s]]
            continue
        previous_low, previous_high = _band(t - 1, n_frames, n_states)
        shift = -np.inf
        for s in range(previous_low, previous_high + 1):
            shift = max(shift, log_alpha[t - 1, s])
        if shift == -np.inf:  # no path survives: the loss is infinite
            for later in range(t, n_frames):
                _fill(log_alpha[later], 0, n_states, -np.inf)
            return
        for s in range(previous_low, previous_high + 1):
            shifted[s] = np.exp(log_alpha[t - 1, s] - shift)  # α_t-1(s) / e^shift
        shifted[previous_high + 1] = 0.0
        shifted[previous_high + 2] = 0.0
        for s in range(low, high + 1):
            total = shifted[s]
            if s >= 1:
                total += shifted[s - 1]
            if can_skip[s]:
                total += shifted[s - 2]
            if total > _UNDERFLOW:
                log_alpha[t, s] = shift + np.log(total) + log_probs[t, labels[s]]
            else:  # exact log-sum-exp for a cell far below the frame's maximum
                exact = log_alpha[t - 1, s]
                if s >= 1:
                    exact = _logaddexp(exact, log_alpha[t - 1, s - 1])
                if can_skip[s]:
                    exact = _logaddexp(exact, log_alpha[t - 1, s - 2])
                log_alpha[t, s] = exact + log_probs[t, labels[s]]


@numba.njit(cache=True)
def _backward_and_grad(
    log_probs, labels, can_skip, n_frames, n_states, log_alpha, loss, scale, grad,
    log_beta, next_log_beta, ahead, shifted, occupation,
):  # fmt: skip
    """Walk β back in time, one row at a time, and write grad[:n_frames] on the way."""
    vocabulary_size = log_probs.shape[1]
    _fill(next_log_beta, 0, n_states, -np.inf)  # β_T-1: 1 on the last two states
    next_log_beta[n_states - 1] = 0.0
    if n_states > 1:
        next_log_beta[n_states - 2] = 0.0
    for t in range(n_frames - 1, -1, -1):
        low, high = _band(t, n_frames, n_states)
        if t == n_frames - 1:
            for s in range(n_states):
                log_beta[s] = next_log_beta[s]
        else:
            next_low, next_high = _band(t + 1, n_frames, n_states)
            _fill(ahead, 0, n_states + 2, -np.inf)
            shift = -np.inf
            for s in range(next_low, next_high + 1):
                ahead[s] = next_log_beta[s] + log_probs[t + 1, labels[s]]
                shift = max(shift, ahead[s])
            _fill(shifted, 0, n_states + 2, 0.0)
            if shift > -np.inf:
                for s in range(next_low, next_high + 1):
                    shifted[s] = np.exp(ahead[s] - shift)
            _fill(log_beta, 0, n_states, -np.inf)
            for s in range(low, high + 1):
                skip = s + 2 < n_states and can_skip[s + 2]
                total = shifted[s] + shifted[s + 1]
                if skip:
                    total += shifted[s + 2]
                if total > _UNDERFLOW:
                    log_beta[s] = shift + np.log(total)
                else:
                    exact = _logaddexp(ahead[s], ahead[s + 1])
                    if skip:
                        exact = _logaddexp(exact, ahead[s + 2])
                    log_beta[s] = exact

        _fill(occupation, 0, vocabulary_size, 0.0)  # Σ_{s: l'_s = v} γ_t(s)
        for s in range(low, high + 1):
            occupation[labels[s]] += np.exp(log_alpha[t, s] + log_beta[s] + loss)
        for v in range(vocabulary_size):
            grad[t, v] = (np.exp(log_probs[t, v]) - occupation[v]) * scale
        for s in range(n_states):
            next_log_beta[s] = log_beta[s]


def _ctc_batch(log_probs, targets, input_lengths, target_lengths, blank, grad_scale,
               zero_infinity, compute_grad):  # fmt: skip
    """-> (losses (B,), grad (B, T, V) scaled by grad_scale, or None).

    A Python loop over utterances around two Numba kernels (forward; backward + gradient):
    the per-utterance call overhead is microseconds, and two small kernels compile in a
    fraction of the time one big batched kernel takes.
    """
    batch_size, max_frames, vocabulary_size = log_probs.shape
    max_states = 2 * targets.shape[1] + 1
    losses = np.empty(batch_size)
    grad = np.zeros((batch_size, max_frames, vocabulary_size)) if compute_grad else None
    log_alpha = np.empty((max_frames, max_states))  # buffers reused by every utterance
    shifted = np.zeros(max_states + 2)
    ahead = np.empty(max_states + 2)
    log_beta = np.empty(max_states + 2)
    next_log_beta = np.empty(max_states + 2)
    occupation = np.empty(vocabulary_size)
    for b in range(batch_size):
        n_frames = int(input_lengths[b])
        target = targets[b, : target_lengths[b]]
        labels = _extended_labels(target, blank)
        n_states = len(labels)
        can_skip = np.zeros(n_states, dtype=np.bool_)  # may enter s from s - 2
        can_skip[3::2] = target[1:] != target[:-1]
        needed_frames = len(target) + int(np.sum(target[1:] == target[:-1]))

        loss = np.inf
        if n_frames == 0:
            loss = 0.0 if len(target) == 0 else np.inf
        elif n_frames >= needed_frames:
            _forward(log_probs[b], labels, can_skip, n_frames, n_states, log_alpha, shifted)
            loss = -np.logaddexp.reduce(log_alpha[n_frames - 1, max(n_states - 2, 0) : n_states])

        if np.isinf(loss):
            losses[b] = 0.0 if zero_infinity else np.inf
            if compute_grad and not zero_infinity:
                grad[b, :n_frames] = np.nan  # torch's gradient of an infinite loss
            continue
        losses[b] = loss
        if compute_grad and n_frames > 0:
            _backward_and_grad(
                log_probs[b], labels, can_skip, n_frames, n_states, log_alpha, float(loss),
                float(grad_scale[b]), grad[b], log_beta, next_log_beta, ahead, shifted, occupation,
            )  # fmt: skip
    return losses, grad


def _ctc_numpy(log_probs, targets, input_lengths, target_lengths, blank, reduction,
               zero_infinity, compute_grad):  # fmt: skip
    input_dtype = np.asarray(log_probs).dtype
    out_dtype = input_dtype if input_dtype in (np.float32, np.float64) else np.float64
    log_probs, targets, input_lengths, target_lengths = _prepare(
        log_probs, targets, input_lengths, target_lengths, blank, reduction
    )
    losses, grad = _ctc_batch(
        log_probs, targets, input_lengths, target_lengths, int(blank),
        _gradient_scale(target_lengths, reduction), bool(zero_infinity), compute_grad,
    )  # fmt: skip
    loss = np.asarray(_reduce(losses, target_lengths, reduction), dtype=out_dtype)[()]
    return loss, (grad.astype(out_dtype, copy=False) if compute_grad else None)


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------


def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
):
    """CTC negative log-likelihood, like torch.nn.functional.ctc_loss but batch-first.

    log_probs (B, T, V) log-softmax outputs; targets (B, S) padded or 1-D concatenated;
    input_lengths, target_lengths (B,). Returns a NumPy scalar ("sum", "mean") or the
    per-utterance losses (B,) ("none"), in the input's float dtype (computed in float64).
    Taught in lessons/04_ctc.ipynb, section 2.
    """
    loss, _ = _ctc_numpy(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                         zero_infinity, compute_grad=False)  # fmt: skip
    return loss


def ctc_loss_and_grad(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
):
    """(loss as in `ctc_loss`, gradient (B, T, V) of that loss with respect to log_probs).

    The gradient follows torch's convention, exp(log_probs) - occupation (see the module
    docstring): the true gradient for the logits when log_probs = log_softmax(logits).
    With reduction="none" it is the gradient of the sum of the losses. Rows t >=
    input_lengths[b] are 0; an impossible utterance gets NaN rows (0 with zero_infinity).
    Taught in lessons/04_ctc.ipynb, section 3.
    """
    return _ctc_numpy(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                      zero_infinity, compute_grad=True)  # fmt: skip


@lru_cache(maxsize=1)
def _ctc_loss_function_class():
    import torch

    class CTCLoss(torch.autograd.Function):
        """Per-utterance CTC losses (B,) with a backward from the Numba forward-backward.

        apply(log_probs (B, T, V), targets, input_lengths, target_lengths, blank,
        zero_infinity). Computes on the CPU in float64; results come back in log_probs'
        dtype and device. Taught in lessons/04_ctc.ipynb, section 3.
        """

        @staticmethod
        def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank=0,
                    zero_infinity=False):  # fmt: skip
            as_numpy = lambda x: x.detach().cpu().numpy() if torch.is_tensor(x) else x  # noqa: E731
            losses, grad = _ctc_numpy(
                as_numpy(log_probs), as_numpy(targets), as_numpy(input_lengths),
                as_numpy(target_lengths), blank, "none", zero_infinity,
                compute_grad=ctx.needs_input_grad[0],
            )  # fmt: skip
            if ctx.needs_input_grad[0]:
                ctx.per_utterance_grad = torch.from_numpy(grad).to(log_probs)
            return torch.from_numpy(losses).to(log_probs)

        @staticmethod
        def backward(ctx, grad_losses):
            grad = ctx.per_utterance_grad * grad_losses[:, None, None]  # (B, T, V)
            return grad, None, None, None, None, None

    return CTCLoss


def __getattr__(name: str):
    # CTCLoss subclasses torch.autograd.Function; build it on first use so that importing
    # minispeech.dp does not import torch.
    if name == "CTCLoss":
        return _ctc_loss_function_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ctc_loss_torch(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
):
    """torch.nn.functional.ctc_loss for batch-first log_probs (B, T, V), with autograd.

    Same reductions and gradient as torch (see the module docstring); computed on the CPU.
    Taught in lessons/04_ctc.ipynb, section 3.
    """
    import torch

    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    losses = _ctc_loss_function_class().apply(
        log_probs, targets, input_lengths, target_lengths, blank, zero_infinity
    )
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    target_lengths = torch.as_tensor(target_lengths, device=losses.device)
    return (losses / target_lengths.clamp_min(1).to(losses.dtype)).mean()
