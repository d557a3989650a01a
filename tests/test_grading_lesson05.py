"""The lesson-05 checks pass the references, fail wrong answers with a helpful message, and let
an unfinished exercise's NotImplementedError through unchanged."""

import pytest
import torch

from minispeech.grading import lesson05
from minispeech.models.las import DecoderState


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 5.x: not done yet")


CHECKS = [lesson05.check_additive_attention, lesson05.check_location_sensitive_attention,
          lesson05.check_decoder_step]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def additive(attention, query, keys, values, mask):
    return attention(query, keys, values, mask)


def location(attention, query, keys, values, cumulative_weights, mask):
    return attention(query, keys, values, cumulative_weights, mask)


def step(speller, previous_tokens, state, encoder, projected_keys, encoder_mask):
    return speller.step(previous_tokens, state, encoder, projected_keys, encoder_mask)


def test_references_pass(capsys):
    lesson05.check_additive_attention(additive)
    lesson05.check_location_sensitive_attention(location)
    lesson05.check_decoder_step(step)
    printed = capsys.readouterr().out
    for name in ("additive_attention", "location_sensitive_attention", "decoder_step"):
        assert f"✓ {name}" in printed


def test_attention_that_ignores_the_mask_fails_with_the_mask_hint():
    def unmasked(attention, query, keys, values, mask):
        return attention(query, keys, values, None)

    with pytest.raises(AssertionError) as error:
        lesson05.check_additive_attention(unmasked)
    message = str(error.value)
    assert "additive_attention(" in message and "element" in message and "-inf" in message


def test_attention_that_forgets_the_tanh_fails():
    def no_tanh(attention, query, keys, values, mask):
        hidden = attention.query_projection(query)[:, None, :] + attention.key_projection(keys)
        energies = attention.energy(hidden).squeeze(-1).masked_fill(~mask, float("-inf")) if mask is not None \
            else attention.energy(hidden).squeeze(-1)  # fmt: skip
        weights = torch.softmax(energies, dim=-1)
        return torch.bmm(weights[:, None, :], values).squeeze(1), weights

    with pytest.raises(AssertionError, match="tanh"):
        lesson05.check_additive_attention(no_tanh)


def test_location_attention_without_the_location_term_fails():
    def as_additive(attention, query, keys, values, cumulative_weights, mask):
        from minispeech.nn.attention import AdditiveAttention

        return AdditiveAttention.forward(attention, query, keys, values, mask)

    with pytest.raises(AssertionError, match="location_conv"):
        lesson05.check_location_sensitive_attention(as_additive)


def test_decoder_step_that_forgets_the_cumulative_sum_fails():
    def no_accumulation(speller, previous_tokens, state, encoder, projected_keys, encoder_mask):
        logits, new_state = speller.step(
            previous_tokens, state, encoder, projected_keys, encoder_mask
        )
        return logits, new_state._replace(cumulative_weights=new_state.weights)

    with pytest.raises(AssertionError, match="cumulative_weights"):
        lesson05.check_decoder_step(no_accumulation)


def test_decoder_step_that_feeds_the_new_context_to_the_cell_fails():
    def wrong_context(speller, previous_tokens, state, encoder, projected_keys, encoder_mask):
        zero_context = DecoderState(state.hidden, state.cell, torch.zeros_like(state.context),
                                    state.cumulative_weights, state.weights)  # fmt: skip
        return speller.step(previous_tokens, zero_context, encoder, projected_keys, encoder_mask)

    with pytest.raises(AssertionError, match="decoder_step"):
        lesson05.check_decoder_step(wrong_context)
