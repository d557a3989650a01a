"""Recurrent layers over padded batches.

packed_lstm  run an nn.LSTM over the real frames of each utterance only (pack, run, unpack)

Shapes   x (B, T, C_in), lengths (B,) real frames -> (B, T, directions * H), zeros on padding.
Used by LAS's listener (lessons/05_attention.ipynb); Tacotron 2's encoder BiLSTM is the same call.
"""

from __future__ import annotations

import torch
from torch import nn


def packed_lstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """lstm (batch_first=True) over the real frames only: a bidirectional LSTM's backward direction
    starts at each utterance's own end, not in its padding. x (B, T, C_in) -> (B, T, D * H)."""
    if not lstm.batch_first:
        raise ValueError("packed_lstm: build the LSTM with batch_first=True (inputs are (B, T, C))")
    packed = nn.utils.rnn.pack_padded_sequence(
        x, lengths.cpu(), batch_first=True, enforce_sorted=False
    )
    output, _ = lstm(packed)
    output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return output  # (B, T, D * H), zeros after each utterance's end
