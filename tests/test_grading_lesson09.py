"""The lesson-09 checks pass the references, fail wrong answers with a helpful message, and let
an unfinished exercise's NotImplementedError through unchanged."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from minispeech.grading import lesson09
from minispeech.nn import gan_losses
from minispeech.nn.discriminators import period_reshape
from minispeech.nn.generator import GeneratorConfig, MultiReceptiveFieldFusion


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 9.x: not done yet")


def diagnosed(text: str) -> str:
    """A pattern for `text` on the failure's "What is wrong:" line, not in its hint."""
    return "What is wrong: [^\\n]*" + re.escape(text)


CHECKS = [lesson09.check_multi_receptive_field, lesson09.check_period_reshape,
          lesson09.check_gan_losses]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def losses(real_scores, generated_scores, real_features, generated_features):
    return (gan_losses.discriminator_loss(real_scores, generated_scores),
            gan_losses.generator_adversarial_loss(generated_scores),
            gan_losses.feature_matching_loss(real_features, generated_features))  # fmt: skip


def test_references_pass(capsys):
    lesson09.check_multi_receptive_field(lambda x, blocks: lesson09._library_fusion(blocks)(x))
    lesson09.check_period_reshape(period_reshape)
    lesson09.check_gan_losses(losses)
    printed = capsys.readouterr().out
    for name in ("multi_receptive_field", "period_reshape", "gan_losses"):
        assert f"✓ {name}" in printed


# --- 9.1 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("resblock", [1, 2])
def test_the_layers_given_to_the_student_run_the_library_fusion(resblock):
    """The check's reference, rebuilt from the layer lists, is the library module itself."""
    torch.manual_seed(0)
    config = GeneratorConfig(resblock=resblock, resblock_kernel_sizes=(3, 5),
                             resblock_dilations=((1, 3), (2,)))  # fmt: skip
    fusion = MultiReceptiveFieldFusion(4, config).double()
    x = torch.randn(2, 4, 20, dtype=torch.float64)
    blocks = lesson09._layers(fusion)
    assert [len(layer) for block in blocks for layer in block] == [3 - resblock] * 3
    assert torch.equal(lesson09._library_fusion(blocks)(x), fusion(x))


def fusion_by_hand(x, blocks, slope=0.1, combine="mean", chained=False, residual="layer",
                   activate="before", activate_all=True):  # fmt: skip
    """The exercise written out, with one step swappable for a mistake."""
    outputs, h = [], x
    for block in blocks:
        h = h if chained else x
        start = h
        for layer in block:
            out = h
            for index, conv in enumerate(layer):
                act = (lambda v: F.leaky_relu(v, slope)) if slope else F.relu
                if not (activate_all or index == 0):
                    out = conv(out)
                elif activate == "before":
                    out = conv(act(out))
                else:
                    out = act(conv(out))
            h = h + out if residual == "layer" else out
        outputs.append(start + h if residual == "block" else h)
        h = outputs[-1]
    if chained:
        return outputs[-1]
    total = sum(outputs)
    return total if combine == "sum" else total / len(outputs)


def test_fusion_by_hand_passes(capsys):
    lesson09.check_multi_receptive_field(fusion_by_hand)
    assert "✓ multi_receptive_field" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [({"combine": "sum"}, "yours is their sum"),
     ({"chained": True}, "the blocks run one after another"),
     ({"residual": "block"}, "runs around the whole block"),
     ({"residual": "none"}, "there is no residual connection"),
     ({"slope": 0.01}, "slope 0.01"),
     ({"slope": 0.0}, "is a ReLU"),
     ({"activate": "after"}, "comes after each convolution"),
     ({"activate_all": False}, "only a layer's first convolution")],
    ids=["sum", "chained", "block-residual", "no-residual", "slope-0.01", "relu", "after", "first-only"],
)  # fmt: skip
def test_fusion_mistakes_are_named(options, diagnosis):
    with pytest.raises(AssertionError, match=diagnosed(diagnosis)):
        lesson09.check_multi_receptive_field(lambda x, blocks: fusion_by_hand(x, blocks, **options))


def test_a_wrong_fusion_shape_is_named():
    with pytest.raises(AssertionError, match=diagnosed("keeps the input's shape")):
        lesson09.check_multi_receptive_field(lambda x, blocks: fusion_by_hand(x, blocks).mean(1))


# --- 9.2 ---------------------------------------------------------------------------------------


def reshape_by_hand(waveform, period, mode="reflect", at_start=False, always=False, layout="rows",
                    channel=True, truncate=False):  # fmt: skip
    """The exercise written out with NumPy, with one step swappable for a mistake."""
    array = waveform.numpy()
    batch_size, length = array.shape
    pad = period - length % period if always else -length % period
    if truncate:
        array = array[:, : length - length % period]
    elif pad:
        array = np.pad(array, ((0, 0), (pad, 0) if at_start else (0, pad)), mode=mode)
    rows = array.shape[1] // period
    if layout == "rows":
        image = array.reshape(batch_size, rows, period)
    elif layout == "chunks":  # column j is the j-th stretch of consecutive samples
        image = array.reshape(batch_size, period, rows).transpose(0, 2, 1)
    else:  # "transposed": (p, rows)
        image = array.reshape(batch_size, rows, period).transpose(0, 2, 1)
    image = torch.from_numpy(np.ascontiguousarray(image))
    return image[:, None] if channel else image


def test_reshape_by_hand_passes(capsys):
    lesson09.check_period_reshape(reshape_by_hand)
    assert "✓ period_reshape" in capsys.readouterr().out


def test_the_fixed_cases_pad_and_do_not_pad():
    remainders = [
        waveform.shape[1] % period for waveform, period in lesson09._reshape_fixed_cases()
    ]
    assert remainders[0] and 0 in remainders


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [({"mode": "constant"}, "the padding is zeros;"),
     ({"at_start": True}, "the padding is at the start"),
     ({"mode": "edge"}, "repeats the last sample"),
     ({"mode": "symmetric"}, "the reflection repeats the last sample"),
     ({"always": True}, "nothing is padded"),
     ({"layout": "chunks"}, "column j must hold samples j, j + p"),
     ({"layout": "transposed"}, "the image is transposed"),
     ({"channel": False}, "the channel axis is missing"),
     ({"truncate": True}, "are dropped")],
    ids=["zeros", "start", "edge", "symmetric", "always", "chunks", "transposed", "no-channel", "truncate"],
)  # fmt: skip
def test_reshape_mistakes_are_named(options, diagnosis):
    with pytest.raises(AssertionError, match=diagnosed(diagnosis)):
        lesson09.check_period_reshape(
            lambda waveform, period: reshape_by_hand(waveform, period, **options)
        )


# --- 9.3 ---------------------------------------------------------------------------------------


def losses_by_hand(real_scores, generated_scores, real_features, generated_features, swap=False,
                   reduce=torch.mean, power=2, distance=torch.abs, average_discriminators=False,
                   generator_target=1.0, average_layers=False, order=(0, 1, 2)):  # fmt: skip
    """The exercise written out, with one step swappable for a mistake."""

    def squared(d):
        return d.abs() ** power

    real_target, generated_target = (0.0, 1.0) if swap else (1.0, 0.0)
    d_terms = [reduce(squared(real_target - r)) + reduce(squared(generated_target - g))
               for r, g in zip(real_scores, generated_scores, strict=True)]  # fmt: skip
    adv_terms = [reduce(squared(generator_target - g)) for g in generated_scores]
    fm_terms = []
    for real_layers, generated_layers in zip(real_features, generated_features, strict=True):
        layer_terms = [
            reduce(distance(r - g)) for r, g in zip(real_layers, generated_layers, strict=True)
        ]
        fm_terms.append(sum(layer_terms) / (len(layer_terms) if average_layers else 1))
    n = len(real_scores) if average_discriminators else 1
    result = (sum(d_terms) / n, sum(adv_terms) / n, sum(fm_terms) / n)
    return tuple(result[i] for i in order)


def test_losses_by_hand_pass(capsys):
    lesson09.check_gan_losses(losses_by_hand)
    assert "✓ gan_losses" in capsys.readouterr().out


def test_the_hand_made_cases_have_the_known_values():
    _, perfect, fooled = lesson09._losses_fixed_cases()
    discriminator, adversarial, matching = losses(**perfect)
    assert discriminator == 0.0 and adversarial == 2.0 and matching == 0.0
    assert losses(**fooled)[1] == 0.0


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [({"swap": True}, "discriminator: the targets are swapped"),
     ({"reduce": torch.sum}, "discriminator: each term is a mean"),
     ({"power": 1}, "discriminator: the differences must be squared"),
     ({"average_discriminators": True}, "discriminator: the sub-discriminators' losses "
      "are summed, not averaged"),
     ({"generator_target": 0.0}, "adversarial: the generator wants its audio scored 1"),
     ({"distance": torch.square}, "feature matching: feature matching is an L1"),
     ({"distance": lambda d: d}, "feature matching: the differences need their absolute"),
     ({"average_layers": True}, "feature matching: the layers' terms are summed"),
     ({"order": (1, 0, 2)}, "in the wrong order")],
    ids=["swapped", "sum-inside", "no-square", "mean-over-discriminators", "generator-target-0",
         "l2-matching", "signed-matching", "mean-over-layers", "order"],
)  # fmt: skip
def test_loss_mistakes_are_named(options, diagnosis):
    with pytest.raises(AssertionError, match=diagnosed(diagnosis)):
        lesson09.check_gan_losses(
            lambda *args, **kwargs: losses_by_hand(*args, **kwargs, **options)
        )


def test_a_generator_loss_summed_inside_is_named():
    def summed_adversarial(*args, **kwargs):
        right = losses_by_hand(*args, **kwargs)
        wrong = losses_by_hand(*args, **kwargs, reduce=torch.sum)
        return right[0], wrong[1], right[2]

    with pytest.raises(AssertionError, match=diagnosed("adversarial: each term is a mean")):
        lesson09.check_gan_losses(summed_adversarial)


def test_float_losses_are_named():
    def floats(*args, **kwargs):
        return tuple(float(loss) for loss in losses(*args, **kwargs))

    with pytest.raises(AssertionError, match=diagnosed("each loss is a torch tensor")):
        lesson09.check_gan_losses(floats)
