"""FastSpeech 2 against Tacotron 2, and HiFi-GAN against Griffin-Lim: speed on the same sentences, one process.

    python benchmarks/tts.py [--sentences 20] [--threads 2]     (about a minute on 2 cores)

The trained models of lessons 07 and 08 (data/artifacts/tacotron2.pt, fastspeech2.pt) when they
exist; otherwise freshly built cpu-preset models, with a notice: an untrained Tacotron 2 does not
know when to stop, so its times are per second of audio *it produced* (real-time factors), which
keeps the ratio meaningful either way. Columns: batch 1 (one sentence at a time; the two models take
turns sentence by sentence, each sentence timed --repeats times and its fastest run kept) and batched
(16 sentences at a time), each acoustic model alone (tokens made once, beforehand; the eSpeak front
end costs both models the same and is left out); the ratio is
Tacotron 2's RTF / FastSpeech 2's (higher: FastSpeech 2 is faster; the lesson's bar is >= 10 at
batch 1). Vocoders: real-time factor at batch 1 of Griffin-Lim (dsp.log_mel_to_audio) and of lesson 09's
HiFi-GAN (data/artifacts/hifigan.pt, or a fresh cpu-preset one: its speed does not depend on its
weights) with weight norm removed, on the true mels of the same sentences (the lesson's bar: HiFi-GAN
RTF <= 0.1 on 2 threads). Timings on a shared machine are noisy; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from minispeech.data import TTSDataset, encode_text, tts_collate, tts_corpus
from minispeech.dsp import log_mel_to_audio
from minispeech.models import fastspeech2, hifigan, tacotron2
from minispeech.models.fastspeech2 import FastSpeech2, FastSpeech2Config
from minispeech.models.hifigan import HiFiGAN, HiFiGANConfig
from minispeech.models.tacotron2 import Tacotron2, Tacotron2Config
from minispeech.nn.generator import remove_weight_norm
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
    parser.add_argument("--repeats", type=int, default=3, help="time each sentence this often, keep the fastest")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    test_set = TTSDataset(tts_corpus(), "test")
    items = [test_set[i] for i in range(arguments.sentences)]
    texts = [item["text"] for item in items]
    tokens = [torch.tensor([encode_text(text)[1]]) for text in texts]  # (1, T_txt) each: the front end, once
    models = {"Tacotron 2": load_or_build(tacotron2, Tacotron2, Tacotron2Config, "Tacotron 2"),
              "FastSpeech 2": load_or_build(fastspeech2, FastSpeech2, FastSpeech2Config, "FastSpeech 2")}  # fmt: skip
    hop, sample_rate = test_set.mel_config.hop_length, test_set.mel_config.sample_rate
    synthesizers = {}
    for name, (model, _state) in models.items():

        def one(tokens: torch.Tensor, model=model) -> np.ndarray:
            with torch.no_grad():
                output = model.synthesize(tokens, torch.tensor([tokens.shape[1]]))
            return np.empty(int(output.mel_lengths[0]) * hop)  # the audio it stands for

        synthesizers[name] = one
        one(tokens[0])  # warm-up, untimed
    # Batch 1, interleaved: sentence by sentence, each model in turn, so that the slow drifts of a shared
    # machine's speed (tens of percent over a minute) fall on both models alike and cancel in the ratio.
    seconds, audio = dict.fromkeys(models, 0.0), dict.fromkeys(models, 0.0)
    torch.manual_seed(0)
    for sentence in tokens:
        for name, one in synthesizers.items():
            result = real_time_factor(one, [sentence], sample_rate, warmup=0, repeats=arguments.repeats)
            seconds[name] += result.compute_seconds
            audio[name] += result.audio_seconds
    results = {}
    for name, (model, state) in models.items():
        batch_one = seconds[name] / audio[name]
        start, frames = time.perf_counter(), 0
        with torch.no_grad():
            for first in range(0, len(items), 16):
                batch = tts_collate(items[first : first + 16])
                frames += int(model.synthesize(batch["tokens"], batch["token_lengths"]).mel_lengths.sum())
        batched = (time.perf_counter() - start) / (frames * hop / sample_rate)
        results[name] = (batch_one, batched)
        print(f"{name:13s} ({state:9s}) RTF batch 1 {batch_one:.4f}   batched (16) {batched:.4f}")
    (taco_one, taco_batched), (fast_one, fast_batched) = results.values()
    print(f"speed-up of FastSpeech 2 over Tacotron 2: batch 1 {taco_one / fast_one:.1f}x (goal >= 10), "
          f"batched {taco_batched / fast_batched:.1f}x   [{torch.get_num_threads()} torch threads, "
          f"{arguments.sentences} test sentences, fastest of {arguments.repeats} runs each]")
    vocoders(items, test_set.mel_config)


def vocoders(items: list[dict], mel_config) -> None:
    """Griffin-Lim against HiFi-GAN, batch 1, on the items' true mels."""
    vocoder, state = load_or_build(hifigan, HiFiGAN, HiFiGANConfig, "HiFi-GAN")
    vocoder = remove_weight_norm(vocoder).eval()
    mels = [item["mel"].numpy() for item in items]  # (T_mel, n_mels) each
    rates = {
        "Griffin-Lim": real_time_factor(lambda mel: log_mel_to_audio(mel.T, mel_config), mels, mel_config.sample_rate),
        f"HiFi-GAN ({state})": real_time_factor(vocoder.vocode, mels, mel_config.sample_rate),
    }
    for name, result in rates.items():
        print(f"{name:22s} vocoder RTF batch 1 {result.real_time_factor:.4f}")
    griffin_lim, neural = (result.real_time_factor for result in rates.values())
    print(f"HiFi-GAN is {griffin_lim / neural:.1f}x faster than Griffin-Lim (goal: HiFi-GAN RTF <= 0.1)   "
          f"[{torch.get_num_threads()} torch threads]")


if __name__ == "__main__":
    main()
