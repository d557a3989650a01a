"""Checks for lessons/00_setup_data_text.ipynb: number words and a symbol table.

check_number_to_words   exercise 0.1, against minispeech.text.number_to_words
check_symbol_table      exercise 0.2, against minispeech.text.SymbolTable
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
        hint="words are lowercase and separated by single spaces, with no hyphens and no 'and' "
        "(1001 -> 'one thousand one'); groups are thousand, million, billion.",
    )


def check_symbol_table(
    student_encode: Callable[[str, str], list[int]],
    student_decode: Callable[[list[int], str], str],
) -> None:
    """Exercise 0.2: encode/decode with specials <pad>=0, <bos>=1, <eos>=2 first, then the alphabet."""
    __tracebackhide__ = True
    texts = ["", "a", "abc", "hello world", "it's fine, isn't it?", "zz top!"]
    texts += random_cases(1, 20, lambda rng: "".join(rng.choice(list(CHARACTERS), size=rng.integers(1, 30))))
    hint = "ids 0, 1, 2 are <pad>, <bos>, <eos>; the alphabet's i-th character gets id i + 3."

    def reference_encode(text: str, alphabet: str) -> list[int]:
        return SymbolTable(alphabet).encode(text)

    def reference_decode(ids: list[int], alphabet: str) -> str:
        return SymbolTable(alphabet).decode(ids)

    check_function(
        student_encode, reference_encode, [(t, CHARACTERS) for t in texts] + [("cab", "abc")],
        name="encode", hint=hint,
    )  # fmt: skip
    id_cases = [(SymbolTable(CHARACTERS).encode(t), CHARACTERS) for t in texts]
    id_cases.append(([1, 5, 3, 4, 2, 0, 0], "abc"))  # <bos> c a b <eos> <pad> <pad>
    check_function(
        student_decode, reference_decode, id_cases, name="decode",
        hint=hint + " decode skips the special ids.",
    )  # fmt: skip
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
