"""Waveform augmentations for robust recognizers: speed, noise, room, telephone. NumPy and SciPy.

WaveformAugmentConfig      frozen settings: a probability and a range per augmentation, all off
speed_perturb              resample by a factor: tempo and pitch change together (Ko et al., 2015)
white_noise, pink_noise    noise to mix in: flat spectrum, and 1/f power (-3 dB per octave)
babble_noise               other utterances summed: many talkers, no one intelligible
add_noise                  mix noise in at a given signal-to-noise ratio (dB)
synthetic_impulse_response a room: a direct path, then exponentially decaying noise (an RT60)
reverberate                convolve with an impulse response (scipy.signal.fftconvolve)
band_limit                 a telephone line: resample to 8 kHz, band-pass 300-3400 Hz, resample back
AugmentationDraw           what one utterance gets: which steps, with which parameters
draw_augmentation          pick an AugmentationDraw from a config and a numpy Generator
apply_augmentation         run the drawn steps in order: speed -> room -> noise -> telephone

The recognizers hear only eSpeak's clean, full-band voices at 160-185 words per minute; these
make the training audio look more like a recording: other speaking rates and vocal tracts, a
noisy room that echoes, a narrow-band channel. SpeechDataset(waveform_augment=...) applies them
to each training utterance and computes its log-mels on the fly; the ASR front end's VTLP warp
and SpecAugment (minispeech/nn/asr_frontend.py) still act on those log-mels afterwards.

Shapes   waveform (T_wav,) float32 or float64, one channel, samples in about [-1, 1]; every
         function returns the same dtype. speed_perturb changes the length to about T_wav / factor;
         the others keep it (a reverberation tail past the end is cut, so word timings stay put).
Random   functions that draw take a np.random.Generator, so a fixed seed repeats a draw exactly.
This module never imports torch. For lesson 04's robustness training (issue 11, item 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from minispeech.audio import resample, validate

NOISE_KINDS = ("white", "pink", "babble")
MAX_SPEED_DENOMINATOR = 100  # speed factors become fractions up/down with down <= 100 (0.9 -> 9/10)


@dataclass(frozen=True)
class WaveformAugmentConfig:
    """Each augmentation happens to an utterance with its probability; all are 0 (off) by default.

    Turn one on for a measurement, e.g. WaveformAugmentConfig(speed_probability=1.0) is Kaldi's
    speed perturbation (each utterance at 0.9, 1.0 or 1.1, equally likely).
    """

    speed_probability: float = 0.0
    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)  # > 1 is faster and higher pitched
    reverb_probability: float = 0.0
    rt60_range: tuple[float, float] = (0.2, 0.8)  # seconds for the echo to decay by 60 dB
    drr_db_range: tuple[float, float] = (0.0, 12.0)  # direct-to-reverberant energy ratio, dB
    noise_probability: float = 0.0
    noise_kinds: tuple[str, ...] = NOISE_KINDS  # one, equally likely, per noisy utterance
    snr_db_range: tuple[float, float] = (5.0, 25.0)  # signal-to-noise ratio over the utterance, dB
    babble_talkers: tuple[int, int] = (3, 6)  # other utterances summed into babble (inclusive)
    band_limit_probability: float = 0.0
    band_sample_rate: int = 8000  # the telephone channel's rate (Hz)
    band_low_hz: float = 300.0  # the telephone band
    band_high_hz: float = 3400.0

    def __post_init__(self) -> None:
        name = "WaveformAugmentConfig"
        for field in (
            "speed_probability",
            "reverb_probability",
            "noise_probability",
            "band_limit_probability",
        ):
            if not 0.0 <= getattr(self, field) <= 1.0:
                raise ValueError(f"{name}: {field} must be in [0, 1], got {getattr(self, field)!r}")
        if not self.speed_factors or any(not 0.5 <= factor <= 2.0 for factor in self.speed_factors):
            raise ValueError(f"{name}: speed_factors must be a non-empty tuple of factors in [0.5, 2], "
                             f"got {self.speed_factors!r}")  # fmt: skip
        for field in ("rt60_range", "drr_db_range", "snr_db_range", "babble_talkers"):
            low, high = getattr(self, field)
            if low > high:
                raise ValueError(
                    f"{name}: {field} must be (low, high) with low <= high, got {(low, high)!r}"
                )
        if self.rt60_range[0] <= 0.0:
            raise ValueError(
                f"{name}: rt60_range must hold reverberation times > 0 s, got {self.rt60_range!r}"
            )
        if self.babble_talkers[0] < 1:
            raise ValueError(
                f"{name}: babble_talkers must be (low, high) with low >= 1, got {self.babble_talkers!r}"
            )
        unknown = [kind for kind in self.noise_kinds if kind not in NOISE_KINDS]
        if not self.noise_kinds or unknown:
            raise ValueError(
                f"{name}: noise_kinds must be a non-empty tuple from {NOISE_KINDS}, got {self.noise_kinds!r}"
            )
        if not 0.0 < self.band_low_hz < self.band_high_hz < self.band_sample_rate / 2:
            raise ValueError(f"{name}: need 0 < band_low_hz < band_high_hz < band_sample_rate / 2 = "
                             f"{self.band_sample_rate / 2}, got {self.band_low_hz}, {self.band_high_hz}")  # fmt: skip

    @property
    def enabled(self) -> bool:
        """True when any augmentation can happen (any probability above 0)."""
        return any(probability > 0 for probability in (self.speed_probability, self.reverb_probability,
                                                       self.noise_probability, self.band_limit_probability))  # fmt: skip


def speed_perturb(waveform: np.ndarray, factor: float) -> np.ndarray:
    """Play the waveform `factor` times faster: (T_wav,) -> (about T_wav / factor,).

    Resampling by 1/factor and keeping the sample rate is what a tape played fast does (sox's
    `speed`, Kaldi's 0.9/1.0/1.1 recipe, Ko et al., 2015): the tempo and every frequency, pitch
    and formants, scale by `factor` together. factor is turned into a fraction up/down with
    down <= 100 and resampled with scipy.signal.resample_poly.
    """
    waveform = validate(waveform, name="speed_perturb: waveform")
    if not 0.5 <= factor <= 2.0:
        raise ValueError(
            f"speed_perturb: factor must be in [0.5, 2] (0.9 is 10 % slower), got {factor!r}"
        )
    ratio = Fraction(factor).limit_denominator(MAX_SPEED_DENOMINATOR)  # e.g. 0.9 -> 9/10
    if ratio == 1:
        return waveform.copy()
    from scipy.signal import resample_poly

    # T_wav samples become T_wav * denominator / numerator: fewer when faster
    return resample_poly(waveform, ratio.denominator, ratio.numerator).astype(
        waveform.dtype, copy=False
    )


def white_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise (length,) float64 with unit power: the same power at every frequency."""
    return rng.standard_normal(length)


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise (length,) float64 with unit power: power ∝ 1/f, so each octave holds the same
    energy, like fans, traffic and rain more than white noise. White noise shaped in the frequency
    domain (amplitude 1/sqrt(f)); the DC bin is zeroed."""
    from scipy.fft import irfft, next_fast_len, rfft

    size = next_fast_len(length, real=True)  # an FFT size with small prime factors: 10x faster
    spectrum = rfft(rng.standard_normal(size))  # (size // 2 + 1,)
    frequencies = np.arange(len(spectrum), dtype=np.float64)  # in bins; only ratios matter
    spectrum[1:] /= np.sqrt(frequencies[1:])
    spectrum[0] = 0.0
    noise = irfft(spectrum, n=size)[:length]
    return noise / max(math.sqrt(float(np.mean(noise**2))), 1e-12)


def babble_noise(
    talkers: Sequence[np.ndarray], length: int, rng: np.random.Generator
) -> np.ndarray:
    """Several other utterances at once (length,) float64, unit power: a cafeteria, no one word clear.

    Each talker (T_i,) is brought to unit power, repeated until it is long enough, cut at a random
    offset to `length` samples, and the talkers are summed. Three or more talkers make babble
    that a recognizer cannot transcribe; one or two would be a competing speaker instead.
    """
    if not talkers:
        raise ValueError(
            "babble_noise: talkers is empty; pass other utterances' waveforms (3 to 6)"
        )
    babble = np.zeros(length)
    for number, talker in enumerate(talkers):
        talker = validate(talker, name=f"babble_noise: talkers[{number}]").astype(np.float64)
        power = float(np.mean(talker**2))
        if power == 0.0:
            continue  # a silent talker adds nothing
        repeated = np.tile(talker, length // len(talker) + 2)  # at least length + len(talker)
        start = int(rng.integers(0, len(talker)))
        babble += repeated[start : start + length] / math.sqrt(power)
    return babble / max(math.sqrt(float(np.mean(babble**2))), 1e-12)


def add_noise(waveform: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """waveform + g · noise (T_wav,), with g chosen so that 10 log10(P_waveform / P_noise) = snr_db.

    P is the mean square over the whole utterance, silences included (utterances with long
    pauses get a little less noise in their speech than the nominal SNR says). noise has the
    waveform's length (white_noise, pink_noise or babble_noise make it). 0 dB is as loud as the
    speech; 30 dB is barely audible.
    """
    waveform = validate(waveform, name="add_noise: waveform")
    noise = validate(noise, name="add_noise: noise")
    if noise.shape != waveform.shape:
        raise ValueError(f"add_noise: noise has shape {noise.shape} but waveform has {waveform.shape}; "
                         f"make it with white_noise(len(waveform), rng) or the like")  # fmt: skip
    signal_power = float(np.mean(np.square(waveform, dtype=np.float64)))
    noise_power = float(np.mean(np.square(noise, dtype=np.float64)))
    if signal_power == 0.0 or noise_power == 0.0:
        raise ValueError(f"add_noise: the {'waveform' if signal_power == 0.0 else 'noise'} is all zeros, so no "
                         "gain gives a signal-to-noise ratio; drop silent utterances from the manifest")  # fmt: skip
    gain = math.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return (waveform + gain * noise).astype(waveform.dtype, copy=False)


def synthetic_impulse_response(
    sample_rate: int, rt60: float, drr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """A room's impulse response (rt60 · sample_rate,) float64: 1 at t = 0, then a noise tail.

    The direct sound arrives first (amplitude 1). Then the reflections: so many that together they
    sound like Gaussian noise, decaying exponentially so that the level falls by 60 dB after rt60
    seconds (Sabine's reverberation time; amplitude exp(-3 ln(10) t / rt60)). The tail's energy is
    drr_db below the direct sound's. Living rooms have rt60 ≈ 0.3-0.5 s, halls 1-2 s. No early
    reflections or room shape: the image method (Allen and Berkley, 1979) would add those.
    """
    if rt60 <= 0 or sample_rate <= 0:
        raise ValueError(f"synthetic_impulse_response: rt60 (s) and sample_rate (Hz) must be > 0, "
                         f"got {rt60}, {sample_rate}")  # fmt: skip
    length = max(2, int(rt60 * sample_rate))
    time = np.arange(1, length) / sample_rate  # (length - 1,) seconds after the direct sound
    tail = rng.standard_normal(length - 1) * np.exp(-3.0 * math.log(10.0) * time / rt60)
    tail *= math.sqrt(
        10.0 ** (-drr_db / 10.0) / float(np.sum(tail**2))
    )  # tail energy / direct = DRR
    return np.concatenate([[1.0], tail])


def reverberate(waveform: np.ndarray, impulse_response: np.ndarray) -> np.ndarray:
    """The waveform as heard in the room: waveform * impulse_response, cut to T_wav samples.

    Convolution in the frequency domain (scipy.signal.fftconvolve, O(T log T) for long responses).
    The tail past the end is dropped so the length, and every word's position, stay the same; a
    delta response [1] gives the waveform back.
    """
    from scipy.signal import fftconvolve

    waveform = validate(waveform, name="reverberate: waveform")
    impulse_response = validate(impulse_response, name="reverberate: impulse_response")
    wet = fftconvolve(
        waveform.astype(np.float64), impulse_response.astype(np.float64)
    )  # (T_wav + T_ir - 1,)
    return wet[: len(waveform)].astype(waveform.dtype, copy=False)


def band_limit(
    waveform: np.ndarray,
    sample_rate: int,
    low_hz: float = 300.0,
    high_hz: float = 3400.0,
    channel_rate: int = 8000,
) -> np.ndarray:
    """The waveform through a telephone line, back at sample_rate (T_wav,).

    Resample to the channel's rate (8 kHz: nothing above 4 kHz survives), band-pass low_hz to
    high_hz (a 4th-order Butterworth run forwards and backwards: no delay; the classic telephone
    band is 300-3400 Hz), resample back. The fricatives' energy above 4 kHz (s, sh, f) is gone,
    as in every phone call and 8 kHz corpus. If channel_rate >= sample_rate only the band-pass runs.
    """
    from scipy.signal import butter, sosfiltfilt

    waveform = validate(waveform, name="band_limit: waveform")
    rate = min(channel_rate, sample_rate)
    if not 0.0 < low_hz < high_hz < rate / 2:
        raise ValueError(f"band_limit: need 0 < low_hz < high_hz < {rate / 2} (half the channel's rate), "
                         f"got low_hz={low_hz}, high_hz={high_hz}")  # fmt: skip
    narrow = resample(
        waveform.astype(np.float64), sample_rate, rate
    )  # (about T_wav * rate / sample_rate,)
    sections = butter(4, [low_hz, high_hz], btype="bandpass", fs=rate, output="sos")
    narrow = sosfiltfilt(sections, narrow)
    wide = resample(np.ascontiguousarray(narrow), rate, sample_rate)[: len(waveform)]
    wide = np.pad(wide, (0, len(waveform) - len(wide)))  # rounding may lose a sample
    return wide.astype(waveform.dtype, copy=False)


@dataclass(frozen=True)
class AugmentationDraw:
    """What one utterance gets; None (or 0, False) skips that step."""

    speed_factor: float | None = None
    rt60: float | None = None  # with drr_db: reverberate in a synthetic room
    drr_db: float | None = None
    noise_kind: str | None = None  # with snr_db: "white", "pink" or "babble"
    snr_db: float | None = None
    babble_talkers: int = 0  # how many other utterances babble needs
    band_limit: bool = False


def draw_augmentation(config: WaveformAugmentConfig, rng: np.random.Generator) -> AugmentationDraw:
    """Which augmentations one utterance gets, and their parameters, drawn from config's ranges.

    Each step happens with its probability; a step with probability 0 draws nothing, so the
    default config always gives AugmentationDraw() (no change).
    """
    draw = {}
    if config.speed_probability > 0 and rng.random() < config.speed_probability:
        draw["speed_factor"] = float(rng.choice(config.speed_factors))
    if config.reverb_probability > 0 and rng.random() < config.reverb_probability:
        draw["rt60"] = float(rng.uniform(*config.rt60_range))
        draw["drr_db"] = float(rng.uniform(*config.drr_db_range))
    if config.noise_probability > 0 and rng.random() < config.noise_probability:
        draw["noise_kind"] = str(rng.choice(config.noise_kinds))
        draw["snr_db"] = float(rng.uniform(*config.snr_db_range))
        if draw["noise_kind"] == "babble":
            draw["babble_talkers"] = int(
                rng.integers(config.babble_talkers[0], config.babble_talkers[1] + 1)
            )
    if config.band_limit_probability > 0 and rng.random() < config.band_limit_probability:
        draw["band_limit"] = True
    return AugmentationDraw(**draw)


def apply_augmentation(
    waveform: np.ndarray,
    sample_rate: int,
    draw: AugmentationDraw,
    config: WaveformAugmentConfig,
    rng: np.random.Generator,
    talkers: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """The drawn steps, in the order a recording happens: the speaker (speed), the room (reverb),
    the room's other sounds (noise), the line (telephone band). (T_wav,) -> (T_wav',), dtype kept.

    talkers: draw.babble_talkers other utterances (T_i,) at sample_rate, when draw asks for babble.
    """
    if draw.speed_factor is not None:
        waveform = speed_perturb(waveform, draw.speed_factor)
    if draw.rt60 is not None:
        waveform = reverberate(
            waveform, synthetic_impulse_response(sample_rate, draw.rt60, draw.drr_db, rng)
        )
    if draw.noise_kind is not None:
        if draw.noise_kind == "babble":
            if len(talkers) < draw.babble_talkers:
                raise ValueError(f"apply_augmentation: babble needs {draw.babble_talkers} other utterances in "
                                 f"talkers, got {len(talkers)}")  # fmt: skip
            noise = babble_noise(talkers, len(waveform), rng)
        else:
            noise = {"white": white_noise, "pink": pink_noise}[draw.noise_kind](len(waveform), rng)
        waveform = add_noise(waveform, noise, draw.snr_db)
    if draw.band_limit:
        waveform = band_limit(
            waveform, sample_rate, config.band_low_hz, config.band_high_hz, config.band_sample_rate
        )
    return waveform
