"""CTC loss and gradient: Numba == reference == brute force; parity with torch's ctc_loss.

Tolerances: float64 loss |ours - torch| <= 1e-9 * max(1, |torch|) (a relative 1e-9 that does
not blow up for losses near 0), gradient 1e-6 absolute; float32 input vs a float64
reference: 1e-5.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.dp.ctc import (
    CTCLoss,
    ctc_log_alpha_reference,
    ctc_log_beta_reference,
    ctc_loss,
    ctc_loss_and_grad,
    ctc_loss_and_grad_reference,
    ctc_loss_reference,
    ctc_loss_torch,
)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def torch_loss_and_grad(log_probs, targets, input_lengths, target_lengths, blank=0,
                        reduction="mean", zero_infinity=False):  # fmt: skip
    """torch's ctc_loss on (T, B, V) float64, reported batch-first."""
    x = torch.tensor(log_probs, dtype=torch.float64).transpose(0, 1).requires_grad_()
    loss = F.ctc_loss(x, torch.tensor(targets), torch.tensor(input_lengths), torch.tensor(target_lengths),
                      blank=blank, reduction=reduction, zero_infinity=zero_infinity)  # fmt: skip
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.transpose(0, 1).numpy()


def assert_loss_close(ours, theirs, tolerance=1e-9):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert np.array_equal(np.isinf(ours), np.isinf(theirs)), (ours, theirs)
    finite = np.isfinite(theirs)
    assert np.all(
        np.abs(ours[finite] - theirs[finite]) <= tolerance * np.maximum(1.0, np.abs(theirs[finite]))
    )


def assert_grad_close(ours, theirs, tolerance=1e-6):
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    finite = ~np.isnan(theirs)
    assert np.max(np.abs(ours[finite] - theirs[finite]), initial=0.0) <= tolerance


def random_batch(seed: int, scale: float = 2.0):
    """Random (B, T, V) log-probs with repeated labels, empty targets, T == S and T too short."""
    rng = np.random.default_rng(seed)
    batch_size, n_frames, vocabulary_size = (
        int(rng.integers(1, 5)),
        int(rng.integers(1, 12)),
        int(rng.integers(2, 6)),
    )
    max_labels = int(rng.integers(0, 7))
    blank = int(rng.integers(0, vocabulary_size)) if seed % 4 == 0 else 0
    labels = [v for v in range(vocabulary_size) if v != blank]
    targets = rng.choice(labels, size=(batch_size, max(max_labels, 1)))
    if seed % 3 == 0:
        targets[:, 1::2] = targets[:, : targets[:, 1::2].shape[1] * 2 : 2]  # repeats
    input_lengths = rng.integers(0, n_frames + 1, size=batch_size)
    input_lengths[0] = n_frames
    target_lengths = rng.integers(0, max_labels + 1, size=batch_size)
    log_probs = log_softmax(scale * rng.normal(size=(batch_size, n_frames, vocabulary_size)))
    return log_probs, targets, input_lengths, target_lengths, blank


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["none", "sum", "mean"]), st.booleans())
def test_parity_with_torch(seed, reduction, zero_infinity):
    log_probs, targets, input_lengths, target_lengths, blank = random_batch(seed)
    expected_loss, expected_grad = torch_loss_and_grad(
        log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)  # fmt: skip
    for implementation in (ctc_loss_and_grad, ctc_loss_and_grad_reference):
        loss, grad = implementation(
            log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity
        )
        assert_loss_close(loss, expected_loss)
        assert_grad_close(grad, expected_grad)
    assert_loss_close(ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity),
                      expected_loss)  # fmt: skip


def test_edge_cases_against_torch():
    rng = np.random.default_rng(1)
    log_probs = log_softmax(rng.normal(size=(5, 4, 3)))
    targets = np.array([[1, 1, 2], [1, 2, 0], [2, 2, 0], [1, 1, 0], [0, 0, 0]])
    # repeated labels with room, T == S, T too short for a repeat, blank-only, empty input
    input_lengths = np.array([4, 2, 2, 3, 0])
    target_lengths = np.array([3, 2, 2, 2, 0])
    for zero_infinity in (False, True):
        expected_loss, expected_grad = torch_loss_and_grad(
            log_probs, targets, input_lengths, target_lengths, reduction="none", zero_infinity=zero_infinity)  # fmt: skip
        loss, grad = ctc_loss_and_grad(log_probs, targets, input_lengths, target_lengths, reduction="none",
                                       zero_infinity=zero_infinity)  # fmt: skip
        assert_loss_close(loss, expected_loss)
        assert_grad_close(grad, expected_grad)
    assert np.isinf(
        loss_none := ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    )[2]
    assert loss_none[4] == 0.0 and np.isfinite(loss_none[3])
    # torch's concatenated 1-D targets give the same result
    flat = np.concatenate([targets[b, : target_lengths[b]] for b in range(5)])
    assert np.array_equal(
        ctc_loss(log_probs, flat, input_lengths, target_lengths, reduction="none"), loss_none
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 5), st.integers(0, 2))
def test_matches_brute_force_over_all_paths(seed, n_frames, n_labels):
    """Enumerate all 3^T frame labelings; those collapsing to the target are the alignments."""
    rng = np.random.default_rng(seed)
    log_probs = log_softmax(2.0 * rng.normal(size=(n_frames, 3)))
    target = rng.integers(1, 3, size=n_labels)
    path_scores, occupation = [], np.zeros((n_frames, 3))
    for labeling in itertools.product(range(3), repeat=n_frames):
        merged = [label for k, label in enumerate(labeling) if k == 0 or label != labeling[k - 1]]
        if [label for label in merged if label != 0] == target.tolist():
            score = sum(log_probs[t, label] for t, label in enumerate(labeling))
            path_scores.append(score)
            occupation[np.arange(n_frames), labeling] += np.exp(score)
    args = (log_probs[None], target[None], [n_frames], [n_labels])
    loss, grad = ctc_loss_and_grad(*args, reduction="sum")
    reference_loss, reference_grad = ctc_loss_and_grad_reference(*args, reduction="sum")
    if not path_scores:
        assert np.isinf(loss) and np.isinf(reference_loss)
        return
    likelihood = np.logaddexp.reduce(path_scores)
    assert loss == pytest.approx(-likelihood, rel=1e-12, abs=1e-12)
    assert reference_loss == pytest.approx(-likelihood, rel=1e-12, abs=1e-12)
    expected_grad = np.exp(log_probs) - occupation / np.exp(likelihood)
    np.testing.assert_allclose(grad[0], expected_grad, atol=1e-12)
    np.testing.assert_allclose(reference_grad[0], expected_grad, atol=1e-12)
    # α and β of the reference multiply to p(target) at every frame
    log_alpha = ctc_log_alpha_reference(log_probs, target)
    log_beta = ctc_log_beta_reference(log_probs, target)
    np.testing.assert_allclose(
        np.logaddexp.reduce(log_alpha + log_beta, axis=1), likelihood, rtol=1e-12
    )


def test_peaky_logits_stay_finite_and_exact():
    rng = np.random.default_rng(2)
    batch_size, n_frames, vocabulary_size, n_labels = 4, 60, 6, 12
    log_probs = log_softmax(100.0 * rng.normal(size=(batch_size, n_frames, vocabulary_size)))
    targets = rng.integers(1, vocabulary_size, size=(batch_size, n_labels))
    lengths = (np.full(batch_size, n_frames), np.full(batch_size, n_labels))
    expected_loss, expected_grad = torch_loss_and_grad(
        log_probs, targets, *lengths, reduction="none"
    )
    loss, grad = ctc_loss_and_grad(log_probs, targets, *lengths, reduction="none")
    assert np.all(np.isfinite(loss)) and np.all(loss > 100)  # far below the frames' maxima
    assert_loss_close(loss, expected_loss)
    assert_grad_close(grad, expected_grad)
    assert_loss_close(
        ctc_loss_reference(log_probs, targets, *lengths, reduction="none"), expected_loss
    )


def test_float32_input_against_float64_reference():
    log_probs, targets, input_lengths, target_lengths, _ = random_batch(3)
    log_probs32 = log_probs.astype(np.float32)
    expected_loss, expected_grad = torch_loss_and_grad(
        log_probs32.astype(np.float64), targets, input_lengths, target_lengths, reduction="none")  # fmt: skip
    loss, grad = ctc_loss_and_grad(
        log_probs32, targets, input_lengths, target_lengths, reduction="none"
    )
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    assert_loss_close(loss, expected_loss, tolerance=1e-6)
    assert_grad_close(grad, expected_grad, tolerance=1e-6)


def test_torch_autograd_matches_torch_ctc_loss():
    rng = np.random.default_rng(4)
    logits = torch.tensor(rng.normal(size=(3, 20, 5)), requires_grad=True)
    targets = torch.tensor(rng.integers(1, 5, size=(3, 6)))
    input_lengths, target_lengths = torch.tensor([20, 17, 12]), torch.tensor([6, 4, 5])
    for reduction in ("none", "sum", "mean"):
        ours = ctc_loss_torch(
            logits.log_softmax(-1), targets, input_lengths, target_lengths, reduction=reduction
        )
        (our_grad,) = torch.autograd.grad(ours.sum(), logits)
        theirs = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), targets, input_lengths, target_lengths,
                            reduction=reduction)  # fmt: skip
        (their_grad,) = torch.autograd.grad(theirs.sum(), logits)
        assert_loss_close(ours.detach().numpy(), theirs.detach().numpy())
        assert_grad_close(our_grad.numpy(), their_grad.numpy())
    assert CTCLoss.apply(logits.log_softmax(-1), targets, input_lengths, target_lengths).shape == (
        3,
    )


def test_gradcheck_through_log_softmax():
    """Torch's convention is the exact gradient for the logits behind a log_softmax."""
    rng = np.random.default_rng(5)
    logits = torch.tensor(rng.normal(size=(2, 5, 4)), requires_grad=True)
    targets, input_lengths, target_lengths = torch.tensor([[1, 1, 2], [3, 2, 0]]), [5, 4], [3, 2]
    assert torch.autograd.gradcheck(
        lambda x: ctc_loss_torch(x.log_softmax(-1), targets, input_lengths, target_lengths), (logits,))  # fmt: skip


def test_bad_input_raises():
    log_probs = log_softmax(np.zeros((2, 5, 4)))
    ok = dict(targets=np.array([[1, 2], [3, 3]]), input_lengths=[5, 5], target_lengths=[2, 2])
    with pytest.raises(ValueError, match="blank"):
        ctc_loss(log_probs, **{**ok, "targets": np.array([[1, 0], [3, 3]])})
    with pytest.raises(ValueError, match="input_lengths"):
        ctc_loss(log_probs, **{**ok, "input_lengths": [6, 5]})
    with pytest.raises(ValueError, match="exceed"):
        ctc_loss(log_probs, **{**ok, "target_lengths": [3, 2]})
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss(log_probs, **ok, reduction="average")
    with pytest.raises(ValueError, match="batch-first"):
        ctc_loss(log_probs[0], **ok)
    with pytest.raises(ValueError, match="class indices"):
        ctc_loss(log_probs, **{**ok, "targets": np.array([[1, 4], [3, 3]])})
