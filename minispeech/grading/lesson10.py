"""Checks for lessons/10_vits.ipynb: the coupling layer, the alignment likelihood, the KL term, the durations.

check_coupling              exercise 10.1, against minispeech.nn.flows.ResidualCouplingLayer (affine, with
                            seeded nonzero output weights), forward (y, log|det|) and reverse
check_alignment_likelihood  exercise 10.2, against minispeech.models.vits.alignment_log_likelihood
check_kl                    exercise 10.3, against minispeech.models.vits.kl_loss
check_durations_and_path    exercise 10.4, against minispeech.models.vits.durations_from_log and
                            path_from_durations

Everything runs in float64. Each check's `diagnose` recomputes the answers of the likely mistakes (a
flipped sign, a mean for a sum, a missing mask, ...) and names the one the student's answer equals.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import as_tensor, check_function, random_cases, tensors_close


def _mask(rng: np.random.Generator, batch_size: int, length: int) -> np.ndarray:
    """(B, length) bool keep-mask: the first row full, the others of random lengths >= 1."""
    lengths = [length] + [int(rng.integers(1, length + 1)) for _ in range(batch_size - 1)]
    return np.arange(length)[None, :] < np.array(lengths)[:, None]


# --- 10.1 the coupling layer -------------------------------------------------------------------


class ShiftAndLogScale:
    """The coupling's network: x0 (B, C/2, T), mask (B, 1, T) -> (shift, log_scale), (B, C/2, T) each,
    zero past the mask. It wraps a library ResidualCouplingLayer whose output layer got seeded weights."""

    def __init__(self, layer) -> None:
        self.layer = layer

    def __call__(self, x0, mask):
        return self.layer.shift_and_log_scale(x0, mask, None)

    def __repr__(self) -> str:
        return f"ShiftAndLogScale(C/2 = {self.layer.config.channels // 2})"


def _coupling_case(rng: np.random.Generator, reverse: bool | None = None) -> dict:
    import torch

    from minispeech.nn.flows import FlowConfig, ResidualCouplingLayer

    channels = 2 * int(rng.integers(1, 4))
    batch_size, length = int(rng.integers(1, 4)), int(rng.integers(2, 9))
    config = FlowConfig(channels=channels, hidden_channels=int(rng.integers(2, 7)), kernel_size=3,
                        wavenet_layers=int(rng.integers(1, 3)), n_flows=1, mean_only=False)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(1 << 30)))
        layer = ResidualCouplingLayer(config).double().eval()
        with torch.no_grad():  # the output layer starts at zero (the identity); make it do something
            layer.post.weight.normal_(0.0, 0.4)
            layer.post.bias.uniform_(-0.3, 0.3)
    keep = _mask(rng, batch_size, length)
    mask = as_tensor(keep[:, None, :].astype(np.float64))  # (B, 1, T)
    x = as_tensor(rng.normal(size=(batch_size, channels, length))) * mask  # zero-padded
    reverse = bool(rng.integers(0, 2)) if reverse is None else reverse
    return {"x": x, "mask": mask, "shift_and_log_scale": ShiftAndLogScale(layer), "reverse": reverse}


def _coupling_fixed_cases() -> list[dict]:
    rng = np.random.default_rng(100)
    return [_coupling_case(rng, reverse=False), _coupling_case(rng, reverse=True),
            _coupling_case(rng, reverse=False), _coupling_case(rng, reverse=True)]  # fmt: skip


def _reference_coupling(x, mask, shift_and_log_scale, reverse=False):
    return shift_and_log_scale.layer(x, mask, reverse=reverse)


def _coupling_mistakes(x, mask, shift_and_log_scale, reverse) -> dict:
    """What is wrong -> the answer that mistake gives (a tensor in reverse, (y, log|det|) forward)."""
    import torch

    x0, x1 = x.chunk(2, dim=1)
    shift, log_scale = shift_and_log_scale(x0, mask)
    if reverse:
        return {
            "undoing y1 = m + x1 exp(log_s) divides by exp(log_s): multiply by exp(-log_s), not exp(+log_s)":
                torch.cat([x0, (x1 - shift) * torch.exp(log_scale) * mask], 1),
            "undo the two steps in reverse order: subtract the shift first, then divide by the scale":
                torch.cat([x0, (x1 * torch.exp(-log_scale) - shift) * mask], 1),
            "the reverse pass must also undo the scale, not only the shift":
                torch.cat([x0, (x1 - shift) * mask], 1),
        }  # fmt: skip
    y1 = (shift + x1 * torch.exp(log_scale)) * mask
    right_y = torch.cat([x0, y1], 1)
    total = log_scale.sum(dim=(1, 2))
    swapped_shift, swapped_log_scale = shift_and_log_scale(x1, mask)
    return {
        "log|det| is +sum(log_s): the coupling stretches x1 by exp(log_s), so the volume grows by it":
            (right_y, -total),
        "log|det| is a sum over channels and frames, not a mean": (right_y, log_scale.mean(dim=(1, 2))),
        "the scale is exp(log_s): the network predicts its logarithm": (
            torch.cat([x0, (shift + x1 * log_scale) * mask], 1), total),
        "the shift is added after the scaling, not before it: y1 = m + x1 exp(log_s)": (
            torch.cat([x0, (x1 + shift) * torch.exp(log_scale) * mask], 1), total),
        "the first half x0 passes through and the second half x1 is transformed, not the other way round": (
            torch.cat([(swapped_shift + x0 * torch.exp(swapped_log_scale)) * mask, x1], 1),
            swapped_log_scale.sum(dim=(1, 2))),
        "the output keeps the halves in their places: (x0, y1), not (y1, x0)": (torch.cat([y1, x0], 1), total),
    }  # fmt: skip


def _diagnose_coupling(actual, expected, case) -> str | None:
    import torch

    if case["reverse"]:
        if isinstance(actual, tuple):
            return "with reverse=True return the reconstructed x alone, not a tuple: the log|det| is a forward quantity"
        candidates = _coupling_mistakes(**case)
        for what, value in candidates.items():
            if tensors_close(actual, value):
                return what
        return None
    if not isinstance(actual, tuple) or len(actual) != 2:
        return "the forward pass returns a tuple (y (B, C, T), log_determinant (B,))"
    y, log_determinant = actual
    if isinstance(log_determinant, torch.Tensor) and log_determinant.dim() == 0:
        return "log_determinant has one value per sentence, shape (B,): sum over channels and frames only"
    with torch.no_grad():
        for what, (want_y, want_log_determinant) in _coupling_mistakes(**case).items():
            if tensors_close(y, want_y) and tensors_close(log_determinant, want_log_determinant):
                return what
    return None


def check_coupling(student_coupling: Callable) -> None:
    """Exercise 10.1: an affine coupling layer's forward pass (y, log|det|) and its inverse, with one to
    three channel pairs, padded batches, against minispeech.nn.flows.ResidualCouplingLayer."""
    __tracebackhide__ = True
    cases = _coupling_fixed_cases() + random_cases(101, 12, _coupling_case)
    check_function(
        student_coupling, _reference_coupling, cases, name="coupling", atol=1e-9, rtol=1e-7,
        diagnose=_diagnose_coupling,
        hint="split x into its two channel halves; only the second half changes, stretched and shifted by "
        "what the network reads from the first half (which passes through unchanged). The log-determinant "
        "is what the stretch does to volume, one number per sentence. Going backwards, undo the two steps "
        "in the opposite order.",
    )  # fmt: skip


# --- 10.2 the alignment likelihood ---------------------------------------------------------------


def _likelihood_case(rng: np.random.Generator, square: bool = False) -> tuple:
    batch_size, channels = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    tokens = int(rng.integers(1, 7))
    frames = tokens if square else int(rng.integers(tokens, 3 * tokens + 3))
    text_mask, frame_mask = _mask(rng, batch_size, tokens), _mask(rng, batch_size, frames)
    z_p = as_tensor(rng.normal(size=(batch_size, channels, frames)))
    prior_mean = as_tensor(rng.normal(size=(batch_size, channels, tokens)))
    prior_log_std = as_tensor(rng.uniform(-1.0, 0.7, size=(batch_size, channels, tokens)))
    return (z_p, prior_mean, prior_log_std, as_tensor(text_mask), as_tensor(frame_mask))


def _likelihood_fixed_cases() -> list[tuple]:
    import torch

    rng = np.random.default_rng(102)
    # one channel, unit variance, the mean on a frame: that frame's log-likelihood is -0.5 log 2 pi
    z_p = torch.tensor([[[0.0, 1.0, 2.0]]], dtype=torch.float64)
    prior_mean = torch.tensor([[[0.0, 2.0]]], dtype=torch.float64)
    unit = (z_p, prior_mean, torch.zeros_like(prior_mean), torch.ones(1, 2, dtype=torch.bool),
            torch.ones(1, 3, dtype=torch.bool))  # fmt: skip
    return [unit, _likelihood_case(rng), _likelihood_case(rng, square=True)]


def _reference_likelihood(z_p, prior_mean, prior_log_std, text_mask, frame_mask):
    from minispeech.models.vits import alignment_log_likelihood

    return alignment_log_likelihood(z_p, prior_mean, prior_log_std, text_mask, frame_mask)


def _likelihood_variant(z_p, prior_mean, prior_log_std, text_mask, frame_mask, constant=True, log_std_sign=-1.0,
                        precision_power=2.0, half=True, reduce="sum", masked=True):  # fmt: skip
    """The log-likelihood (B, T_txt, T_mel) by brute force, with one step swapped for a mistake."""
    import torch

    difference = z_p[:, :, None, :] - prior_mean[:, :, :, None]  # (B, C, T_txt, T_mel)
    log_std = prior_log_std[:, :, :, None]
    per_channel = (log_std_sign * log_std - (0.5 if half else 1.0) * difference**2
                   * torch.exp(-precision_power * log_std))  # fmt: skip
    if constant:
        per_channel = per_channel - 0.5 * math.log(2 * math.pi)
    total = per_channel.sum(1) if reduce == "sum" else per_channel.mean(1)  # (B, T_txt, T_mel)
    if masked:
        total = total.masked_fill(~(text_mask[:, :, None] & frame_mask[:, None, :]), 0.0)
    return total


def _likelihood_mistakes(*case) -> dict:
    return {
        "the Gaussian's constant -1/2 log(2 pi) per channel is missing": _likelihood_variant(*case, constant=False),
        "log N(z; m, s^2) has -log s, not +log s": _likelihood_variant(*case, log_std_sign=1.0),
        "the squared difference is divided by the variance s^2 = exp(2 log_std), not by s":
            _likelihood_variant(*case, precision_power=1.0),
        "the squared term has a factor 1/2: -(z - m)^2 / (2 s^2)": _likelihood_variant(*case, half=False),
        "the channels are independent, so their log-likelihoods add: sum over channels, not a mean":
            _likelihood_variant(*case, reduce="mean"),
        "the entries off the masks (padded tokens or frames) must be 0": _likelihood_variant(*case, masked=False),
    }  # fmt: skip


def _diagnose_likelihood(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor):
        return f"return a torch tensor (B, T_txt, T_mel) = {tuple(expected.shape)}"
    batch_size, tokens, frames = expected.shape
    if tuple(actual.shape) == (batch_size, frames, tokens) and tokens != frames:
        return "rows are tokens and columns frames: (B, T_txt, T_mel), yours is transposed"
    if tokens == frames and tensors_close(actual, expected.transpose(1, 2)):
        return "rows are tokens and columns frames: (B, T_txt, T_mel), yours is transposed"
    with torch.no_grad():
        for what, value in _likelihood_mistakes(*case).items():
            if tensors_close(actual, value):
                return what
    return None


def check_alignment_likelihood(student_alignment_log_likelihood: Callable) -> None:
    """Exercise 10.2: log N(z_p[:, :, t]; mean_i, diag(std_i^2)) for every token i and frame t, with
    padded tokens and frames, against minispeech.models.vits.alignment_log_likelihood."""
    __tracebackhide__ = True
    cases = _likelihood_fixed_cases() + random_cases(103, 12, _likelihood_case)
    check_function(
        student_alignment_log_likelihood, _reference_likelihood, cases, name="alignment_log_likelihood",
        atol=1e-9, rtol=1e-7, diagnose=_diagnose_likelihood,
        hint="entry (i, t) is the log-density of frame t's latent vector under token i's diagonal Gaussian: "
        "one independent Gaussian per channel, so the channels' log-densities add up. Write the univariate "
        "log-density with its normalizing constant and remember the prior gives a log standard deviation. "
        "Entries of padded tokens or frames are 0.",
    )  # fmt: skip


# --- 10.3 the KL term ----------------------------------------------------------------------------


def _kl_case(rng: np.random.Generator) -> tuple:
    batch_size, channels, frames = int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(2, 12))
    mask = as_tensor(_mask(rng, batch_size, frames)[:, None, :].astype(np.float64))  # (B, 1, T)
    z_p = as_tensor(rng.normal(size=(batch_size, channels, frames)))  # nonzero on padding too
    posterior_log_std = as_tensor(rng.uniform(-1.5, 0.5, size=(batch_size, channels, frames)))
    prior_mean = as_tensor(rng.normal(size=(batch_size, channels, frames)))
    prior_log_std = as_tensor(rng.uniform(-1.0, 0.7, size=(batch_size, channels, frames)))
    return (z_p, posterior_log_std, prior_mean, prior_log_std, mask)


def _kl_fixed_cases() -> list[tuple]:
    import torch

    rng = np.random.default_rng(104)
    # posterior = prior and z_p at the prior mean: log q - log p = -1/2 per channel and frame
    zeros = torch.zeros(1, 2, 3, dtype=torch.float64)
    same = (zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone(), torch.ones(1, 1, 3, dtype=torch.float64))
    return [same, _kl_case(rng), _kl_case(rng)]


def _reference_kl(z_p, posterior_log_std, prior_mean, prior_log_std, mask):
    from minispeech.models.vits import kl_loss

    return kl_loss(z_p, posterior_log_std, prior_mean, prior_log_std, mask)


def _kl_variant(z_p, posterior_log_std, prior_mean, prior_log_std, mask, sign=1.0, half_constant=True,
                precision_power=2.0, normalizer="mask", masked=True):  # fmt: skip
    import torch

    squared = (z_p - prior_mean) ** 2 * torch.exp(-precision_power * prior_log_std)
    per_element = sign * (prior_log_std - posterior_log_std) + 0.5 * squared
    if half_constant:
        per_element = per_element - 0.5
    total = torch.sum(per_element * mask) if masked else torch.sum(per_element)
    count = {"mask": torch.sum(mask), "elements": torch.sum(mask) * z_p.shape[1],
             "all": torch.tensor(float(z_p.numel()), dtype=z_p.dtype), "batch": torch.tensor(float(z_p.shape[0]))}
    return total / count[normalizer]


def _kl_mistakes(*case) -> dict:
    return {
        "the log-std difference is log s_p - log s_q (prior minus posterior): yours has it the other way round":
            _kl_variant(*case, sign=-1.0),
        "the constant -1/2 per channel and frame (log q's own squared term, whose mean is 1/2) is missing":
            _kl_variant(*case, half_constant=False),
        "the squared difference is divided by the prior's variance exp(2 log s_p), not by its std":
            _kl_variant(*case, precision_power=1.0),
        "divide by the number of real frames, mask.sum(), not by the number of elements times channels":
            _kl_variant(*case, normalizer="elements"),
        "divide by the number of real frames, mask.sum(), not by every element of the tensor":
            _kl_variant(*case, normalizer="all"),
        "divide by the number of real frames, mask.sum(), not by the batch size":
            _kl_variant(*case, normalizer="batch"),
        "the padded frames must not count: multiply by the mask before summing": _kl_variant(*case, masked=False),
    }  # fmt: skip


def _diagnose_kl(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor):
        return "return a torch tensor (the training loop calls backward on it): no .item(), no NumPy"
    if actual.dim() != 0:
        return "the KL term is one number, a 0-dim tensor: sum over channels and frames, divide by mask.sum()"
    with torch.no_grad():
        for what, value in _kl_mistakes(*case).items():
            if tensors_close(actual, value):
                return what
    return None


def check_kl(student_kl_loss: Callable) -> None:
    """Exercise 10.3: the reparameterized KL estimate per real frame, with padding that holds nonzero
    values, against minispeech.models.vits.kl_loss."""
    __tracebackhide__ = True
    cases = _kl_fixed_cases() + random_cases(105, 12, _kl_case)
    check_function(
        student_kl_loss, _reference_kl, cases, name="kl_loss", atol=1e-9, rtol=1e-7, diagnose=_diagnose_kl,
        hint="it is log q(z | x) - log p(z_p) for the one sample you have, written out for diagonal "
        "Gaussians: q's squared term has a known mean (which constant is it?), p's is computed from z_p. "
        "Sum over channels and real frames only, and divide by the number of real frames.",
    )  # fmt: skip


# --- 10.4 durations and the path -----------------------------------------------------------------


def _durations_case(rng: np.random.Generator) -> tuple:
    batch_size, tokens = int(rng.integers(1, 4)), int(rng.integers(1, 9))
    log_duration = as_tensor(rng.uniform(-1.0, 2.2, size=(batch_size, tokens)))  # nonzero on padding too
    length_scale = float(rng.choice([1.0, 1.0, 0.7, 1.3, 2.0]))
    return (log_duration, as_tensor(_mask(rng, batch_size, tokens)), length_scale)


def _durations_fixed_cases() -> list[tuple]:
    import torch

    rng = np.random.default_rng(106)
    # exp(log 2.5) = 2.5 frames -> 3; exp(log 0.2) -> 1 (never 0 frames); exp(log 4) x 1.5 = 6
    log_duration = torch.log(torch.tensor([[2.5, 0.2, 4.0]], dtype=torch.float64))
    return [(log_duration, torch.ones(1, 3, dtype=torch.bool), 1.0), (log_duration, torch.ones(1, 3, dtype=torch.bool), 1.5),
            _durations_case(rng), _durations_case(rng)]  # fmt: skip


def _reference_durations(log_duration, text_mask, length_scale):
    from minispeech.models.vits import durations_from_log, path_from_durations

    durations = durations_from_log(log_duration, text_mask, length_scale)
    return durations, path_from_durations(durations, int(durations.sum(1).max()))


def _durations_mistakes(log_duration, text_mask, length_scale) -> dict:
    """What is wrong -> the durations (B, T_txt) int64 that mistake gives."""
    import torch

    def frames(values):
        return values.clamp(min=1).long() * text_mask

    scaled = torch.exp(log_duration) * length_scale
    return {
        "round up (ceil): a token never gets fewer frames than predicted, and never 0; yours rounds to nearest":
            frames(torch.round(scaled)),
        "round up (ceil): yours rounds down": frames(torch.floor(scaled)),
        "length_scale multiplies the durations (> 1 is slower); yours divides by it":
            frames(torch.ceil(torch.exp(log_duration) / length_scale)),
        "the predictor gives log-durations: take exp before scaling and rounding":
            frames(torch.ceil(log_duration * length_scale)),
        "padded tokens get 0 frames: multiply by the text mask": torch.ceil(scaled).clamp(min=1).long(),
    }  # fmt: skip


def _diagnose_durations(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, tuple) or len(actual) != 2:
        return "return a tuple (durations (B, T_txt) int64, path (B, T_txt, T_mel))"
    durations, path = actual
    want_durations, want_path = expected
    if not isinstance(durations, torch.Tensor) or durations.is_floating_point():
        return "durations are whole frames: an int64 tensor (.long())"
    if not tensors_close(durations, want_durations, atol=0, rtol=0):
        for what, value in _durations_mistakes(*case).items():
            if tensors_close(durations, value, atol=0, rtol=0):
                return what
        return None
    if not isinstance(path, torch.Tensor):
        return "the path is a torch tensor (B, T_txt, T_mel) of 0s and 1s"
    batch_size, tokens, frames = want_path.shape
    if tuple(path.shape) == (batch_size, frames, tokens) and frames != tokens:
        return "rows are tokens and columns frames: (B, T_txt, T_mel), yours is transposed"
    if path.shape[:2] == want_path.shape[:2] and path.shape[2] == int(want_durations.sum()) != frames:
        return "T_mel is the longest sentence's frame count (the max over the batch of each sentence's sum), not the batch's total"
    if path.shape == want_path.shape:
        shifted = torch.nn.functional.pad(want_path, (1, 0))[:, :, :frames]
        if tensors_close(path, shifted, atol=0, rtol=0):
            return "token i covers frames [d_0 + ... + d_(i-1), d_0 + ... + d_i): yours starts one frame late"
    return None


def check_durations_and_path(student_durations_and_path: Callable) -> None:
    """Exercise 10.4: whole-frame durations from predicted log-durations (ceil, length_scale, padding)
    and the 0/1 path they describe, against minispeech.models.vits.durations_from_log and
    path_from_durations."""
    __tracebackhide__ = True
    cases = _durations_fixed_cases() + random_cases(107, 12, _durations_case)
    check_function(
        student_durations_and_path, _reference_durations, cases, name="durations_and_path", atol=0.0, rtol=0.0,
        parts=("durations", "path"), diagnose=_diagnose_durations,
        hint="the predictor speaks in log-frames; scale by length_scale and round so that no real token is "
        "ever shorter than predicted; padded tokens take no frames. Then token i owns the frames from the "
        "sum of the durations before it up to that sum plus its own; the path is as long as the longest "
        "sentence.",
    )  # fmt: skip
