"""Attention for encoder-decoder models: where should this decoder step look in the encoding?

padding_mask, causal_mask    boolean keep-masks: (B, T) real frames; (T_q, T_k) lower triangle
masked_softmax              softmax over the last axis; masked positions get exactly zero weight
attention_weights           softmax(q k^T / sqrt(D)) over the kept keys (optionally causal)
scaled_dot_product_attention  attention_weights(q, k) @ v  (= F.scaled_dot_product_attention)
DotProductAttention         the same as a module (Luong et al., 2015; Vaswani et al., 2017)
AttentionConfig             frozen sizes of the additive and location-sensitive attentions
AdditiveAttention           e = v^T tanh(W q + U k) (Bahdanau et al., 2015), one decoder step
LocationSensitiveAttention  + a convolution over the cumulative weights of previous steps
                            (Chorowski et al., 2015; Tacotron 2, Shen et al., 2018)
guided_attention_loss       penalizes weight far from the diagonal (Tachibana et al., 2017)

Every attention in minispeech (here, nn/transformer.py, every model) uses ONE mask convention:
boolean "keep" tensors, True where a key may be attended (a real encoder frame), False on padding,
as for torch.nn.functional.scaled_dot_product_attention (torch.nn.MultiheadAttention's masks are the
opposite: True = ignore), and one masked softmax (masked_softmax below).
Shapes   B batch, T_q queries (decoder steps), T_k keys (encoder frames), C_q / C_k / C_v
         query / key / value channels, D dot-product size.
Taught in lessons/05_attention.ipynb (additive, location-sensitive), lessons/06_transformer.ipynb
(scaled dot-product, masks) and lessons/07_tacotron2.ipynb (guided attention).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1) -> torch.Tensor:
    """Softmax of scores along dim where mask (bool, broadcastable) is True; exactly 0 elsewhere.

    A row whose keys are all masked gets all-zero weights (not NaN): it attends to nothing. Lesson 05.
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    if mask.dtype != torch.bool:
        raise ValueError(f"masked_softmax: mask must be a bool keep-mask (True = attend), got {mask.dtype}")
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)
    return weights.masked_fill(~mask, 0.0)  # also turns the NaN of all-masked rows into zeros


def padding_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(B, T) bool, True on the first lengths[b] positions of row b (the real frames)."""
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]


def causal_mask(n_queries: int, n_keys: int | None = None, device: torch.device | None = None) -> torch.Tensor:
    """(T_q, T_k) bool, True where key j <= the query's position T_k - T_q + i.

    The queries are the last T_q positions of the T_k keys (bottom-right aligned), which is
    what incremental decoding with a cache needs; with T_q == T_k it is the lower triangle.
    """
    n_keys = n_queries if n_keys is None else n_keys
    query_positions = torch.arange(n_keys - n_queries, n_keys, device=device)  # (T_q,)
    return torch.arange(n_keys, device=device)[None, :] <= query_positions[:, None]  # (T_q, T_k)


def attention_weights(
    query: torch.Tensor, key: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False
) -> torch.Tensor:
    """query (..., T_q, D), key (..., T_k, D), mask bool keep broadcastable to (..., T_q, T_k)
    -> weights (..., T_q, T_k) = softmax(q k^T / sqrt(D)) over the kept keys.

    causal adds causal_mask(T_q, T_k). A row with no kept key gets zero weights (not NaN).
    """
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(query.shape[-1])  # (..., T_q, T_k)
    keep = mask
    if causal:
        triangle = causal_mask(query.shape[-2], key.shape[-2], device=query.device)  # (T_q, T_k)
        keep = triangle if keep is None else keep & triangle
    return masked_softmax(scores, keep)


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


class DotProductAttention(nn.Module):
    """Scaled dot-product attention without parameters: weights = softmax(q k^T / sqrt(D)).

    Lesson 05 compares it with the additive score; lesson 06 adds heads and projections.
    """

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, T_q, D), keys (B, T_k, D), values (B, T_k, C_v),
        mask (B, T_k) padding or (B, T_q, T_k) keep-mask, or None.

        Returns context (B, T_q, C_v) and weights (B, T_q, T_k), each row summing to one
        over its unmasked keys.
        """
        if query.dim() != 3 or keys.dim() != 3 or query.shape[-1] != keys.shape[-1]:
            raise ValueError(f"DotProductAttention: query (B, T_q, D) and keys (B, T_k, D) must share D, "
                             f"got {tuple(query.shape)} and {tuple(keys.shape)}")  # fmt: skip
        if mask is not None and mask.dim() == 2:
            mask = mask[:, None, :]  # (B, 1, T_k): the same keys for every query
        weights = attention_weights(query, keys, mask)  # (B, T_q, T_k)
        return torch.matmul(weights, values), weights  # (B, T_q, C_v)


@dataclasses.dataclass(frozen=True)
class AttentionConfig:
    query_size: int  # C_q: the decoder state
    key_size: int  # C_k: the encoder output
    attention_size: int = 128  # the hidden size of the tanh layer (Tacotron 2: 128)
    location_filters: int = 32  # location-sensitive only (Tacotron 2: 32 filters)
    location_kernel_size: int = 31  # odd, so that the convolution keeps T_k (Tacotron 2: 31)

    def __post_init__(self) -> None:
        for name in ("query_size", "key_size", "attention_size", "location_filters", "location_kernel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"AttentionConfig: {name} must be positive, got {getattr(self, name)}")
        if self.location_kernel_size % 2 == 0:
            raise ValueError(f"AttentionConfig: location_kernel_size must be odd, got {self.location_kernel_size}")


class AdditiveAttention(nn.Module):
    """Bahdanau attention for one decoder step: e_j = v^T tanh(W q + U k_j + b), weights = softmax(e).

    The keys do not change between decoder steps, so U k can be computed once with
    project_keys and passed to every step as projected_keys. Lesson 05.
    """

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__()
        self.config = config
        self.query_projection = nn.Linear(config.query_size, config.attention_size, bias=False)  # W
        self.key_projection = nn.Linear(config.key_size, config.attention_size)  # U and b
        self.energy = nn.Linear(config.attention_size, 1, bias=False)  # v

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """keys (B, T_k, C_k) -> U k + b (B, T_k, attention_size)."""
        return self.key_projection(keys)

    def scores(
        self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor | None
    ) -> torch.Tensor:
        """The inside of the tanh for one step: W q + U k + b, (B, T_k, attention_size)."""
        if query.dim() != 2 or keys.dim() != 3:
            raise ValueError(f"{type(self).__name__}: query must be (B, C_q) and keys (B, T_k, C_k), "
                             f"got {tuple(query.shape)} and {tuple(keys.shape)}")  # fmt: skip
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        return self.query_projection(query)[:, None, :] + projected_keys  # (B, T_k, attention_size)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected_keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, C_q), keys (B, T_k, C_k), values (B, T_k, C_v), mask (B, T_k) keep or None,
        projected_keys (B, T_k, attention_size) from project_keys, or None to compute them.

        Returns context (B, C_v) and weights (B, T_k).
        """
        hidden = self.scores(query, keys, projected_keys)  # (B, T_k, attention_size)
        energies = self.energy(torch.tanh(hidden)).squeeze(-1)  # (B, T_k)
        weights = masked_softmax(energies, mask)  # (B, T_k)
        context = torch.bmm(weights[:, None, :], values).squeeze(1)  # (B, 1, T_k) @ (B, T_k, C_v) -> (B, C_v)
        return context, weights


class LocationSensitiveAttention(AdditiveAttention):
    """e_j = v^T tanh(W q + U k_j + F * α_cum + b) (Chorowski et al., 2015, Eq. 8-9).

    F * α_cum: location_filters 1-D convolutions over the cumulative attention weights of the
    previous steps, projected to attention_size. Knowing where it has already looked lets the
    decoder move forward monotonically instead of jumping back or skipping (Tacotron 2).
    With the convolution weights at zero it is exactly AdditiveAttention. Lessons 05 and 07.
    """

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__(config)
        self.location_conv = nn.Conv1d(
            1, config.location_filters, config.location_kernel_size,
            padding=config.location_kernel_size // 2, bias=False,
        )  # fmt: skip
        self.location_projection = nn.Linear(config.location_filters, config.attention_size, bias=False)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        previous_weights_cumulative: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected_keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, C_q), keys (B, T_k, C_k), values (B, T_k, C_v),
        previous_weights_cumulative (B, T_k): the sum of the weights of all previous steps
        (zeros at the first step), mask (B, T_k) keep or None,
        projected_keys (B, T_k, attention_size) from project_keys, or None.

        Returns context (B, C_v) and weights (B, T_k); the caller adds weights to the cumulative sum.
        """
        if previous_weights_cumulative.shape != keys.shape[:2]:
            raise ValueError(f"LocationSensitiveAttention: previous_weights_cumulative must be (B, T_k) = "
                             f"{tuple(keys.shape[:2])}, got {tuple(previous_weights_cumulative.shape)}")  # fmt: skip
        location = self.location_conv(previous_weights_cumulative[:, None, :])  # (B, filters, T_k)
        location = self.location_projection(location.transpose(1, 2))  # (B, T_k, attention_size)
        hidden = self.scores(query, keys, projected_keys) + location  # (B, T_k, attention_size)
        energies = self.energy(torch.tanh(hidden)).squeeze(-1)  # (B, T_k)
        weights = masked_softmax(energies, mask)  # (B, T_k)
        context = torch.bmm(weights[:, None, :], values).squeeze(1)  # (B, C_v)
        return context, weights


def guided_attention_loss(
    weights: torch.Tensor,
    decoder_lengths: torch.Tensor,
    encoder_lengths: torch.Tensor,
    sigma: float = 0.2,
) -> torch.Tensor:
    """Mean of A[t, n] W[t, n] over the real (t, n) of each pair, W = 1 - exp(-(n/N - t/T)^2 / (2 σ^2)).

    The diagonal prior of Tachibana et al. (2017, Sec. 4.1): speech advances through the text
    roughly linearly, so weight far from the diagonal n/N = t/T is penalized. T = decoder_lengths[b]
    steps, N = encoder_lengths[b] frames. weights (B, T_dec, T_enc) -> a scalar. Lessons 05 and 07.
    """
    if weights.dim() != 3:
        raise ValueError(f"guided_attention_loss: weights must be (B, T_dec, T_enc), got {tuple(weights.shape)}")
    if sigma <= 0:
        raise ValueError(f"guided_attention_loss: sigma must be positive, got {sigma}")
    _, max_decoder, max_encoder = weights.shape
    decoder_lengths = decoder_lengths.to(weights.device)
    encoder_lengths = encoder_lengths.to(weights.device)
    steps = torch.arange(max_decoder, device=weights.device, dtype=weights.dtype)  # (T_dec,)
    frames = torch.arange(max_encoder, device=weights.device, dtype=weights.dtype)  # (T_enc,)
    step_fraction = steps[None, :, None] / decoder_lengths[:, None, None].clamp_min(1)  # (B, T_dec, 1)
    frame_fraction = frames[None, None, :] / encoder_lengths[:, None, None].clamp_min(1)  # (B, 1, T_enc)
    penalty = 1.0 - torch.exp(-((frame_fraction - step_fraction) ** 2) / (2 * sigma**2))  # (B, T_dec, T_enc)
    real = (steps[None, :, None] < decoder_lengths[:, None, None]) & (
        frames[None, None, :] < encoder_lengths[:, None, None]
    )  # (B, T_dec, T_enc)
    return (weights * penalty * real).sum() / real.sum().clamp_min(1)
