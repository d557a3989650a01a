"""Tests for minispeech.nn.postnet: Tacotron 2 builds it from its config, zeros past each length,
padding that leaks nothing, and the config's errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from minispeech.models.tacotron2 import Tacotron2, Tacotron2Config
from minispeech.nn.postnet import Postnet, PostnetConfig


def test_tacotron2_uses_this_postnet_with_its_config_sizes():
    tacotron = Tacotron2Config.preset("ci")
    postnet = Tacotron2(tacotron).postnet
    assert isinstance(postnet, Postnet) and len(postnet.layers) == tacotron.postnet_layers
    first, last = postnet.layers[0][0], postnet.layers[-1][0]  # Conv1d
    assert (first.in_channels, first.out_channels, first.kernel_size) == (80, tacotron.postnet_channels,
                                                                          (tacotron.postnet_kernel_size,))
    assert (last.in_channels, last.out_channels) == (tacotron.postnet_channels, 80)
    assert isinstance(postnet.layers[0][2], torch.nn.Tanh) and isinstance(postnet.layers[-1][2], torch.nn.Identity)


def test_postnet_zeroes_padding_and_ignores_what_it_holds():
    torch.manual_seed(0)
    postnet = Postnet(PostnetConfig(n_mels=8, channels=16, layers=3)).eval()
    mel, lengths = torch.randn(2, 12, 8), torch.tensor([12, 7])
    noisy = mel.clone()
    noisy[1, 7:] = 1e3
    residual = postnet(noisy, lengths)
    assert residual.shape == (2, 12, 8) and (residual[1, 7:] == 0).all()
    torch.testing.assert_close(residual[1, :7], postnet(mel[1:, :7], lengths[1:])[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("change, message", [({"kernel_size": 4}, "kernel_size must be odd"),
                                             ({"layers": 1}, "layers >= 2"), ({"dropout": 1.0}, r"\[0, 1\)")])
def test_postnet_config_rejects_bad_sizes(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PostnetConfig(), **change)
