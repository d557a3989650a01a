"""minispeech.nn.transformer: parity with torch.nn.MultiheadAttention, the fused (need_weights=False)
path equal to the written-out one, KV-cache decoding == full recomputation, RoPE's relative property,
the sinusoidal table. The dot-product primitives are tested in test_nn_attention.py, the encoder
blocks (Conformer, subsampling, TransformerEncoderLayer's padding) in test_nn_encoder.py."""

import pytest
import torch

from minispeech.nn.attention import causal_mask, padding_mask
from minispeech.nn.transformer import (
    FeedForward,
    KeyValueCache,
    MultiHeadAttention,
    RotaryPositionalEmbedding,
    SinusoidalPositionalEncoding,
    TransformerConfig,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)


def test_multi_head_attention_equals_torch():
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4).eval()
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    with torch.no_grad():
        weight, bias = reference.in_proj_weight.chunk(3), reference.in_proj_bias.chunk(3)
        for index, projection in enumerate(
            [ours.query_projection, ours.key_projection, ours.value_projection]
        ):
            projection.weight.copy_(weight[index])
            projection.bias.copy_(bias[index])
        ours.output_projection.load_state_dict(reference.out_proj.state_dict())
    query, memory = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    lengths = torch.tensor([7, 4, 1])
    ignore_keys = ~padding_mask(lengths, 7)  # torch: True = ignore
    ignore_pairs = torch.rand(5, 7) < 0.3
    ignore_pairs[:, 0] = False  # every query keeps key 0
    out, weights = ours(query, memory, key_mask=~ignore_keys, attention_mask=~ignore_pairs)
    expected_out, expected_weights = reference(query, memory, memory, key_padding_mask=ignore_keys,
                                               attn_mask=ignore_pairs, average_attn_weights=False)  # fmt: skip
    torch.testing.assert_close(out, expected_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=1e-5, rtol=0)
    # self-attention with a causal mask
    out, _ = ours(query, causal=True)
    expected_out, _ = reference(query, query, query, attn_mask=~causal_mask(5))
    torch.testing.assert_close(out, expected_out, atol=1e-5, rtol=0)


@pytest.mark.parametrize("rotary", [False, True])
def test_fused_path_equals_the_written_out_attention(rotary):
    """need_weights=False (F.scaled_dot_product_attention) == need_weights=True within 1e-5."""
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, 4, rotary=rotary).eval()
    query, memory = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    key_mask = padding_mask(torch.tensor([7, 4, 1]), 7)
    pair_mask = torch.rand(3, 5, 7) < 0.6
    pair_mask[:, :, 0] = True  # every query keeps a key (the fused kernel gives NaN otherwise)
    cases = {
        "key_mask": dict(query=query, key_value=memory, key_mask=key_mask),
        "key_mask and attention_mask": dict(query=query, key_value=memory, key_mask=key_mask,
                                            attention_mask=pair_mask),  # fmt: skip
        "causal": dict(query=query, causal=True),
        "causal and key_mask": dict(query=query, causal=True, key_mask=padding_mask(torch.tensor([5, 3, 1]), 5)),
    }  # fmt: skip
    for name, arguments in cases.items():
        written, weights = attention(**arguments, need_weights=True)
        fused, no_weights = attention(**arguments, need_weights=False)
        assert weights is not None and no_weights is None, name
        torch.testing.assert_close(fused, written, atol=1e-5, rtol=0, msg=name)
    # with a cache: new steps in chunks (self-attention, the causal mask bottom-right aligned),
    # and cross-attention reusing its cached keys
    caches = {need_weights: (KeyValueCache(), KeyValueCache()) for need_weights in (True, False)}
    for start, end in [(0, 2), (2, 3), (3, 5)]:
        outputs = {}
        for need_weights, (self_cache, cross_cache) in caches.items():
            new = query[:, start:end]
            attended, _ = attention(new, causal=True, cache=self_cache, need_weights=need_weights)
            crossed, _ = attention(attended, memory, key_mask=key_mask, cache=cross_cache,
                                   need_weights=need_weights)  # fmt: skip
            outputs[need_weights] = (attended, crossed)
        torch.testing.assert_close(outputs[False], outputs[True], atol=1e-5, rtol=0)
    assert caches[False][0].length == 5 and caches[False][1].length == 7


@pytest.mark.parametrize("rotary", [False, True])
@pytest.mark.parametrize("chunk", [1, 3])
def test_kv_cache_decoding_equals_full_recomputation(rotary, chunk):
    torch.manual_seed(0)
    config = TransformerConfig(
        model_size=16, n_heads=4, feedforward_size=32, dropout=0.0, rotary=rotary
    )
    layers = [TransformerDecoderLayer(config).eval() for _ in range(2)]
    positions = SinusoidalPositionalEncoding(16)
    tokens, memory = torch.randn(2, 9, 16), torch.randn(2, 6, 16)
    memory_mask = padding_mask(torch.tensor([6, 4]), 6)
    with torch.no_grad():
        full = positions(tokens)
        for layer in layers:
            full = layer(full, memory, memory_mask)
        caches = [layer.new_cache() for layer in layers]
        steps = []
        for start in range(0, 9, chunk):
            x = positions(tokens[:, start : start + chunk], offset=start)
            for layer, cache in zip(layers, caches, strict=True):
                x = layer(x, memory, memory_mask, cache=cache)
            steps.append(x)
    assert caches[0][0].length == 9 and caches[0][1].length == 6
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)


def test_rope_scores_depend_only_on_position_difference():
    rope = RotaryPositionalEmbedding(8)
    generator = torch.Generator().manual_seed(0)
    query, key = torch.randn(2, 1, 1, 8, generator=generator, dtype=torch.float64)

    def score(query_position, key_position):
        rotated_query = rope(query, offset=query_position)  # (1, 1, 1, D)
        rotated_key = rope(key, offset=key_position)
        return (rotated_query * rotated_key).sum().item()

    for query_position, key_position in [(0, 0), (5, 2), (2, 5), (17, 3)]:
        for shift in (1, 7, 100):
            assert score(query_position, key_position) == pytest.approx(
                score(query_position + shift, key_position + shift), abs=1e-10
            )
    assert abs(score(5, 2) - score(5, 3)) > 1e-3  # but it does depend on the difference
    # a rotation: norms are kept, and position 0 is the identity
    sequence = torch.randn(1, 2, 6, 8, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(
        rope(sequence).norm(dim=-1), sequence.norm(dim=-1), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(rope(sequence)[:, :, 0], sequence[:, :, 0], atol=0, rtol=0)
    torch.testing.assert_close(
        rope(sequence)[:, :, 2:], rope(sequence[:, :, 2:], offset=2), atol=1e-12, rtol=0
    )


def test_sinusoidal_table():
    table = SinusoidalPositionalEncoding(6).table(5)
    position, channel = torch.arange(5.0)[:, None], torch.arange(0, 6, 2.0)[None, :]
    angle = position / 10000 ** (channel / 6)
    torch.testing.assert_close(table[:, 0::2], torch.sin(angle), atol=1e-6, rtol=0)
    torch.testing.assert_close(table[:, 1::2], torch.cos(angle), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        SinusoidalPositionalEncoding(6).table(3, offset=2), table[2:], atol=1e-6, rtol=0
    )


def test_config_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TransformerConfig(model_size=10, n_heads=4)
    with pytest.raises(ValueError, match="odd"):
        TransformerConfig(conv_kernel_size=4)


def test_conv_feedforward_sees_neighbours_and_ignores_padding():
    # FastSpeech's conv FFN: kernel 3 mixes neighbouring positions; padding never leaks in
    config = TransformerConfig(model_size=16, n_heads=2, feedforward_size=32, dropout=0.0, feedforward_kernel_size=3)
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(config).eval()
    x = torch.randn(1, 6, 16)
    padded = torch.cat([x, 50 * torch.randn(1, 3, 16)], dim=1)  # 3 garbage frames
    alone = layer(x, torch.ones(1, 6, dtype=torch.bool))
    with_padding = layer(padded, padding_mask(torch.tensor([6]), 9))
    torch.testing.assert_close(with_padding[:, :6], alone, atol=1e-5, rtol=1e-5)
    feedforward = FeedForward(config).eval()
    changed = x.clone()
    changed[0, 3] += 1.0  # one position changes: its neighbours' outputs change too, far ones do not
    difference = (feedforward(changed) - feedforward(x)).abs().amax(-1)[0]  # (T,)
    assert (difference[2:5] > 0).all() and (difference[[0, 1, 5]] == 0).all()


def test_conv_feedforward_is_refused_in_a_decoder_and_checked():
    with pytest.raises(ValueError, match="later steps"):
        TransformerDecoderLayer(TransformerConfig(model_size=16, n_heads=2, feedforward_kernel_size=3))
    with pytest.raises(ValueError, match="feedforward_kernel_size"):
        TransformerConfig(model_size=16, n_heads=2, feedforward_kernel_size=2)
