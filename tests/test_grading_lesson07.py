"""The lesson-07 checks pass the references, fail wrong answers with a helpful message, and let
an unfinished exercise's NotImplementedError through unchanged."""

import pytest
import torch

from minispeech.grading import lesson07
from minispeech.models import tacotron2


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 7.x: not done yet")


CHECKS = [lesson07.check_guided_attention_weights, lesson07.check_group_frames_with_stop,
          lesson07.check_decoder_step, lesson07.check_frames_to_mel]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def guided(n_steps, n_tokens, sigma=0.2):
    t = torch.arange(n_steps, dtype=torch.float64)[:, None] / n_steps
    n = torch.arange(n_tokens, dtype=torch.float64)[None, :] / n_tokens
    return 1.0 - torch.exp(-((n - t) ** 2) / (2 * sigma**2))


def group(mel, mel_lengths, r):
    grouped = tacotron2.group_frames(mel, r)
    return grouped, tacotron2.stop_targets(mel_lengths, grouped.shape[1], r)


def step(decoder, previous_frame, state, memory, projected_keys, memory_mask):
    return tacotron2.decoder_step(
        decoder, previous_frame, state, memory, projected_keys, memory_mask
    )


def to_mel(model, frames, mel_lengths, n_frames):
    return model.frames_to_mel(frames, mel_lengths, n_frames)


def test_references_pass(capsys):
    lesson07.check_guided_attention_weights(guided)
    lesson07.check_group_frames_with_stop(group)
    lesson07.check_decoder_step(step)
    lesson07.check_frames_to_mel(to_mel)
    printed = capsys.readouterr().out
    for name in (
        "guided_attention_weights",
        "group_frames_with_stop",
        "decoder_step",
        "frames_to_mel",
    ):
        assert f"✓ {name}" in printed


def test_guided_weights_without_the_factor_two_fail_on_the_width():
    def narrow(n_steps, n_tokens, sigma=0.2):
        return (
            1.0 - (1.0 - guided(n_steps, n_tokens, sigma)) ** 2
        )  # exp(-x / σ²) instead of exp(-x / 2σ²)

    with pytest.raises(AssertionError, match="width"):
        lesson07.check_guided_attention_weights(narrow)


def test_transposed_guided_weights_are_named():
    with pytest.raises(AssertionError, match="transposed"):
        lesson07.check_guided_attention_weights(
            lambda n_steps, n_tokens, sigma=0.2: guided(n_steps, n_tokens, sigma).T
        )


def test_stop_target_one_step_late_names_the_step():
    def late(mel, mel_lengths, r):
        grouped = tacotron2.group_frames(mel, r)
        steps = torch.arange(grouped.shape[1])
        return grouped, (steps[None, :] >= (mel_lengths // r)[:, None]).float()

    with pytest.raises(AssertionError, match="last real frame sits in step"):
        lesson07.check_group_frames_with_stop(late)


def test_frames_grouped_in_the_wrong_order_are_named():
    def mixed(mel, mel_lengths, r):
        grouped, stop = group(mel, mel_lengths, r)
        batch_size, n_steps, width = grouped.shape
        n_mels = width // r
        return grouped.reshape(batch_size, n_steps, r, n_mels).transpose(2, 3).reshape(
            batch_size, n_steps, width
        ), stop

    with pytest.raises(AssertionError, match="layout"):
        lesson07.check_group_frames_with_stop(mixed)


def test_decoder_step_with_prenet_dropout_off_in_eval_is_named():
    def quiet_prenet(decoder, previous_frame, state, memory, projected_keys, memory_mask):
        saved, decoder.prenet.dropout = decoder.prenet.dropout, 0.0
        try:
            return step(decoder, previous_frame, state, memory, projected_keys, memory_mask)
        finally:
            decoder.prenet.dropout = saved

    with pytest.raises(AssertionError, match="must stay on"):
        lesson07.check_decoder_step(quiet_prenet)


def test_decoder_step_that_forgets_the_cumulative_sum_fails():
    def no_accumulation(decoder, previous_frame, state, memory, projected_keys, memory_mask):
        frames, stop_logit, new_state = step(
            decoder, previous_frame, state, memory, projected_keys, memory_mask
        )
        return frames, stop_logit, new_state._replace(cumulative_weights=new_state.weights)

    with pytest.raises(AssertionError, match="state.cumulative_weights"):
        lesson07.check_decoder_step(no_accumulation)


def test_postnet_output_without_the_residual_is_named():
    def no_residual(model, frames, mel_lengths, n_frames):
        mel, mel_postnet = to_mel(model, frames, mel_lengths, n_frames)
        return mel, mel_postnet - mel

    with pytest.raises(AssertionError, match="correction"):
        lesson07.check_frames_to_mel(no_residual)


def test_unmasked_mel_is_named():
    def unmasked(model, frames, mel_lengths, n_frames):
        r = model.config.reduction_factor
        mel = tacotron2.ungroup_frames(frames, r)[:, :n_frames]
        return mel, mel + model.postnet(mel, mel_lengths)

    with pytest.raises(AssertionError, match="past an utterance's length"):
        lesson07.check_frames_to_mel(unmasked)
