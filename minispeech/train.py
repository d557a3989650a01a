"""Small, explicit pieces for training loops. There is no Trainer: the loop is lesson content.

seed_everything        seed Python's `random`, NumPy and torch (CPU and CUDA) in one call
device_for             the torch.device a Profile asks for
autocast               bf16 autocast on CUDA for the gpu profile; a no-op on CPU
save_checkpoint        model/optimizer state + step + config + extra, written atomically
load_checkpoint        read one back (weights_only=True, always) with errors that say what to do
config_from_checkpoint rebuild the frozen dataclass config a checkpoint was trained with
config_from_dict       build a dataclass config from plain data, rejecting unknown keys
artifact_path          where a lesson saves its trained model: <data root>/artifacts/<name>.pt (_ci.pt in ci)
load_trained           a lesson's trained model, rebuilt from its checkpoint's config, in eval mode
check_finite           the NaN guard every loop calls on its loss
clip_gradients         clip the global gradient norm; returns the norm before clipping
warmup_cosine, noam    learning-rate schedules as pure functions of the step
progress               a tqdm progress bar showing named running values (`bar.set(loss=...)`)
RunningAverage         exponential moving averages of named scalars, for logging
Timer, time_budget     wall-clock seconds; a time budget that loops check with `.expired()`
count_parameters       number of (trainable) parameters of a model

A loop, whole (after seed_everything(profile.seed) and budget = time_budget(300)):

    for step, batch in enumerate(bar := progress(loader, description="train")):
        with autocast(profile):
            loss = model.loss(batch)
        bar.set(loss=check_finite(loss, step))
        optimizer.zero_grad(); loss.backward(); clip_gradients(model, 1.0); optimizer.step()
        if budget.expired(): break
    save_checkpoint("runs/ctc.pt", model, optimizer, step=step, config=model.config)

Taught in lessons/04_ctc.ipynb, section 5 (first training loop), and reused by every later lesson.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import re
import time
import typing
from pathlib import Path

import numpy as np
import torch

from minispeech import profiles

CHECKPOINT_FORMAT = "minispeech-checkpoint-1"
PLAIN_TYPES = (str, int, float, bool, type(None), torch.Tensor)  # what weights_only=True can read


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


def _check_plain(value, where: str) -> None:
    """Refuse at save time what `torch.load(weights_only=True)` would refuse at load time."""
    if isinstance(value, (list, tuple)):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} key")
            _check_plain(item, f"{where}[{key!r}]")
    elif not isinstance(value, PLAIN_TYPES):
        raise ValueError(
            f"{where} is a {type(value).__name__}: checkpoints hold only plain data (dict, list, "
            "tuple, str, int, float, bool, None, tensors); convert it, e.g. with float() or .tolist()"
        )


def save_checkpoint(
    path, model: torch.nn.Module, optimizer=None, step: int = 0, config=None, extra: dict | None = None
) -> Path:
    """Write model (and optimizer) state, the step, the config and `extra` to `path`, atomically.

    The file is written to a temporary name in the same folder and renamed over `path`, so a
    crash mid-save leaves the previous checkpoint intact. Creates the folder. Returns the path.
    """
    path = Path(path)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "step": int(step),
        "config": None if config is None else dataclasses.asdict(config),
        "config_class": None if config is None else type(config).__name__,
        "extra": {} if extra is None else extra,
    }
    _check_plain(checkpoint["config"], "config")
    _check_plain(checkpoint["extra"], "extra")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder: rename is atomic
    try:
        torch.save(checkpoint, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _read(path, map_location="cpu", train_hint: str | None = None) -> dict:
    path = Path(path)
    if not path.is_file():
        fix = train_hint or "train the model first (the lesson's training section saves it)"
        raise FileNotFoundError(f"checkpoint {path} does not exist: {fix}, or check the path")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        reason = (
            f"it stores a Python object ({refused.group(1)}), which weights_only=True refuses because "
            "unpickling can run code" if refused
            else f"{type(error).__name__}: the file is corrupt (an interrupted copy?) or not from torch"
        )
        raise ValueError(
            f"cannot read checkpoint {path}: {reason}; save it again with "
            "minispeech.train.save_checkpoint (plain data only) or retrain"
        ) from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a minispeech checkpoint (no format {CHECKPOINT_FORMAT!r}); "
            "save it with minispeech.train.save_checkpoint"
        )
    return checkpoint


def _flatten(data: dict, prefix: str = "") -> dict:
    """{"mel": {"n_mels": 80}} -> {"mel.n_mels": 80}, so a difference names the nested field."""
    flat = {}
    for key, value in data.items():
        nested = isinstance(value, dict)
        flat.update(_flatten(value, f"{prefix}{key}.") if nested else {f"{prefix}{key}": value})
    return flat


def _check_config(path, checkpoint: dict, config) -> None:
    if checkpoint.get("config") is None:
        return  # saved without a config: nothing to compare
    name, stored_name = type(config).__name__, checkpoint.get("config_class")
    fix = f"build the model from the checkpoint's config with `config_from_checkpoint(path, {name})`"
    if stored_name != name:
        raise ValueError(f"checkpoint {path} holds a {stored_name}, this model a {name}: {fix}")
    stored, current = _flatten(checkpoint["config"]), _flatten(dataclasses.asdict(config))
    differences = [
        f"{key}={stored.get(key, '(absent)')!r}, this model has {key}={current.get(key, '(absent)')!r}"
        for key in sorted(stored.keys() | current.keys())
        if key not in stored or key not in current or stored[key] != current[key]
    ]
    if differences:
        shown = "; ".join(differences[:4])
        raise ValueError(f"checkpoint {path} was trained with {shown}: {fix} or retrain")


def _check_state_dict(path, stored: dict, model: torch.nn.Module) -> None:
    expected = model.state_dict()
    problems = [f"missing {key}" for key in expected if key not in stored]
    problems += [f"unexpected {key}" for key in stored if key not in expected]
    problems += [
        f"{key} has shape {tuple(stored[key].shape)}, the model wants {tuple(expected[key].shape)}"
        for key in expected
        if key in stored and stored[key].shape != expected[key].shape
    ]
    if problems:
        raise ValueError(
            f"checkpoint {path} does not fit this model ({len(problems)} problems: "
            f"{'; '.join(problems[:3])}): build the model with the checkpoint's config or retrain"
        )


def load_checkpoint(
    path, model, optimizer=None, config=None, map_location="cpu", train_hint: str | None = None
) -> tuple[int, dict]:
    """Load weights (and optimizer state) saved by `save_checkpoint` into `model`; returns (step, extra).

    Always `torch.load(..., weights_only=True)`: a checkpoint cannot run code. With `config`,
    the stored config must equal it field by field. `train_hint` completes the missing-file
    message, e.g. "run lessons/04_ctc.ipynb, section 5". Errors name the file and the fix.
    """
    checkpoint = _read(path, map_location, train_hint)
    if config is not None:
        _check_config(path, checkpoint, config)
    _check_state_dict(path, checkpoint["model"], model)
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        if checkpoint.get("optimizer") is None:
            raise ValueError(f"checkpoint {path} has no optimizer state: pass optimizer=None")
        optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint["step"]), checkpoint.get("extra") or {}


def config_from_dict(config_class: type, data: dict):
    """Build `config_class(**data)`, recursing into nested dataclass fields; lists become tuples
    where the field is a tuple. Unknown or missing keys raise ValueError naming them."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown {config_class.__name__} keys {unknown}; known keys: {sorted(fields)}")
    no_default = dataclasses.MISSING
    missing = [name for name, field in fields.items() if name not in data
               and field.default is no_default and field.default_factory is no_default]
    if missing:
        raise ValueError(f"{config_class.__name__} needs keys {missing}: add them to the config")
    hints = typing.get_type_hints(config_class)
    values = {}
    for name, value in data.items():
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return config_class(**values)


def config_from_checkpoint(path, config_class: type, train_hint: str | None = None):
    """The `config_class` instance stored in checkpoint `path` (written by `save_checkpoint`)."""
    checkpoint = _read(path, "cpu", train_hint)
    if checkpoint.get("config") is None:
        raise ValueError(f"checkpoint {path} has no config: save it with save_checkpoint(..., config=)")
    if checkpoint.get("config_class") != config_class.__name__:
        raise ValueError(f"checkpoint {path} holds a {checkpoint.get('config_class')}, "
                         f"not a {config_class.__name__}: pass the matching config class")
    return config_from_dict(config_class, checkpoint["config"])


def artifact_path(name: str, kind: str = "cpu") -> Path:
    """<data root>/artifacts/<name>.pt for a model trained in the cpu or gpu profile, and
    <name>_ci.pt for the seconds-long ci run, so that CI never overwrites a real model."""
    from minispeech.data import default_data_root

    return Path(default_data_root()) / "artifacts" / (f"{name}_ci.pt" if kind == "ci" else f"{name}.pt")


def load_trained(
    name: str, model_class: type, config_class: type, train_hint: str, path=None, device="cpu"
) -> torch.nn.Module:
    """model_class(config) with the weights a lesson saved, in eval mode on `device`.

    path=None takes artifact_path(name) (a cpu/gpu run) if it exists, else the ci run's
    artifact; raises FileNotFoundError saying which lesson to run (train_hint) when neither does.
    """
    if path is None:
        candidates = [artifact_path(name, "cpu"), artifact_path(name, "ci")]
        path = next((candidate for candidate in candidates if candidate.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"no trained {name} model at {candidates[0]} (or {candidates[1].name}): {train_hint}")
    config = config_from_checkpoint(path, config_class, train_hint=train_hint)
    model = model_class(config)
    load_checkpoint(path, model, config=config, train_hint=train_hint)
    return model.to(device).eval()


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
