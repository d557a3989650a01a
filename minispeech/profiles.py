"""Run profiles: one switch that sizes every lesson for CI, a laptop CPU or one GPU.

ci    seconds per training cell; used by CI (`MINISPEECH_PROFILE=ci`)
cpu   the default without CUDA: minutes per lesson, must reach the lesson's quality bar
gpu   the default with CUDA: configs sized for one 12 GB card, bf16 autocast

    >>> profile = current()            # reads MINISPEECH_PROFILE, else picks cpu/gpu
    >>> config = SomeConfig.preset(profile.name)

Taught in lessons/00_setup_data_text.ipynb, section 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_NAMES = ("ci", "cpu", "gpu")
ENV_VARIABLE = "MINISPEECH_PROFILE"
DEFAULT_SEED = 1234


@dataclass(frozen=True)
class Profile:
    name: str  # "ci", "cpu" or "gpu"
    device: str  # a torch device string: "cpu" or "cuda"
    dtype: str  # autocast dtype name: "float32" on CPU, "bfloat16" on GPU
    seed: int = DEFAULT_SEED

    @property
    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def get(name: str) -> Profile:
    """The profile called `name`, with the device it implies."""
    if name not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {name!r}: choose one of {', '.join(PROFILE_NAMES)} "
            f"(set {ENV_VARIABLE}=ci|cpu|gpu)"
        )
    if name == "gpu":
        if not _cuda_available():
            # The gpu preset still constructs and runs on CPU (tests do exactly that).
            return Profile(name="gpu", device="cpu", dtype="float32")
        return Profile(name="gpu", device="cuda", dtype="bfloat16")
    return Profile(name=name, device="cpu", dtype="float32")


def current() -> Profile:
    """`MINISPEECH_PROFILE` if set, else `gpu` when CUDA is available, else `cpu`."""
    name = os.environ.get(ENV_VARIABLE, "").strip().lower()
    if not name:
        name = "gpu" if _cuda_available() else "cpu"
    return get(name)


def pick(presets: dict, profile: Profile | str | None = None):
    """Choose `presets[profile.name]`, e.g. a config per profile.

    Raises a ValueError naming the profiles that have a preset when this one has none.
    """
    if profile is None:
        profile = current()
    name = profile if isinstance(profile, str) else profile.name
    if name not in presets:
        raise ValueError(f"no preset for profile {name!r}: choose one of {sorted(presets)}")
    return presets[name]
