"""Saving and loading trained models: one place, one file format, no code in the files.

save                    named modules (+ optimizers), step, config, `extra`: one file, atomically
load                    read them back into modules (+ optimizers); returns (step, extra)
config_from_dict        build a frozen dataclass config from plain data, rejecting unknown keys
config_from_checkpoint  the config a checkpoint was trained with, rebuilt as its dataclass
artifact_path           where a lesson saves its model: <data root>/artifacts/<name>.pt (_ci.pt in ci)
load_pretrained         a lesson's trained model, rebuilt from its checkpoint's config, in eval mode

Usage    from minispeech import checkpoint
         checkpoint.save(path, model, optimizer, step=step, config=model.config)
         checkpoint.save(path, {"generator": g, "discriminator": d},
                         {"generator": g_optimizer, "discriminator": d_optimizer}, step=step)
         step, extra = checkpoint.load(path, model, optimizer, config=model.config)

File     a dict written by torch.save:
           format        "minispeech-checkpoint-2" (format 1 files, with one "model" and one
                         "optimizer" entry, are still read)
           modules       {name: state_dict}; a single module is stored under the name "model"
           optimizers    {name: state_dict}; a single optimizer under "optimizer"; {} if none
           step          int
           config        dataclasses.asdict(config) or None; config_class its class name
           extra         plain data the caller adds (losses so far, training seconds, ...)
         Only plain data (dict, list, tuple, str, int, float, bool, None, tensors) goes in, and
         `save` refuses anything else, because `load` always reads with
         torch.load(weights_only=True): a checkpoint from the internet cannot run code when opened.
Atomic   `save` writes a temporary file in the same folder and renames it over `path` (os.replace),
         so a crash or a full disk mid-save leaves the previous checkpoint intact.
Checks   `load` compares the stored config with the model's field by field, checks that every
         requested module is in the file and that every tensor shape fits, and names the file,
         the field or module, and the fix in every error.

Taught in lessons/04_ctc.ipynb, section 5 (the first model saved and loaded back); later lessons
load earlier lessons' models with `load_pretrained`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from pathlib import Path

import torch

FORMAT = "minispeech-checkpoint-2"
FORMAT_1 = "minispeech-checkpoint-1"  # one "model", one "optimizer": read, converted, never written
PLAIN_TYPES = (str, int, float, bool, type(None), torch.Tensor)  # what weights_only=True can read
SINGLE_MODULE, SINGLE_OPTIMIZER = "model", "optimizer"  # the names a lone module/optimizer gets


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


def _named(objects, kind: type, single_name: str, argument: str) -> dict:
    """One object -> {single_name: it}; a dict of them -> itself; None -> {}."""
    if objects is None:
        return {}
    if isinstance(objects, kind):
        return {single_name: objects}
    if isinstance(objects, dict) and all(
        isinstance(name, str) and name and isinstance(item, kind) for name, item in objects.items()
    ):
        return dict(objects)
    raise TypeError(
        f"{argument} must be one {kind.__module__}.{kind.__qualname__} or a dict of them keyed by "
        f"non-empty names, e.g. {{'generator': ..., 'discriminator': ...}}; got {type(objects).__name__}"
    )


def save(path, modules, optimizers=None, step: int = 0, config=None, extra: dict | None = None) -> Path:
    """Write the state of `modules` (and `optimizers`), the step, the config and `extra` to `path`.

    `modules` is one nn.Module (stored as "model") or a dict name -> nn.Module; `optimizers` is
    None, one optimizer (stored as "optimizer") or a dict name -> optimizer. `config` is a
    dataclass (or None), `extra` a dict of plain data. Atomic: a temporary file in the same
    folder renamed over `path`. Creates the folder. Returns the path.
    """
    path = Path(path)
    stored = {
        "format": FORMAT,
        "modules": {
            name: module.state_dict()
            for name, module in _named(modules, torch.nn.Module, SINGLE_MODULE, "modules").items()
        },
        "optimizers": {
            name: optimizer.state_dict()
            for name, optimizer in _named(
                optimizers, torch.optim.Optimizer, SINGLE_OPTIMIZER, "optimizers"
            ).items()
        },
        "step": int(step),
        "config": None if config is None else dataclasses.asdict(config),
        "config_class": None if config is None else type(config).__name__,
        "extra": {} if extra is None else extra,
    }
    if not stored["modules"]:
        raise ValueError(f"save({path}): pass at least one module to save")
    _check_plain(stored["config"], "config")
    _check_plain(stored["extra"], "extra")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder: rename is atomic
    try:
        torch.save(stored, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _read(path, map_location="cpu", train_hint: str | None = None) -> dict:
    """The stored dict of `path` in format 2 (a format 1 file is converted), read weights-only."""
    path = Path(path)
    if not path.is_file():
        fix = train_hint or "train the model first (the lesson's training section saves it)"
        raise FileNotFoundError(f"checkpoint {path} does not exist: {fix}, or check the path")
    try:
        stored = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        reason = (
            f"it stores a Python object ({refused.group(1)}), which weights_only=True refuses because "
            "unpickling can run code" if refused
            else f"{type(error).__name__}: the file is corrupt (an interrupted copy?) or not from torch"
        )
        raise ValueError(
            f"cannot read checkpoint {path}: {reason}; save it again with "
            "minispeech.checkpoint.save (plain data only) or retrain"
        ) from error
    if not isinstance(stored, dict) or stored.get("format") not in (FORMAT, FORMAT_1):
        raise ValueError(
            f"{path} is not a minispeech checkpoint (no format {FORMAT!r}); "
            "save it with minispeech.checkpoint.save"
        )
    if stored["format"] == FORMAT_1:
        optimizer = stored.get("optimizer")
        stored = {
            key: value for key, value in stored.items() if key not in ("model", "optimizer")
        } | {
            "format": FORMAT,
            "modules": {SINGLE_MODULE: stored["model"]},
            "optimizers": {} if optimizer is None else {SINGLE_OPTIMIZER: optimizer},
        }
    return stored


def _flatten(data: dict, prefix: str = "") -> dict:
    """{"mel": {"n_mels": 80}} -> {"mel.n_mels": 80}, so a difference names the nested field."""
    flat = {}
    for key, value in data.items():
        nested = isinstance(value, dict)
        flat.update(_flatten(value, f"{prefix}{key}.") if nested else {f"{prefix}{key}": value})
    return flat


def _check_config(path, stored: dict, config) -> None:
    if stored.get("config") is None:
        return  # saved without a config: nothing to compare
    name, stored_name = type(config).__name__, stored.get("config_class")
    fix = f"build the model from the checkpoint's config, `checkpoint.config_from_checkpoint(path, {name})`"
    if stored_name != name:
        raise ValueError(f"checkpoint {path} holds a {stored_name}, this model a {name}: {fix}")
    saved, current = _flatten(stored["config"]), _flatten(dataclasses.asdict(config))
    differences = [
        f"{key}={saved.get(key, '(absent)')!r}, this model has {key}={current.get(key, '(absent)')!r}"
        for key in sorted(saved.keys() | current.keys())
        if key not in saved or key not in current or saved[key] != current[key]
    ]
    if differences:
        shown = "; ".join(differences[:4])
        raise ValueError(f"checkpoint {path} was trained with {shown}: {fix} or retrain")


def _check_state_dict(path, name: str, saved: dict, module: torch.nn.Module) -> None:
    expected = module.state_dict()
    problems = [f"missing {key}" for key in expected if key not in saved]
    problems += [f"unexpected {key}" for key in saved if key not in expected]
    problems += [
        f"{key} has shape {tuple(saved[key].shape)}, the module wants {tuple(expected[key].shape)}"
        for key in expected
        if key in saved and saved[key].shape != expected[key].shape
    ]
    if problems:
        raise ValueError(
            f"checkpoint {path} does not fit module {name!r} ({len(problems)} problems: "
            f"{'; '.join(problems[:3])}): build it with the checkpoint's config or retrain"
        )


def _load_into(path, stored: dict, modules, optimizers, config) -> tuple[int, dict]:
    """Check, then copy the state of `stored` into `modules` and `optimizers`."""
    modules = _named(modules, torch.nn.Module, SINGLE_MODULE, "modules")
    optimizers = _named(optimizers, torch.optim.Optimizer, SINGLE_OPTIMIZER, "optimizers")
    if not modules:
        raise ValueError(f"load({path}): pass at least one module to load into")
    if config is not None:
        _check_config(path, stored, config)
    saved_modules, saved_optimizers = stored["modules"], stored["optimizers"]
    for name in modules:
        if name not in saved_modules:
            raise ValueError(
                f"checkpoint {path} has no module {name!r}; it holds {sorted(saved_modules)}: "
                "pass modules under those names (a single module is stored as 'model')"
            )
    for name in optimizers:
        if name not in saved_optimizers:
            holds = f"it holds {sorted(saved_optimizers)}" if saved_optimizers else "it was saved without"
            raise ValueError(
                f"checkpoint {path} has no optimizer state for {name!r} ({holds}): "
                "pass optimizers=None to load the weights only, or the names it holds"
            )
    for name, module in modules.items():
        _check_state_dict(path, name, saved_modules[name], module)
    for name, module in modules.items():  # only after every check passed: all or nothing
        module.load_state_dict(saved_modules[name])
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(saved_optimizers[name])
    return int(stored["step"]), stored.get("extra") or {}


def load(
    path, modules, optimizers=None, config=None, map_location="cpu", train_hint: str | None = None
) -> tuple[int, dict]:
    """Load what `save` wrote into `modules` (and `optimizers`); returns (step, extra).

    `modules`/`optimizers` as in `save`: one (named "model"/"optimizer") or a dict name -> object.
    Every name asked for must be in the file; names in the file that are not asked for are left
    alone (load only the generator of a GAN checkpoint, say). Always `torch.load(...,
    weights_only=True)`: a checkpoint cannot run code. With `config`, the stored config must
    equal it field by field. `train_hint` completes the missing-file message, e.g. "run
    lessons/04_ctc.ipynb, section 5". Errors name the file and the fix.
    """
    stored = _read(path, map_location, train_hint)
    return _load_into(path, stored, modules, optimizers, config)


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


def _config_of(path, stored: dict, config_class: type):
    if stored.get("config") is None:
        raise ValueError(f"checkpoint {path} has no config: save it with checkpoint.save(..., config=)")
    if stored.get("config_class") != config_class.__name__:
        raise ValueError(f"checkpoint {path} holds a {stored.get('config_class')}, "
                         f"not a {config_class.__name__}: pass the matching config class")
    return config_from_dict(config_class, stored["config"])


def config_from_checkpoint(path, config_class: type, train_hint: str | None = None):
    """The `config_class` instance stored in checkpoint `path` (written by `save(..., config=)`)."""
    return _config_of(path, _read(path, "cpu", train_hint), config_class)


def artifact_path(name: str, kind: str = "cpu") -> Path:
    """<data root>/artifacts/<name>.pt for a model trained in the cpu or gpu profile, and
    <name>_ci.pt for the seconds-long ci run, so that CI never overwrites a real model."""
    from minispeech.data import default_data_root

    return Path(default_data_root()) / "artifacts" / (f"{name}_ci.pt" if kind == "ci" else f"{name}.pt")


def load_pretrained(
    name: str, model_class: type, config_class: type, train_hint: str, path=None, device="cpu"
) -> torch.nn.Module:
    """model_class(config) with the weights a lesson saved (under "model"), in eval mode on `device`.

    path=None takes artifact_path(name) (a cpu/gpu run) if it exists, else the ci run's
    artifact; raises FileNotFoundError saying which lesson to run (train_hint) when neither does.
    """
    if path is None:
        candidates = [artifact_path(name, "cpu"), artifact_path(name, "ci")]
        path = next((candidate for candidate in candidates if candidate.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"no trained {name} model at {candidates[0]} (or {candidates[1].name}): {train_hint}"
            )
    stored = _read(path, "cpu", train_hint)
    config = _config_of(path, stored, config_class)
    model = model_class(config)
    _load_into(path, stored, model, None, config)
    return model.to(device).eval()
