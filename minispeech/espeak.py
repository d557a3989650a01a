"""eSpeak NG through ctypes: speech, IPA phonemes and exact phoneme timings, offline.

synthesize      text -> (float32 waveform, sample_rate)
synthesize_with_alignment
                text -> Synthesis(waveform, sample_rate, phonemes, words): eSpeak's own
                phoneme and word start samples, an exact ground-truth alignment
phonemize       text -> IPA string
list_voices     the voices the bundled data knows

The library and its data come from the PyPI package `espeakng-loader`; nothing is
downloaded. libespeak-ng keeps global state (one voice, one callback), so every call
holds a module lock.

Voices are "language+variant" names such as "en-us", "en-gb-x-rp+m3" or "en-us+f2".

Taught in lessons/00_setup_data_text.ipynb, section 2.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Constants from speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_DONT_EXIT = 0x8000
CHARS_UTF8 = 1
PHONEMES_IPA = 0x02
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
EVENT_PHONEME = 7
PARAMETER_RATE = 1
PARAMETER_VOLUME = 2
PARAMETER_PITCH = 3
PARAMETER_RANGE = 4
PARAMETER_WORDGAP = 7
BUFFER_MILLISECONDS = 200

_lock = threading.RLock()


class EspeakError(RuntimeError):
    """libespeak-ng could not be loaded or refused a request."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Synthesis:
    """One synthesized utterance and eSpeak's timing of it.

    phonemes: ((phoneme name, start sample), ...) in eSpeak's phoneme mnemonics ("h", "@", "l", "'oU")
    words:    ((text position of the word, start sample), ...); text positions count characters from 1
    """

    waveform: np.ndarray  # (T_wav,) float32 in [-1, 1]
    sample_rate: int
    phonemes: tuple[tuple[str, int], ...]
    words: tuple[tuple[int, int], ...]


class _Engine:
    """The loaded library, initialized once, with the callback that collects audio and events."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as error:
            raise EspeakError(
                "the package espeakng-loader is not installed: `pip install espeakng-loader`"
            ) from error
        library_path = espeakng_loader.get_library_path()
        data_path = espeakng_loader.get_data_path()
        try:
            self.library = ctypes.CDLL(library_path)
        except OSError as error:
            raise EspeakError(
                f"could not load libespeak-ng from {library_path}: {error}. "
                "Reinstall it with `pip install --force-reinstall espeakng-loader`."
            ) from error
        library = self.library
        library.espeak_Initialize.restype = ctypes.c_int
        library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_SetVoiceByName.restype = ctypes.c_int
        library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        library.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        library.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]  # fmt: skip
        library.espeak_Synth.restype = ctypes.c_int
        library.espeak_Synchronize.restype = ctypes.c_int
        library.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
        ]  # fmt: skip
        library.espeak_TextToPhonemes.restype = ctypes.c_char_p
        library.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        library.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))

        options = INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT
        sample_rate = library.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MILLISECONDS, data_path.encode(), options
        )
        if sample_rate <= 0:
            raise EspeakError(f"espeak_Initialize failed with data at {data_path} (code {sample_rate})")
        self.sample_rate = sample_rate
        self.voice: str | None = None
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, str | int]] = []
        # Keep a reference to the callback object: ctypes must not garbage-collect it.
        self._callback = _SynthCallback(self._on_audio)
        library.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, sample_count, events) -> int:
        if sample_count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(sample_count,)).copy())
        index = 0
        while events[index].type != EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == EVENT_PHONEME:
                name = event.id.string.decode("utf-8", errors="replace")
                self._events.append((EVENT_PHONEME, event.sample, name))
            elif event.type == EVENT_WORD:
                self._events.append((EVENT_WORD, event.sample, event.text_position))
            index += 1
        return 0  # 0 = continue synthesis

    def set_voice(self, voice: str) -> None:
        if voice == self.voice:
            return
        if self.library.espeak_SetVoiceByName(voice.encode()) != 0:
            self.voice = None
            raise ValueError(
                f"eSpeak has no voice {voice!r}; see minispeech.espeak.list_voices() "
                "(variants are written like 'en-us+m3')"
            )
        self.voice = voice

    def synthesize(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> Synthesis:
        self.set_voice(voice)
        self.library.espeak_SetParameter(PARAMETER_RATE, int(rate), 0)
        self.library.espeak_SetParameter(PARAMETER_PITCH, int(pitch), 0)
        self.library.espeak_SetParameter(PARAMETER_RANGE, int(pitch_range), 0)
        self.library.espeak_SetParameter(PARAMETER_VOLUME, 100, 0)
        self._chunks, self._events = [], []
        encoded = text.encode("utf-8")
        status = self.library.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, CHARS_UTF8, None, None)
        self.library.espeak_Synchronize()
        if status != 0:
            raise EspeakError(f"espeak_Synth failed (code {status}) for text {text[:60]!r}")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        waveform = pcm.astype(np.float32) / 32768.0
        phonemes = tuple((name, sample) for kind, sample, name in self._events if kind == EVENT_PHONEME)
        words = tuple((position, sample) for kind, sample, position in self._events if kind == EVENT_WORD)
        return Synthesis(waveform, self.sample_rate, phonemes, words)

    def phonemize_clauses(self, text: str, voice: str, separator: str = "") -> list[str]:
        self.set_voice(voice)
        # bits 8-23 of the mode: a character written between the phonemes of a word
        mode = PHONEMES_IPA | (ord(separator) << 8 if separator else 0)
        buffer = ctypes.c_char_p(text.encode("utf-8"))
        pointer = ctypes.pointer(buffer)
        clauses = []
        # TextToPhonemes returns one clause at a time and advances the pointer; NULL at the end.
        while pointer.contents.value:
            result = self.library.espeak_TextToPhonemes(pointer, CHARS_UTF8, mode)
            if result and result.decode("utf-8").strip():
                clauses.append(result.decode("utf-8").strip())
        return clauses


@lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()


def _check_text(text: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: eSpeak has nothing to say")
    return text


def synthesize_with_alignment(
    text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50, pitch_range: int = 50
) -> Synthesis:
    """Speak `text` and return the waveform with eSpeak's phoneme and word start samples.

    rate: words per minute (80-450); pitch and pitch_range: 0-100 (50 is the voice's default).
    """
    _check_text(text)
    with _lock:
        return _engine().synthesize(text, voice, rate, pitch, pitch_range)


def synthesize(
    text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50
) -> tuple[np.ndarray, int]:
    """Speak `text`: returns (waveform (T_wav,) float32, sample_rate). See synthesize_with_alignment."""
    result = synthesize_with_alignment(text, voice=voice, rate=rate, pitch=pitch)
    return result.waveform, result.sample_rate


def phonemize(text: str, voice: str = "en-us") -> str:
    """IPA transcription of `text` as eSpeak pronounces it with `voice`; clauses joined by spaces."""
    return " ".join(phonemize_clauses(text, voice))


def phonemize_clauses(text: str, voice: str = "en-us", separator: str = "") -> list[str]:
    """One IPA string per clause of `text` (eSpeak splits at punctuation); words separated by
    spaces, and the phonemes of a word by `separator` when one is given (e.g. "|")."""
    _check_text(text)
    if len(separator) > 1:
        raise ValueError(f"separator must be one character or empty, got {separator!r}")
    with _lock:
        return _engine().phonemize_clauses(text, voice, separator)


def sample_rate() -> int:
    """The sample rate eSpeak synthesizes at (22,050 Hz for the bundled data)."""
    with _lock:
        return _engine().sample_rate


def list_voices() -> list[dict]:
    """The voices in the bundled data: [{"name", "identifier", "languages", "gender"}, ...]."""
    with _lock:
        engine = _engine()
        voices = engine.library.espeak_ListVoices(None)
        result = []
        index = 0
        while voices[index]:
            voice = voices[index].contents
            # languages is a list of (priority byte, name, NUL); keep the first name.
            raw = ctypes.string_at(voice.languages, 64)
            language = raw[1:].split(b"\x00", 1)[0].decode("utf-8", errors="replace")
            result.append(
                {
                    "name": voice.name.decode("utf-8", errors="replace"),
                    "identifier": voice.identifier.decode("utf-8", errors="replace"),
                    "language": language,
                    "gender": {1: "male", 2: "female"}.get(voice.gender, "unknown"),
                }
            )
            index += 1
        return result
