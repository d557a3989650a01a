"""minispeech.nn.attention: masks give exactly zero weight, parity with F.scaled_dot_product_attention,
location-sensitive == additive when its convolution is zero, the guided-attention prior."""

import pytest
import torch
import torch.nn.functional as F

from minispeech.nn.attention import (
    AdditiveAttention,
    AttentionConfig,
    DotProductAttention,
    LocationSensitiveAttention,
    attention_weights,
    causal_mask,
    guided_attention_loss,
    masked_softmax,
    padding_mask,
    scaled_dot_product_attention,
)

LENGTHS = torch.tensor([7, 3, 5])  # B = 3 utterances padded to T_k = 7


def key_mask(lengths=LENGTHS, max_length=7):
    return padding_mask(lengths, max_length)  # (B, T_k)


def test_masked_softmax_zero_on_masked_and_rows_sum_to_one():
    scores = torch.randn(3, 7)
    weights = masked_softmax(scores, key_mask())
    assert torch.all(weights[~key_mask()] == 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3), atol=1e-6, rtol=0)
    all_masked = masked_softmax(scores, torch.zeros(3, 7, dtype=torch.bool))
    assert torch.all(all_masked == 0.0)  # attends to nothing, and no NaN


def test_masked_softmax_rejects_a_non_boolean_mask():
    with pytest.raises(ValueError, match="bool keep-mask"):
        masked_softmax(torch.randn(2, 3), torch.ones(2, 3))


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-6), (torch.float64, 1e-10)])
def test_scaled_dot_product_attention_equals_torch(dtype, tolerance):
    generator = torch.Generator().manual_seed(0)
    query, key, value = (
        torch.randn(2, 3, 6, 8, generator=generator, dtype=dtype) for _ in range(3)
    )
    ours = scaled_dot_product_attention(query, key, value, causal=True)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(query, key, value, is_causal=True),
                               atol=tolerance, rtol=0)  # fmt: skip
    mask = torch.rand(2, 1, 6, 6, generator=generator) < 0.5
    mask[..., 0] = True  # every query keeps a key (torch gives NaN otherwise)
    ours = scaled_dot_product_attention(query, key, value, mask=mask)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(query, key, value, attn_mask=mask),
                               atol=tolerance, rtol=0)  # fmt: skip
    both = scaled_dot_product_attention(query, key, value, mask=mask, causal=True)
    expected = F.scaled_dot_product_attention(query, key, value, attn_mask=mask & causal_mask(6))
    torch.testing.assert_close(both, expected, atol=tolerance, rtol=0)
    weights = attention_weights(query, key, mask, causal=True)  # (B, H, T_q, T_k)
    torch.testing.assert_close(weights @ value, both, atol=tolerance, rtol=0)
    assert torch.all(weights[~(mask & causal_mask(6)).expand_as(weights)] == 0.0)


def test_masks():
    assert torch.equal(
        causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    )
    assert torch.equal(
        causal_mask(2, 4), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    )
    assert torch.equal(padding_mask(torch.tensor([2, 0, 3]), 3),
                       torch.tensor([[1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=torch.bool))  # fmt: skip
    weights = scaled_dot_product_attention(torch.randn(1, 2, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 5),
                                           mask=torch.zeros(1, 1, 3, dtype=torch.bool))  # fmt: skip
    assert torch.all(weights == 0.0)  # no key to attend: zeros, not NaN


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_dot_product_equals_torch_sdpa_with_padding_mask(dtype, tolerance):
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(3, 4, 8, generator=generator, dtype=dtype)
    keys = torch.randn(3, 7, 8, generator=generator, dtype=dtype)
    values = torch.randn(3, 7, 5, generator=generator, dtype=dtype)
    context, weights = DotProductAttention()(query, keys, values, key_mask())
    expected = F.scaled_dot_product_attention(query, keys, values, attn_mask=key_mask()[:, None, :])
    torch.testing.assert_close(context, expected, atol=tolerance, rtol=0)
    assert torch.all(weights.masked_select(~key_mask()[:, None, :].expand_as(weights)) == 0.0)
    torch.testing.assert_close(
        weights.sum(-1), torch.ones(3, 4, dtype=dtype), atol=tolerance, rtol=0
    )
    # a (B, T_q, T_k) mask too
    full_mask = torch.rand(3, 4, 7, generator=generator) < 0.6
    full_mask[:, :, 0] = True  # every query keeps a key
    context, _ = DotProductAttention()(query, keys, values, full_mask)
    expected = F.scaled_dot_product_attention(query, keys, values, attn_mask=full_mask)
    torch.testing.assert_close(context, expected, atol=tolerance, rtol=0)


def additive_inputs(seed=0):
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(3, 6, generator=generator)
    keys = torch.randn(3, 7, 5, generator=generator)
    values = torch.randn(3, 7, 4, generator=generator)
    return query, keys, values


CONFIG = AttentionConfig(
    query_size=6, key_size=5, attention_size=8, location_filters=4, location_kernel_size=5
)


@pytest.mark.parametrize("module_class", [AdditiveAttention, LocationSensitiveAttention])
def test_additive_attentions_mask_normalize_and_pass_gradients(module_class):
    torch.manual_seed(0)
    attention = module_class(CONFIG)
    query, keys, values = additive_inputs()
    query.requires_grad_(True)
    keys.requires_grad_(True)
    extra = (torch.rand(3, 7) * key_mask(),) if module_class is LocationSensitiveAttention else ()
    context, weights = attention(query, keys, values, *extra, mask=key_mask())
    assert context.shape == (3, 4) and weights.shape == (3, 7)
    assert torch.all(weights[~key_mask()] == 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        context, torch.einsum("bt,btc->bc", weights, values), atol=1e-6, rtol=0
    )
    context.square().sum().backward()
    for tensor in [query, keys, *attention.parameters()]:
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all()
        assert tensor.grad.abs().sum() > 0
    assert torch.all(keys.grad[~key_mask()] == 0.0)  # padding frames do not influence the output


def test_projected_keys_are_the_same_as_computing_them():
    torch.manual_seed(0)
    attention = AdditiveAttention(CONFIG)
    query, keys, values = additive_inputs()
    direct = attention(query, keys, values, key_mask())
    cached = attention(query, keys, values, key_mask(), projected_keys=attention.project_keys(keys))
    torch.testing.assert_close(direct, cached, atol=0, rtol=0)


def test_location_sensitive_with_zero_convolution_is_additive():
    torch.manual_seed(0)
    location = LocationSensitiveAttention(CONFIG)
    additive = AdditiveAttention(CONFIG)
    missing, unexpected = additive.load_state_dict(location.state_dict(), strict=False)
    assert not missing and set(unexpected) == {"location_conv.weight", "location_projection.weight"}
    query, keys, values = additive_inputs()
    cumulative = torch.rand(3, 7) * key_mask()
    with torch.no_grad():
        context_before, weights_before = location(query, keys, values, cumulative, key_mask())
        location.location_conv.weight.zero_()
        context, weights = location(query, keys, values, cumulative, key_mask())
    expected_context, expected_weights = additive(query, keys, values, key_mask())
    torch.testing.assert_close(weights, expected_weights, atol=1e-7, rtol=0)
    torch.testing.assert_close(context, expected_context, atol=1e-7, rtol=0)
    assert (weights_before - expected_weights).abs().max() > 1e-4  # the location term did matter


def test_location_sensitive_rejects_wrong_cumulative_shape():
    attention = LocationSensitiveAttention(CONFIG)
    query, keys, values = additive_inputs()
    with pytest.raises(ValueError, match="previous_weights_cumulative"):
        attention(query, keys, values, torch.zeros(3, 6))


def alignment(decoder_steps, encoder_frames, anti=False):
    """(T_dec, T_enc) one-hot rows on the diagonal (or the anti-diagonal)."""
    frames = torch.round(
        torch.arange(decoder_steps) * encoder_frames / decoder_steps
    ).long()  # n/N ~ t/T
    frames = frames.clamp(max=encoder_frames - 1)
    if anti:
        frames = encoder_frames - 1 - frames
    return F.one_hot(frames, encoder_frames).float()


def test_guided_attention_loss_prefers_the_diagonal():
    decoder_lengths, encoder_lengths = torch.tensor([40, 25]), torch.tensor([12, 9])
    diagonal = torch.zeros(2, 40, 12)
    anti_diagonal = torch.zeros(2, 40, 12)
    for b, (steps, frames) in enumerate(
        zip(decoder_lengths.tolist(), encoder_lengths.tolist(), strict=True)
    ):
        diagonal[b, :steps, :frames] = alignment(steps, frames)
        anti_diagonal[b, :steps, :frames] = alignment(steps, frames, anti=True)
    diagonal_loss = guided_attention_loss(diagonal, decoder_lengths, encoder_lengths)
    anti_loss = guided_attention_loss(anti_diagonal, decoder_lengths, encoder_lengths)
    # the mean runs over all T_dec * T_enc pairs, so one row's worth of weight is diluted by T_enc
    assert diagonal_loss < 2e-3, diagonal_loss
    assert anti_loss > 20 * diagonal_loss and anti_loss > 0.04, (anti_loss, diagonal_loss)
    # weight on padding is ignored; the mean is over real (step, frame) pairs only
    padded = diagonal.clone()
    padded[1, 30:, :] = 1.0
    padded[1, :, 10:] = 1.0
    torch.testing.assert_close(
        guided_attention_loss(padded, decoder_lengths, encoder_lengths), diagonal_loss
    )
    expected = sum(
        (diagonal[b, :t, :n] * (1 - torch.exp(
            -((torch.arange(n)[None] / n - torch.arange(t)[:, None] / t) ** 2) / (2 * 0.2**2)
        ))).sum() for b, (t, n) in enumerate([(40, 12), (25, 9)])
    ) / (40 * 12 + 25 * 9)  # fmt: skip
    torch.testing.assert_close(diagonal_loss, expected, atol=1e-7, rtol=0)


def test_guided_attention_loss_gradient_flows():
    weights = torch.softmax(torch.randn(2, 10, 6), dim=-1).requires_grad_(True)
    guided_attention_loss(weights, torch.tensor([10, 8]), torch.tensor([6, 4])).backward()
    assert torch.isfinite(weights.grad).all() and weights.grad[0].abs().sum() > 0
    assert torch.all(weights.grad[1, 8:] == 0.0) and torch.all(weights.grad[1, :, 4:] == 0.0)
