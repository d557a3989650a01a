"""Edit (Levenshtein) distance between token sequences, and its S/D/I breakdown.

edit_distance             fewest substitutions + deletions + insertions turning ref into hyp
edit_distances            the same for many (ref, hyp) pairs in one Numba call (CER uses it)
word_edit_distances       the same for sentences split on whitespace like str.split (WER uses it)
alignment_ops             EditOps(substitutions, deletions, insertions, hits) of one best alignment
reference_hits            which ref tokens that alignment matches exactly (plain Python; per word)
*_reference               the plain-Python dynamic programme the lesson shows, same signatures

Tokens are any hashables: a string is a sequence of characters, a list of words is a
sequence of words. Python maps tokens to integer ids (characters to code points, other
tokens through a dict; word_edit_distances splits and interns words in Numba); the Numba
kernels only see int64 arrays. The distance kernel is Myers' bit-parallel algorithm (one
machine word holds 64 cells of a DP column, O(len(text) * len(pattern) / 64)); the
alignment kernel fills the whole table like the reference, then walks back.

Recurrence (D[i, j] = distance between ref[:i] and hyp[:j]):
    D[i, 0] = i,  D[0, j] = j
    D[i, j] = min(D[i-1, j] + 1,                          # delete ref[i-1]
                  D[i, j-1] + 1,                          # insert hyp[j-1]
                  D[i-1, j-1] + (ref[i-1] != hyp[j-1]))   # hit or substitution

Taught in lessons/04_ctc.ipynb, section 5 (word error rate).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import NamedTuple

import numba
import numpy as np

TokenSequence = Sequence[Hashable]  # a str (characters) or a list of words / ids


class EditOps(NamedTuple):
    """Counts along one minimum-cost alignment; hits + substitutions + deletions == len(ref)."""

    substitutions: int
    deletions: int
    insertions: int
    hits: int


# ----------------------------------------------------------------------------------------
# References: what the lesson shows
# ----------------------------------------------------------------------------------------


def edit_distance_reference(ref: TokenSequence, hyp: TokenSequence) -> int:
    """Levenshtein distance with two rows of the DP table (plain Python)."""
    previous_row = list(range(len(hyp) + 1))  # D[0, :]
    for i in range(1, len(ref) + 1):
        current_row = [i] + [0] * len(hyp)
        for j in range(1, len(hyp) + 1):
            current_row[j] = min(
                previous_row[j] + 1,  # deletion
                current_row[j - 1] + 1,  # insertion
                previous_row[j - 1] + (ref[i - 1] != hyp[j - 1]),  # hit / substitution
            )
        previous_row = current_row
    return previous_row[-1]


def _best_alignment(ref: TokenSequence, hyp: TokenSequence) -> list[str]:
    """The operations of one minimum-cost alignment, first to last: "hit", "substitution",
    "deletion" (a ref token with no partner) or "insertion" (a hyp token with none).

    Among equally good alignments we pick the one rapidfuzz (hence jiwer) reports: the
    common prefix and suffix are hits; walking back, take a deletion whenever it lies on a
    best path, else an insertion when the cell to the left beats the diagonal cell, else the
    diagonal (hit or substitution).
    """
    prefix = 0
    while prefix < min(len(ref), len(hyp)) and ref[prefix] == hyp[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(ref), len(hyp)) - prefix
        and ref[len(ref) - 1 - suffix] == hyp[len(hyp) - 1 - suffix]
    ):
        suffix += 1
    ref = ref[prefix : len(ref) - suffix]
    hyp = hyp[prefix : len(hyp) - suffix]

    table = [[0] * (len(hyp) + 1) for _ in range(len(ref) + 1)]
    for i in range(len(ref) + 1):
        table[i][0] = i
    for j in range(len(hyp) + 1):
        table[0][j] = j
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]),
            )

    backwards = ["hit"] * suffix
    i, j = len(ref), len(hyp)
    while i > 0 and j > 0:
        if table[i][j] == table[i - 1][j] + 1:
            backwards.append("deletion")
            i -= 1
        elif table[i][j - 1] < table[i - 1][j - 1]:
            backwards.append("insertion")
            j -= 1
        else:
            backwards.append("hit" if ref[i - 1] == hyp[j - 1] else "substitution")
            i -= 1
            j -= 1
    backwards += ["deletion"] * i + ["insertion"] * j + ["hit"] * prefix
    return backwards[::-1]


def alignment_ops_reference(ref: TokenSequence, hyp: TokenSequence) -> EditOps:
    """Fill the whole table, then walk back from the end counting operations (plain Python)."""
    operations = _best_alignment(ref, hyp)
    return EditOps(operations.count("substitution"), operations.count("deletion"),
                   operations.count("insertion"), operations.count("hit"))


def reference_hits(ref: TokenSequence, hyp: TokenSequence) -> list[bool]:
    """For each ref token, whether the best alignment (alignment_ops's) matches it exactly.

    >>> reference_hits("the cat sat".split(), "a cat sat down".split())
    [False, True, True]

    Word accuracy per word (minispeech.metrics.word_accuracy) is built on it.
    """
    return [operation == "hit" for operation in _best_alignment(ref, hyp) if operation != "insertion"]


# ----------------------------------------------------------------------------------------
# Token ids: what the kernels see
# ----------------------------------------------------------------------------------------


def _flatten_to_ids(
    sequences: Sequence[TokenSequence],
) -> tuple[np.ndarray, np.ndarray, int]:
    """Concatenate token sequences as int64 ids -> (ids, offsets (N + 1,), alphabet size).

    Sequence k is ids[offsets[k]:offsets[k + 1]]. Strings use Unicode code points (no
    dict needed); anything else goes through one dict shared by all sequences.
    """
    lengths = np.fromiter((len(sequence) for sequence in sequences), np.int64, len(sequences))
    offsets = np.zeros(len(sequences) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if all(isinstance(sequence, str) for sequence in sequences):
        ids, _ = _code_points(sequences)
    else:
        vocabulary: defaultdict[Hashable, int] = defaultdict()
        vocabulary.default_factory = vocabulary.__len__  # the next free id
        ids = np.array(
            [vocabulary[token] for sequence in sequences for token in sequence], np.int64
        )
    alphabet_size = int(ids.max()) + 1 if ids.size else 1
    return ids, offsets, alphabet_size


def _code_points(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All strings' Unicode code points, concatenated -> (codes int64, offsets (N + 1,))."""
    lengths = np.fromiter((len(string) for string in strings), np.int64, len(strings))
    offsets = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(strings).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, np.uint32).astype(np.int64), offsets


# str.split() separators (str.isspace); the largest is U+3000
_WHITESPACE_CODE_POINTS = (
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
    *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
)  # fmt: skip
_IS_WHITESPACE = np.zeros(0x3001, np.bool_)
_IS_WHITESPACE[list(_WHITESPACE_CODE_POINTS)] = True


def _pair_ids(ref: TokenSequence, hyp: TokenSequence) -> tuple[np.ndarray, np.ndarray, int]:
    ids, offsets, alphabet_size = _flatten_to_ids([ref, hyp])
    return ids[offsets[0] : offsets[1]], ids[offsets[1] : offsets[2]], alphabet_size


# ----------------------------------------------------------------------------------------
# Numba kernels
# ----------------------------------------------------------------------------------------

_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_TOP_BIT = np.uint64(1) << np.uint64(63)


@numba.njit(cache=True)
def _myers_distance(
    pattern_ids, pattern_start, m, text_ids, text_start, n,
    match_masks, row_of_symbol, positive_vertical, negative_vertical,
):  # fmt: skip
    """Levenshtein distance by Myers (1999), block version; the pattern is the shorter one.

    pattern = pattern_ids[pattern_start:pattern_start + m], text likewise (length n).

    Column j of the DP table is kept as bit vectors of vertical deltas D[i, j] - D[i-1, j]:
    +1 in positive_vertical, -1 in negative_vertical, 64 rows per uint64 block.
    match_masks[row_of_symbol[c], block] has bit i set where pattern[i] == c.
    """
    if m == 0:
        return n
    n_blocks = (m + 63) // 64

    n_rows = 0  # give each distinct pattern symbol a row of match bits
    for i in range(m):
        symbol = pattern_ids[pattern_start + i]
        row = row_of_symbol[symbol]
        if row < 0:
            row = n_rows
            row_of_symbol[symbol] = row
            n_rows += 1
            for block in range(n_blocks):
                match_masks[row, block] = _ZERO
        match_masks[row, i >> 6] |= _ONE << np.uint64(i & 63)

    for block in range(n_blocks):
        positive_vertical[block] = ~_ZERO  # D[i, 0] - D[i-1, 0] = +1
        negative_vertical[block] = _ZERO
    last_bit = _ONE << np.uint64((m - 1) & 63)
    score = m  # D[m, 0]

    for j in range(n):
        row = row_of_symbol[text_ids[text_start + j]]
        horizontal_in = 1  # D[0, j+1] - D[0, j] = +1 enters the top block
        for block in range(n_blocks):
            equal = match_masks[row, block] if row >= 0 else _ZERO
            pv = positive_vertical[block]
            mv = negative_vertical[block]
            xv = equal | mv
            if horizontal_in < 0:
                equal |= _ONE
            xh = (((equal & pv) + pv) ^ pv) | equal
            ph = mv | ~(xh | pv)
            mh = pv & xh
            high = _TOP_BIT if block < n_blocks - 1 else last_bit
            horizontal_out = 0
            if (ph & high) != _ZERO:
                horizontal_out = 1
            elif (mh & high) != _ZERO:
                horizontal_out = -1
            ph <<= _ONE
            mh <<= _ONE
            if horizontal_in < 0:
                mh |= _ONE
            elif horizontal_in > 0:
                ph |= _ONE
            positive_vertical[block] = mh | ~(xv | ph)
            negative_vertical[block] = ph & xv
            horizontal_in = horizontal_out
        score += horizontal_in

    for i in range(m):  # leave the symbol table clean for the next pair
        row_of_symbol[pattern_ids[pattern_start + i]] = -1
    return score


@numba.njit(cache=True)
def _edit_distances_kernel(
    ref_ids, ref_offsets, hyp_ids, hyp_offsets,
    match_masks, row_of_symbol, positive_vertical, negative_vertical,
):  # fmt: skip
    n_pairs = ref_offsets.shape[0] - 1
    distances = np.empty(n_pairs, np.int64)
    for k in range(n_pairs):
        ref_start, ref_length = ref_offsets[k], ref_offsets[k + 1] - ref_offsets[k]
        hyp_start, hyp_length = hyp_offsets[k], hyp_offsets[k + 1] - hyp_offsets[k]
        if ref_length <= hyp_length:
            distances[k] = _myers_distance(
                ref_ids, ref_start, ref_length, hyp_ids, hyp_start, hyp_length,
                match_masks, row_of_symbol, positive_vertical, negative_vertical,
            )  # fmt: skip
        else:
            distances[k] = _myers_distance(
                hyp_ids, hyp_start, hyp_length, ref_ids, ref_start, ref_length,
                match_masks, row_of_symbol, positive_vertical, negative_vertical,
            )  # fmt: skip
    return distances


def _distances_from_ids(
    ref_ids: np.ndarray, ref_offsets: np.ndarray, hyp_ids: np.ndarray, hyp_offsets: np.ndarray,
    alphabet_size: int,
) -> np.ndarray:  # fmt: skip
    """Allocate the Myers work buffers once for all pairs, then run the kernel."""
    pattern_lengths = np.minimum(np.diff(ref_offsets), np.diff(hyp_offsets))
    longest_pattern = max(int(pattern_lengths.max(initial=0)), 1)
    n_blocks = (longest_pattern + 63) // 64
    return _edit_distances_kernel(
        ref_ids, ref_offsets, hyp_ids, hyp_offsets,
        np.zeros((min(longest_pattern, alphabet_size), n_blocks), np.uint64),  # match_masks
        np.full(alphabet_size, -1, np.int64),  # row_of_symbol
        np.zeros(n_blocks, np.uint64), np.zeros(n_blocks, np.uint64),  # vertical deltas
    )  # fmt: skip


@numba.njit(cache=True)
def _same_span(codes, start_a, start_b, length):
    for k in range(length):
        if codes[start_a + k] != codes[start_b + k]:
            return False
    return True


@numba.njit(cache=True)
def _is_separator(code, is_whitespace):
    return code < is_whitespace.shape[0] and is_whitespace[code]


@numba.njit(cache=True)
def _split_and_intern_words(codes, sentence_offsets, is_whitespace):
    """Split every sentence on whitespace and number the distinct words.

    -> (word_ids (n_words,), word_offsets (N + 1,), n_distinct): sentence k's words are
    word_ids[word_offsets[k]:word_offsets[k + 1]]; equal words get equal ids. The interning
    is an open-addressing hash table (FNV-1a hash) that compares code points on every hit.
    """
    n_sentences = sentence_offsets.shape[0] - 1
    n_words = 0  # first pass: count words to size the tables
    for k in range(n_sentences):
        previous_is_separator = True
        for position in range(sentence_offsets[k], sentence_offsets[k + 1]):
            separator = _is_separator(codes[position], is_whitespace)
            if previous_is_separator and not separator:
                n_words += 1
            previous_is_separator = separator

    capacity = 16
    while capacity < 2 * n_words:  # load factor <= 1/2
        capacity *= 2
    id_in_slot = np.full(capacity, -1, np.int64)
    distinct_start = np.empty(n_words, np.int64)  # first occurrence of each distinct word
    distinct_length = np.empty(n_words, np.int64)
    word_ids = np.empty(n_words, np.int64)
    word_offsets = np.zeros(n_sentences + 1, np.int64)
    n_words = 0
    n_distinct = 0
    for k in range(n_sentences):
        position = sentence_offsets[k]
        end = sentence_offsets[k + 1]
        while position < end:
            if _is_separator(codes[position], is_whitespace):
                position += 1
                continue
            start = position
            hash_value = np.uint64(14695981039346656037)
            while position < end and not _is_separator(codes[position], is_whitespace):
                hash_value = (hash_value ^ np.uint64(codes[position])) * np.uint64(1099511628211)
                position += 1
            length = position - start
            slot = np.int64(hash_value & np.uint64(capacity - 1))
            while True:
                word = id_in_slot[slot]
                if word < 0:  # a new word
                    id_in_slot[slot] = n_distinct
                    distinct_start[n_distinct] = start
                    distinct_length[n_distinct] = length
                    word = n_distinct
                    n_distinct += 1
                    break
                if distinct_length[word] == length and _same_span(
                    codes, distinct_start[word], start, length
                ):
                    break
                slot = (slot + 1) & (capacity - 1)
            word_ids[n_words] = word
            n_words += 1
        word_offsets[k + 1] = n_words
    return word_ids, word_offsets, max(n_distinct, 1)


@numba.njit(cache=True)
def _alignment_ops_kernel(ref, hyp):
    """Same table and walk-back as alignment_ops_reference -> (S, D, I, H)."""
    prefix = 0
    while prefix < min(ref.shape[0], hyp.shape[0]) and ref[prefix] == hyp[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(ref.shape[0], hyp.shape[0]) - prefix
        and ref[ref.shape[0] - 1 - suffix] == hyp[hyp.shape[0] - 1 - suffix]
    ):
        suffix += 1
    ref = ref[prefix : ref.shape[0] - suffix]
    hyp = hyp[prefix : hyp.shape[0] - suffix]
    m, n = ref.shape[0], hyp.shape[0]

    table = np.empty((m + 1, n + 1), np.int32)
    for i in range(m + 1):
        table[i, 0] = i
    for j in range(n + 1):
        table[0, j] = j
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            table[i, j] = min(
                table[i - 1, j] + 1,
                table[i, j - 1] + 1,
                table[i - 1, j - 1] + (1 if ref[i - 1] != hyp[j - 1] else 0),
            )

    substitutions = deletions = insertions = 0
    hits = prefix + suffix
    i, j = m, n
    while i > 0 and j > 0:
        if table[i, j] == table[i - 1, j] + 1:
            deletions += 1
            i -= 1
        elif table[i, j - 1] < table[i - 1, j - 1]:
            insertions += 1
            j -= 1
        else:
            if ref[i - 1] == hyp[j - 1]:
                hits += 1
            else:
                substitutions += 1
            i -= 1
            j -= 1
    return substitutions, deletions + i, insertions + j, hits


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------


def edit_distance(ref: TokenSequence, hyp: TokenSequence) -> int:
    """Levenshtein distance between two token sequences (unit costs).

    >>> edit_distance("kitten", "sitting"), edit_distance("a b c".split(), "a c".split())
    (3, 1)

    Taught in lessons/04_ctc.ipynb, section 5.
    """
    ids, offsets, alphabet_size = _flatten_to_ids([ref, hyp])
    distances = _distances_from_ids(ids, offsets[:2], ids, offsets[1:], alphabet_size)
    return int(distances[0])


def edit_distances(
    references: Sequence[TokenSequence], hypotheses: Sequence[TokenSequence]
) -> np.ndarray:
    """Levenshtein distance of each (reference, hypothesis) pair -> int64 array (N,).

    One Python pass maps tokens to ids, then one Numba call does all pairs.
    Taught in lessons/04_ctc.ipynb, section 5.
    """
    if len(references) != len(hypotheses):
        raise ValueError(
            f"edit_distances: got {len(references)} references and {len(hypotheses)} "
            "hypotheses; pass one hypothesis per reference"
        )
    ids, offsets, alphabet_size = _flatten_to_ids([*references, *hypotheses])
    n_pairs = len(references)
    return _distances_from_ids(ids, offsets[: n_pairs + 1], ids, offsets[n_pairs:], alphabet_size)


def word_edit_distances(
    references: Sequence[str], hypotheses: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Word-level distance of each sentence pair -> (distances (N,), reference word counts (N,)).

    Words are what str.split() returns (any run of Unicode whitespace separates), with no
    other normalization. Equal to edit_distances([r.split() ...], [h.split() ...]), but the
    splitting and word numbering run in Numba, which is several times faster in Python.
    Taught in lessons/04_ctc.ipynb, section 5.
    """
    if len(references) != len(hypotheses):
        raise ValueError(
            f"word_edit_distances: got {len(references)} references and {len(hypotheses)} "
            "hypotheses; pass one hypothesis per reference"
        )
    codes, sentence_offsets = _code_points([*references, *hypotheses])
    word_ids, word_offsets, n_distinct = _split_and_intern_words(
        codes, sentence_offsets, _IS_WHITESPACE
    )
    n_pairs = len(references)
    distances = _distances_from_ids(
        word_ids, word_offsets[: n_pairs + 1], word_ids, word_offsets[n_pairs:], n_distinct
    )
    return distances, np.diff(word_offsets[: n_pairs + 1])


def alignment_ops(ref: TokenSequence, hyp: TokenSequence) -> EditOps:
    """Substitutions, deletions, insertions and hits along one minimum-cost alignment.

    S + D + I == edit_distance(ref, hyp). Ties between equally good alignments are broken
    like rapidfuzz, so the counts equal jiwer.process_words' (for sequences up to a few
    thousand tokens, where rapidfuzz does not switch to Hirschberg's algorithm).
    Memory is one int32 table of (len(ref) + 1) x (len(hyp) + 1).

    >>> alignment_ops("the cat sat".split(), "the cat sat down".split())
    EditOps(substitutions=0, deletions=0, insertions=1, hits=3)

    Taught in lessons/04_ctc.ipynb, section 5.
    """
    ref_ids, hyp_ids, _ = _pair_ids(ref, hyp)
    substitutions, deletions, insertions, hits = _alignment_ops_kernel(ref_ids, hyp_ids)
    return EditOps(int(substitutions), int(deletions), int(insertions), int(hits))
