"""Digital signal processing for speech in NumPy: STFT, mel, MFCC, pitch. One file a topic.

| file            | public names                                                | lesson   |
|-----------------|-------------------------------------------------------------|----------|
| spectral.py     | frame, get_window, stft, istft, griffin_lim,                | 01       |
|                 |   spectral_convergence, WINDOWS, PAD_MODES                  |          |
| mel.py          | hz_to_mel, mel_to_hz, mel_frequencies, mel_filterbank,      | 02 §1-3  |
|                 |   melspectrogram, power_to_db, MelConfig, log_mel           |          |
| inversion.py    | mel_to_stft (non-negative least squares), mel_to_audio,     | 07       |
|                 |   log_mel_to_audio (+ griffin_lim: the baseline vocoder)    |          |
| cepstrum.py     | MFCCConfig, mfcc, mfcc_from_mel_db, dct_matrix, dct,        | 02 §4-5  |
|                 |   deltas, cmvn                                              |          |
| augment.py      | spec_augment (frequency and time masks on one utterance)    | 02 §5    |
| prosody.py      | energy (RMS), yin (f0 + voiced flag; Numba kernel in dp/)   | 02 §6    |
| checks.py       | argument checks shared by the files above (not exported)    |          |

Import the names from here (`from minispeech.dsp import stft, MelConfig, log_mel`); no
file is named after a function it holds, so `minispeech.dsp.mfcc` is the function. Imports
point one way: checks <- spectral <- mel <- cepstrum and inversion; prosody uses spectral;
augment stands alone. This package never imports torch; `import minispeech.dsp` loads
neither scipy nor Numba (each is imported inside the one function that needs it).

Shapes   x (T_wav,) float32 or float64, one channel. Spectrograms (n_freqs, T_mel) with
         n_freqs = n_fft // 2 + 1; with center=True, T_mel = 1 + T_wav // hop_length.
         float32 in, float32/complex64 out; float64 in, float64 out.
Calls    settings that belong together travel in one frozen config: log_mel(x, MelConfig(...)),
         mfcc(x, MFCCConfig(...)); the lesson-01 transforms take their few sizes as arguments.

The mel layout contract, written here once (nn/features.py points here):

    dsp.log_mel(x, config), dsp.melspectrogram     (n_mels, T_mel)       frequency first
    nn.features.LogMel(config)(waveform)           (n_mels, T_mel) from (T_wav,),
                                                   (B, n_mels, T_mel) from (B, T_wav)
    data.SpeechDataset(features="log_mel") item    (T_mel, n_mels)       time first
    data.collate batch "features"                  (B, T_mel, n_mels)    time first
    models (ASR encoders; TTS decoders to come)    take (B, T_mel, n_mels)

The library transforms keep librosa's order, frequency first and time last (a spectrogram is
an image with time on the x axis; `plot.spectrogram` draws it as is). Sequence models want
time first: transpose once, where features enter a dataset or a model (`log_mel(x, config).T`,
`LogMel(config)(waveform).transpose(1, 2)`), never inside the transforms.
"""

from minispeech.dsp.augment import spec_augment
from minispeech.dsp.cepstrum import (
    MFCCConfig,
    cmvn,
    dct,
    dct_matrix,
    deltas,
    mfcc,
    mfcc_from_mel_db,
)
from minispeech.dsp.inversion import log_mel_to_audio, mel_to_audio, mel_to_stft
from minispeech.dsp.mel import (
    MelConfig,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    melspectrogram,
    power_to_db,
)
from minispeech.dsp.prosody import energy, yin
from minispeech.dsp.spectral import (
    PAD_MODES,
    WINDOWS,
    frame,
    get_window,
    griffin_lim,
    istft,
    spectral_convergence,
    stft,
)

__all__ = [
    "MFCCConfig",
    "MelConfig",
    "PAD_MODES",
    "WINDOWS",
    "cmvn",
    "dct",
    "dct_matrix",
    "deltas",
    "energy",
    "frame",
    "get_window",
    "griffin_lim",
    "hz_to_mel",
    "istft",
    "log_mel",
    "log_mel_to_audio",
    "mel_filterbank",
    "mel_frequencies",
    "mel_to_audio",
    "mel_to_hz",
    "mel_to_stft",
    "melspectrogram",
    "mfcc",
    "mfcc_from_mel_db",
    "power_to_db",
    "spec_augment",
    "spectral_convergence",
    "stft",
    "yin",
]
