"""Small, explicit pieces for training loops. There is no Trainer: the loop is lesson content.

seed_everything        seed Python's `random`, NumPy and torch (CPU and CUDA) in one call
device_for             the torch.device a Profile asks for
autocast               bf16 autocast on CUDA for the gpu profile; a no-op on CPU
check_finite           the NaN guard every loop calls on its loss
clip_gradients         clip the global gradient norm; returns the norm before clipping
warmup_cosine, noam    learning-rate schedules as pure functions of the step
progress               a tqdm progress bar showing named running values (`bar.set(loss=...)`)
RunningAverage         exponential moving averages of named scalars, for logging
StepBudget             a fixed number of steps; the wall clock only caps it, and says so
Timer, time_budget     wall-clock seconds; a time budget that loops check with `.expired()`
count_parameters       number of (trainable) parameters of a model

Saving and loading models lives in `minispeech.checkpoint`.

A loop, whole (after seed_everything(profile.seed)). The schedule follows the step, never the
clock, so the same run gives the same numbers on any machine that finishes it:

    for step in (budget := StepBudget(1200, cap_seconds=900)):
        batch = next(batches)
        with autocast(profile):
            loss = model(batch).loss
        check_finite(loss, step)
        optimizer.zero_grad(); loss.backward(); clip_gradients(model, 1.0); optimizer.step()
        scheduler.step()  # LambdaLR(optimizer, lambda step: warmup_cosine(step, 100, 1200, 1.0))
    print(budget.message())  # "trained 1200 steps in 612 s", or why it stopped early
    checkpoint.save("runs/ctc.pt", model, optimizer, step=budget.steps_done, config=model.config)

Taught in lessons/04_ctc.ipynb, section 5 (first training loop), and reused by every later lesson.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
import typing

import numpy as np
import torch

from minispeech import profiles


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy's global generator and torch (all devices).

    It does not call `torch.use_deterministic_algorithms`: some CUDA kernels stay
    non-deterministic, so GPU runs can differ in the last digits. CPU runs repeat exactly.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def device_for(profile: profiles.Profile | None = None) -> torch.device:
    """The device of a profile ("cuda" for gpu with CUDA, else "cpu"); None: profiles.current()."""
    return torch.device((profile or profiles.current()).device)


def autocast(profile: profiles.Profile | None = None) -> typing.ContextManager:
    """`with autocast(profile):` runs the forward pass in bf16 on CUDA; on CPU it does nothing."""
    profile = profile or profiles.current()
    if profile.device.startswith("cuda") and profile.dtype != "float32":
        return torch.autocast(device_type="cuda", dtype=profile.torch_dtype)
    return contextlib.nullcontext()


def check_finite(loss, step: int) -> float:
    """Raise FloatingPointError if the scalar `loss` is NaN or infinite; else return it as a float."""
    value = float(loss.detach().float()) if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        kind = "NaN" if math.isnan(value) else "inf"
        raise FloatingPointError(
            f"loss became {kind} at step {step}: lower the learning rate, check the inputs for NaN, "
            "or enable gradient clipping"
        )
    return value


def clip_gradients(model: torch.nn.Module, max_norm: float) -> float:
    """Scale all gradients so their global L2 norm is at most `max_norm`; return the norm before."""
    return float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))


def warmup_cosine(
    step: int, warmup_steps: int, total_steps: int, peak_lr: float, final_lr: float = 0.0
) -> float:
    """Linear warm-up to `peak_lr` over `warmup_steps`, then a cosine decay to `final_lr` at
    `total_steps` (and `final_lr` after). Step 0 already gets peak_lr / warmup_steps, not 0.

    With an optimizer built with lr=peak, LambdaLR wants a factor, so pass peak_lr=1:

        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, 100, 2000, 1.0, final_lr=0.1))
        ... optimizer.step(); scheduler.step()
    """
    if warmup_steps < 0 or total_steps < warmup_steps:
        raise ValueError(f"need 0 <= warmup_steps <= total_steps, got {warmup_steps} and {total_steps}")
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return final_lr + 0.5 * (peak_lr - final_lr) * (1.0 + math.cos(math.pi * progress))


def noam(step: int, d_model: int, warmup_steps: int, factor: float = 1.0) -> float:
    """The Transformer schedule (Vaswani et al., 2017, Eq. 3): factor * d_model^-0.5 *
    min(step^-0.5, step * warmup^-1.5), peaking at step == warmup_steps. Step 0 counts as 1.
    Use it as `LambdaLR(optimizer, lambda step: noam(step, 256, 4000))` with lr=1."""
    step = max(step, 1)
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


class ProgressBar:
    """A tqdm bar (tqdm.auto: a widget in Jupyter) over `iterable`; `set(loss=..., cer=...)`
    shows named values. Hidden when the environment has MINISPEECH_PROGRESS=0."""

    def __init__(self, iterable=None, total: int | None = None, description: str | None = None):
        from tqdm.auto import tqdm

        hidden = os.environ.get("MINISPEECH_PROGRESS", "1").strip() == "0"
        self.bar = tqdm(iterable, total=total, desc=description, mininterval=1.0, disable=hidden)

    def __iter__(self):
        return iter(self.bar)

    def set(self, **values: float) -> None:
        shown = {name: f"{float(value):.4g}" for name, value in values.items()}
        self.bar.set_postfix(shown, refresh=False)

    def close(self) -> None:
        self.bar.close()


def progress(iterable=None, total: int | None = None, description: str | None = None) -> ProgressBar:
    """`for batch in (bar := progress(loader, description="train")): ... bar.set(loss=value)`."""
    return ProgressBar(iterable, total=total, description=description)


class RunningAverage:
    """Exponential moving averages of named scalars: `average.update(loss=1.3)` returns
    {"loss": smoothed}. The first value of a name starts its average (no warm-up bias)."""

    def __init__(self, smoothing: float = 0.98):
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.values: dict[str, float] = {}

    def update(self, **values: float) -> dict[str, float]:
        for name, value in values.items():
            previous = self.values.get(name, float(value))
            self.values[name] = self.smoothing * previous + (1.0 - self.smoothing) * float(value)
        return dict(self.values)

    def __getitem__(self, name: str) -> float:
        return self.values[name]


class StepBudget:
    """`for step in (budget := StepBudget(1200, cap_seconds=900)):` yields 0, 1, ..., steps - 1.

    Training runs a fixed number of steps, so the same seeded run reaches the same numbers on
    every machine that finishes it; the wall clock is only a cap. When `cap_seconds` have
    passed before a step starts, iteration stops there: `stopped_early` becomes True and
    `message()` says so. Afterwards `steps_done` and `seconds` say how far it got. `clock` is
    the time source (time.perf_counter; tests pass a fake). Keep learning-rate schedules a
    function of the step, never of the elapsed time.
    """

    def __init__(self, steps: int, cap_seconds: float | None = None, clock=time.perf_counter):
        if steps < 0:
            raise ValueError(f"StepBudget: steps must be >= 0, got {steps}")
        if cap_seconds is not None and cap_seconds <= 0:
            raise ValueError(f"StepBudget: cap_seconds must be > 0 (or None: no cap), got {cap_seconds}")
        self.steps, self.cap_seconds, self.clock = int(steps), cap_seconds, clock
        self.steps_done, self.seconds, self.stopped_early = 0, 0.0, False

    def __iter__(self):
        start, self.steps_done, self.stopped_early = self.clock(), 0, False
        try:
            for step in range(self.steps):
                self.steps_done = step  # steps finished so far
                if self.cap_seconds is not None and self.clock() - start >= self.cap_seconds:
                    self.stopped_early = True
                    return
                yield step
            self.steps_done = self.steps
        finally:  # also when the loop body breaks out
            self.seconds = self.clock() - start

    def message(self) -> str:
        """One line for the end of a training cell: what ran, and why it stopped early if it did."""
        if not self.stopped_early:
            return f"trained {self.steps_done} steps in {self.seconds:.0f} s"
        return (
            f"stopped at step {self.steps_done} of {self.steps}: the {self.cap_seconds:g} s cap was "
            "reached (a slower or busy machine: the model saw fewer steps than the lesson's figures "
            "assume, so expect worse numbers; set the cap higher or run when the machine is idle)"
        )


class Timer:
    """Wall-clock seconds (perf_counter) since construction or since `with Timer() as timer:`;
    after the block, `timer.seconds`. With `budget_seconds`, `expired()` says when it ran out."""

    def __init__(self, budget_seconds: float | None = None):
        if budget_seconds is not None and budget_seconds < 0:
            raise ValueError(f"budget_seconds must be >= 0 (or None: no limit), got {budget_seconds}")
        self.budget_seconds, self.start, self.seconds = budget_seconds, time.perf_counter(), 0.0

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *error) -> None:
        self.seconds = self.elapsed()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def expired(self) -> bool:
        return self.budget_seconds is not None and self.elapsed() >= self.budget_seconds


def time_budget(seconds: float | None) -> Timer:
    """For "train for at most N seconds": a Timer started now; `if budget.expired(): break`."""
    return Timer(budget_seconds=seconds)


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters (only those with requires_grad unless trainable_only=False)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
