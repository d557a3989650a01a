"""What each robustness recipe buys lesson 04's CTC recognizer, one at a time, measured in one run.

    python benchmarks/robustness.py                          every recipe, 1,000 steps each (~1 h)
    python benchmarks/robustness.py --runs none telephone --steps 2000

Each run trains lesson 04's cpu recipe (CTCASRConfig.preset("cpu"), batch 16, AdamW, warm-up then
cosine, VTLP + SpecAugment on) from the same seed for the same fixed number of steps, changing ONE
thing about the training audio, then scores greedy CER on:

    test_unseen   the tiny corpus's held-out voices (what lessons 04-06 assert)
    slow / normal / fast   the same held-out voices at 120 wpm, their own rate, 250 wpm (rates corpus)
    asterisk      the Asterisk prompts' held-out part: one human voice, telephone band (when prepared)

Recipes (minispeech.data.augment, and minispeech.data.rates for "wide"):
    none       the tiny corpus as it is (the baseline)
    speed      every utterance played at 0.9x, 1.0x or 1.1x (Kaldi's speed perturbation)
    wide       train_wide: the same sentences and voices, rate 110-270 wpm, pitch 20-80, other variants
    noise      half the utterances mixed with white, pink or babble noise at 5-25 dB SNR
    reverb     half the utterances convolved with a synthetic room (RT60 0.2-0.8 s)
    telephone  half the utterances through an 8 kHz, 300-3,400 Hz channel
    all        wide + speed + noise + reverb + telephone together (lesson 04's robust recipe)

Augmented copies: the draws of 3 epochs are computed before training (in parallel, counted in the
minutes) and reused in turn, as lesson 04 does. Each finished run appends one JSON line to data/robustness/results.jsonl (the seconds, so a busy
machine shows) and saves its model beside it (<recipe>_<steps>.pt). The numbers depend only on the seed and the steps; the seconds depend on the machine.
Needs the tiny corpus, the rates corpus (`python -m minispeech.data rates`, seconds) and, for the
human voice, the Asterisk manifests (README, "Real speech"); a missing Asterisk set is skipped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from minispeech import checkpoint
from minispeech.data import (
    LengthBucketSampler,
    SpeechDataset,
    collate,
    default_data_root,
    prepared_manifest,
    rates_corpus,
    tiny_corpus,
)
from minispeech.data.augment import WaveformAugmentConfig
from minispeech.decoding import greedy_decode as ctc_greedy_decode
from minispeech.metrics import cer
from minispeech.models.ctc_asr import CTCASR, CTCASRConfig
from minispeech.text import characters
from minispeech.train import check_finite, clip_gradients, seed_everything, warmup_cosine

SEED = 0
BATCH_SIZE, PEAK_LR, WARMUP_STEPS = 16, 4e-3, 100  # lesson 04's cpu recipe
AUGMENT_EPOCHS = 3  # augmented copies of the training set, drawn once (SpeechDataset.precompute_augmentations)
RECIPES = {
    "none": WaveformAugmentConfig(),
    "speed": WaveformAugmentConfig(speed_probability=1.0),
    "wide": WaveformAugmentConfig(),
    "noise": WaveformAugmentConfig(noise_probability=0.5),
    "reverb": WaveformAugmentConfig(reverb_probability=0.5),
    "telephone": WaveformAugmentConfig(band_limit_probability=0.5),
    "all": WaveformAugmentConfig(speed_probability=1.0, noise_probability=0.3, reverb_probability=0.3,
                                 band_limit_probability=0.3),
}  # fmt: skip
USES_WIDE = ("wide", "all")


def train(recipe: str, steps: int, config: CTCASRConfig) -> tuple[CTCASR, float]:
    """Lesson 04's training loop for `steps` fixed steps; returns the model and the seconds it took."""
    manifest = rates_corpus() / "train_wide.jsonl" if recipe in USES_WIDE else tiny_corpus() / "train.jsonl"
    train_set = SpeechDataset(manifest, mel_config=config.mel, progress=False,
                              waveform_augment=RECIPES[recipe], augment_seed=SEED)  # fmt: skip
    start = time.perf_counter()
    if RECIPES[recipe].enabled:  # the draws of AUGMENT_EPOCHS epochs, computed once, reused in turn
        train_set.precompute_augmentations(AUGMENT_EPOCHS, progress=False)
    sampler = LengthBucketSampler(train_set.lengths(), batch_size=BATCH_SIZE, seed=SEED)
    loader = torch.utils.data.DataLoader(train_set, batch_sampler=sampler, collate_fn=collate)
    seed_everything(SEED)
    model = CTCASR(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, betas=(0.9, 0.98), weight_decay=0.0)
    step, epoch = 0, 0
    model.train()
    while step < steps:
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)  # a new draw of augmentations each epoch
        for batch in loader:
            if step == steps:
                break
            for group in optimizer.param_groups:
                group["lr"] = warmup_cosine(step, WARMUP_STEPS, steps, PEAK_LR, final_lr=PEAK_LR / 20)
            loss = model(batch).loss
            check_finite(loss, step)
            optimizer.zero_grad()
            loss.backward()
            clip_gradients(model, max_norm=1.0)
            optimizer.step()
            step += 1
            if step % 100 == 0:
                print(f"  {recipe}: step {step}/{steps}, loss {float(loss.detach()):.3f}, {time.perf_counter() - start:.0f} s", flush=True)
        epoch += 1
    return model, time.perf_counter() - start


@torch.no_grad()
def greedy_cer(model: CTCASR, dataset: SpeechDataset, batch_size: int = 32) -> float:
    """Greedy CER of the model over the dataset (eval mode)."""
    table = characters()
    model.eval()
    hypotheses = []
    for begin in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(begin, min(begin + batch_size, len(dataset)))])
        log_probs, lengths = model.log_probs(batch["features"], batch["feature_lengths"])
        hypotheses += [table.decode(ctc_greedy_decode(log_probs[b, : lengths[b]].numpy())) for b in range(len(lengths))]
    return cer([row["normalized_text"] for row in dataset.rows], hypotheses)


def test_sets(config: CTCASRConfig) -> dict[str, SpeechDataset]:
    """The evaluation sets, each once (features cached beside their manifests)."""
    sets = {"test_unseen": tiny_corpus() / "test_unseen.jsonl"}
    sets |= {split: rates_corpus() / f"{split}.jsonl" for split in ("slow", "normal", "fast")}
    asterisk = prepared_manifest("asterisk", "test")
    if asterisk is None:
        print("asterisk test: not prepared on this machine (README, 'Real speech'); skipped")
    else:
        sets["asterisk"] = asterisk
    return {name: SpeechDataset(path, mel_config=config.mel, progress=False) for name, path in sets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=default_data_root() / "robustness" / "results.jsonl")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    config = CTCASRConfig.preset("cpu")
    sets = test_sets(config)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{'recipe':10s} {'steps':>6s} {'min':>5s} " + " ".join(f"{name:>11s}" for name in sets) + "  (greedy CER)")
    for recipe in arguments.runs:
        model, seconds = train(recipe, arguments.steps, config)
        scores = {name: greedy_cer(model, dataset) for name, dataset in sets.items()}
        print(f"{recipe:10s} {arguments.steps:6d} {seconds / 60:5.1f} " + " ".join(f"{scores[name]:11.3f}" for name in sets), flush=True)
        row = {"recipe": recipe, "steps": arguments.steps, "seconds": round(seconds, 1), "cer": scores,
               "augment": RECIPES[recipe].__dict__, "wide_corpus": recipe in USES_WIDE,
               "threads": torch.get_num_threads(), "seed": SEED}  # fmt: skip
        with arguments.out.open("a") as file:
            file.write(json.dumps(row, default=list) + "\n")
        checkpoint.save(arguments.out.parent / f"{recipe}_{arguments.steps}.pt", model, step=arguments.steps,
                        config=config, extra={"recipe": recipe})  # for adaptation experiments


if __name__ == "__main__":
    main()
