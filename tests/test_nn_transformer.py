"""minispeech.nn.transformer: parity with F.scaled_dot_product_attention and torch.nn.MultiheadAttention,
KV-cache decoding == full recomputation, subsampling lengths, padding invariance, RoPE's relative property."""

import pytest
import torch
import torch.nn.functional as F

from minispeech.nn.transformer import (
    ConformerBlock,
    ConvSubsampling,
    MultiHeadAttention,
    RotaryPositionalEmbedding,
    SinusoidalPositionalEncoding,
    TransformerConfig,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

CONFIG = TransformerConfig(model_size=16, n_heads=4, feedforward_size=32, dropout=0.0, conv_kernel_size=5)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-6), (torch.float64, 1e-10)])
def test_scaled_dot_product_attention_equals_torch(dtype, tolerance):
    generator = torch.Generator().manual_seed(0)
    query, key, value = (torch.randn(2, 3, 6, 8, generator=generator, dtype=dtype) for _ in range(3))
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


def test_masks():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    assert torch.equal(causal_mask(2, 4), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool))
    assert torch.equal(padding_mask(torch.tensor([2, 0, 3]), 3),
                       torch.tensor([[1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=torch.bool))  # fmt: skip
    weights = scaled_dot_product_attention(torch.randn(1, 2, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 5),
                                           mask=torch.zeros(1, 1, 3, dtype=torch.bool))  # fmt: skip
    assert torch.all(weights == 0.0)  # no key to attend: zeros, not NaN


def test_multi_head_attention_equals_torch():
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4).eval()
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    with torch.no_grad():
        weight, bias = reference.in_proj_weight.chunk(3), reference.in_proj_bias.chunk(3)
        for index, projection in enumerate([ours.query_projection, ours.key_projection, ours.value_projection]):
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
@pytest.mark.parametrize("chunk", [1, 3])
def test_kv_cache_decoding_equals_full_recomputation(rotary, chunk):
    torch.manual_seed(0)
    config = TransformerConfig(model_size=16, n_heads=4, feedforward_size=32, dropout=0.0, rotary=rotary)
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


@pytest.mark.parametrize("length", list(range(7, 40)) + [101, 257])
def test_conv_subsampling_lengths_equal_conv_output_sizes(length):
    subsampling = ConvSubsampling(input_size=10, config=CONFIG)
    with torch.no_grad():
        out, lengths = subsampling(torch.randn(1, length, 10), torch.tensor([length]))
    assert out.shape == (1, lengths.item(), 16)
    assert lengths.item() == ((length - 1) // 2 - 1) // 2


def test_conv_subsampling_ignores_padding_and_rejects_short_input():
    torch.manual_seed(0)
    subsampling = ConvSubsampling(input_size=10, config=CONFIG)
    short = torch.randn(1, 23, 10)
    padded = torch.cat([short, 100 * torch.randn(1, 12, 10)], dim=1)
    with torch.no_grad():
        alone, alone_lengths = subsampling(short, torch.tensor([23]))
        batched, batched_lengths = subsampling(padded, torch.tensor([23]))
    assert torch.equal(alone_lengths, batched_lengths)
    torch.testing.assert_close(batched[:, : alone_lengths.item()], alone, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="T >= 7"):
        subsampling(torch.randn(1, 6, 10), torch.tensor([6]))
    assert ConvSubsampling.output_lengths(torch.tensor([0, 6, 7])).tolist() == [0, 0, 1]


@pytest.mark.parametrize("block_class, conv_norm", [(TransformerEncoderLayer, "batch"), (ConformerBlock, "batch"),
                                                    (ConformerBlock, "layer")])  # fmt: skip
def test_padding_does_not_change_real_frames(block_class, conv_norm):
    torch.manual_seed(0)
    config = TransformerConfig(model_size=16, n_heads=4, feedforward_size=32, dropout=0.1, conv_kernel_size=5,
                               conv_norm=conv_norm, rotary=True)  # fmt: skip
    block = block_class(config)
    if conv_norm == "batch" and block_class is ConformerBlock:  # non-trivial running statistics
        block.train()
        with torch.no_grad():
            block(torch.randn(4, 12, 16), padding_mask(torch.tensor([12, 9, 5, 12]), 12))
    block.eval()
    utterances = [torch.randn(1, length, 16) for length in (11, 6, 3)]
    batch = torch.zeros(3, 11, 16) + 50 * torch.randn(3, 11, 16)  # loud padding, to be ignored
    for index, utterance in enumerate(utterances):
        batch[index, : utterance.shape[1]] = utterance[0]
    with torch.no_grad():
        batched = block(batch, padding_mask(torch.tensor([11, 6, 3]), 11))
        for index, utterance in enumerate(utterances):
            alone = block(utterance, None)
            torch.testing.assert_close(batched[index, : utterance.shape[1]], alone[0], atol=1e-5, rtol=0)


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
    torch.testing.assert_close(rope(sequence).norm(dim=-1), sequence.norm(dim=-1), atol=1e-12, rtol=0)
    torch.testing.assert_close(rope(sequence)[:, :, 0], sequence[:, :, 0], atol=0, rtol=0)
    torch.testing.assert_close(rope(sequence)[:, :, 2:], rope(sequence[:, :, 2:], offset=2), atol=1e-12, rtol=0)


def test_sinusoidal_table():
    table = SinusoidalPositionalEncoding(6).table(5)
    position, channel = torch.arange(5.0)[:, None], torch.arange(0, 6, 2.0)[None, :]
    angle = position / 10000 ** (channel / 6)
    torch.testing.assert_close(table[:, 0::2], torch.sin(angle), atol=1e-6, rtol=0)
    torch.testing.assert_close(table[:, 1::2], torch.cos(angle), atol=1e-6, rtol=0)
    torch.testing.assert_close(SinusoidalPositionalEncoding(6).table(3, offset=2), table[2:], atol=1e-6, rtol=0)


def test_gradients_flow_through_encoder_and_conformer():
    torch.manual_seed(0)
    for block in (TransformerEncoderLayer(CONFIG), ConformerBlock(CONFIG)):
        x = torch.randn(2, 8, 16, requires_grad=True)
        block(x, padding_mask(torch.tensor([8, 5]), 8)).square().sum().backward()
        assert torch.isfinite(x.grad).all() and x.grad[:, :5].abs().sum() > 0
        assert all(parameter.grad is not None for parameter in block.parameters())


def test_config_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TransformerConfig(model_size=10, n_heads=4)
    with pytest.raises(ValueError, match="odd"):
        TransformerConfig(conv_kernel_size=4)
