"""Checks for lessons/07_tacotron2.ipynb: guided attention, frame grouping, a decoder step, the postnet.

check_guided_attention_weights  exercise 7.1, against minispeech.nn.attention.guided_attention_loss
check_group_frames_with_stop    exercise 7.2, against minispeech.models.tacotron2.group_frames and
                                stop_targets
check_decoder_step              exercise 7.3, against minispeech.models.tacotron2.decoder_step
check_frames_to_mel             exercise 7.4, against minispeech.models.tacotron2.Tacotron2.frames_to_mel

Modules run in float64 with seeded random weights, in eval mode. The decoder step's prenet keeps
its dropout in eval mode, so the student's function and the reference are each called right after
torch.manual_seed(the same seed): both draw the same dropout masks if they drop the same values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import as_tensor, check_function, random_cases

DROPOUT_SEED = 7


def _lengths_mask(lengths, max_length: int):
    import torch

    return torch.arange(max_length)[None, :] < torch.as_tensor(lengths)[:, None]


# --- 7.1 guided attention weights --------------------------------------------------------------


def _library_guided_weights(n_steps: int, n_tokens: int, sigma: float = 0.2):
    """W (n_steps, n_tokens) read off the library's loss: a one-hot alignment at (t, n) costs
    W[t, n] / (T N), the loss being a mean over the T N real cells."""
    import torch

    from minispeech.nn.attention import guided_attention_loss

    weights = torch.zeros(n_steps, n_tokens, dtype=torch.float64)
    lengths = (torch.tensor([n_steps]), torch.tensor([n_tokens]))
    for t in range(n_steps):
        for n in range(n_tokens):
            one_hot = torch.zeros(1, n_steps, n_tokens, dtype=torch.float64)
            one_hot[0, t, n] = 1.0
            weights[t, n] = guided_attention_loss(one_hot, *lengths, sigma) * (n_steps * n_tokens)
    return weights


def _diagnose_guided(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor):
        return "return a torch tensor (n_steps, n_tokens)"
    n_steps, n_tokens = expected.shape
    if actual.shape == (n_tokens, n_steps) and actual.shape != expected.shape:
        return "the matrix is transposed: rows are decoder steps t, columns are tokens n"
    if actual.shape != expected.shape:
        return f"the matrix is (n_steps, n_tokens) = {tuple(expected.shape)}"
    actual = actual.detach().double()
    if (actual < -1e-12).any() or (actual > 1 + 1e-12).any():
        return "a penalty lies outside [0, 1]: it is one minus a Gaussian bump, never negative"
    if abs(float(actual[0, 0])) > 1e-9:
        return "W[0, 0] should be 0: the first step on the first token lies on the diagonal"
    sigma = case["sigma"] if isinstance(case, dict) else case[2]
    t = torch.arange(n_steps, dtype=torch.float64)[:, None]
    n = torch.arange(n_tokens, dtype=torch.float64)[None, :]
    if n_steps > 1 and n_tokens > 1:
        last = 1.0 - torch.exp(-((n / (n_tokens - 1) - t / (n_steps - 1)) ** 2) / (2 * sigma**2))
        if torch.allclose(actual, last, atol=1e-9):
            return ("the positions are divided by N - 1 and T - 1; the lesson's fractions are "
                    "n / N and t / T (N tokens, T steps)")  # fmt: skip
    return ("the zeros are right but the values differ: look at the width of the Gaussian "
            "(the σ term) and at what is squared")  # fmt: skip


def check_guided_attention_weights(student_guided_attention_weights: Callable) -> None:
    """Exercise 7.1: W (T, N) on fixed and random sizes and widths, against the library's loss."""
    __tracebackhide__ = True

    def case(rng):
        return {"n_steps": int(rng.integers(1, 13)), "n_tokens": int(rng.integers(1, 13)),
                "sigma": float(rng.choice([0.1, 0.2, 0.3, 0.5]))}  # fmt: skip

    cases = [{"n_steps": 4, "n_tokens": 4, "sigma": 0.2}, {"n_steps": 9, "n_tokens": 3, "sigma": 0.2},
             {"n_steps": 1, "n_tokens": 5, "sigma": 0.4}]  # fmt: skip
    cases += random_cases(71, 10, case)

    def student(n_steps, n_tokens, sigma):
        import torch

        weights = student_guided_attention_weights(n_steps, n_tokens, sigma)
        return weights.double() if isinstance(weights, torch.Tensor) else weights

    check_function(
        student, _library_guided_weights, cases, name="guided_attention_weights", atol=1e-9,
        rtol=1e-7, diagnose=_diagnose_guided,
        hint="the penalty of cell (t, n) depends only on how far the token's position in the text "
        "(a fraction of N) is from the step's position in the utterance (a fraction of T): zero on "
        "that diagonal, rising toward one away from it, with width σ.",
    )  # fmt: skip


# --- 7.2 frame grouping and stop targets -------------------------------------------------------


def _group_case(rng: np.random.Generator, fixed: bool = False) -> dict:
    import torch

    if fixed:
        r, n_mels, lengths = 3, 2, [6, 4]  # 6: a multiple of r, where "last step" is easy to miss
    else:
        r, n_mels = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        lengths = rng.integers(1, 12, int(rng.integers(1, 4))).tolist()
    n_frames = max(lengths)
    mel = as_tensor(rng.normal(size=(len(lengths), n_frames, n_mels)))
    # zeros past each length, like tts_collate
    mel = mel * _lengths_mask(lengths, n_frames)[:, :, None]
    return {"mel": mel, "mel_lengths": torch.tensor(lengths), "r": r}


def _reference_group(mel, mel_lengths, r):
    from minispeech.models.tacotron2 import group_frames, stop_targets

    grouped = group_frames(mel, r)
    return grouped, stop_targets(mel_lengths, grouped.shape[1], r)


def _diagnose_group(actual, expected, case) -> str | None:
    import torch

    grouped, stop = actual
    want_grouped, want_stop = expected
    r = case["r"]
    if not isinstance(grouped, torch.Tensor) or grouped.shape != want_grouped.shape:
        got = tuple(grouped.shape) if isinstance(grouped, torch.Tensor) else type(grouped).__name__
        return (f"grouped is {got}, expected (B, S, r * n_mels) = {tuple(want_grouped.shape)}: "
                "S = ceil(T_mel / r), the last step padded with zero frames")  # fmt: skip
    if not torch.allclose(grouped.double(), want_grouped.double()):
        return ("grouped has the right shape but the wrong layout: step s must hold frames s r to "
                "s r + r - 1 side by side, each frame's n_mels values together, in time order")  # fmt: skip
    if not isinstance(stop, torch.Tensor) or stop.shape != want_stop.shape:
        return f"the stop targets are (B, S) = {tuple(want_stop.shape)}, one per decoder step"
    stop = stop.double()
    lengths = case["mel_lengths"]
    for b in range(len(lengths)):
        first_ones = torch.nonzero(stop[b] > 0.5)
        want = int((lengths[b] - 1) // r)
        got = int(first_ones[0]) if len(first_ones) else None
        if got != want:
            yours = "is never 1" if got is None else f"first is 1 at step {got}"
            return (f"utterance {b} has {int(lengths[b])} frames, so its last real frame sits in step "
                    f"{want} (r = {r}), where the stop target must first be 1; yours {yours}")  # fmt: skip
        if not bool((stop[b, want:] > 0.5).all()):
            return f"utterance {b}: the stop target must stay 1 on every step after the first 1"
    return None


def check_group_frames_with_stop(student_group_frames_with_stop: Callable) -> None:
    """Exercise 7.2: (grouped (B, S, r n_mels), stop targets (B, S)) for r = 1..4 and ragged batches."""
    __tracebackhide__ = True
    rng = np.random.default_rng(72)
    cases = [_group_case(rng, fixed=True)] + random_cases(73, 14, _group_case)
    check_function(
        student_group_frames_with_stop, _reference_group, cases, name="group_frames_with_stop",
        atol=0.0, rtol=0.0, parts=("grouped", "stop"), diagnose=_diagnose_group,
        hint="grouping is a reshape once T_mel is a multiple of r (pad the time axis with zero "
        "frames first); the stop target of a step says whether that step holds the utterance's "
        "last real frame or comes after it. Count frames and steps from 0.",
    )  # fmt: skip


# --- 7.3 one decoder step ----------------------------------------------------------------------


def _decoder_case(rng: np.random.Generator, prenet_dropout: float = 0.5) -> dict:
    import dataclasses

    import torch

    from minispeech.dsp import MelConfig
    from minispeech.models.tacotron2 import Decoder, DecoderState, Tacotron2Config

    torch.manual_seed(int(rng.integers(1 << 30)))
    r, memory_size = int(rng.integers(1, 4)), 6
    config = dataclasses.replace(
        Tacotron2Config.preset("ci"), mel=MelConfig(n_mels=8), encoder_size=memory_size,
        attention_size=5, location_filters=2, location_kernel_size=3, prenet_size=7, decoder_size=5,
        reduction_factor=r, prenet_dropout=prenet_dropout,
    )  # fmt: skip
    decoder = Decoder(config).double().eval()
    with torch.no_grad():  # default init gives tiny location terms: make them matter
        decoder.attention.location_conv.weight.mul_(5.0)
    batch_size, n_tokens = int(rng.integers(1, 4)), int(rng.integers(1, 7))
    lengths = np.concatenate([[n_tokens], rng.integers(1, n_tokens + 1, batch_size - 1)])
    mask = _lengths_mask(lengths, n_tokens)
    memory = as_tensor(rng.normal(size=(batch_size, n_tokens, memory_size))) * mask[:, :, None]
    weights = as_tensor(rng.dirichlet(np.ones(n_tokens), batch_size)) * mask
    hidden = [as_tensor(rng.normal(size=(batch_size, 5))) for _ in range(4)]
    state = DecoderState(*hidden, context=as_tensor(rng.normal(size=(batch_size, memory_size))),
                         cumulative_weights=weights * float(rng.integers(0, 5)), weights=weights)  # fmt: skip
    return {
        "decoder": decoder,
        "previous_frame": as_tensor(rng.normal(-3.0, 2.0, size=(batch_size, 8))),
        "state": state,
        "memory": memory,
        "projected_keys": decoder.attention.project_keys(memory).detach(),
        "memory_mask": mask,
    }


def _seeded(function: Callable) -> Callable:
    """function called right after torch.manual_seed(DROPOUT_SEED): the same dropout masks."""

    def call(*args, **kwargs):
        __tracebackhide__ = True
        import torch

        torch.manual_seed(DROPOUT_SEED)
        return function(*args, **kwargs)

    return call


def _reference_step(decoder, previous_frame, state, memory, projected_keys, memory_mask):
    from minispeech.models.tacotron2 import decoder_step

    return decoder_step(decoder, previous_frame, state, memory, projected_keys, memory_mask)


STATE_MEANING = {
    "attention_hidden": "the attention LSTMCell's new h (its input is the prenet output beside the "
    "previous context)",
    "attention_cell": "the attention LSTMCell's new memory",
    "weights": "this step's attention weights (the query is the attention LSTMCell's new h)",
    "context": "the new context",
    "decoder_hidden": "the decoder LSTMCell's new h (its input is the attention state beside the "
    "new context)",
    "decoder_cell": "the decoder LSTMCell's new memory",
    "cumulative_weights": "the cumulative weights (the previous sum plus this step's weights)",
}


def _prenet_without_dropout_matches(actual, case) -> bool:
    """True when the student's step equals the reference with the prenet's dropout switched off."""
    import torch

    decoder = case["decoder"]
    saved, decoder.prenet.dropout = decoder.prenet.dropout, 0.0
    try:
        with torch.no_grad():
            quiet = _reference_step(**case)
    finally:
        decoder.prenet.dropout = saved
    return torch.allclose(actual[0].detach().double(), quiet[0].double(), atol=1e-10)


def _diagnose_decoder_step(actual, expected, case) -> str | None:
    import torch

    frames, stop_logit, state = actual
    if case["decoder"].prenet.dropout > 0 and _prenet_without_dropout_matches(actual, case):
        return ("your step drops nothing in the prenet: the check runs in eval mode, and the "
                "prenet's dropout must stay on there too (Tacotron 2's only source of noise)")  # fmt: skip
    for field, meaning in STATE_MEANING.items():
        got, want = getattr(state, field, None), getattr(expected[2], field)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            return f"state.{field} is missing or has the wrong shape; expected {tuple(want.shape)}"
        if not torch.allclose(got.detach().double(), want.double(), atol=1e-10):
            return f"the first wrong part of the new state is state.{field}: {meaning}"
    return ("the new state is right; the frames or the stop logit are not: both projections read "
            "the decoder LSTMCell's new h beside the new context")  # fmt: skip


def check_decoder_step(student_decoder_step: Callable) -> None:
    """Exercise 7.3: frames (B, r n_mels), stop logit (B,) and the new DecoderState; r = 1..3,
    padded tokens, prenet dropout on (eval mode) and off."""
    __tracebackhide__ = True
    cases = random_cases(74, 8, _decoder_case)
    cases += random_cases(75, 2, lambda rng: _decoder_case(rng, prenet_dropout=0.0))
    check_function(
        _seeded(student_decoder_step), _seeded(_reference_step), cases, name="decoder_step",
        atol=1e-10, parts=("frames", "stop_logit", "state"), diagnose=_diagnose_decoder_step,
        hint="the order of the lesson's figure: prenet of the previous frame; the attention "
        "LSTMCell; attention with the new attention state as the query; the decoder LSTMCell; the "
        "two projections. Each LSTMCell reads two vectors side by side and continues its own "
        "(h, c) from the previous state. Dropout on the LSTM outputs acts only in training.",
    )  # fmt: skip


# --- 7.4 frames to mel, with the postnet residual ----------------------------------------------


def _postnet_case(rng: np.random.Generator) -> dict:
    import dataclasses

    import torch

    from minispeech.dsp import MelConfig
    from minispeech.models.tacotron2 import Tacotron2, Tacotron2Config

    torch.manual_seed(int(rng.integers(1 << 30)))
    r = int(rng.integers(1, 4))
    config = dataclasses.replace(
        Tacotron2Config.preset("ci"), mel=MelConfig(n_mels=6), reduction_factor=r, postnet_channels=5,
        postnet_layers=3, postnet_kernel_size=3,
    )  # fmt: skip
    model = Tacotron2(config).double().eval()
    # BatchNorm's running statistics away from the identity, as after training
    with torch.no_grad():
        for layer in model.postnet.layers:
            layer[1].running_mean.normal_()
            layer[1].running_var.uniform_(0.5, 2.0)
    batch_size, n_steps = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    n_frames = int(rng.integers((n_steps - 1) * r + 1, n_steps * r + 1))
    lengths = np.concatenate([[n_frames], rng.integers(1, n_frames + 1, batch_size - 1)])
    return {"model": model, "frames": as_tensor(rng.normal(-4.0, 2.0, size=(batch_size, n_steps, r * 6))),
            "mel_lengths": torch.tensor(lengths), "n_frames": n_frames}  # fmt: skip


def _reference_frames_to_mel(model, frames, mel_lengths, n_frames):
    return model.frames_to_mel(frames, mel_lengths, n_frames)


def _diagnose_postnet(actual, expected, case) -> str | None:
    import torch

    mel, mel_postnet = actual
    want_mel, want_postnet = expected
    if not isinstance(mel, torch.Tensor) or mel.shape != want_mel.shape:
        return (f"mel must be (B, n_frames, n_mels) = {tuple(want_mel.shape)}: ungroup the steps, then "
                "keep the first n_frames frames")  # fmt: skip
    mel = mel.detach().double()
    keep = _lengths_mask(case["mel_lengths"], mel.shape[1])[:, :, None]
    if (mel * ~keep).abs().max() > 0:
        return "mel has non-zero frames past an utterance's length: zero them before the postnet"
    if not torch.allclose(mel, want_mel.double(), atol=1e-10):
        return ("mel's real frames are wrong: frame k of step s is frame s r + k, its values "
                "n_mels consecutive entries of the step's output")  # fmt: skip
    with torch.no_grad():
        residual = case["model"].postnet(want_mel, case["mel_lengths"])
    alone = isinstance(mel_postnet, torch.Tensor) and torch.allclose(
        mel_postnet.detach().double(), residual, atol=1e-10
    )
    if alone:
        return "mel_postnet is the postnet's output alone; the postnet predicts a correction"
    return "mel is right; mel_postnet is not: the postnet reads the masked mel and its lengths"


def check_frames_to_mel(student_frames_to_mel: Callable) -> None:
    """Exercise 7.4: (mel, mel + postnet residual) from grouped frames, r = 1..3, ragged lengths."""
    __tracebackhide__ = True
    check_function(
        student_frames_to_mel, _reference_frames_to_mel, random_cases(76, 12, _postnet_case),
        name="frames_to_mel", atol=1e-10, parts=("mel", "mel_postnet"), diagnose=_diagnose_postnet,
        hint="undo 7.2's grouping, cut to n_frames, zero the frames past each length; the postnet "
        "sees the whole utterance at once and only has to fix what the frame-by-frame decoder "
        "got wrong.",
    )  # fmt: skip
