"""Checks on a padded batch of token ids, shared by the TTS models (Tacotron 2, FastSpeech 2).

check_token_batch  tokens (B, T_txt) ids with token_lengths (B,): named errors for a wrong shape, an empty
                   utterance, or an id outside the model's vocabulary (padding positions are not checked)
"""

from __future__ import annotations

import torch

from minispeech.nn.attention import padding_mask


def check_token_batch(tokens: torch.Tensor, token_lengths: torch.Tensor, vocabulary_size: int, owner: str) -> None:
    """Raise ValueError, naming `owner` (the model) and the fix, unless every utterance has >= 1 token
    and every real token id lies in [0, vocabulary_size)."""
    if tokens.dim() != 2 or token_lengths.shape != tokens.shape[:1]:
        raise ValueError(f"{owner}: tokens must be (B, T_txt) ids with token_lengths (B,), got "
                         f"{tuple(tokens.shape)} and {tuple(token_lengths.shape)}")  # fmt: skip
    if (token_lengths < 1).any():
        empty = int((token_lengths < 1).nonzero()[0])
        raise ValueError(f"{owner}: utterance {empty} has no tokens (length 0); drop empty texts "
                         "before batching (encode_text refuses them)")  # fmt: skip
    real = tokens[padding_mask(token_lengths.to(tokens.device), tokens.shape[1])]  # not padding
    bad = real[(real < 0) | (real >= vocabulary_size)]
    if len(bad):
        raise ValueError(f"{owner}: token id {int(bad[0])} is outside the vocabulary [0, {vocabulary_size}); "
                         "encode texts with the tokenizer the model was built for (data.tts_tokens.encode_text) "
                         "or set config.vocabulary_size")  # fmt: skip
