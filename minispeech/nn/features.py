"""The log-mel front end as a torch module, so features can be computed on the GPU in a batch.

LogMel   MelConfig -> module: waveform (T_wav,) or (B, T_wav) -> log-mel (n_mels, T_mel) or
         (B, n_mels, T_mel), equal to minispeech.dsp.log_mel(x, config) to 1e-4; .magnitude(waveform)
         is the linear |STFT| underneath.

Mel layout: LogMel keeps the library's order, frequency first, (B, n_mels, T_mel), like
dsp.log_mel's (n_mels, T_mel). The models take time first, (B, T_mel, n_mels), as
data.collate batches them: call `LogMel(config)(waveform).transpose(1, 2)` where features
enter a model. The whole contract is written once, in minispeech/dsp/__init__.py.

Taught in lessons/02 (mel and MFCC); used by the acoustic models and vocoders from lesson 07 on.
"""

from __future__ import annotations

import torch

from minispeech.dsp import MelConfig, get_window


class LogMel(torch.nn.Module):
    """log(max(mel_filterbank @ |STFT|, log_floor)) in torch, from a MelConfig.

    The periodic Hann window (win_length) and the Slaney mel filterbank are non-persistent
    buffers: they follow .to(device) but stay out of state_dict, since the config rebuilds
    them. torch.stft pads n_fft // 2 samples each side with "reflect" when config.center, as
    minispeech.dsp.stft does. Lesson 02.
    """

    def __init__(self, config: MelConfig) -> None:
        super().__init__()
        self.config = config
        window = torch.from_numpy(get_window("hann", config.win_length)).float()
        filterbank = torch.from_numpy(config.filterbank().copy()).float()  # (n_mels, n_freqs)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("filterbank", filterbank, persistent=False)

    def magnitude(self, waveform: torch.Tensor) -> torch.Tensor:
        """waveform (T_wav,) or (B, T_wav) float -> |STFT| (n_freqs, T_mel) or (B, n_freqs, T_mel): the
        linear magnitude before the filterbank and the log (VITS's posterior encoder reads it)."""
        if not torch.is_tensor(waveform) or not waveform.is_floating_point():
            raise ValueError(f"LogMel: waveform must be a float tensor, got {getattr(waveform, 'dtype', type(waveform))}")
        if waveform.dim() not in (1, 2):
            raise ValueError(f"LogMel: waveform must be (T_wav,) or (B, T_wav), got shape {tuple(waveform.shape)}")
        config = self.config
        n_samples = waveform.shape[-1]
        if config.center and n_samples <= config.n_fft // 2:
            raise ValueError(
                f"LogMel: {n_samples} samples is too short to reflect-pad by n_fft // 2 = {config.n_fft // 2}"
            )
        if not config.center and n_samples < config.n_fft:
            raise ValueError(f"LogMel: {n_samples} samples is shorter than one frame (n_fft={config.n_fft})")
        spectrum = torch.stft(
            waveform.float(),
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            win_length=config.win_length,
            window=self.window,
            center=config.center,
            pad_mode="reflect",
            return_complex=True,
        )  # (n_freqs, T_mel) or (B, n_freqs, T_mel)
        return spectrum.abs()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """waveform (T_wav,) or (B, T_wav) float -> (n_mels, T_mel) or (B, n_mels, T_mel).

        Frequency first, like dsp.log_mel; transpose(1, 2) gives the models' (B, T_mel, n_mels).
        """
        mel = torch.matmul(self.filterbank, self.magnitude(waveform))  # (n_mels, T_mel) or (B, n_mels, T_mel)
        return torch.log(torch.clamp(mel, min=self.config.log_floor))  # same shape as mel
