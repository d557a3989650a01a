"""TTS tokens and their durations: eSpeak phonemes, word boundaries, pauses and punctuation.

encode_text        raw text -> the phoneme symbols and ids a TTS model reads (what inference uses)
TTS_SYMBOLS        the token inventory; ids are positions, <pad>=0, <bos>=1, <eos>=2
symbol_ids         symbols -> ids (UnknownPhonemeError outside the inventory)
phoneme_durations  eSpeak's phoneme start samples -> frames per phoneme summing to T_mel
align_tokens       one utterance's tokens and durations from its text and eSpeak's events
TTS_SPEAKER        the voice: us_m1 (en-us+m1), a training voice of the tiny corpus
errors             TTSDataError and its kinds: NoPhonemesError, UnknownPhonemeError,
                   PhonemeAlignmentError, DurationMismatchError, SampleRateMismatchError

Tokens. eSpeak phonemes in IPA, one token per phoneme (ARPAbet-style: a stressed vowel is its
own token, "ˈoʊ" vs "oʊ"); " " between words; "_" for a pause inside a clause; the clause's
punctuation (, . ? !) at its end, carrying the pause eSpeak makes there. encode_text(text)
gives exactly the tokens the corpus stores for that text (the builder asserts it).

Durations (the rounding rule). Mel frame t is centred on sample t * hop_length. A frame
belongs to the phoneme sounding at its centre: phoneme k (starting at sample s_k) starts at
frame ceil(s_k / hop_length), the first phoneme at frame 0 (eSpeak may start it a few samples
in), and the last runs to T_mel = 1 + T_wav // hop_length. The durations are differences of
these boundaries, so they sum to T_mel exactly; a phoneme shorter than a hop may get 0 frames.
Pauses eSpeak inserts without a token lend their frames to the token before them.

Taught in lessons/07_tacotron2.ipynb, section 1 (text -> phonemes -> durations).
"""

from __future__ import annotations

import numpy as np

from minispeech.data.corpus import SPEAKERS

TTS_SPEAKER = SPEAKERS[0]  # us_m1: en-us+m1, pitch 50, 170 words per minute

# --------------------------------------------------------------------------------------------
# Symbols
# --------------------------------------------------------------------------------------------

# Read off eSpeak's en-us phonemes for 6,000 generated sentences, the sentence vocabulary, the
# number words and the letters. Vowels take stress marks; consonants (and syllabic əl, n̩) never do.
VOWELS = (
    "aɪ", "aɪə", "aɪɚ", "aʊ", "eɪ", "i", "iə", "iː", "oʊ", "uː", "æ", "ɐ", "ɑː", "ɑːɹ", "ɔ", "ɔɪ",
    "ɔː", "ɔːɹ", "ə", "ɚ", "ɛ", "ɛɹ", "ɜː", "ɪ", "ɪɹ", "ʊ", "ʊɹ", "ʌ", "ᵻ",
)  # fmt: skip
CONSONANTS = (
    "b", "d", "dʒ", "f", "h", "j", "k", "l", "m", "n", "n̩", "p", "s", "t", "tʃ", "v", "w", "z",
    "ð", "ŋ", "ɡ", "ɹ", "ɾ", "ʃ", "ʒ", "ʔ", "θ", "əl",
)  # fmt: skip
STRESS_MARKS = ("ˈ", "ˌ")  # primary, secondary
WORD_BOUNDARY, PAUSE = " ", "_"
CLAUSE_MARKS = (",", ".", "?", "!")
SPECIAL_SYMBOLS = ("<pad>", "<bos>", "<eos>")
TTS_SYMBOLS: tuple[str, ...] = (
    SPECIAL_SYMBOLS + (WORD_BOUNDARY, PAUSE) + CLAUSE_MARKS + CONSONANTS
    + tuple(mark + vowel for vowel in VOWELS for mark in ("", *STRESS_MARKS))
)  # fmt: skip
_SYMBOL_IDS = {symbol: index for index, symbol in enumerate(TTS_SYMBOLS)}


class TTSDataError(ValueError):
    """A TTS corpus or input problem; the message names the utterance and the fix."""


class NoPhonemesError(TTSDataError):
    """The text has nothing to pronounce."""


class UnknownPhonemeError(TTSDataError):
    """eSpeak wrote a phoneme outside TTS_SYMBOLS."""


class PhonemeAlignmentError(TTSDataError):
    """eSpeak's phonemes for the text and its synthesis events do not pair up."""


class DurationMismatchError(TTSDataError):
    """Durations do not sum to the number of mel frames."""


class SampleRateMismatchError(TTSDataError):
    """Audio or a model at another sample rate than the corpus."""


def symbol_ids(symbols: list[str]) -> list[int]:
    """Ids of TTS symbols; UnknownPhonemeError names the first one outside TTS_SYMBOLS."""
    for symbol in symbols:
        if symbol not in _SYMBOL_IDS:
            raise UnknownPhonemeError(
                f"phoneme {symbol!r} is not in TTS_SYMBOLS (eSpeak en-us); the TTS corpus "
                f"speaks with {TTS_SPEAKER.voice}: phonemize with that voice, or add the "
                f"symbol and rebuild"
            )
    return [_SYMBOL_IDS[symbol] for symbol in symbols]


def phonemize_slots(text: str, voice: str) -> list[list[list[str]]]:
    """eSpeak's phonemes of `text`: clauses -> words -> phonemes (IPA, stress attached).

    espeak.phonemize_clauses with "|" between the phonemes of a word. A pause that eSpeak writes
    inside a clause is an empty slot "".
    """
    from minispeech import espeak

    return [[word.split("|") for word in clause.split(" ") if word]
            for clause in espeak.phonemize_clauses(text, voice, separator="|")]


def _clause_marks(spoken: str, n_clauses: int) -> list[str]:
    """The punctuation ending each clause, read from the normalized text; "_" when unclear."""
    marks = [character for character in spoken if character in CLAUSE_MARKS]
    if len(marks) == n_clauses:
        return marks
    if len(marks) == n_clauses - 1:  # the text ends without punctuation
        return [*marks, PAUSE]
    return [PAUSE] * n_clauses


def _symbols_of(clauses: list[list[list[str]]], marks: list[str]) -> list[tuple[str, bool]]:
    """(symbol, is_spoken) in order: spoken symbols pair with one eSpeak phoneme event each."""
    symbols = []
    for clause, mark in zip(clauses, marks, strict=True):
        for position, word in enumerate(clause):
            if position > 0:
                symbols.append((WORD_BOUNDARY, False))
            symbols.extend(((slot or PAUSE), True) for slot in word)
        symbols.append((mark, False))
    return symbols


def encode_text(text: str, voice: str = TTS_SPEAKER.voice) -> tuple[list[str], list[int]]:
    """Raw text -> (symbols, ids): normalize, eSpeak phonemes, word boundaries, pauses, marks.

    >>> encode_text("Hi, you!")[0]
    ['h', 'ˈaɪ', ',', 'j', 'uː', '!']

    Raises NoPhonemesError for text with nothing to say. Lesson 07, section 1.
    """
    from minispeech.text import normalize

    try:
        spoken = normalize(text)
    except ValueError as error:  # empty, or nothing speakable
        raise NoPhonemesError(f"encode_text: {text!r} has no phonemes: {error}") from None
    clauses = phonemize_slots(spoken, voice) if spoken.strip(" .,?!") else []
    if not any(slot for clause in clauses for word in clause for slot in word):
        raise NoPhonemesError(
            f"encode_text: {text!r} has no phonemes (normalized: {spoken!r}); pass words to say"
        )
    symbols = [symbol for symbol, _ in _symbols_of(clauses, _clause_marks(spoken, len(clauses)))]
    return symbols, symbol_ids(symbols)


def phoneme_durations(starts: list[int], n_samples: int, hop_length: int) -> np.ndarray:
    """Frames per phoneme (E,) int32 from start samples (E,): the rounding rule of the module doc.

    Sums to 1 + n_samples // hop_length (T_mel with center=True) exactly.
    """
    starts = [int(start) for start in starts]
    if not starts:
        raise PhonemeAlignmentError("phoneme_durations: no phoneme events; eSpeak said nothing")
    if (
        any(later < earlier for earlier, later in zip(starts[:-1], starts[1:], strict=True))
        or starts[-1] > n_samples
    ):
        raise DurationMismatchError(
            f"phoneme_durations: start samples must not decrease nor pass n_samples={n_samples}, "
            f"got {starts}; pass eSpeak's phoneme events in order"
        )
    n_frames = 1 + n_samples // hop_length
    # Phoneme k starts at the first frame whose centre t * hop_length is >= its start sample.
    boundaries = [0] + [-(-start // hop_length) for start in starts[1:]] + [n_frames]
    durations = np.diff(np.asarray(boundaries, dtype=np.int64))
    return durations.astype(np.int32)


def align_tokens(
    spoken: str, clauses: list[list[list[str]]], events: list[list], n_samples: int, hop_length: int
) -> tuple[list[str], np.ndarray]:
    """Tokens and their durations (P,) in frames for one utterance, summing to T_mel.

    events: eSpeak's [[phoneme mnemonic, start sample], ...]; pause events are named "_...".
    A spoken token takes its event's frames; the end-of-clause mark takes the pauses there.
    """
    event_frames = phoneme_durations([sample for _, sample in events], n_samples, hop_length)
    symbols = _symbols_of(clauses, _clause_marks(spoken, len(clauses)))
    durations = np.zeros(len(symbols), dtype=np.int32)
    event = 0
    for index, (symbol, is_spoken) in enumerate(symbols):
        if is_spoken:
            # Pauses eSpeak adds with no slot of their own lend their frames to the token before.
            while symbol != PAUSE and event < len(events) and events[event][0].startswith("_"):
                durations[max(index - 1, 0)] += event_frames[event]
                event += 1
            if event >= len(events):
                raise PhonemeAlignmentError(
                    f"{spoken!r}: eSpeak's events end before the phoneme {symbol!r}"
                )
            durations[index] += event_frames[event]  # += keeps a leading pause lent to token 0
            event += 1
        elif symbol in CLAUSE_MARKS or symbol == PAUSE:  # end of a clause: its pauses
            while event < len(events) and events[event][0].startswith("_"):
                durations[index] += event_frames[event]
                event += 1
    if event != len(events):
        raise PhonemeAlignmentError(
            f"{spoken!r}: {len(events) - event} eSpeak events left after the last token "
            f"({[name for name, _ in events[event:]]})"
        )
    if int(durations.sum()) != 1 + n_samples // hop_length:
        raise DurationMismatchError(
            f"{spoken!r}: durations sum to {int(durations.sum())} frames, the mel has "
            f"{1 + n_samples // hop_length}"
        )
    return [symbol for symbol, _ in symbols], durations
