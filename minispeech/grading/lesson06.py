"""Checks for lessons/06_transformer.ipynb: attention, multi-head attention, positions.

check_scaled_dot_product_attention  exercise 6.1, against minispeech.nn.transformer and
                                    torch.nn.functional.scaled_dot_product_attention
check_multi_head_attention          exercise 6.2, against torch.nn.MultiheadAttention with the same weights
check_sinusoidal_table              exercise 6.3, against minispeech.nn.transformer.SinusoidalPositionalEncoding
check_apply_rotary                  exercise 6.4, against minispeech.nn.transformer.RotaryPositionalEmbedding
projection_weights                  a MultiHeadAttention's four projections as the dict exercise 6.2 takes
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import check_function, random_cases

PROJECTIONS = ("query", "key", "value", "output")


def _tensor(rng: np.random.Generator, *shape: int):
    import torch

    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


def _key_mask(rng: np.random.Generator, batch_size: int, n_keys: int):
    """(B, T_k) keep-mask with at least one kept key per row (padding at the end)."""
    import torch

    lengths = rng.integers(1, n_keys + 1, batch_size)
    return torch.from_numpy(np.arange(n_keys)[None, :] < lengths[:, None])


def check_scaled_dot_product_attention(student_attention: Callable) -> None:
    """Exercise 6.1: softmax(q k^T / sqrt(D)) v with a boolean keep-mask, on fixed and random cases."""
    __tracebackhide__ = True
    import torch
    import torch.nn.functional as F

    from minispeech.nn.transformer import scaled_dot_product_attention

    def case(rng):
        batch, heads, n_queries, n_keys, size = (int(v) for v in rng.integers(1, 5, 5))
        mask = _key_mask(rng, batch, n_keys)[:, None, None, :] if rng.random() < 0.6 else None
        return (_tensor(rng, batch, heads, n_queries, size), _tensor(rng, batch, heads, n_keys, size),
                _tensor(rng, batch, heads, n_keys, size + 1), mask)  # fmt: skip

    eye = torch.eye(3)[None]  # (1, 3, 3): each query matches one key
    cases = [(eye * 10, eye * 10, torch.arange(9.0).view(1, 3, 3), None),
             (eye, eye, torch.arange(9.0).view(1, 3, 3), torch.tensor([[True, True, False]]))]  # fmt: skip
    cases += random_cases(6, 20, case)
    for query, key, value, mask in cases:  # the reference agrees with torch's fused kernel
        torch.testing.assert_close(scaled_dot_product_attention(query, key, value, mask),
                                   F.scaled_dot_product_attention(query, key, value, attn_mask=mask))  # fmt: skip
    check_function(
        student_attention, scaled_dot_product_attention, cases, name="scaled_dot_product_attention",
        atol=1e-5, rtol=1e-4, diagnose=_diagnose_attention,
        hint="each query scores every key by a dot product scaled by 1 / sqrt(D), D the size of a "
        "query; masked keys (mask False) leave the softmax before it is taken; the softmax runs "
        "over the keys; the output mixes the values with those weights.",
    )  # fmt: skip


def _diagnose_attention(actual, expected, case) -> str | None:
    """Which variant of attention the student's output equals: unscaled, unmasked, wrong axis."""
    import torch

    from minispeech.nn.transformer import scaled_dot_product_attention

    query, key, value, mask = case
    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return f"the output is (..., T_q, D_v) = {tuple(expected.shape)}"
    size = query.shape[-1]
    variants = {
        "your scores are not divided by sqrt(D)": scaled_dot_product_attention(
            query * size**0.5, key, value, mask),
        "masked keys still get weight": scaled_dot_product_attention(query, key, value),
    }  # fmt: skip
    scores = query @ key.transpose(-2, -1) / size**0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    variants["the softmax runs over the queries instead of the keys"] = (
        torch.softmax(scores, dim=-2).nan_to_num() @ value
    )
    for words, variant in variants.items():
        if torch.allclose(actual.float(), variant.float(), atol=1e-5, rtol=1e-4):
            return words
    return None


def projection_weights(attention) -> dict:
    """{"query_weight", "query_bias", ..., "output_bias"}: the nn.Linear tensors (y = x W^T + b)
    of a minispeech.nn.transformer.MultiHeadAttention, detached."""
    weights = {}
    for name in PROJECTIONS:
        layer = getattr(attention, f"{name}_projection")
        weights[f"{name}_weight"], weights[f"{name}_bias"] = (
            layer.weight.detach(),
            layer.bias.detach(),
        )
    return weights


def torch_multi_head_attention(
    query, key_value, weights: dict, n_heads: int, key_mask=None, causal=False
):
    """The reference for exercise 6.2: torch.nn.MultiheadAttention loaded with `weights`.

    torch's masks mean "ignore" where ours mean "keep", so both are inverted here.
    """
    import torch

    from minispeech.nn.transformer import causal_mask

    size = query.shape[-1]
    module = torch.nn.MultiheadAttention(size, n_heads, batch_first=True)
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([weights[f"{n}_weight"] for n in PROJECTIONS[:3]]))
        module.in_proj_bias.copy_(torch.cat([weights[f"{n}_bias"] for n in PROJECTIONS[:3]]))
        module.out_proj.weight.copy_(weights["output_weight"])
        module.out_proj.bias.copy_(weights["output_bias"])
        attn_mask = ~causal_mask(query.shape[1], key_value.shape[1]) if causal else None
        key_padding_mask = None if key_mask is None else ~key_mask
        output, _ = module(
            query, key_value, key_value, key_padding_mask=key_padding_mask, attn_mask=attn_mask
        )
    return output


def check_multi_head_attention(student_multi_head_attention: Callable) -> None:
    """Exercise 6.2: (query, key_value, weights, n_heads, key_mask, causal) -> (B, T_q, C), against
    torch.nn.MultiheadAttention (and minispeech's MultiHeadAttention) with the same weights."""
    __tracebackhide__ = True
    import torch

    from minispeech.nn.transformer import MultiHeadAttention

    def case(rng):
        batch, n_heads, head_size = (
            int(rng.integers(1, 4)),
            int(rng.choice([1, 2, 4])),
            int(rng.integers(1, 4)),
        )
        size, n_queries = n_heads * head_size, int(rng.integers(1, 6))
        causal = bool(rng.random() < 0.4)
        n_keys = n_queries if causal else int(rng.integers(1, 6))
        module = MultiHeadAttention(size, n_heads)
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.copy_(_tensor(rng, *parameter.shape) * 0.5)
        query = _tensor(rng, batch, n_queries, size)
        key_value = query if causal or rng.random() < 0.3 else _tensor(rng, batch, n_keys, size)
        key_mask = (
            None if causal or rng.random() < 0.4 else _key_mask(rng, batch, key_value.shape[1])
        )
        return {"query": query, "key_value": key_value, "weights": projection_weights(module),
                "n_heads": n_heads, "key_mask": key_mask, "causal": causal}  # fmt: skip

    cases = random_cases(6, 20, case)
    for arguments in cases:  # minispeech's module agrees with torch's
        module = MultiHeadAttention(arguments["query"].shape[-1], arguments["n_heads"]).eval()
        with torch.no_grad():
            for name in PROJECTIONS:
                getattr(module, f"{name}_projection").weight.copy_(
                    arguments["weights"][f"{name}_weight"]
                )
                getattr(module, f"{name}_projection").bias.copy_(
                    arguments["weights"][f"{name}_bias"]
                )
            ours, _ = module(arguments["query"], arguments["key_value"], key_mask=arguments["key_mask"],
                             causal=arguments["causal"])  # fmt: skip
        torch.testing.assert_close(
            ours, torch_multi_head_attention(**arguments), atol=1e-5, rtol=1e-4
        )
    check_function(
        student_multi_head_attention, torch_multi_head_attention, cases, name="multi_head_attention",
        atol=1e-5, rtol=1e-4, diagnose=_diagnose_multi_head,
        hint="look at the head split/merge figure: after the projections each head owns a "
        "contiguous slice of the channels and attends on its own; the key mask must broadcast "
        "over heads and queries; a causal mask lets query i see keys up to i only; the heads "
        "are merged back in the same channel order before the output projection.",
    )  # fmt: skip


def _diagnose_multi_head(actual, expected, case) -> str | None:
    """What kind of case failed (mask, causal, heads), and which query rows are wrong."""
    import torch

    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return f"the output is (B, T_q, C) = {tuple(expected.shape)}"
    wrong_queries = (~torch.isclose(actual.float(), expected, atol=1e-5, rtol=1e-4)).any(dim=-1)
    rows = sorted({int(t) for t in torch.nonzero(wrong_queries)[:, 1]})
    kind = [f"n_heads={case['n_heads']}"]
    kind.append("causal" if case["causal"] else "not causal")
    kind.append("with a key_mask" if case["key_mask"] is not None else "no key_mask")
    return f"this case is {', '.join(kind)}; wrong query positions: {rows}"


def check_sinusoidal_table(student_sinusoidal_table: Callable) -> None:
    """Exercise 6.3: (n_positions, model_size) -> (T, C) with sin on even channels, cos on odd."""
    __tracebackhide__ = True
    from minispeech.nn.transformer import SinusoidalPositionalEncoding

    def reference(n_positions: int, model_size: int):
        return SinusoidalPositionalEncoding(model_size).table(n_positions)

    cases = [(1, 2), (4, 2), (10, 8), (50, 16), (7, 64), (3, 128)]
    check_function(
        student_sinusoidal_table, reference, cases, name="sinusoidal_table", atol=1e-5, rtol=1e-4,
        diagnose=_diagnose_sinusoidal,
        hint="even channels hold a sine and odd channels a cosine of the position; channels 2i and "
        "2i + 1 share one frequency, and frequencies fall geometrically with i, from 1 down to "
        "about 1 / 10000.",
    )  # fmt: skip


def _diagnose_sinusoidal(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return f"the table is (n_positions, model_size) = {tuple(expected.shape)}"
    actual = actual.float()
    even_wrong = not torch.allclose(actual[:, 0::2], expected[:, 0::2], atol=1e-5, rtol=1e-4)
    odd_wrong = not torch.allclose(actual[:, 1::2], expected[:, 1::2], atol=1e-5, rtol=1e-4)
    if torch.allclose(actual[:, 0::2], expected[:, 1::2], atol=1e-5, rtol=1e-4):
        return "your even channels hold the cosines: sin and cos are swapped"
    if even_wrong and odd_wrong:
        return "both the sine (even) and the cosine (odd) channels are wrong"
    return "only the " + ("sine (even)" if even_wrong else "cosine (odd)") + " channels are wrong"


def check_apply_rotary(student_apply_rotary: Callable) -> None:
    """Exercise 6.4: x (B, H, T, D), offset -> RoPE-rotated x, rotate-half convention."""
    __tracebackhide__ = True
    from minispeech.nn.transformer import RotaryPositionalEmbedding

    def reference(x, offset: int = 0):
        return RotaryPositionalEmbedding(x.shape[-1])(x, offset)

    def case(rng):
        shape = (
            int(rng.integers(1, 3)),
            int(rng.integers(1, 3)),
            int(rng.integers(1, 7)),
            2 * int(rng.integers(1, 5)),
        )
        return (_tensor(rng, *shape), int(rng.integers(0, 20)))

    check_function(
        student_apply_rotary, reference, random_cases(6, 15, case), name="apply_rotary", atol=1e-5, rtol=1e-4,
        diagnose=_diagnose_rotary,
        hint="this course uses the rotate-half convention (rotate_half): channel i is rotated "
        "together with channel i + D/2, not with channel i + 1, by the angle of its absolute "
        "position (offset + t) at frequency θ_i; a rotation keeps each pair's length.",
    )  # fmt: skip


def _diagnose_rotary(actual, expected, case) -> str | None:
    import torch

    x, offset = case
    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return f"the result has the shape of x, {tuple(expected.shape)}"
    half = x.shape[-1] // 2
    norms = actual[..., :half] ** 2 + actual[..., half:] ** 2
    if not torch.allclose(norms, x[..., :half] ** 2 + x[..., half:] ** 2, atol=1e-4, rtol=1e-3):
        return "the pairs (i, i + D/2) change length: that is not a rotation of those pairs"
    wrong = (~torch.isclose(actual, expected, atol=1e-5, rtol=1e-4)).any(dim=-1)
    positions = sorted({int(t) + offset for t in torch.nonzero(wrong)[:, 2]})
    return f"with offset={offset}, the wrong positions are {positions}"
