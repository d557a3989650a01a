"""FastSpeech 2 against Tacotron 2: synthesis speed on the same sentences, measured in one process.

    python benchmarks/tts.py [--sentences 20] [--threads 2]     (about a minute on 2 cores)

The trained models of lessons 07 and 08 (data/artifacts/tacotron2.pt, fastspeech2.pt) when they
exist; otherwise freshly built cpu-preset models, with a notice: an untrained Tacotron 2 does not
know when to stop, so its times are per second of audio *it produced* (real-time factors), which
keeps the ratio meaningful either way. Rows: batch 1 (one sentence at a time, the text front end
included, as a user asks), batched (16 sentences at a time), each acoustic model alone; the ratio is
Tacotron 2's RTF / FastSpeech 2's (higher: FastSpeech 2 is faster; the lesson's bar is >= 10 at
batch 1). Timings on a shared machine are noisy; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from minispeech.data import TTSDataset, encode_text, tts_collate, tts_corpus
from minispeech.models import fastspeech2, tacotron2
from minispeech.models.fastspeech2 import FastSpeech2, FastSpeech2Config
from minispeech.models.tacotron2 import Tacotron2, Tacotron2Config
from minispeech.tts_metrics import real_time_factor


def load_or_build(module, model_class, config_class, name: str):
    try:
        return module.load_pretrained(module.artifact_path("cpu")), "trained"
    except FileNotFoundError:
        print(f"notice: no trained {name} at {module.artifact_path('cpu')}; timing a fresh cpu-preset model")
        torch.manual_seed(0)
        return model_class(config_class.preset("cpu")).eval(), "untrained"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    test_set = TTSDataset(tts_corpus(), "test")
    items = [test_set[i] for i in range(arguments.sentences)]
    texts = [item["text"] for item in items]
    models = {"Tacotron 2": load_or_build(tacotron2, Tacotron2, Tacotron2Config, "Tacotron 2"),
              "FastSpeech 2": load_or_build(fastspeech2, FastSpeech2, FastSpeech2Config, "FastSpeech 2")}  # fmt: skip
    hop, sample_rate = test_set.mel_config.hop_length, test_set.mel_config.sample_rate
    results = {}
    for name, (model, state) in models.items():

        def one(text: str, model=model) -> np.ndarray:
            tokens = torch.tensor([encode_text(text)[1]])
            with torch.no_grad():
                output = model.synthesize(tokens, torch.tensor([tokens.shape[1]]))
            return np.empty(int(output.mel_lengths[0]) * hop)  # the audio it stands for

        torch.manual_seed(0)
        batch_one = real_time_factor(one, texts, sample_rate).real_time_factor
        start, frames = time.perf_counter(), 0
        with torch.no_grad():
            for first in range(0, len(items), 16):
                batch = tts_collate(items[first : first + 16])
                frames += int(model.synthesize(batch["tokens"], batch["token_lengths"]).mel_lengths.sum())
        batched = (time.perf_counter() - start) / (frames * hop / sample_rate)
        results[name] = (batch_one, batched)
        print(f"{name:13s} ({state:9s}) RTF batch 1 {batch_one:.4f}   batched (16) {batched:.4f}")
    (taco_one, taco_batched), (fast_one, fast_batched) = results["Tacotron 2"], results["FastSpeech 2"]
    print(f"speed-up of FastSpeech 2 over Tacotron 2: batch 1 {taco_one / fast_one:.1f}x (goal >= 10), "
          f"batched {taco_batched / fast_batched:.1f}x   [{torch.get_num_threads()} torch threads, "
          f"{arguments.sentences} test sentences]")


if __name__ == "__main__":
    main()
