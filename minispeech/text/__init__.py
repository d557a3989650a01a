"""The text front end: written English -> spoken words -> symbol ids.

normalize         numbers, dates, money, times, abbreviations -> lowercase spoken words
number_to_words   ordinal_to_words   year_to_words
SymbolTable       encode/decode one character per symbol; <pad>=0 (CTC blank), <bos>=1, <eos>=2
characters        the table over CHARACTERS, the alphabet normalize writes
phonemes          the table over eSpeak NG's English IPA characters
CHARACTERS        " abcdefghijklmnopqrstuvwxyz'.,?!"

Files: normalization.py (normalize and the number words), symbols.py (the tables). No file
is named after a function it holds, so `minispeech.text.normalize` is the function.
Taught in lessons/00_setup_data_text.ipynb, sections 4-5.
"""

from minispeech.text.normalization import (
    normalize,
    number_to_words,
    ordinal_to_words,
    year_to_words,
)
from minispeech.text.symbols import CHARACTERS, PHONEMES, SymbolTable, characters, phonemes

__all__ = [
    "CHARACTERS",
    "PHONEMES",
    "SymbolTable",
    "characters",
    "normalize",
    "number_to_words",
    "ordinal_to_words",
    "phonemes",
    "year_to_words",
]
