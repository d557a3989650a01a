"""Checks for lessons/09_hifigan.ipynb: the multi-receptive-field fusion, the period reshape, the GAN losses.

check_multi_receptive_field  exercise 9.1, against minispeech.nn.generator.MultiReceptiveFieldFusion
                             (ResBlock1 and ResBlock2 layers, weight-normed, in float64)
check_period_reshape         exercise 9.2, against minispeech.nn.discriminators.period_reshape
check_gan_losses             exercise 9.3, against minispeech.nn.gan_losses.discriminator_loss,
                             generator_adversarial_loss and feature_matching_loss

Everything runs in float64. The fusion's convolutions get seeded random weights whose norms are
near 1 (the library's initial ones are so small that every layer would be nearly the identity, and
most mistakes would hide under the tolerance). Each check's `diagnose` recomputes the answers of
the likely mistakes (a sum for the mean, zero padding, swapped targets, ...) and names the one the
student's answer equals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import as_tensor, check_function, random_cases, tensors_close

LEAKY_RELU_SLOPE = 0.1  # the generator's, minispeech.nn.generator.LEAKY_RELU_SLOPE


# --- 9.1 the multi-receptive-field fusion ------------------------------------------------------


def _layers(fusion) -> list:
    """blocks[i][j]: the convolutions of residual layer j of ResBlock i, in the order they run."""
    from minispeech.nn.generator import ResBlock1

    return [[[dilated, plain] for dilated, plain in zip(block.dilated, block.plain, strict=True)]
            if isinstance(block, ResBlock1) else [[dilated] for dilated in block.dilated]
            for block in fusion.resblocks]  # fmt: skip


def _fusion_case(rng: np.random.Generator, resblock: int | None = None, kernel_sizes=None,
                 dilations=None, shape=None) -> dict:  # fmt: skip
    """x (B, C, T) and the layers of a library MRF with seeded weights, in float64."""
    import torch

    from minispeech.nn.generator import GeneratorConfig, MultiReceptiveFieldFusion

    if kernel_sizes is None:
        n_blocks = int(rng.integers(1, 4))
        kernel_sizes = tuple(int(k) for k in rng.choice([1, 3, 5, 7], n_blocks))
        dilations = tuple(tuple(int(d) for d in rng.integers(1, 5, int(rng.integers(1, 4))))
                          for _ in range(n_blocks))  # fmt: skip
    resblock = int(rng.integers(1, 3)) if resblock is None else resblock
    batch_size, channels, length = shape or (int(rng.integers(1, 4)), int(rng.integers(1, 6)),
                                             int(rng.integers(4, 31)))  # fmt: skip
    config = GeneratorConfig(resblock=resblock, resblock_kernel_sizes=kernel_sizes,
                             resblock_dilations=dilations)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(1 << 30)))
        fusion = MultiReceptiveFieldFusion(channels, config).double()
        with torch.no_grad():  # weight norm g: each output channel's filter gets a norm near 1
            for name, parameter in fusion.named_parameters():
                if name.endswith("original0"):
                    parameter.uniform_(0.5, 1.5)
                elif name.endswith("bias"):
                    parameter.uniform_(-0.3, 0.3)
    x = as_tensor(rng.normal(size=(batch_size, channels, length)))
    return {"x": x, "blocks": _layers(fusion)}


def _fusion_fixed_cases() -> list[dict]:
    rng = np.random.default_rng(90)
    return [_fusion_case(rng, 1, (3, 5, 7), ((1, 3), (1, 2), (2,)), (2, 3, 16)),
            _fusion_case(rng, 2, (3, 5), ((1, 2), (1, 3, 2)), (1, 2, 12))]  # fmt: skip


def _library_fusion(blocks):
    """A library MultiReceptiveFieldFusion that runs exactly the given convolutions."""
    from torch import nn

    from minispeech.nn.generator import MultiReceptiveFieldFusion, ResBlock1, ResBlock2

    resblocks = []
    for block in blocks:
        kind = ResBlock1 if len(block[0]) == 2 else ResBlock2
        resblock = kind.__new__(kind)
        nn.Module.__init__(resblock)
        resblock.dilated = nn.ModuleList(layer[0] for layer in block)
        if kind is ResBlock1:
            resblock.plain = nn.ModuleList(layer[1] for layer in block)
        resblocks.append(resblock)
    fusion = MultiReceptiveFieldFusion.__new__(MultiReceptiveFieldFusion)
    nn.Module.__init__(fusion)
    fusion.resblocks = nn.ModuleList(resblocks)
    return fusion


def _reference_fusion(x, blocks):
    return _library_fusion(blocks)(x)


def _fusion_variant(x, blocks, slope=LEAKY_RELU_SLOPE, combine="mean", chained=False, residual="layer",
                    activate="before", activate_all=True):  # fmt: skip
    """The fusion with one step swapped for a mistake."""
    import torch
    import torch.nn.functional as F

    def layer_output(h, layer):
        for index, conv in enumerate(layer):
            active = activate_all or index == 0
            if activate == "before":
                h = conv(F.leaky_relu(h, slope) if active else h)
            else:
                h = F.leaky_relu(conv(h), slope) if active else conv(h)
        return h

    def block_output(h, block):
        start = h
        for layer in block:
            h = h + layer_output(h, layer) if residual == "layer" else layer_output(h, layer)
        return start + h if residual == "block" else h

    outputs, h = [], x
    for block in blocks:
        h = block_output(h if chained else x, block)
        outputs.append(h)
    if chained:
        return outputs[-1]
    total = torch.stack(outputs).sum(0)
    return total if combine == "sum" else total / len(blocks)


def _fusion_mistakes(x, blocks) -> dict:
    """What is wrong -> the output (B, C, T) that mistake gives."""
    return {
        "the fusion is the mean of the blocks' outputs; yours is their sum (the paper writes a sum, "
        "the authors' code and ours divide it by the number of blocks)":
            _fusion_variant(x, blocks, combine="sum"),
        "the blocks run one after another, each reading the previous block's output; they run side "
        "by side, every block reading the same input, and their outputs are averaged":
            _fusion_variant(x, blocks, chained=True),
        "the residual connection runs around the whole block; it runs around each layer: every layer "
        "adds its result to the value it read":
            _fusion_variant(x, blocks, residual="block"),
        "there is no residual connection: every layer adds its result to the value it read":
            _fusion_variant(x, blocks, residual="none"),
        "the LeakyReLU has slope 0.01 (torch's default); the generator's has slope 0.1":
            _fusion_variant(x, blocks, slope=0.01),
        "the activation is a ReLU; the generator's is a LeakyReLU with slope 0.1":
            _fusion_variant(x, blocks, slope=0.0),
        "the LeakyReLU comes after each convolution; it comes before, each convolution reading an "
        "activated value": _fusion_variant(x, blocks, activate="after"),
        "only a layer's first convolution reads a LeakyReLU; in a ResBlock1 layer the second "
        "convolution reads an activated value too": _fusion_variant(x, blocks, activate_all=False),
    }  # fmt: skip


def _diagnose_fusion(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return (f"the fusion keeps the input's shape (B, C, T) = {tuple(expected.shape)}: every block "
                "and the mean of their outputs have it")  # fmt: skip
    with torch.no_grad():
        for what, output in _fusion_mistakes(case["x"], case["blocks"]).items():
            if tensors_close(actual, output):
                return what
    return None


def check_multi_receptive_field(student_multi_receptive_field: Callable) -> None:
    """Exercise 9.1: the MRF's output (B, C, T) for ResBlock1 and ResBlock2 layers, one to three
    blocks of several kernel sizes and dilations, against the library's MultiReceptiveFieldFusion."""
    __tracebackhide__ = True
    cases = _fusion_fixed_cases() + random_cases(91, 10, _fusion_case)
    check_function(
        student_multi_receptive_field, _reference_fusion, cases, name="multi_receptive_field",
        atol=1e-9, rtol=1e-7, diagnose=_diagnose_fusion,
        hint="every block starts from the same input x. Inside a block, each residual layer adds its "
        "result to the value it read; within a layer, every convolution reads a LeakyReLU (slope "
        "0.1) of the value before it. The fusion divides the blocks' total by how many blocks "
        "there are.",
    )  # fmt: skip


# --- 9.2 the period reshape --------------------------------------------------------------------


def _reshape_case(rng: np.random.Generator) -> tuple:
    period = int(rng.choice([2, 3, 5, 7, 11, 4, 6, 13]))
    length = int(rng.integers(period, 8 * period + 1))  # >= period: a reflection needs T > padding
    return (as_tensor(rng.normal(size=(int(rng.integers(1, 4)), length))), period)


def _reshape_fixed_cases() -> list:
    import torch

    def ramp(batch_size, length):
        return torch.arange(batch_size * length, dtype=torch.float64).reshape(batch_size, length)

    return [(ramp(1, 10), 3), (ramp(2, 12), 4), (ramp(1, 8), 7), (ramp(2, 7), 7), (ramp(1, 23), 11),
            (ramp(3, 9), 2)]  # fmt: skip


def _reference_reshape(waveform, period):
    from minispeech.nn.discriminators import period_reshape

    return period_reshape(waveform, period)


def _padded(waveform, pad: int, mode: str, at_start: bool = False):
    """waveform (B, T) padded with `pad` samples at its end (or start): reflect, zeros, ..."""
    import torch

    array = waveform.detach().numpy()
    numpy_mode = {"zeros": "constant", "reflect": "reflect", "edge": "edge",
                  "symmetric": "symmetric", "wrap": "wrap"}[mode]  # fmt: skip
    widths = ((0, 0), (pad, 0) if at_start else (0, pad))
    return torch.from_numpy(np.pad(array, widths, mode=numpy_mode))


def _reshape_mistakes(waveform, period: int) -> dict:
    """What is wrong -> the (B, 1, rows, p) image that mistake gives."""
    batch_size, length = waveform.shape
    pad = -length % period

    def image(padded):
        return padded.reshape(batch_size, 1, -1, period)

    right = _padded(waveform, pad, "reflect")
    rows = right.shape[1] // period
    return {
        "the padding is zeros; the waveform is padded with its reflection (the samples before the "
        "end, mirrored)": image(_padded(waveform, pad, "zeros")),
        "the padding is at the start; it goes at the end of the waveform":
            image(_padded(waveform, pad, "reflect", at_start=True)),
        "the padding is zeros at the start; it is a reflection, at the end of the waveform":
            image(_padded(waveform, pad, "zeros", at_start=True)),
        "the padding repeats the last sample; a reflection mirrors the samples before it (the last "
        "sample is not repeated)": image(_padded(waveform, pad, "edge")),
        "the reflection repeats the last sample; it mirrors around the last sample, starting with "
        "the one before it": image(_padded(waveform, pad, "symmetric")),
        "the padding wraps around to the start; it is a reflection of the samples before the end":
            image(_padded(waveform, pad, "wrap")),
        "column j must hold samples j, j + p, j + 2p, ... (every p-th sample); yours holds a "
        "stretch of consecutive samples: the time axis is cut into p pieces instead of rows of p":
            right.reshape(batch_size, 1, period, rows).transpose(2, 3),
    }  # fmt: skip


def _diagnose_reshape(actual, expected, case) -> str | None:
    import torch

    waveform, period = case
    batch_size, length = waveform.shape
    rows = expected.shape[2]
    if not isinstance(actual, torch.Tensor):
        return f"return a torch tensor (B, 1, ceil(T / p), p) = {tuple(expected.shape)}"
    shape = tuple(actual.shape)
    if shape == (batch_size, rows, period):
        return "the channel axis is missing: a 2-D convolution reads (B, 1, T / p, p), one channel"
    if shape == (batch_size, 1, period, rows) and rows != period:
        return ("the image is transposed: it has T / p rows of p samples (rows are time, columns the "
                "phase), (B, 1, ceil(T / p), p)")  # fmt: skip
    if length % period == 0 and shape == (batch_size, 1, rows + 1, period):
        return (f"T = {length} is already a multiple of p = {period}, so nothing is padded; yours "
                "adds a row")  # fmt: skip
    if length % period and shape == (batch_size, 1, length // period, period):
        kept = waveform[:, : length - length % period].reshape(batch_size, 1, -1, period)
        if tensors_close(actual, kept, atol=0.0, rtol=0.0):
            return (f"the last T % p = {length % period} samples are dropped; pad the waveform up "
                    "to the next multiple of p instead, so that no sample is lost")  # fmt: skip
        return "the image has one row too few: pad the waveform up to the next multiple of p"
    for what, image in _reshape_mistakes(waveform, period).items():
        if tensors_close(actual, image, atol=0.0, rtol=0.0):
            return what
    return None


def check_period_reshape(student_period_reshape: Callable) -> None:
    """Exercise 9.2: (B, 1, ceil(T / p), p) for periods 2 to 13, lengths that are and are not
    multiples of the period, against minispeech.nn.discriminators.period_reshape."""
    __tracebackhide__ = True
    cases = _reshape_fixed_cases() + random_cases(92, 14, _reshape_case)
    check_function(
        student_period_reshape, _reference_reshape, cases, name="period_reshape", atol=0.0, rtol=0.0,
        diagnose=_diagnose_reshape,
        hint="first make the length a multiple of p by padding the end of the waveform with its "
        "reflection (nothing when it already is one), then read it row by row: each row holds p "
        "consecutive samples, so column j holds samples j, j + p, j + 2p, ... Keep a channel axis "
        "of size 1.",
    )  # fmt: skip


# --- 9.3 the GAN losses ------------------------------------------------------------------------

LOSS_NAMES = ("discriminator", "adversarial", "feature_matching")


def _losses_case(rng: np.random.Generator, n_discriminators: int | None = None) -> dict:
    n_discriminators = int(rng.integers(1, 6)) if n_discriminators is None else n_discriminators
    batch_size = int(rng.integers(1, 4))
    real_scores, generated_scores, real_features, generated_features = [], [], [], []
    for _ in range(n_discriminators):
        n_scores = int(rng.integers(1, 12))
        real_scores.append(as_tensor(rng.normal(0.7, 0.6, (batch_size, n_scores))))
        generated_scores.append(as_tensor(rng.normal(0.3, 0.6, (batch_size, n_scores))))
        n_layers = int(rng.integers(1, 5))
        shapes = [
            (batch_size, *rng.integers(1, 6, int(rng.integers(1, 4)))) for _ in range(n_layers)
        ]
        real_features.append([as_tensor(rng.normal(size=shape)) for shape in shapes])
        generated_features.append([as_tensor(rng.normal(size=shape)) for shape in shapes])
    return {"real_scores": real_scores, "generated_scores": generated_scores,
            "real_features": real_features, "generated_features": generated_features}  # fmt: skip


def _losses_fixed_cases() -> list[dict]:
    import torch

    rng = np.random.default_rng(93)
    # real scored 1, generated 0, features alike: D loss 0, adversarial 2, feature matching 0
    perfect = _losses_case(rng, n_discriminators=2)
    perfect["real_scores"] = [torch.ones_like(s) for s in perfect["real_scores"]]
    perfect["generated_scores"] = [torch.zeros_like(s) for s in perfect["generated_scores"]]
    perfect["generated_features"] = [
        [f.clone() for f in layers] for layers in perfect["real_features"]
    ]
    fooled = _losses_case(rng, n_discriminators=3)  # generated scored 1: adversarial 0
    fooled["generated_scores"] = [torch.ones_like(s) for s in fooled["generated_scores"]]
    return [_losses_case(rng, n_discriminators=3), perfect, fooled]


def _reference_losses(real_scores, generated_scores, real_features, generated_features):
    from minispeech.nn import gan_losses

    return (gan_losses.discriminator_loss(real_scores, generated_scores),
            gan_losses.generator_adversarial_loss(generated_scores),
            gan_losses.feature_matching_loss(real_features, generated_features))  # fmt: skip


def _loss_mistakes(real_scores, generated_scores, real_features, generated_features) -> dict:
    """Loss name -> {what is wrong -> the value that mistake gives}."""
    import torch

    n = len(real_scores)
    pairs = list(zip(real_scores, generated_scores, strict=True))
    layer_pairs = [list(zip(real, generated, strict=True))
                   for real, generated in zip(real_features, generated_features, strict=True)]  # fmt: skip

    def total(values):
        return torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in values]).sum()

    def matching(distance, reduce=torch.mean, over_layers="sum", over_discriminators="sum"):
        per_discriminator = []
        for layers in layer_pairs:
            values = total(reduce(distance(r - g)) for r, g in layers)
            per_discriminator.append(values / len(layers) if over_layers == "mean" else values)
        result = total(per_discriminator)
        return result / n if over_discriminators == "mean" else result

    right_d = total(torch.mean((1 - r) ** 2) + torch.mean(g**2) for r, g in pairs)
    right_adv = total(torch.mean((1 - g) ** 2) for g in generated_scores)
    return {
        "discriminator": {
            "the targets are swapped: the discriminator learns to score real audio 1 and generated "
            "audio 0": total(torch.mean(r**2) + torch.mean((1 - g) ** 2) for r, g in pairs),
            "each term is a mean over the scores' elements (E in the formula); yours sums them":
                total(torch.sum((1 - r) ** 2) + torch.sum(g**2) for r, g in pairs),
            "the sub-discriminators' losses are summed, not averaged": right_d / n,
            "the differences must be squared (least squares)":
                total(torch.mean(torch.abs(1 - r)) + torch.mean(torch.abs(g)) for r, g in pairs),
            "the differences must be squared (least squares), not left signed":
                total(torch.mean(1 - r) + torch.mean(g) for r, g in pairs),
            "the generated scores' term is missing: the discriminator also learns to score generated "
            "audio 0": total(torch.mean((1 - r) ** 2) for r, _ in pairs),
            "the real scores' term is missing: the discriminator also learns to score real audio 1":
                total(torch.mean(g**2) for _, g in pairs),
        },
        "adversarial": {
            "the generator wants its audio scored 1 (real), so its loss measures the distance of the "
            "generated scores from 1, not from 0": total(torch.mean(g**2) for g in generated_scores),
            "each term is a mean over the scores' elements (E in the formula); yours sums them":
                total(torch.sum((1 - g) ** 2) for g in generated_scores),
            "the sub-discriminators' losses are summed, not averaged": right_adv / n,
            "the differences must be squared (least squares)":
                total(torch.mean(torch.abs(1 - g)) for g in generated_scores),
            "the differences must be squared (least squares), not left signed":
                total(torch.mean(1 - g) for g in generated_scores),
        },
        "feature_matching": {
            "feature matching is an L1 distance: the mean absolute difference, not the squared one":
                matching(torch.square),
            "the differences need their absolute value: signed differences cancel out":
                matching(lambda d: d),
            "each layer's term is a mean over its elements (E in the formula); yours sums them":
                matching(torch.abs, reduce=torch.sum),
            "the layers' terms are summed, not averaged": matching(torch.abs, over_layers="mean"),
            "the sub-discriminators' terms are summed, not averaged":
                matching(torch.abs, over_discriminators="mean"),
            "the terms of every layer of every sub-discriminator are summed, not averaged":
                matching(torch.abs, over_layers="mean", over_discriminators="mean"),
        },
    }  # fmt: skip


def _diagnose_losses(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, tuple) or len(actual) != 3:
        return "return a tuple of three losses: (discriminator, adversarial, feature_matching)"
    if not all(isinstance(loss, torch.Tensor) for loss in actual):
        return ("each loss is a torch tensor: the training loop calls backward on it, so keep the "
                "computation in torch (no .item(), no NumPy)")  # fmt: skip
    if any(loss.dim() != 0 for loss in actual):
        return "each loss is a scalar, a 0-dim tensor: reduce every term to a single number"
    right = [tensors_close(loss, want) for loss, want in zip(actual, expected, strict=True)]
    if all(right):
        return None
    if all(any(tensors_close(loss, want) for want in expected) for loss in actual) and all(
        any(tensors_close(loss, want) for loss in actual) for want in expected
    ):
        return "the three losses are in the wrong order: (discriminator, adversarial, feature_matching)"
    name = LOSS_NAMES[right.index(False)]
    with torch.no_grad():
        for what, value in _loss_mistakes(**case)[name].items():
            if tensors_close(actual[LOSS_NAMES.index(name)], value):
                return f"{name.replace('_', ' ')}: {what}"
    return None


def check_gan_losses(student_gan_losses: Callable) -> None:
    """Exercise 9.3: (discriminator, adversarial, feature-matching) losses for one to five
    sub-discriminators with scores and features of any shape, a perfect discriminator and a fooled
    one, against minispeech.nn.gan_losses."""
    __tracebackhide__ = True
    cases = _losses_fixed_cases() + random_cases(94, 12, _losses_case)
    check_function(
        student_gan_losses, _reference_losses, cases, name="gan_losses", atol=1e-9, rtol=1e-7,
        parts=LOSS_NAMES, diagnose=_diagnose_losses,
        hint="least squares: the discriminator pulls real scores toward 1 and generated ones toward "
        "0, the generator pulls its scores toward 1; feature matching is the mean absolute "
        "difference of each pair of activations. Each term is a mean over a tensor's elements; "
        "the terms are summed over sub-discriminators (and over layers).",
    )  # fmt: skip
