"""minispeech.nn.encoder: subsampling output lengths equal the convolutions' output sizes, padding
never changes real frames (blocks and the whole SpeechEncoder, Conformer and Transformer kinds),
padding frames of the output are zero, gradients flow, configs reject bad sizes."""

import math

import pytest
import torch

from minispeech.nn.attention import padding_mask
from minispeech.nn.encoder import (
    ConformerBlock,
    ConvolutionModule,
    ConvSubsampling,
    EncoderConfig,
    SpeechEncoder,
    StridedConvSubsampling,
)
from minispeech.nn.transformer import TransformerConfig, TransformerEncoderLayer

CONFIG = TransformerConfig(
    model_size=16, n_heads=4, feedforward_size=32, dropout=0.0, conv_kernel_size=5
)
N_FEATURES = 10


def tiny_encoder(kind: str, subsampling: int) -> SpeechEncoder:
    config = EncoderConfig(kind=kind, model_size=16, n_layers=2, n_heads=2, feedforward_size=32,
                           conv_kernel_size=5, subsampling=subsampling)  # fmt: skip
    return SpeechEncoder(N_FEATURES, config).eval()


def padded_batch(lengths: list[int], seed: int = 0, padding_value: float = 0.0):
    """Utterances (1, T, F) each and their batch (B, T_max, F) with padding_value on the padding."""
    generator = torch.Generator().manual_seed(seed)
    utterances = [torch.randn(1, length, N_FEATURES, generator=generator) for length in lengths]
    batch = torch.full((len(lengths), max(lengths), N_FEATURES), padding_value)
    for index, utterance in enumerate(utterances):
        batch[index, : utterance.shape[1]] = utterance[0]
    return utterances, batch, torch.tensor(lengths)


# --- subsampling ----------------------------------------------------------------------------------


@pytest.mark.parametrize("length", list(range(7, 40)) + [101, 257])
def test_conv_subsampling_lengths_equal_conv_output_sizes(length):
    subsampling = ConvSubsampling(input_size=N_FEATURES, config=CONFIG)
    with torch.no_grad():
        out, lengths = subsampling(torch.randn(1, length, N_FEATURES), torch.tensor([length]))
    assert out.shape == (1, lengths.item(), 16)
    assert lengths.item() == ((length - 1) // 2 - 1) // 2


def test_conv_subsampling_ignores_padding_and_rejects_short_input():
    torch.manual_seed(0)
    subsampling = ConvSubsampling(input_size=N_FEATURES, config=CONFIG)
    short = torch.randn(1, 23, N_FEATURES)
    padded = torch.cat([short, 100 * torch.randn(1, 12, N_FEATURES)], dim=1)
    with torch.no_grad():
        alone, alone_lengths = subsampling(short, torch.tensor([23]))
        batched, batched_lengths = subsampling(padded, torch.tensor([23]))
    assert torch.equal(alone_lengths, batched_lengths)
    torch.testing.assert_close(batched[:, : alone_lengths.item()], alone, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="T >= 7"):
        subsampling(torch.randn(1, 6, N_FEATURES), torch.tensor([6]))
    assert ConvSubsampling.output_lengths(torch.tensor([0, 6, 7])).tolist() == [0, 0, 1]


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_strided_subsampling_lengths_are_ceil_and_padding_stays_zero(factor):
    torch.manual_seed(0)
    subsampling = StridedConvSubsampling(N_FEATURES, channels=12, factor=factor)
    lengths = [1, 5, 8, 23, 30]
    _, batch, lengths = padded_batch(lengths, padding_value=100.0)
    with torch.no_grad():
        out, out_lengths = subsampling(batch, lengths)
    expected = [math.ceil(n / factor) for n in lengths.tolist()]
    assert out_lengths.tolist() == expected == subsampling.output_lengths(lengths).tolist()
    assert out.shape == (5, max(expected), 12)
    assert torch.all(out[~padding_mask(out_lengths, out.shape[1])] == 0.0)
    with pytest.raises(ValueError, match="factor"):
        StridedConvSubsampling(N_FEATURES, channels=12, factor=3)


# --- blocks ---------------------------------------------------------------------------------------


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
            torch.testing.assert_close(
                batched[index, : utterance.shape[1]], alone[0], atol=1e-5, rtol=0
            )


def test_convolution_module_pointwise_linears_are_kernel_1_convolutions():
    torch.manual_seed(0)
    module = ConvolutionModule(CONFIG).eval()
    x = torch.randn(2, 9, 16)  # (B, T, C)
    convolution = torch.nn.Conv1d(16, 32, 1)
    with torch.no_grad():
        convolution.weight.copy_(module.pointwise_in.weight[:, :, None])
        convolution.bias.copy_(module.pointwise_in.bias)
        expected = convolution(x.transpose(1, 2)).transpose(1, 2)  # (B, T, 2C)
        torch.testing.assert_close(module.pointwise_in(x), expected, atol=1e-6, rtol=0)


def test_gradients_flow_through_encoder_and_conformer():
    torch.manual_seed(0)
    for block in (TransformerEncoderLayer(CONFIG), ConformerBlock(CONFIG)):
        x = torch.randn(2, 8, 16, requires_grad=True)
        block(x, padding_mask(torch.tensor([8, 5]), 8)).square().sum().backward()
        assert torch.isfinite(x.grad).all() and x.grad[:, :5].abs().sum() > 0
        assert all(parameter.grad is not None for parameter in block.parameters())


# --- the speech encoder ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["conformer", "transformer"])
@pytest.mark.parametrize("subsampling", [1, 2, 4])
def test_speech_encoder_lengths_padding_independence_and_zero_padding(kind, subsampling):
    torch.manual_seed(0)
    encoder = tiny_encoder(kind, subsampling)
    # loud padding: the encoder must not read it
    utterances, batch, lengths = padded_batch([23, 41, 9], seed=1, padding_value=1e3)
    with torch.no_grad():
        memory, out_lengths = encoder(batch, lengths)
    expected = [math.ceil(n / subsampling) for n in lengths.tolist()]  # ceil(T / subsampling)
    assert out_lengths.tolist() == expected == encoder.output_lengths(lengths).tolist()
    assert memory.shape == (3, max(expected), 16)
    assert torch.all(memory[~padding_mask(out_lengths, memory.shape[1])] == 0.0)
    for index, utterance in enumerate(utterances):
        with torch.no_grad():
            alone, alone_lengths = encoder(utterance, lengths[index : index + 1])
        assert alone_lengths.tolist() == [expected[index]]
        # float32 through a few layers: 1e-5 is far below what padding leaking in would change
        torch.testing.assert_close(memory[index, : expected[index]], alone[0], atol=1e-5, rtol=1e-5)


def test_speech_encoder_gradients_reach_every_parameter():
    torch.manual_seed(0)
    encoder = tiny_encoder("conformer", 2).train()
    _, batch, lengths = padded_batch([20, 13])
    memory, _ = encoder(batch, lengths)
    memory.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in encoder.parameters())


def test_configs_reject_bad_sizes():
    with pytest.raises(ValueError, match="kind"):
        EncoderConfig(kind="lstm")
    with pytest.raises(ValueError, match="subsampling"):
        EncoderConfig(subsampling=3)
    with pytest.raises(ValueError, match="n_layers"):
        EncoderConfig(n_layers=0)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        EncoderConfig(model_size=100, n_heads=3)
    with pytest.raises(ValueError, match="odd"):
        EncoderConfig(conv_kernel_size=4)
