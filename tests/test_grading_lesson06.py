"""The lesson-06 checks pass the references, fail wrong answers with a helpful message, and let
an unfinished exercise's NotImplementedError through unchanged."""

import math

import pytest
import torch

from minispeech.grading import lesson06
from minispeech.nn.transformer import (
    MultiHeadAttention,
    RotaryPositionalEmbedding,
    SinusoidalPositionalEncoding,
    causal_mask,
    scaled_dot_product_attention,
)

CHECKS = [
    lesson06.check_scaled_dot_product_attention,
    lesson06.check_multi_head_attention,
    lesson06.check_sinusoidal_table,
    lesson06.check_apply_rotary,
]


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 6.x: not done yet")


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def library_multi_head_attention(query, key_value, weights, n_heads, key_mask=None, causal=False):
    module = MultiHeadAttention(query.shape[-1], n_heads).eval()
    with torch.no_grad():
        for name in lesson06.PROJECTIONS:
            getattr(module, f"{name}_projection").weight.copy_(weights[f"{name}_weight"])
            getattr(module, f"{name}_projection").bias.copy_(weights[f"{name}_bias"])
        output, _ = module(query, key_value, key_mask=key_mask, causal=causal)
    return output


def test_references_pass(capsys):
    lesson06.check_scaled_dot_product_attention(scaled_dot_product_attention)
    lesson06.check_multi_head_attention(library_multi_head_attention)
    lesson06.check_sinusoidal_table(lambda n, size: SinusoidalPositionalEncoding(size).table(n))
    lesson06.check_apply_rotary(
        lambda x, offset=0: RotaryPositionalEmbedding(x.shape[-1])(x, offset)
    )
    printed = capsys.readouterr().out
    for name in (
        "scaled_dot_product_attention",
        "multi_head_attention",
        "sinusoidal_table",
        "apply_rotary",
    ):
        assert f"✓ {name}" in printed


def test_attention_without_the_scale_fails_with_the_hint():
    def unscaled(query, key, value, mask=None):
        return scaled_dot_product_attention(query * math.sqrt(query.shape[-1]), key, value, mask)

    with pytest.raises(AssertionError, match="sqrt") as error:
        lesson06.check_scaled_dot_product_attention(unscaled)
    assert "scaled_dot_product_attention(" in str(error.value) and "element" in str(error.value)


def test_attention_ignoring_the_mask_fails():
    with pytest.raises(AssertionError, match="scaled_dot_product_attention"):
        lesson06.check_scaled_dot_product_attention(
            lambda q, k, v, mask=None: scaled_dot_product_attention(q, k, v)
        )


def test_multi_head_attention_with_a_reversed_causal_mask_fails():
    def wrong_causal(query, key_value, weights, n_heads, key_mask=None, causal=False):
        if not causal:
            return library_multi_head_attention(query, key_value, weights, n_heads, key_mask)
        anti = causal_mask(query.shape[1]).T  # attends to the future instead of the past
        module = MultiHeadAttention(query.shape[-1], n_heads).eval()
        with torch.no_grad():
            for name in lesson06.PROJECTIONS:
                getattr(module, f"{name}_projection").weight.copy_(weights[f"{name}_weight"])
                getattr(module, f"{name}_projection").bias.copy_(weights[f"{name}_bias"])
            return module(query, key_value, attention_mask=anti)[0]

    with pytest.raises(AssertionError, match="causal") as error:
        lesson06.check_multi_head_attention(wrong_causal)
    assert "multi_head_attention(" in str(error.value)


def test_multi_head_attention_that_ignores_padding_fails():
    def no_padding(query, key_value, weights, n_heads, key_mask=None, causal=False):
        return library_multi_head_attention(query, key_value, weights, n_heads, None, causal)

    with pytest.raises(AssertionError, match="multi_head_attention"):
        lesson06.check_multi_head_attention(no_padding)


def test_sinusoidal_table_with_swapped_sin_cos_fails():
    def swapped(n_positions, model_size):
        return (
            SinusoidalPositionalEncoding(model_size)
            .table(n_positions)
            .view(n_positions, -1, 2)
            .flip(-1)
            .flatten(1)
        )

    with pytest.raises(AssertionError, match="sin") as error:
        lesson06.check_sinusoidal_table(swapped)
    assert "sinusoidal_table(" in str(error.value)


def test_rotary_with_interleaved_pairs_fails():
    def interleaved(
        x, offset=0
    ):  # the GPT-J convention: pairs (2i, 2i + 1) instead of (i, i + D/2)
        size = x.shape[-1]
        order = torch.cat([torch.arange(0, size, 2), torch.arange(1, size, 2)])
        rotated = RotaryPositionalEmbedding(size)(x[..., order], offset)
        return rotated[..., torch.argsort(order)]

    with pytest.raises(AssertionError, match="rotate_half") as error:
        lesson06.check_apply_rotary(interleaved)
    assert "apply_rotary(" in str(error.value)


def test_projection_weights_round_trip():
    module = MultiHeadAttention(8, 2)
    weights = lesson06.projection_weights(module)
    assert sorted(weights) == sorted(
        f"{n}_{kind}" for n in lesson06.PROJECTIONS for kind in ("weight", "bias")
    )
    query = torch.randn(2, 3, 8)
    expected, _ = module.eval()(query)
    torch.testing.assert_close(
        lesson06.torch_multi_head_attention(query, query, weights, 2), expected
    )
