"""Transformer and Conformer blocks (Vaswani et al., 2017; Gulati et al., 2020), written out.

attention_weights             softmax(q k^T / sqrt(D)) with keep-masks and an optional causal mask
scaled_dot_product_attention  attention_weights(q, k) @ v  (= F.scaled_dot_product_attention)
causal_mask, padding_mask     boolean keep-masks: (T_q, T_k) lower triangle, (B, T) real frames
KeyValueCache                 projected keys/values of the steps decoded so far (incremental decoding)
MultiHeadAttention            q/k/v/out projections, H heads, optional RoPE and KV cache
                              (= torch.nn.MultiheadAttention with the same weights)
SinusoidalPositionalEncoding  x + sin/cos table (Sec. 3.5)
RotaryPositionalEmbedding     RoPE (Su et al., 2021), rotate-half convention, per head on q and k
FeedForward                   Linear -> activation -> dropout -> Linear
TransformerConfig             frozen sizes shared by the layers below
TransformerEncoderLayer       pre-LN: x + MHSA(LN x), x + FFN(LN x)
TransformerDecoderLayer       pre-LN: + causal MHSA, + cross-attention to the encoder, + FFN
ConvSubsampling               two stride-2 Conv2d: T -> ((T - 1) // 2 - 1) // 2, with new lengths
ConvolutionModule             LN, pointwise + GLU, depthwise conv, BatchNorm/LayerNorm, Swish, pointwise
ConformerBlock                FFN/2, MHSA, convolution module, FFN/2, LayerNorm

Masks are boolean "keep" tensors, True where a query may attend a key, the convention of
F.scaled_dot_product_attention (torch.nn.MultiheadAttention's masks are the opposite: True = ignore).
Shapes   B batch, T / T_q / T_k sequence, query and key lengths, C = model_size channels,
         H heads, D = C / H head size, F features per input frame (e.g. n_mels).
Taught in lessons/06_transformer.ipynb.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

ROPE_BASE = 10000.0  # θ_i = base^(-2i / D) in RoPE and in the sinusoidal table
SUBSAMPLING_KERNEL, SUBSAMPLING_STRIDE = 3, 2  # each of ConvSubsampling's two Conv2d


def causal_mask(n_queries: int, n_keys: int | None = None, device: torch.device | None = None) -> torch.Tensor:
    """(T_q, T_k) bool, True where key j <= the query's position T_k - T_q + i.

    The queries are the last T_q positions of the T_k keys (bottom-right aligned), which is
    what incremental decoding with a cache needs; with T_q == T_k it is the lower triangle.
    """
    n_keys = n_queries if n_keys is None else n_keys
    query_positions = torch.arange(n_keys - n_queries, n_keys, device=device)  # (T_q,)
    return torch.arange(n_keys, device=device)[None, :] <= query_positions[:, None]  # (T_q, T_k)


def padding_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(B, T) bool, True on the first lengths[b] positions of row b (the real frames)."""
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]


def attention_weights(
    query: torch.Tensor, key: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False
) -> torch.Tensor:
    """query (..., T_q, D), key (..., T_k, D), mask bool keep broadcastable to (..., T_q, T_k)
    -> weights (..., T_q, T_k) = softmax(q k^T / sqrt(D)) over the kept keys.

    causal adds causal_mask(T_q, T_k). A row with no kept key gets zero weights (not NaN).
    """
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(query.shape[-1])  # (..., T_q, T_k)
    keep = None if mask is None else mask
    if mask is not None and mask.dtype != torch.bool:
        raise ValueError(f"attention_weights: mask must be a bool keep-mask (True = attend), got {mask.dtype}")
    if causal:
        triangle = causal_mask(query.shape[-2], key.shape[-2], device=query.device)  # (T_q, T_k)
        keep = triangle if keep is None else keep & triangle
    if keep is None:
        return torch.softmax(scores, dim=-1)
    weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)
    return weights.masked_fill(~keep, 0.0)  # exact zeros, and no NaN where a whole row is masked


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """query (..., T_q, D), key (..., T_k, D), value (..., T_k, D_v) -> (..., T_q, D_v).

    Equals F.scaled_dot_product_attention(query, key, value, attn_mask=mask, is_causal=causal)
    wherever each query keeps at least one key (and T_q == T_k when causal: torch aligns the
    triangle top-left, we bottom-right). Lesson 06, section 1.
    """
    return torch.matmul(attention_weights(query, key, mask, causal), value)  # (..., T_q, D_v)


@dataclasses.dataclass
class KeyValueCache:
    """The projected keys and values of one attention layer, (B, H, T_cached, D) each.

    Self-attention appends the new steps' keys and values at every call; cross-attention
    fills it once from the encoder output and reuses it at every later step.
    """

    keys: torch.Tensor | None = None
    values: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]


class RotaryPositionalEmbedding(nn.Module):
    """RoPE: rotate each channel pair (i, i + D/2) of q and k by the angle position * θ_i.

    Rotate-half convention (GPT-NeoX, LLaMA): x cos + rotate_half(x) sin, rotate_half(x) =
    (-x2, x1). q_m . k_n then depends on positions only through m - n. Lesson 06, section 4.
    """

    def __init__(self, head_size: int) -> None:
        super().__init__()
        if head_size % 2:
            raise ValueError(f"RotaryPositionalEmbedding: head_size must be even, got {head_size}")
        frequency = ROPE_BASE ** (-torch.arange(0, head_size, 2, dtype=torch.float64) / head_size)  # (D/2,)
        self.register_buffer("frequency", frequency, persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """x (B, H, T, D) at positions offset .. offset + T - 1 -> rotated (B, H, T, D)."""
        positions = torch.arange(offset, offset + x.shape[-2], device=x.device, dtype=torch.float64)
        angle = positions[:, None] * self.frequency[None, :]  # (T, D/2)
        angle = torch.cat([angle, angle], dim=-1)  # (T, D): the same angle for i and i + D/2
        first, second = x.chunk(2, dim=-1)  # (B, H, T, D/2) each
        rotated_half = torch.cat([-second, first], dim=-1)  # (B, H, T, D)
        return x * angle.cos().to(x.dtype) + rotated_half * angle.sin().to(x.dtype)


class MultiHeadAttention(nn.Module):
    """H heads of scaled dot-product attention, each on its own D = C / H slice of q, k, v.

    rotary applies RoPE to q and k of self-attention (at positions offset by the cache length).
    Lesson 06, section 2.
    """

    def __init__(self, model_size: int, n_heads: int, dropout: float = 0.0, rotary: bool = False) -> None:
        super().__init__()
        if model_size % n_heads:
            raise ValueError(f"MultiHeadAttention: model_size {model_size} must be a multiple of n_heads {n_heads}")
        self.n_heads, self.head_size, self.dropout = n_heads, model_size // n_heads, dropout
        self.query_projection = nn.Linear(model_size, model_size)
        self.key_projection = nn.Linear(model_size, model_size)
        self.value_projection = nn.Linear(model_size, model_size)
        self.output_projection = nn.Linear(model_size, model_size)
        self.rotary = RotaryPositionalEmbedding(self.head_size) if rotary else None

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch_size, length, _ = x.shape
        x = x.view(batch_size, length, self.n_heads, self.head_size)  # (B, T, H, D)
        return x.transpose(1, 2)  # (B, H, T, D)

    def forward(
        self,
        query: torch.Tensor,
        key_value: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        causal: bool = False,
        cache: KeyValueCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, T_q, C); key_value (B, T_k, C) for cross-attention, None for self-attention;
        key_mask (B, T_k) keep (padding); attention_mask (T_q, T_k) or (B, T_q, T_k) keep;
        causal adds causal_mask; cache (updated in place) holds the earlier steps' keys/values.

        Returns output (B, T_q, C) and weights (B, H, T_q, T_k). With a cache, T_k counts the
        cached steps too, and key_mask / attention_mask must cover them.
        """
        batch_size, n_queries, model_size = query.shape
        is_cross = key_value is not None
        offset = 0 if cache is None or is_cross else cache.length
        queries = self.split_heads(self.query_projection(query))  # (B, H, T_q, D)
        if cache is not None and is_cross and cache.keys is not None:
            keys, values = cache.keys, cache.values  # the encoder output does not change between steps
        else:
            source = key_value if is_cross else query
            keys = self.split_heads(self.key_projection(source))  # (B, H, T_new, D)
            values = self.split_heads(self.value_projection(source))  # (B, H, T_new, D)
            if self.rotary is not None and not is_cross:
                keys = self.rotary(keys, offset)
            if cache is not None and not is_cross and cache.keys is not None:
                keys = torch.cat([cache.keys, keys], dim=2)  # (B, H, T_k, D)
                values = torch.cat([cache.values, values], dim=2)  # (B, H, T_k, D)
            if cache is not None:
                cache.keys, cache.values = keys, values
        if self.rotary is not None and not is_cross:
            queries = self.rotary(queries, offset)
        keep = None
        if key_mask is not None:
            keep = key_mask[:, None, None, :]  # (B, 1, 1, T_k)
        if attention_mask is not None:
            extra = attention_mask if attention_mask.dim() == 2 else attention_mask[:, None]  # (B, 1, T_q, T_k)
            keep = extra if keep is None else keep & extra
        weights = attention_weights(queries, keys, keep, causal)  # (B, H, T_q, T_k)
        attended = torch.matmul(F.dropout(weights, self.dropout, self.training), values)  # (B, H, T_q, D)
        attended = attended.transpose(1, 2).reshape(batch_size, n_queries, model_size)  # (B, T_q, C)
        return self.output_projection(attended), weights


class SinusoidalPositionalEncoding(nn.Module):
    """x + PE, PE[t, 2i] = sin(t / base^(2i/C)), PE[t, 2i + 1] = cos(t / base^(2i/C)) (Sec. 3.5).

    Lesson 06, section 4.
    """

    def __init__(self, model_size: int) -> None:
        super().__init__()
        if model_size % 2:
            raise ValueError(f"SinusoidalPositionalEncoding: model_size must be even, got {model_size}")
        self.model_size = model_size

    def table(self, length: int, offset: int = 0, device: torch.device | None = None) -> torch.Tensor:
        """(T, C) encodings of positions offset .. offset + T - 1, float32."""
        position = torch.arange(offset, offset + length, dtype=torch.float32, device=device)[:, None]  # (T, 1)
        channel = torch.arange(0, self.model_size, 2, dtype=torch.float32, device=device)  # (C/2,)
        angle = position * torch.exp(channel * (-math.log(ROPE_BASE) / self.model_size))  # (T, C/2)
        return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)  # (T, C/2, 2) -> (T, C)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """x (B, T, C) at positions offset .. offset + T - 1 -> x + PE, (B, T, C)."""
        return x + self.table(x.shape[1], offset, x.device).to(x.dtype)[None]


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    model_size: int = 256  # C
    n_heads: int = 4  # H; D = C / H
    feedforward_size: int = 1024
    dropout: float = 0.1
    rotary: bool = False  # RoPE on self-attention q and k
    conv_kernel_size: int = 15  # Conformer depthwise convolution (odd)
    conv_norm: str = "batch"  # Conformer convolution module: "batch" (the paper) or "layer"

    def __post_init__(self) -> None:
        if self.model_size % self.n_heads:
            raise ValueError(f"TransformerConfig: model_size {self.model_size} must be a multiple of "
                             f"n_heads {self.n_heads}")  # fmt: skip
        if self.conv_kernel_size % 2 == 0:
            raise ValueError(f"TransformerConfig: conv_kernel_size must be odd, got {self.conv_kernel_size}")
        if self.conv_norm not in ("batch", "layer"):
            raise ValueError(f"TransformerConfig: conv_norm must be 'batch' or 'layer', got {self.conv_norm!r}")


class FeedForward(nn.Module):
    """Linear(C, feedforward_size) -> activation -> dropout -> Linear(feedforward_size, C). Lesson 06."""

    def __init__(self, config: TransformerConfig, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(config.model_size, config.feedforward_size), activation(), nn.Dropout(config.dropout),
            nn.Linear(config.feedforward_size, config.model_size),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C), each position on its own."""
        return self.net(x)


class TransformerEncoderLayer(nn.Module):
    """Pre-LN (Xiong et al., 2020): x + MHSA(LN x), then x + FFN(LN x). Lesson 06, section 5."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.model_size)
        self.attention = MultiHeadAttention(config.model_size, config.n_heads, config.dropout, config.rotary)
        self.feedforward_norm = nn.LayerNorm(config.model_size)
        self.feedforward = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C), mask (B, T) keep (real frames) or None -> (B, T, C).

        Outputs at real frames do not depend on the padding (in eval mode).
        """
        attended, _ = self.attention(self.attention_norm(x), key_mask=mask)
        x = x + self.dropout(attended)
        return x + self.dropout(self.feedforward(self.feedforward_norm(x)))


class TransformerDecoderLayer(nn.Module):
    """Pre-LN: + causal self-attention, + cross-attention to the encoder output, + FFN.

    For incremental decoding pass the pair from new_cache() at every step; the output for the
    new steps equals the full causal recomputation. Lesson 06, section 6.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.self_attention_norm = nn.LayerNorm(config.model_size)
        self.self_attention = MultiHeadAttention(config.model_size, config.n_heads, config.dropout, config.rotary)
        self.cross_attention_norm = nn.LayerNorm(config.model_size)
        self.cross_attention = MultiHeadAttention(config.model_size, config.n_heads, config.dropout)
        self.feedforward_norm = nn.LayerNorm(config.model_size)
        self.feedforward = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    @staticmethod
    def new_cache() -> tuple[KeyValueCache, KeyValueCache]:
        """Empty (self-attention, cross-attention) caches for one decoding run."""
        return KeyValueCache(), KeyValueCache()

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
        cache: tuple[KeyValueCache, KeyValueCache] | None = None,
    ) -> torch.Tensor:
        """x (B, T, C) decoder steps (only the new ones when cache is given), memory (B, T_k, C)
        encoder output, memory_mask (B, T_k) keep or None -> (B, T, C).
        """
        self_cache, cross_cache = (None, None) if cache is None else cache
        attended, _ = self.self_attention(self.self_attention_norm(x), causal=True, cache=self_cache)
        x = x + self.dropout(attended)
        attended, _ = self.cross_attention(
            self.cross_attention_norm(x), memory, key_mask=memory_mask, cache=cross_cache
        )
        x = x + self.dropout(attended)
        return x + self.dropout(self.feedforward(self.feedforward_norm(x)))


class ConvSubsampling(nn.Module):
    """Two Conv2d (kernel 3, stride 2, no padding) + ReLU over (time, feature), then Linear to C.

    (B, T, F) -> (B, ((T - 1) // 2 - 1) // 2, C): about 4 times fewer frames (ESPnet's
    Conv2dSubsampling). Needs T >= 7. Output frames inside the new lengths see only real
    input frames, so padding does not change them. Lesson 06, section 7.
    """

    def __init__(self, input_size: int, config: TransformerConfig) -> None:
        super().__init__()
        channels, kernel, stride = config.model_size, SUBSAMPLING_KERNEL, SUBSAMPLING_STRIDE
        self.convs = nn.Sequential(
            nn.Conv2d(1, channels, kernel, stride), nn.ReLU(),
            nn.Conv2d(channels, channels, kernel, stride), nn.ReLU(),
        )  # fmt: skip
        reduced_features = self.output_lengths(torch.tensor(input_size)).item()
        if reduced_features < 1:
            raise ValueError(f"ConvSubsampling: input_size must be at least 7, got {input_size}")
        self.projection = nn.Linear(channels * reduced_features, config.model_size)

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        """(T - kernel) // stride + 1 twice, = ((T - 1) // 2 - 1) // 2; 0 for T < 7."""
        for _ in range(2):
            lengths = torch.div(lengths - SUBSAMPLING_KERNEL, SUBSAMPLING_STRIDE, rounding_mode="floor") + 1
        return lengths.clamp_min(0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, F), lengths (B,) -> (B, T_out, C) and new lengths (B,)."""
        if x.dim() != 3 or x.shape[1] < 7:
            raise ValueError(f"ConvSubsampling: x must be (B, T >= 7, F), got shape {tuple(x.shape)}")
        y = self.convs(x[:, None])  # (B, 1, T, F) -> (B, C, T_out, F_out)
        batch_size, channels, n_frames, n_features = y.shape
        y = y.transpose(1, 2).reshape(batch_size, n_frames, channels * n_features)  # (B, T_out, C * F_out)
        return self.projection(y), self.output_lengths(lengths)


class ConvolutionModule(nn.Module):
    """LN -> pointwise conv to 2C -> GLU -> depthwise conv -> BatchNorm or LayerNorm -> Swish
    -> pointwise conv -> dropout (Gulati et al., Fig. 2). Lesson 06, section 8."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        size, kernel = config.model_size, config.conv_kernel_size
        self.norm = nn.LayerNorm(size)
        self.pointwise_in = nn.Conv1d(size, 2 * size, kernel_size=1)
        self.depthwise = nn.Conv1d(size, size, kernel, padding=kernel // 2, groups=size)
        self.depthwise_norm = nn.BatchNorm1d(size) if config.conv_norm == "batch" else nn.LayerNorm(size)
        self.pointwise_out = nn.Conv1d(size, size, kernel_size=1)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C), mask (B, T) keep or None -> (B, T, C)."""
        y = self.norm(x).transpose(1, 2)  # (B, C, T): convolutions want channels first
        y = F.glu(self.pointwise_in(y), dim=1)  # (B, 2C, T) -> (B, C, T)
        if mask is not None:
            y = y * mask[:, None, :]  # padding must read as zeros, as after an utterance's end
        y = self.depthwise(y)  # (B, C, T)
        if isinstance(self.depthwise_norm, nn.LayerNorm):
            y = self.depthwise_norm(y.transpose(1, 2)).transpose(1, 2)  # normalized over C, back to (B, C, T)
        else:
            y = self.depthwise_norm(y)  # eval mode: running statistics, so no padding leaks in
        y = self.pointwise_out(F.silu(y))  # (B, C, T)
        return self.dropout(y.transpose(1, 2))  # (B, T, C)


class ConformerBlock(nn.Module):
    """x + FFN/2, + MHSA, + convolution module, + FFN/2, then LayerNorm (Gulati et al., Eq. 1).

    Each sub-module is pre-LN; the feed-forward modules use Swish. Lesson 06, section 8.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.feedforward_in_norm = nn.LayerNorm(config.model_size)
        self.feedforward_in = FeedForward(config, activation=nn.SiLU)
        self.attention_norm = nn.LayerNorm(config.model_size)
        self.attention = MultiHeadAttention(config.model_size, config.n_heads, config.dropout, config.rotary)
        self.convolution = ConvolutionModule(config)
        self.feedforward_out_norm = nn.LayerNorm(config.model_size)
        self.feedforward_out = FeedForward(config, activation=nn.SiLU)
        self.final_norm = nn.LayerNorm(config.model_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C), mask (B, T) keep (real frames) or None -> (B, T, C).

        In eval mode, outputs at real frames do not depend on the padding.
        """
        x = x + 0.5 * self.dropout(self.feedforward_in(self.feedforward_in_norm(x)))
        attended, _ = self.attention(self.attention_norm(x), key_mask=mask)
        x = x + self.dropout(attended)
        x = x + self.convolution(x, mask)
        x = x + 0.5 * self.dropout(self.feedforward_out(self.feedforward_out_norm(x)))
        return self.final_norm(x)
