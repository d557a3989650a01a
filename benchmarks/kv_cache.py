"""Speed of KV-cache (incremental) decoding against full recomputation, measured in one process.

    python benchmarks/kv_cache.py          (about a minute on a laptop CPU)

A randomly initialized minispeech.models.transformer_asr.TransformerASR of the cpu preset (the
decoder never emits <eos>, so every run decodes exactly S tokens) decodes a batch greedily
with and without the cache, for several output lengths S and encoder lengths. Both must give
the same tokens; tokens/s counts B x S per run; the median of ROUNDS runs after one warm-up.
ratio = cached tokens/s / uncached tokens/s (higher is better). Two threads, like the lessons.
Timings on a shared machine are noisy; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch

from minispeech.models.transformer_asr import (
    EOS_ID,
    TransformerASR,
    TransformerASRConfig,
    greedy_decode,
)

ROUNDS = 3
BATCH_SIZE = 8
CASES = [
    (200, 25),
    (200, 50),
    (200, 100),
    (400, 100),
    (400, 200),
]  # (T_mel input frames, S output tokens)


def tokens_per_second(model: TransformerASR, features: torch.Tensor, lengths: torch.Tensor,
                      use_cache: bool) -> tuple[float, list[list[int]]]:  # fmt: skip
    greedy_decode(model, features, lengths, use_cache=use_cache)  # warm-up
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        outputs = greedy_decode(model, features, lengths, use_cache=use_cache)
        times.append(time.perf_counter() - start)
    return sum(len(row) for row in outputs) / statistics.median(times), outputs


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    start = time.perf_counter()
    base = TransformerASRConfig.preset("cpu")
    header = f"| {'T_mel':>6} | {'S':>4} | {'cached tok/s':>12} | {'uncached tok/s':>14} | {'ratio':>6} | same tokens"
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:]))
    for n_frames, n_tokens in CASES:
        config = dataclasses.replace(base, max_output_length=n_tokens)
        model = TransformerASR(config).eval()
        with torch.no_grad():
            model.classifier.bias[EOS_ID] = -1e4  # never stop early: exactly n_tokens steps
        features = torch.randn(BATCH_SIZE, n_frames, config.mel.n_mels)  # (B, T_mel, n_mels)
        lengths = torch.full((BATCH_SIZE,), n_frames)
        cached, cached_tokens = tokens_per_second(model, features, lengths, use_cache=True)
        uncached, uncached_tokens = tokens_per_second(model, features, lengths, use_cache=False)
        same = cached_tokens == uncached_tokens
        print(
            f"| {n_frames:>6} | {n_tokens:>4} | {cached:>12.0f} | {uncached:>14.0f} | {cached / uncached:>6.2f} | {same}"
        )
    print(f"\nbatch {BATCH_SIZE}, cpu preset (2-layer decoder, C = {base.encoder.model_size}), "
          f"2 threads, median of {ROUNDS} rounds; total {time.perf_counter() - start:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
