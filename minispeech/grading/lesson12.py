"""Checks for lessons/12_valle.ipynb: the GE2E similarity matrix, the AR prefix mask, top-k / top-p filtering,
the NAR stage input.

check_ge2e_similarity  exercise 12.1, against minispeech.models.speaker.ge2e_similarity
check_ar_mask          exercise 12.2, against minispeech.models.valle.ar_attention_mask
check_filter_logits    exercise 12.3, against minispeech.models.valle.filter_logits
check_stage_input      exercise 12.4, against NonAutoregressiveModel.stage_input (the sum of the embeddings of
                       the codebooks before the stage, each through its own table)

Each check's `diagnose` recomputes the answers of the likely mistakes (an own centroid that includes the
utterance, a causal mask over the text too, the nucleus cut one id early, the stage's own codebook summed in,
...) and names the one the student's answer equals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import as_tensor, check_function, random_cases, tensors_close

# --- 12.1 the GE2E similarity matrix ---------------------------------------------------------------


def _ge2e_case(rng: np.random.Generator) -> tuple:
    import torch

    speakers, utterances, size = int(rng.integers(2, 5)), int(rng.integers(2, 5)), int(rng.integers(2, 6))
    embeddings = as_tensor(rng.normal(size=(speakers, utterances, size)))
    weight = torch.tensor(float(rng.uniform(0.5, 12.0)), dtype=torch.float64)
    bias = torch.tensor(float(rng.uniform(-6.0, 1.0)), dtype=torch.float64)
    return (embeddings, weight, bias)


def _reference_ge2e(embeddings, weight, bias):
    from minispeech.models.speaker import ge2e_similarity

    return ge2e_similarity(embeddings, weight, bias)


def _ge2e_variant(embeddings, weight, bias, exclusive=True, normalized=True, scaled=True):
    import torch
    import torch.nn.functional as F

    speakers, utterances, _ = embeddings.shape
    centroids = embeddings.mean(1)  # (N, E)
    if normalized:
        cosine = F.normalize(embeddings, dim=-1) @ F.normalize(centroids, dim=-1).T  # (N, M, N)
    else:
        cosine = embeddings @ centroids.T
    if exclusive:
        own_centroids = (embeddings.sum(1, keepdim=True) - embeddings) / (utterances - 1)  # (N, M, E)
        own = F.cosine_similarity(embeddings, own_centroids, dim=-1) if normalized else (embeddings * own_centroids).sum(-1)
        same = torch.eye(speakers, dtype=torch.bool)[:, None, :]
        cosine = torch.where(same, own[:, :, None], cosine)
    return weight * cosine + bias if scaled else cosine


def _diagnose_ge2e(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor):
        return f"return a torch tensor (N, M, N) = {tuple(expected.shape)}"
    mistakes = {
        "an utterance's own speaker's centroid leaves that utterance out: (sum of the others) / (M - 1)":
            _ge2e_variant(*case, exclusive=False),
        "the similarity is the cosine (dot product of unit vectors), not the raw dot product":
            _ge2e_variant(*case, normalized=False),
        "the cosine is scaled and shifted by the learnt w and b: w cos + b": _ge2e_variant(*case, scaled=False),
    }  # fmt: skip
    for what, value in mistakes.items():
        if tensors_close(actual, value):
            return what
    if actual.shape == expected.shape and tensors_close(actual, expected.transpose(0, 2).transpose(1, 2)):
        return "S[j, i, k]: speaker j's utterance i against speaker k's centroid, in that order"
    return None


def check_ge2e_similarity(student_ge2e_similarity: Callable) -> None:
    """Exercise 12.1: S[j, i, k] = w cos(e_ji, c_k) + b with the own centroid excluding e_ji, for 2-4
    speakers x 2-4 utterances, against minispeech.models.speaker.ge2e_similarity."""
    __tracebackhide__ = True
    cases = random_cases(120, 14, _ge2e_case)
    check_function(
        student_ge2e_similarity, _reference_ge2e, cases, name="ge2e_similarity", atol=1e-9, rtol=1e-7,
        diagnose=_diagnose_ge2e,
        hint="each speaker's centroid is the mean of its utterances' embeddings, except when an utterance is "
        "compared with its own speaker: then the centroid must not contain that utterance. Compare directions, "
        "not lengths, then apply the learnt scale and shift.",
    )  # fmt: skip


# --- 12.2 the AR prefix mask ---------------------------------------------------------------------


def _mask_case(rng: np.random.Generator) -> tuple:
    import torch

    batch_size = int(rng.integers(1, 4))
    text = torch.from_numpy(rng.integers(1, 5, size=batch_size))
    audio = torch.from_numpy(rng.integers(1, 6, size=batch_size))
    length = int((text + audio).max()) + int(rng.integers(0, 3))  # padding at the end of every row sometimes
    return (text, audio, length)


def _mask_fixed_cases() -> list[tuple]:
    import torch

    rng = np.random.default_rng(121)
    return [(torch.tensor([2]), torch.tensor([3]), 5), (torch.tensor([2, 1]), torch.tensor([4, 2]), 6),
            _mask_case(rng)]  # fmt: skip


def _reference_mask(text_lengths, audio_lengths, length):
    from minispeech.models.valle import ar_attention_mask

    return ar_attention_mask(text_lengths, audio_lengths, length)


def _mask_variant(text_lengths, audio_lengths, length, text_causal=False, text_reads_audio=False,
                  audio_reads_text=True, padding_diagonal=True, audio_causal=True):  # fmt: skip
    import torch

    index = torch.arange(length)
    text = index[None] < text_lengths[:, None]
    real = index[None] < (text_lengths + audio_lengths)[:, None]
    audio = real & ~text
    causal = index[None, :, None] >= index[None, None, :]
    keep = (text[:, :, None] & text[:, None, :]) & (causal if text_causal else True)
    if audio_reads_text:
        keep = keep | (audio[:, :, None] & text[:, None, :])
    keep = keep | (audio[:, :, None] & audio[:, None, :] & (causal if audio_causal else True))
    if text_reads_audio:
        keep = keep | (text[:, :, None] & audio[:, None, :])
    if padding_diagonal:
        keep = keep | (~real[:, :, None] & torch.eye(length, dtype=torch.bool))
    return keep


def _diagnose_mask(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor) or actual.dtype != torch.bool:
        return "return a bool tensor (B, L, L): True where the query (row) may read the key (column)"
    if actual.shape != expected.shape:
        return f"the mask is (B, L, L) = {tuple(expected.shape)}: one row per query position, one column per key"
    mistakes = {
        "the phonemes are all given at once: a text position reads every text position, not only earlier ones":
            _mask_variant(*case, text_causal=True),
        "a text position must not read the audio (it would see the target it helps predict)":
            _mask_variant(*case, text_reads_audio=True),
        "an audio position reads every text position as well as the earlier audio":
            _mask_variant(*case, audio_reads_text=False),
        "an audio position reads only the audio up to itself, never later audio (it would see the answer)":
            _mask_variant(*case, audio_causal=False),
        "a padding position reads only itself: with no key at all its softmax row would be 0 / 0":
            _mask_variant(*case, padding_diagonal=False),
    }  # fmt: skip
    for what, value in mistakes.items():
        if torch.equal(actual, value):
            return what
    if torch.equal(actual, expected.transpose(1, 2)):
        return "rows are queries and columns keys: yours is transposed"
    return None


def check_ar_mask(student_ar_mask: Callable) -> None:
    """Exercise 12.2: the prefix attention mask over [text ; audio ; padding] rows, against
    minispeech.models.valle.ar_attention_mask."""
    __tracebackhide__ = True
    cases = _mask_fixed_cases() + random_cases(122, 12, _mask_case)
    check_function(
        student_ar_mask, _reference_mask, cases, name="ar_attention_mask", atol=0, rtol=0, diagnose=_diagnose_mask,
        hint="three kinds of query: text, audio and padding. Ask for each what it may know when the model runs: "
        "the whole sentence is given up front, the audio is produced one position at a time, and padding "
        "is nothing at all (yet every row needs one True).",
    )  # fmt: skip


# --- 12.3 top-k and top-p filtering ----------------------------------------------------------------


def _filter_case(rng: np.random.Generator) -> tuple:
    batch_size, vocabulary = int(rng.integers(1, 4)), int(rng.integers(2, 10))
    logits = as_tensor(np.round(rng.normal(size=(batch_size, vocabulary)) * 2, 1))  # rounded: ties happen
    top_k = None if rng.random() < 0.3 else int(rng.integers(1, vocabulary + 2))
    top_p = None if rng.random() < 0.3 else float(rng.choice([0.1, 0.3, 0.5, 0.7, 0.9, 1.0]))
    return (logits, top_k, top_p)


def _filter_fixed_cases() -> list[tuple]:
    import math

    import torch

    rng = np.random.default_rng(123)
    # probabilities 0.5, 0.3, 0.2: top_p 0.6 keeps the first two (0.5 < 0.6 above the second)
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64))
    return [(logits, None, 0.6), (logits, 2, None), (logits, None, 0.5), (logits + math.log(2.0), 1, 0.9),
            _filter_case(rng)]  # fmt: skip


def _reference_filter(logits, top_k, top_p):
    from minispeech.models.valle import filter_logits

    return filter_logits(logits, top_k, top_p)


def _filter_variant(logits, top_k, top_p, inclusive=False, raw_logits=False, order="k-then-p", k_strict=False):
    import torch

    def by_k(values):
        if top_k is None or top_k >= values.shape[-1]:
            return values
        if k_strict:  # exactly k ids, ties broken by position
            keep = torch.zeros_like(values, dtype=torch.bool).scatter(-1, torch.topk(values, top_k, dim=-1).indices, True)
            return values.masked_fill(~keep, float("-inf"))
        return values.masked_fill(values < torch.topk(values, top_k, dim=-1).values[:, -1:], float("-inf"))

    def by_p(values):
        if top_p is None or top_p >= 1:
            return values
        sorted_values, order_ = torch.sort(values, dim=-1, descending=True)
        mass = sorted_values if raw_logits else sorted_values.softmax(-1)
        cumulative = mass.cumsum(-1)
        drop_sorted = cumulative > top_p if inclusive else (cumulative - mass) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order_, drop_sorted)
        return values.masked_fill(drop, float("-inf"))

    return by_k(by_p(logits)) if order == "p-then-k" else by_p(by_k(logits))


def _diagnose_filter(actual, expected, case) -> str | None:
    import torch

    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return f"return the logits themselves, shape {tuple(expected.shape)}, with -inf at the removed ids"
    kept, want_kept = torch.isfinite(actual), torch.isfinite(expected)
    if torch.equal(kept, want_kept):
        return "the kept ids are right but their logits changed: leave them as they are"
    if (actual[~want_kept] == 0).any() or (~kept & (actual != float("-inf"))).any():
        return "removed ids get -inf (probability 0 after the softmax), not 0"
    mistakes = {
        "the nucleus keeps the id that crosses p too: drop an id only when the mass ranked above it is already >= p":
            _filter_variant(*case, inclusive=True),
        "top_p sums probabilities (the softmax of the logits), not the logits themselves":
            _filter_variant(*case, raw_logits=True),
        "apply top_k first, then top_p on what top_k kept": _filter_variant(*case, order="p-then-k"),
        "ids tied with the k-th largest logit stay (keep every logit >= the k-th value)":
            _filter_variant(*case, k_strict=True),
    }  # fmt: skip
    for what, value in mistakes.items():
        if torch.equal(kept, torch.isfinite(value)):
            return what
    return None


def check_filter_logits(student_filter_logits: Callable) -> None:
    """Exercise 12.3: top-k then top-p filtering (-inf outside the kept ids), with ties and either filter
    off (None), against minispeech.models.valle.filter_logits."""
    __tracebackhide__ = True
    cases = _filter_fixed_cases() + random_cases(124, 14, _filter_case)
    check_function(
        student_filter_logits, _reference_filter, cases, name="filter_logits", atol=1e-9, rtol=1e-7,
        diagnose=_diagnose_filter,
        hint="top-k keeps every id whose logit reaches the k-th largest. Top-p ranks the ids by probability "
        "and keeps them from the most likely down until the kept mass first reaches p. Removed ids must end "
        "with probability 0 after a softmax.",
    )  # fmt: skip


# --- 12.4 the NAR stage input ----------------------------------------------------------------------


def _stage_case(rng: np.random.Generator) -> tuple:
    import torch

    codebooks, size, dim = int(rng.integers(2, 5)), int(rng.integers(2, 6)), int(rng.integers(1, 5))
    batch_size, frames = int(rng.integers(1, 3)), int(rng.integers(1, 6))
    tables = []
    for _ in range(codebooks):
        table = torch.nn.Embedding(size, dim).double()
        with torch.no_grad():
            table.weight.copy_(as_tensor(rng.normal(size=(size, dim))))
        tables.append(table)
    codes = torch.from_numpy(rng.integers(0, size, size=(batch_size, codebooks, frames)))
    return (codes, torch.nn.ModuleList(tables), int(rng.integers(1, codebooks + 1)))


def _reference_stage(codes, embeddings, stage):
    return sum(embeddings[c](codes[:, c]) for c in range(stage))


def _diagnose_stage(actual, expected, case) -> str | None:
    import torch

    codes, embeddings, stage = case
    if not isinstance(actual, torch.Tensor):
        return f"return a torch tensor (B, N, C) = {tuple(expected.shape)}"
    mistakes = {
        "codebooks 0 .. stage - 1 only: the stage's own codebook is what the model must predict":
            sum(embeddings[c](codes[:, c]) for c in range(min(stage + 1, codes.shape[1]))),
        "each codebook has its own embedding table: codebook c goes through embeddings[c]":
            sum(embeddings[0](codes[:, c]) for c in range(stage)),
        "the earlier codebooks' embeddings add up (a sum), as the codec's decoder adds their code vectors":
            sum(embeddings[c](codes[:, c]) for c in range(stage)) / stage,
        "the frame's input is the sum over the earlier codebooks, not the last one alone":
            embeddings[stage - 1](codes[:, stage - 1]),
    }  # fmt: skip
    for what, value in mistakes.items():
        if tensors_close(actual, value) and not tensors_close(value, expected):
            return what
    if actual.shape == (expected.shape[0], expected.shape[2], expected.shape[1]) and expected.shape[1] != expected.shape[2]:
        return "time before channels: (B, N, C), as an embedding gives it"
    return None


def check_stage_input(student_stage_input: Callable) -> None:
    """Exercise 12.4: the sum of embeddings[c](codes[:, c]) over c < stage (what the library's
    NonAutoregressiveModel.stage_input computes with its own tables), with 2-4 codebooks."""
    __tracebackhide__ = True
    cases = random_cases(125, 14, _stage_case)
    check_function(
        student_stage_input, _reference_stage, cases, name="stage_input", atol=1e-9, rtol=1e-7,
        diagnose=_diagnose_stage,
        hint="at stage k the model already knows the codebooks before k and must predict codebook k; each "
        "known codebook is looked up in its own table and the results are combined the way the codec "
        "combines code vectors.",
    )  # fmt: skip
