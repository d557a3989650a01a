"""Helpers shared by the model, nn and decoding tests, as pytest fixtures.

random_batch            a collate-style batch of random log-mels and tokens, zero padding
tiny_ctc_config         CTCASRConfig.preset("ci") with encoder fields changed
tiny_las_config         a LASConfig smaller than the ci preset, with fields changed
tiny_transformer_config TransformerASRConfig.preset("ci") with encoder kind and fields changed

Each fixture returns a function (pytest's "factory as fixture"), so a test asks for it by name
and calls it with its own sizes. NO_AUGMENT switches the training-time augmentation off, for
tests that need training mode to be deterministic. (The repository root's conftest.py is the
grading report plugin; this one only serves tests/.)
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from minispeech.models.ctc_asr import CTCASRConfig
from minispeech.models.las import LASConfig
from minispeech.models.transformer_asr import TransformerASRConfig
from minispeech.nn.asr_frontend import AugmentConfig
from minispeech.nn.attention import padding_mask
from minispeech.text import characters

N_MELS = 80
VOCABULARY_SIZE = len(characters())
FIRST_CHARACTER_ID = 3  # after <pad> (= CTC blank), <bos>, <eos>
NO_AUGMENT = AugmentConfig(warp_range=0.0, freq_masks=0, time_masks=0)


def make_random_batch(
    lengths,
    n_mels: int = N_MELS,
    vocabulary_size: int = VOCABULARY_SIZE,
    token_lengths=None,
    seed: int = 0,
) -> dict:
    """A batch as minispeech.data.collate makes it: features (B, T_mel, n_mels) log-mel-like
    values around -5, feature_lengths (B,), tokens (B, S) character ids >= 3, token_lengths (B,);
    features and tokens are zero on padding. token_lengths defaults to T_mel // 10 (at least 1),
    short enough for CTC at every subsampling the models use."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    if token_lengths is None:
        token_lengths = (lengths // 10).clamp_min(1)
    token_lengths = torch.as_tensor(token_lengths)
    features = torch.randn(len(lengths), int(lengths.max()), n_mels, generator=generator) - 5.0
    features = features * padding_mask(lengths, features.shape[1])[:, :, None]  # (B, T_mel, n_mels)
    tokens = torch.randint(FIRST_CHARACTER_ID, vocabulary_size, (len(lengths), int(token_lengths.max())),
                           generator=generator)  # fmt: skip
    tokens = tokens * padding_mask(token_lengths, tokens.shape[1])  # (B, S), <pad> after the end
    return {
        "features": features,
        "feature_lengths": lengths,
        "tokens": tokens,
        "token_lengths": token_lengths,
    }


def make_tiny_ctc_config(augment: bool = True, **encoder_changes) -> CTCASRConfig:
    """The ci preset, its EncoderConfig changed by encoder_changes (e.g. subsampling=4)."""
    config = CTCASRConfig.preset("ci")
    return dataclasses.replace(config, encoder=dataclasses.replace(config.encoder, **encoder_changes),
                               augment=config.augment if augment else NO_AUGMENT)  # fmt: skip


def make_tiny_las_config(augment: bool = True, **changes) -> LASConfig:
    """A LAS smaller than the ci preset (16-wide listener, 24-wide speller), fields changed."""
    base = LASConfig(conv_channels=16, listener_size=16, listener_layers=2, embedding_size=8, decoder_size=24,
                     attention_size=16, location_filters=4, location_kernel_size=5)  # fmt: skip
    return dataclasses.replace(base, augment=base.augment if augment else NO_AUGMENT, **changes)


def make_tiny_transformer_config(
    augment: bool = True, kind: str = "conformer", **changes
) -> TransformerASRConfig:
    """The ci preset with encoder kind "conformer" or "transformer", other fields changed."""
    config = TransformerASRConfig.preset("ci")
    return dataclasses.replace(config, encoder=dataclasses.replace(config.encoder, kind=kind),
                               augment=config.augment if augment else NO_AUGMENT, **changes)  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The test models are tiny: a second thread saves nothing, and on a busy 2-core machine
    (a notebook running beside the tests) thread contention made a LAS step 40x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def random_batch():
    return make_random_batch


@pytest.fixture
def tiny_ctc_config():
    return make_tiny_ctc_config


@pytest.fixture
def tiny_las_config():
    return make_tiny_las_config


@pytest.fixture
def tiny_transformer_config():
    return make_tiny_transformer_config
