"""Symbol tables: text <-> integer ids, one Unicode character per symbol.

SymbolTable   encode(text) -> ids, decode(ids) -> text, id(symbol), len(table), symbols
CHARACTERS    the alphabet `normalize` writes: space, a-z, apostrophe, . , ? !
PHONEMES      the IPA characters eSpeak NG writes for English (en-us, en-gb and its accents)
characters()  the SymbolTable over CHARACTERS
phonemes()    the SymbolTable over PHONEMES

Every table starts with three reserved symbols: "<pad>" (id 0), "<bos>" (id 1), "<eos>" (id 2).
CTC models use id 0 as their blank: padding and blank are never both needed as outputs, and
sharing id 0 keeps one convention for every model (attention decoders use <bos>/<eos>).
There is deliberately no "<unk>": a character outside the table raises ValueError, because a
silent <unk> hides a broken text front end.

IPA is tokenized per Unicode character ("tʃ" is two symbols, "ˈ" and "ː" are symbols of
their own): simple, and robust to any combination eSpeak writes.

Taught in lessons/00_setup_data_text.ipynb, section 5.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL_SYMBOLS = (PAD, BOS, EOS)

CHARACTERS = " abcdefghijklmnopqrstuvwxyz'.,?!"

# Read off espeak_TextToPhonemes (IPA mode) for about 2,000 words (the sentence vocabulary,
# number words, spelled letters, loanwords, random letter strings) in every English voice:
# en-us, en-us-nyc, en (British), en-gb-x-rp, en-gb-scotland, en-gb-x-gbclan, en-gb-x-gbcwmd,
# en-029. Written out here so that importing needs no eSpeak; tests/test_text.py re-checks it
# against eSpeak when it is installed. Notes: en-gb-scotland writes length as ASCII ":",
# en-029 writes dental "t̪" with a combining bridge, en-us writes "ᵻ" (U+1D7B) in "-ed"/"-es".
_PUNCTUATION = " .,?!"  # phonemize writes spaces; pause marks are kept for phoneme strings built with them
_STRESS_AND_LENGTH = "ˈˌː:"
_VOWELS = "aeiouæɐɑɒɔəɚɛɜɪʉʊʌᵻ"
_CONSONANTS = "bdfhjklmnprstvwxzðŋɡɬɹɾʃʍʒʔθ"
_DIACRITICS = "ʲ\u0303\u0329\u032a"  # palatalized, combining tilde (nasal), syllabic, dental
PHONEMES = _PUNCTUATION + _STRESS_AND_LENGTH + _VOWELS + _CONSONANTS + _DIACRITICS


class SymbolTable:
    """A fixed list of one-character symbols with ids; specials first (<pad>=0, <bos>=1, <eos>=2).

    >>> table = SymbolTable("ab", name="toy")
    >>> table.encode("abba")
    [3, 4, 4, 3]
    >>> table.decode([1, 3, 4, 2])
    'ab'

    Taught in lessons/00_setup_data_text.ipynb, section 5 (exercise 5.1).
    """

    pad_id = 0
    bos_id = 1
    eos_id = 2

    def __init__(self, symbols: Iterable[str], name: str = "symbols", hint: str = "") -> None:
        symbols = tuple(symbols)
        for position, symbol in enumerate(symbols):
            if not isinstance(symbol, str) or len(symbol) != 1:
                raise ValueError(
                    f"SymbolTable {name}: symbol {position} is {symbol!r}; every symbol must be one character"
                )
        duplicates = sorted({symbol for symbol in symbols if symbols.count(symbol) > 1})
        if duplicates:
            raise ValueError(f"SymbolTable {name}: symbols {duplicates} appear more than once")
        self._symbols = SPECIAL_SYMBOLS + symbols
        self._ids = {symbol: index for index, symbol in enumerate(self._symbols)}
        self._name = name
        self._hint = hint

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol in id order: symbols[i] is the symbol of id i (specials included)."""
        return self._symbols

    @property
    def name(self) -> str:
        return self._name

    @property
    def blank_id(self) -> int:
        """The CTC blank: id 0, shared with <pad>."""
        return self.pad_id

    def __len__(self) -> int:
        return len(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymbolTable) and self._symbols == other._symbols

    def __hash__(self) -> int:
        return hash(self._symbols)

    def __repr__(self) -> str:
        return f"SymbolTable(name={self._name!r}, size={len(self)}, symbols={''.join(self._symbols[3:])!r})"

    def id(self, symbol: str) -> int:
        """The id of one symbol (specials included): table.id("<pad>") == 0."""
        if symbol not in self._ids:
            raise ValueError(f"SymbolTable {self._name}: {symbol!r} is not a symbol of this table")
        return self._ids[symbol]

    def encode(self, text: str, add_bos_eos: bool = False) -> list[int]:
        """One id per character of `text`; optionally wrapped in <bos> ... <eos>."""
        if not isinstance(text, str):
            raise TypeError(f"SymbolTable {self._name}: encode takes a str, got {type(text).__name__}")
        ids = [self.bos_id] if add_bos_eos else []
        for position, char in enumerate(text):
            index = self._ids.get(char)
            if index is None:
                raise ValueError(
                    f"SymbolTable {self._name}: character {char!r} (U+{ord(char):04X}) at position "
                    f"{position} of {text!r} is not in the table. {self._hint}".rstrip()
                )
            ids.append(index)
        if add_bos_eos:
            ids.append(self.eos_id)
        return ids

    def decode(self, ids: Iterable[int], keep_special: bool = False) -> str:
        """Text for ids (a list, NumPy array or 1-D tensor); <pad>, <bos>, <eos> are skipped
        unless keep_special, which writes them out as "<pad>" and so on."""
        pieces = []
        for position, value in enumerate(ids):
            index = int(value)
            if not 0 <= index < len(self._symbols):
                raise ValueError(
                    f"SymbolTable {self._name}: id {index} at position {position} is outside 0..{len(self) - 1}"
                )
            if index < len(SPECIAL_SYMBOLS) and not keep_special:
                continue
            pieces.append(self._symbols[index])
        return "".join(pieces)


@cache
def characters() -> SymbolTable:
    """The character table for normalized text (ids 3.. follow CHARACTERS)."""
    return SymbolTable(
        CHARACTERS, name="characters", hint="Normalize the text first: minispeech.text.normalize(text)."
    )


@cache
def phonemes() -> SymbolTable:
    """The IPA phoneme table for eSpeak NG English (ids 3.. follow PHONEMES)."""
    return SymbolTable(
        PHONEMES,
        name="phonemes",
        hint="Phonemes must come from minispeech.espeak.phonemize with an English voice.",
    )
