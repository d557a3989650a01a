"""Checks for lessons/05_attention.ipynb: additive attention, location-sensitive attention, one decoder step.

check_additive_attention            exercise 5.1, against minispeech.nn.attention.AdditiveAttention
check_location_sensitive_attention  exercise 5.2, against minispeech.nn.attention.LocationSensitiveAttention
check_decoder_step                  exercise 5.3, against minispeech.models.las.Speller.step

Every case runs in float64 on a module with seeded random weights, in eval mode, with padded
keys (mask False) in some rows; the student's function receives the module and uses its layers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import as_tensor, check_function, random_cases

MASK_HINT = (
    "Padded keys (mask False) must get weight exactly 0, so they leave the softmax before it is "
    "taken (an energy of -inf), not after."
)
ATTENTION_PARTS = ("context", "weights")


def _diagnose_attention(actual, expected, case) -> str | None:
    """The property of the attention weights that fails: rows summing to 1, masked keys, context."""
    import torch

    context, weights = actual
    if not isinstance(weights, torch.Tensor) or weights.shape != expected[1].shape:
        return f"the weights are (B, T_k) = {tuple(expected[1].shape)}, one row per query"
    weights = weights.detach().double()
    row_sums = weights.sum(dim=-1)
    mask = case["mask"]
    if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-8):
        sums = ", ".join(f"{value:.4g}" for value in row_sums.tolist())
        if mask is not None and (weights[~mask] == 0).all():
            return (f"rows of the attention weights do not sum to 1 (row sums {sums}): the padded "
                    "keys were zeroed after the softmax, not left out of it")  # fmt: skip
        return (f"rows of the attention weights do not sum to 1 (row sums {sums}): "
                "is the softmax taken over the keys?")  # fmt: skip
    if mask is not None and (weights[~mask].abs() > 0).any():
        return "padded keys (mask False) get weight: the mask must act before the softmax"
    if not torch.allclose(weights, expected[1].double(), atol=1e-10):
        return "the weights sum to 1 but differ: look at how the energies are computed"
    own_context = (weights[:, :, None] * case["values"].double()).sum(dim=1)
    if isinstance(context, torch.Tensor) and not torch.allclose(context.double(), own_context, atol=1e-10):
        return "the weights are right but the context is not the weighted sum of the values"
    return None


def _mask(rng: np.random.Generator, batch_size: int, n_keys: int):
    """(B, T_k) keep-mask: row 0 is full, the others keep a random prefix of at least 1 key."""
    lengths = np.concatenate([[n_keys], rng.integers(1, n_keys + 1, batch_size - 1)])
    return as_tensor(np.arange(n_keys)[None, :] < lengths[:, None])


def _attention_module(kind: str, seed: int, query_size: int, key_size: int):
    import torch

    from minispeech.nn.attention import (
        AdditiveAttention,
        AttentionConfig,
        LocationSensitiveAttention,
    )

    torch.manual_seed(seed)
    config = AttentionConfig(query_size=query_size, key_size=key_size, attention_size=6,
                             location_filters=3, location_kernel_size=5)  # fmt: skip
    module = (
        (LocationSensitiveAttention if kind == "location" else AdditiveAttention)(config)
        .double()
        .eval()
    )
    if kind == "location":  # default init gives tiny location terms: make them matter
        with torch.no_grad():
            module.location_conv.weight.mul_(5.0)
    return module


def _attention_case(kind: str, rng: np.random.Generator, fixed: bool = False) -> dict:
    batch_size, n_keys = (2, 4) if fixed else (int(rng.integers(1, 4)), int(rng.integers(1, 9)))
    query_size, key_size, value_size = (
        (3, 5, 2) if fixed else tuple(int(n) for n in rng.integers(1, 6, 3))
    )
    case = {
        "attention": _attention_module(kind, int(rng.integers(1 << 30)), query_size, key_size),
        "query": as_tensor(rng.normal(size=(batch_size, query_size))),
        "keys": as_tensor(rng.normal(size=(batch_size, n_keys, key_size))),
        "values": as_tensor(rng.normal(size=(batch_size, n_keys, value_size))),
    }
    if kind == "location":
        case["cumulative_weights"] = as_tensor(rng.uniform(0.0, 2.0, (batch_size, n_keys)))
    if fixed:
        case["mask"] = _mask(rng, batch_size, n_keys) if kind == "location" else None
    else:
        case["mask"] = None if rng.random() < 0.2 else _mask(rng, batch_size, n_keys)
    return case


def check_additive_attention(student_additive_attention: Callable) -> None:
    """Exercise 5.1: (context, weights) of AdditiveAttention, with and without a mask."""
    __tracebackhide__ = True

    def reference(attention, query, keys, values, mask):
        return attention(query, keys, values, mask)

    rng = np.random.default_rng(0)
    cases = [_attention_case("content", rng, fixed=True)]
    masked = _attention_case("content", rng, fixed=True)
    masked["mask"] = as_tensor(np.array([[True] * 4, [True, True, False, False]]))
    cases.append(masked)
    cases += random_cases(51, 12, lambda rng: _attention_case("content", rng))
    check_function(
        student_additive_attention, reference, cases, name="additive_attention", atol=1e-10,
        parts=ATTENTION_PARTS, diagnose=_diagnose_attention,
        hint="the energy of a key comes from the projected query and the projected key, added, "
        "squashed by tanh and scored by the energy layer; the weights are a softmax over the "
        "keys; the context averages the values with those weights. " + MASK_HINT,
    )  # fmt: skip


def check_location_sensitive_attention(student_location_sensitive_attention: Callable) -> None:
    """Exercise 5.2: (context, weights) of LocationSensitiveAttention, masks and varied cumulative weights."""
    __tracebackhide__ = True

    def reference(attention, query, keys, values, cumulative_weights, mask):
        return attention(query, keys, values, cumulative_weights, mask)

    rng = np.random.default_rng(1)
    cases = [_attention_case("location", rng, fixed=True)]
    zero_history = _attention_case("location", rng, fixed=True)  # the first step: no history yet
    zero_history["cumulative_weights"] = zero_history["cumulative_weights"] * 0
    cases.append(zero_history)
    cases += random_cases(52, 12, lambda rng: _attention_case("location", rng))
    check_function(
        student_location_sensitive_attention, reference, cases, name="location_sensitive_attention",
        atol=1e-10, parts=ATTENTION_PARTS, diagnose=_diagnose_location,
        hint="the location term is what makes this attention location-sensitive: "
        "attention.location_conv reads the cumulative weights as a one-channel signal over the "
        "keys, attention.location_projection maps its filters to the attention size, and the "
        "result joins the query and key terms inside the tanh. " + MASK_HINT,
    )  # fmt: skip


def _diagnose_location(actual, expected, case) -> str | None:
    import torch

    from minispeech.nn.attention import AdditiveAttention

    problem = _diagnose_attention(actual, expected, case)
    if problem and not problem.startswith("the weights sum to 1 but differ"):
        return problem
    attention = case["attention"]
    with torch.no_grad():
        _, content_only = AdditiveAttention.forward(
            attention, case["query"], case["keys"], case["values"], case["mask"]
        )
    if torch.allclose(actual[1].detach().double(), content_only.double(), atol=1e-10):
        return "your weights ignore the cumulative weights: the location term is missing"
    return problem


def _decoder_case(attention: str, rng: np.random.Generator) -> dict:
    import torch

    from minispeech.models.las import LAS, DecoderState, LASConfig

    torch.manual_seed(int(rng.integers(1 << 30)))
    config = LASConfig(conv_channels=4, listener_size=3, listener_layers=1, embedding_size=4, decoder_size=5,
                       attention=attention, attention_size=6, location_filters=2, location_kernel_size=3)  # fmt: skip
    speller = LAS(config).speller.double().eval()
    batch_size, n_frames, encoder_size = int(rng.integers(1, 4)), int(rng.integers(1, 8)), 6
    mask = _mask(rng, batch_size, n_frames)
    encoder = as_tensor(rng.normal(size=(batch_size, n_frames, encoder_size))) * mask[:, :, None]
    weights = as_tensor(rng.dirichlet(np.ones(n_frames), batch_size)) * mask
    state = DecoderState(
        hidden=as_tensor(rng.normal(size=(batch_size, 5))), cell=as_tensor(rng.normal(size=(batch_size, 5))),
        context=as_tensor(rng.normal(size=(batch_size, encoder_size))),
        cumulative_weights=weights * float(rng.integers(0, 5)), weights=weights,
    )  # fmt: skip
    return {
        "speller": speller,
        "previous_tokens": as_tensor(rng.integers(0, config.vocabulary_size, batch_size)),
        "state": state,
        "encoder": encoder,
        "projected_keys": speller.attention.project_keys(encoder).detach(),
        "encoder_mask": mask,
    }


def check_decoder_step(student_decoder_step: Callable) -> None:
    """Exercise 5.3: logits (B, V) and the new DecoderState, location and content attention."""
    __tracebackhide__ = True

    def reference(speller, previous_tokens, state, encoder, projected_keys, encoder_mask):
        return speller.step(previous_tokens, state, encoder, projected_keys, encoder_mask)

    cases = random_cases(53, 6, lambda rng: _decoder_case("location", rng))
    cases += random_cases(54, 4, lambda rng: _decoder_case("content", rng))
    check_function(
        student_decoder_step, reference, cases, name="decoder_step", atol=1e-10,
        parts=("logits", "state"), diagnose=_diagnose_decoder_step,
        hint="one step in the order of the lesson's figure: the LSTM cell reads the previous "
        "token's embedding together with the previous step's context; its new hidden state is "
        "the attention query; the output layers see the new hidden state and the new context; "
        "the new state carries the running sum of all attention weights so far.",
    )  # fmt: skip


def _diagnose_decoder_step(actual, expected, case) -> str | None:
    """The first wrong part of the new state, in the order a step computes them."""
    import torch

    _, state = actual
    _, expected_state = expected
    meaning = {
        "hidden": "the LSTM cell's new hidden state (its inputs or its previous state are wrong)",
        "cell": "the LSTM cell's new memory",
        "context": "the new context (the attention query is the new hidden state)",
        "weights": "this step's attention weights",
        "cumulative_weights": "the cumulative attention weights (the previous sum plus this step's)",
    }
    for field in ("hidden", "cell", "weights", "context", "cumulative_weights"):
        got = getattr(state, field, None)
        want = getattr(expected_state, field)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            return f"state.{field} is missing or has the wrong shape; expected {tuple(want.shape)}"
        if not torch.allclose(got.detach().double(), want.double(), atol=1e-10):
            return f"the first wrong part of the new state is state.{field}: {meaning[field]}"
    return "the new state is right; the logits are not: look at the output layers' input"
