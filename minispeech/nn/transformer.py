"""The Transformer family (Vaswani et al., 2017): multi-head attention, positions, pre-LN layers.

MultiHeadAttention            q/k/v/out projections, H heads, optional RoPE and KV cache
                              (= torch.nn.MultiheadAttention with the same weights); the fused
                              F.scaled_dot_product_attention kernel when the weights are not needed
KeyValueCache                 projected keys/values of the steps decoded so far (incremental decoding)
SinusoidalPositionalEncoding  x + sin/cos table (Sec. 3.5)
RotaryPositionalEmbedding     RoPE (Su et al., 2021), rotate-half convention, per head on q and k
FeedForward                   Linear -> activation -> dropout -> Linear, or FastSpeech's conv FFN (kernel k > 1)
TransformerConfig             frozen sizes shared by the layers below and by nn/encoder.py's Conformer
TransformerEncoderLayer       pre-LN: x + MHSA(LN x), x + FFN(LN x); an attention mask and a KV cache
                              make it a decoder-only (language model) layer too (lesson 12)
TransformerDecoderLayer       pre-LN: + causal MHSA (KV cache), + cross-attention to the encoder, + FFN

The dot-product primitives (attention_weights, scaled_dot_product_attention, causal_mask,
padding_mask) and the one masked softmax live in nn/attention.py; speech encoders (subsampling,
Conformer block, the encoder stack every recognizer uses) in nn/encoder.py.
Masks are boolean "keep" tensors, True where a query may attend a key (nn/attention.py).
Shapes   B batch, T / T_q / T_k sequence, query and key lengths, C = model_size channels,
         H heads, D = C / H head size.
Taught in lessons/06_transformer.ipynb.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from minispeech.nn.attention import (
    attention_weights,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

__all__ = [
    "KeyValueCache", "MultiHeadAttention", "RotaryPositionalEmbedding", "SinusoidalPositionalEncoding",
    "TransformerConfig", "FeedForward", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "attention_weights", "causal_mask", "padding_mask", "scaled_dot_product_attention",
]  # the last four live in nn/attention.py; lesson 06 meets them here

ROPE_BASE = 10000.0  # θ_i = base^(-2i / D) in RoPE and in the sinusoidal table


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

    def select(self, rows: torch.Tensor) -> None:
        """Keep rows `rows` (K',) of the cached keys and values, in that order, in place: beam
        search calls it when the surviving hypotheses are a different set of rows."""
        if self.keys is not None:
            self.keys, self.values = self.keys.index_select(0, rows), self.values.index_select(0, rows)


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
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query (B, T_q, C); key_value (B, T_k, C) for cross-attention, None for self-attention;
        key_mask (B, T_k) keep (padding); attention_mask (T_q, T_k) or (B, T_q, T_k) keep;
        causal adds causal_mask; cache (updated in place) holds the earlier steps' keys/values.

        Returns output (B, T_q, C) and weights (B, H, T_q, T_k). With a cache, T_k counts the
        cached steps too, and key_mask / attention_mask must cover them. need_weights=False
        returns (output, None) from torch's fused kernel: the same numbers (up to rounding),
        faster, for training and decoding; the written-out path is what lesson 06 teaches.
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
        if causal:
            triangle = causal_mask(n_queries, keys.shape[2], device=query.device)  # (T_q, T_k)
            keep = triangle if keep is None else keep & triangle
        if not need_weights:
            attended = F.scaled_dot_product_attention(
                queries, keys, values, attn_mask=keep, dropout_p=self.dropout if self.training else 0.0
            )  # (B, H, T_q, D); a query must keep at least one key (padding masks always do)
            attended = attended.transpose(1, 2).reshape(batch_size, n_queries, model_size)  # (B, T_q, C)
            return self.output_projection(attended), None
        weights = attention_weights(queries, keys, keep)  # (B, H, T_q, T_k)
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
    feedforward_kernel_size: int = 1  # 1: the position-wise FFN; odd k > 1: FastSpeech's conv FFN

    def __post_init__(self) -> None:
        if self.model_size % self.n_heads:
            raise ValueError(f"TransformerConfig: model_size {self.model_size} must be a multiple of "
                             f"n_heads {self.n_heads}")  # fmt: skip
        if self.conv_kernel_size % 2 == 0:
            raise ValueError(f"TransformerConfig: conv_kernel_size must be odd, got {self.conv_kernel_size}")
        if self.conv_norm not in ("batch", "layer"):
            raise ValueError(f"TransformerConfig: conv_norm must be 'batch' or 'layer', got {self.conv_norm!r}")
        if self.feedforward_kernel_size < 1 or self.feedforward_kernel_size % 2 == 0:
            raise ValueError(f"TransformerConfig: feedforward_kernel_size must be 1 or odd, "
                             f"got {self.feedforward_kernel_size}")  # fmt: skip


class FeedForward(nn.Module):
    """Linear(C, feedforward_size) -> activation -> dropout -> Linear(feedforward_size, C). Lesson 06.

    With config.feedforward_kernel_size k > 1 the first layer is a 1-D convolution over time
    (kernel k, same length) and the second a kernel-1 one: FastSpeech's "conv FFN", which lets
    each phoneme or frame see its neighbours. Padding is zeroed before the convolution.
    """

    def __init__(self, config: TransformerConfig, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        kernel = config.feedforward_kernel_size
        self.convolutional = kernel > 1
        first = (nn.Conv1d(config.model_size, config.feedforward_size, kernel, padding=kernel // 2)
                 if self.convolutional else nn.Linear(config.model_size, config.feedforward_size))  # fmt: skip
        self.net = nn.Sequential(
            first, activation(), nn.Dropout(config.dropout), nn.Linear(config.feedforward_size, config.model_size),
        )  # fmt: skip

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C), mask (B, T) keep or None -> (B, T, C)."""
        if not self.convolutional:
            return self.net(x)  # each position on its own
        if mask is not None:
            x = x * mask[:, :, None]  # padding must read as zeros, as after a sequence's end
        y = self.net[0](x.transpose(1, 2)).transpose(1, 2)  # (B, C, T) -> (B, F, T) -> (B, T, F)
        return self.net[3](self.net[2](self.net[1](y)))  # activation, dropout, Linear: (B, T, C)


class TransformerEncoderLayer(nn.Module):
    """Pre-LN (Xiong et al., 2020): x + MHSA(LN x), then x + FFN(LN x). Lesson 06, section 5."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.model_size)
        self.attention = MultiHeadAttention(config.model_size, config.n_heads, config.dropout, config.rotary)
        self.feedforward_norm = nn.LayerNorm(config.model_size)
        self.feedforward = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                cache: KeyValueCache | None = None) -> torch.Tensor:  # fmt: skip
        """x (B, T, C), mask (B, T) keep (real frames) or None -> (B, T, C).

        Outputs at real frames do not depend on the padding (in eval mode). attention_mask (B, T, T_k) keep
        restricts which positions each one reads (a decoder-only model's causal or prefix mask, lesson 12),
        and cache (updated in place) holds earlier steps' keys and values: then x holds only the new steps,
        and mask / attention_mask cover the cached steps too (T_k = cached + T).
        """
        attended, _ = self.attention(self.attention_norm(x), key_mask=mask, attention_mask=attention_mask,
                                     cache=cache, need_weights=False)  # fmt: skip
        x = x + self.dropout(attended)
        return x + self.dropout(self.feedforward(self.feedforward_norm(x), mask))


class TransformerDecoderLayer(nn.Module):
    """Pre-LN: + causal self-attention, + cross-attention to the encoder output, + FFN.

    For incremental decoding pass the pair from new_cache() at every step; the output for the
    new steps equals the full causal recomputation. Lesson 06, section 6.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if config.feedforward_kernel_size > 1:
            raise ValueError("TransformerDecoderLayer: a conv FFN (feedforward_kernel_size > 1) would let a step "
                             "read later steps; use feedforward_kernel_size=1 in autoregressive decoders")
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
        attended, _ = self.self_attention(
            self.self_attention_norm(x), causal=True, cache=self_cache, need_weights=False
        )
        x = x + self.dropout(attended)
        attended, _ = self.cross_attention(
            self.cross_attention_norm(x), memory, key_mask=memory_mask, cache=cross_cache, need_weights=False
        )
        x = x + self.dropout(attended)
        return x + self.dropout(self.feedforward(self.feedforward_norm(x)))
