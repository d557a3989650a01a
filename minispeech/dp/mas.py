"""Monotonic alignment search (Glow-TTS, Kim et al. 2020; reused by VITS).

maximum_path            0/1 path (B, T_txt, T_mel) maximizing the summed values (Numba kernel)
maximum_path_torch      the same for torch tensors (returns values' dtype and device)
maximum_path_reference  the plain NumPy dynamic programme the lesson shows

Shapes   values (B, T_txt, T_mel), e.g. log N(z_mel | μ_txt, σ_txt) for every token and frame;
         mask (B, T_txt, T_mel) with ones on the valid (token, frame) rectangle. The text and
         frame lengths are read as mask[:, :, 0].sum(1) and mask[:, 0, :].sum(1), as in VITS.

Each mel frame goes to exactly one token, tokens advance by 0 or 1 from a frame to the
next, the first frame goes to token 0 and the last to the last token, so every token gets
at least one frame. With Q[x, y] the best total of a path ending at token x, frame y:
    Q[x, y] = values[x, y] + max(Q[x, y-1], Q[x-1, y-1])     (Eq. 7 of Glow-TTS)
then walk back from (T_txt - 1, T_mel - 1), stepping to the previous token only when
Q[x-1, y-1] is strictly larger (ties stay on the same token, as in the VITS Cython code).
We accumulate in float64 (VITS accumulates in float32 in place), so on near-ties the path
can differ from VITS'; the total is the true maximum.

Taught in lessons/10_vits.ipynb, section 3.
"""

from __future__ import annotations

import numba
import numpy as np


def _lengths_from_mask(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if values.ndim != 3:
        raise ValueError(f"values must be (B, T_txt, T_mel), got shape {values.shape}")
    if mask.shape != values.shape:
        raise ValueError(f"mask must have the shape of values {values.shape}, got {mask.shape}")
    text_lengths = (mask[:, :, 0] != 0).sum(axis=1).astype(np.int64)
    mel_lengths = (mask[:, 0, :] != 0).sum(axis=1).astype(np.int64)
    for b in range(values.shape[0]):
        if text_lengths[b] < 1 or mel_lengths[b] < text_lengths[b]:
            raise ValueError(
                f"maximum_path: item {b} has {text_lengths[b]} tokens and {mel_lengths[b]} "
                "frames; every token needs at least one frame, so T_mel >= T_txt >= 1 "
                "(check the mask, or upsample the frames / shorten the text)"
            )
    return text_lengths, mel_lengths


# ----------------------------------------------------------------------------------------
# Reference: what the lesson shows
# ----------------------------------------------------------------------------------------


def maximum_path_reference(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Plain NumPy: fill Q one frame column at a time, then walk back. -> int32 (B, T_txt, T_mel)."""
    values = np.asarray(values)
    text_lengths, mel_lengths = _lengths_from_mask(values, np.asarray(mask))
    path = np.zeros(values.shape, dtype=np.int32)
    for b in range(values.shape[0]):
        n_tokens, n_frames = text_lengths[b], mel_lengths[b]
        value = values[b, :n_tokens, :n_frames].astype(np.float64)
        best = np.full((n_tokens, n_frames), -np.inf)  # Q
        best[0, 0] = value[0, 0]
        for y in range(1, n_frames):
            stay = best[:, y - 1]  # (T_txt,): Q[x, y-1]
            advance = np.concatenate([[-np.inf], best[:-1, y - 1]])  # Q[x-1, y-1]
            best[:, y] = value[:, y] + np.maximum(stay, advance)
        x = n_tokens - 1
        for y in range(n_frames - 1, -1, -1):
            path[b, x, y] = 1
            if x > 0 and (x == y or best[x - 1, y - 1] > best[x, y - 1]):
                x -= 1
    return path


# ----------------------------------------------------------------------------------------
# Numba kernel
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _maximum_path_kernel(values, text_lengths, mel_lengths, path):
    """Writes the ones into path (zeros on entry).

    Token x can only take frames y in [x, x + slack], slack = T_mel - T_txt: we visit that
    band only, a token row at a time (contiguous in memory). Within a row, Q[x, y] needs
    Q[x, y-1], a serial chain, so two rows run side by side (token x + 1 needs Q[x, y-1],
    finished one step earlier) to give the CPU two independent chains. Choices are kept as
    bytes for the walk back. The batch loop is plain: numba.prange measured 4x slower on two
    shared cores, and a Numba thread pool does not mix well with forked DataLoader workers.
    """
    batch_size, max_tokens, max_frames = values.shape
    previous = np.empty(max_frames + 1)  # Q[x - 1, y] at index y + 1 (the row above)
    current = np.empty(max_frames + 1)
    advanced = np.zeros((max_tokens, max_frames), np.uint8)  # 1: came from token x - 1
    for b in range(batch_size):
        n_tokens = text_lengths[b]
        n_frames = mel_lengths[b]
        slack = n_frames - n_tokens
        value = values[b]
        previous[: n_frames + 1] = -np.inf
        previous[0] = 0.0  # the path enters token 0 at frame 0
        x = 0
        while x + 1 < n_tokens:  # tokens x and x + 1 together
            row, next_row = value[x], value[x + 1]
            stay = row[x] + previous[x]  # y = x: token x's first frame, entered diagonally
            advanced[x, x] = 1
            next_stay = -np.inf
            for y in range(x + 1, x + slack + 1):
                next_advance = stay  # Q[x, y-1], for token x + 1
                advance = previous[y]  # Q[x-1, y-1]
                better = advance > stay
                stay = row[y] + (advance if better else stay)
                advanced[x, y] = better
                next_better = next_advance > next_stay
                next_stay = next_row[y] + (next_advance if next_better else next_stay)
                advanced[x + 1, y] = next_better
                current[y + 1] = next_stay
            y = x + slack + 1  # token x + 1's last frame: token x is done
            next_better = stay > next_stay
            next_stay = next_row[y] + (stay if next_better else next_stay)
            advanced[x + 1, y] = next_better
            current[y + 1] = next_stay
            previous, current = current, previous
            x += 2
        if x < n_tokens:  # an odd token count leaves one row
            row = value[x]
            stay = -np.inf
            for y in range(x, x + slack + 1):
                advance = previous[y]
                better = advance > stay
                stay = row[y] + (advance if better else stay)
                advanced[x, y] = better
        x = n_tokens - 1
        for y in range(n_frames - 1, -1, -1):
            path[b, x, y] = 1
            if x > 0 and (x == y or advanced[x, y] == 1):
                x -= 1
    return path


def maximum_path(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Best monotonic alignment -> int32 (B, T_txt, T_mel) with exactly one 1 per valid frame.

    Raises ValueError when an item has more tokens than frames (or no token).
    Taught in lessons/10_vits.ipynb, section 3.
    """
    values = np.asarray(values)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    values = np.ascontiguousarray(values)
    text_lengths, mel_lengths = _lengths_from_mask(values, np.asarray(mask))
    path = np.zeros(values.shape, dtype=np.int32)
    return _maximum_path_kernel(values, text_lengths, mel_lengths, path)


def maximum_path_torch(values, mask):
    """maximum_path for torch tensors (B, T_txt, T_mel); returns values' dtype and device.

    Runs on the CPU without gradient (the alignment is a constant for the loss, as in VITS).
    Taught in lessons/10_vits.ipynb, section 3.
    """
    import torch

    values_cpu = values.detach().to("cpu")
    if values_cpu.dtype not in (torch.float32, torch.float64):
        values_cpu = values_cpu.to(torch.float32)
    values_numpy = values_cpu.contiguous().numpy()
    text_lengths, mel_lengths = _lengths_from_mask(values_numpy, mask.detach().cpu().numpy())
    path = torch.zeros(values.shape, dtype=values_cpu.dtype)  # the kernel writes the ones
    _maximum_path_kernel(values_numpy, text_lengths, mel_lengths, path.numpy())
    return path.to(device=values.device, dtype=values.dtype)
