"""Checks for lessons/00_setup_data_text.ipynb: number words and a symbol table.

check_number_to_words   exercise 0.1, against minispeech.text.number_to_words
check_encode            exercise 0.2, against minispeech.text.SymbolTable.encode
check_decode            exercise 0.3, against minispeech.text.SymbolTable.decode
"""

from __future__ import annotations

from collections.abc import Callable

from minispeech.grading.checks import check_function, random_cases
from minispeech.text import CHARACTERS, SymbolTable, number_to_words

FIXED_NUMBERS = (
    0, 1, 7, 10, 11, 13, 15, 19, 20, 21, 42, 99, 100, 101, 110, 115, 999, 1000, 1001, 1010,
    2024, 10000, 12345, 100000, 999999, 1000000, 1000001, 2500000, 123456789, 1000000000,
    999999999999,
)  # fmt: skip


def check_number_to_words(student_number_to_words: Callable[[int], str]) -> None:
    """Exercise 0.1: every fixed case above, then 40 random numbers of every size below 10**12."""
    __tracebackhide__ = True
    cases = list(FIXED_NUMBERS) + random_cases(
        0, 40, lambda rng: int(rng.integers(0, 10 ** int(rng.integers(1, 13))))
    )
    check_function(
        student_number_to_words,
        number_to_words,
        [(n,) for n in cases],
        name="number_to_words",
        hint="compare your words with the expected ones at the first difference: the lesson's "
        "conventions are lowercase words, single spaces, no hyphens and no 'and'; a group that "
        "is zero says nothing.",
    )


SYMBOL_HINT = (
    "the first three ids belong to <pad>, <bos> and <eos>, so the alphabet's characters come "
    "after them: look at how far your ids are from the expected ones."
)


def _symbol_texts() -> list[str]:
    texts = ["", "a", "abc", "hello world", "it's fine, isn't it?", "zz top!"]
    return texts + random_cases(
        1, 20, lambda rng: "".join(rng.choice(list(CHARACTERS), size=rng.integers(1, 30)))
    )


def _id_offset(actual, expected, case) -> str | None:
    """'every id is 1 too small' when the ids are shifted by a constant."""
    if not isinstance(actual, list) or len(actual) != len(expected) or not expected:
        return None
    shifts = {int(a) - int(e) for a, e in zip(actual, expected, strict=True)}
    if len(shifts) == 1 and 0 not in shifts:
        shift = shifts.pop()
        return f"every id is {abs(shift)} too {'large' if shift > 0 else 'small'}"
    return None


def check_encode(student_encode: Callable[[str, str], list[int]]) -> None:
    """Exercise 0.2: encode(text, alphabet) with specials <pad>=0, <bos>=1, <eos>=2 first."""
    __tracebackhide__ = True

    def reference_encode(text: str, alphabet: str) -> list[int]:
        return SymbolTable(alphabet).encode(text)

    cases = [(t, CHARACTERS) for t in _symbol_texts()] + [("cab", "abc")]
    check_function(student_encode, reference_encode, cases, name="encode", hint=SYMBOL_HINT,
                   diagnose=_id_offset)  # fmt: skip
    try:
        student_encode("hi!", "hi")
    except ValueError as error:
        if "!" not in str(error):
            raise AssertionError(
                f"encode('hi!', 'hi') raised ValueError({error!s:.80}) but the message does not "
                "name the unknown character '!'"
            ) from None
    else:
        raise AssertionError(
            "encode('hi!', 'hi') returned instead of raising ValueError: '!' is not in the alphabet"
        )
    print("✓ encode: unknown characters raise ValueError naming the character")


def check_decode(student_decode: Callable[[list[int], str], str]) -> None:
    """Exercise 0.3: decode(ids, alphabet) skips <pad>, <bos>, <eos> (ids 0, 1, 2)."""
    __tracebackhide__ = True

    def reference_decode(ids: list[int], alphabet: str) -> str:
        return SymbolTable(alphabet).decode(ids)

    cases = [([1, 5, 3, 4, 2, 0, 0], "abc")]  # <bos> c a b <eos> <pad> <pad>
    cases += [(SymbolTable(CHARACTERS).encode(t), CHARACTERS) for t in _symbol_texts()]
    check_function(
        student_decode, reference_decode, cases, name="decode",
        hint=SYMBOL_HINT + " Special ids stand for no character at all in the text.",
    )  # fmt: skip
