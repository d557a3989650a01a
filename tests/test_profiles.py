import pytest

from minispeech import profiles


def test_environment_variable_selects_profile(monkeypatch):
    monkeypatch.setenv("MINISPEECH_PROFILE", "ci")
    assert profiles.current().name == "ci"
    monkeypatch.setenv("MINISPEECH_PROFILE", "CPU")
    assert profiles.current() == profiles.Profile("cpu", "cpu", "float32")


def test_default_without_cuda_is_cpu(monkeypatch):
    monkeypatch.delenv("MINISPEECH_PROFILE", raising=False)
    monkeypatch.setattr(profiles, "_cuda_available", lambda: False)
    assert profiles.current().name == "cpu"
    monkeypatch.setattr(profiles, "_cuda_available", lambda: True)
    assert profiles.current() == profiles.Profile("gpu", "cuda", "bfloat16")


def test_gpu_profile_falls_back_to_cpu_device(monkeypatch):
    monkeypatch.setattr(profiles, "_cuda_available", lambda: False)
    assert profiles.get("gpu").device == "cpu"


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("MINISPEECH_PROFILE", "tpu")
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        profiles.current()


def test_pick_preset():
    presets = {"ci": 1, "cpu": 2, "gpu": 3}
    assert profiles.pick(presets, "cpu") == 2
    assert profiles.pick(presets, profiles.get("ci")) == 1
    with pytest.raises(ValueError, match="gpu"):
        profiles.pick({"ci": 1}, "gpu")
