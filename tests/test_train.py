import dataclasses
import os
import random
import time
import warnings

import numpy as np
import pytest
import torch

from minispeech import profiles, train


@dataclasses.dataclass(frozen=True)
class InnerConfig:
    n_mels: int = 8
    sizes: tuple[int, ...] = (3, 4)


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    n_layers: int = 2
    width: int = 4
    inner: InnerConfig = InnerConfig()


def tiny_model(config: TinyConfig = TinyConfig()) -> torch.nn.Module:
    layers = [torch.nn.Linear(config.width, config.width) for _ in range(config.n_layers)]
    return torch.nn.Sequential(*layers)


def trained_pair(config: TinyConfig = TinyConfig()):
    """A model and an Adam optimizer after one step, so the optimizer has state."""
    model = tiny_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(3, config.width)).sum().backward()
    optimizer.step()
    return model, optimizer


# --- seeds, devices, autocast ---------------------------------------------------------------


def test_seed_everything_repeats_all_three_generators():
    train.seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    train.seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_device_and_autocast_on_cpu_profile():
    profile = profiles.Profile(name="cpu", device="cpu", dtype="float32")
    assert train.device_for(profile) == torch.device("cpu")
    assert train.device_for() == torch.device(profiles.current().device)
    with train.autocast(profile):
        result = torch.ones(2, 2) @ torch.ones(2, 2)
    assert result.dtype == torch.float32  # nothing was cast


def test_autocast_on_gpu_profile_is_bf16_cuda_autocast():
    profile = profiles.Profile(name="gpu", device="cuda", dtype="bfloat16")
    with warnings.catch_warnings():  # "CUDA is not available" on CPU-only machines
        warnings.simplefilter("ignore")
        context = train.autocast(profile)
    assert isinstance(context, torch.autocast)
    assert context.device == "cuda" and context.fast_dtype == torch.bfloat16


# --- checkpoints ----------------------------------------------------------------------------


def test_round_trip_restores_weights_optimizer_step_and_extra(tmp_path):
    torch.manual_seed(0)
    model, optimizer = trained_pair()
    path = train.save_checkpoint(
        tmp_path / "runs" / "tiny.pt", model, optimizer, step=17, config=TinyConfig(),
        extra={"history": {"loss": [2.0, 1.5]}, "note": "ok"},
    )
    assert path.is_file()
    fresh, fresh_optimizer = trained_pair()  # different random weights and state
    step, extra = train.load_checkpoint(path, fresh, fresh_optimizer, config=TinyConfig())
    assert step == 17 and extra == {"history": {"loss": [2.0, 1.5]}, "note": "ok"}
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name
    saved_state, loaded_state = optimizer.state_dict(), fresh_optimizer.state_dict()
    for key in saved_state["state"]:
        for name, tensor in saved_state["state"][key].items():
            assert torch.equal(loaded_state["state"][key][name], tensor), (key, name)


def test_save_leaves_no_temporary_files_and_overwrites(tmp_path):
    model = tiny_model()
    train.save_checkpoint(tmp_path / "a.pt", model, step=1)
    train.save_checkpoint(tmp_path / "a.pt", model, step=2)
    assert os.listdir(tmp_path) == ["a.pt"]
    assert train.load_checkpoint(tmp_path / "a.pt", tiny_model())[0] == 2


def test_failed_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "a.pt"
    train.save_checkpoint(path, tiny_model(), step=1)
    before = path.read_bytes()

    def crash_mid_write(obj, target):
        with open(target, "wb") as handle:
            handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, tiny_model(), step=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.pt"]


def test_extra_must_be_plain_data(tmp_path):
    with pytest.raises(ValueError, match=r"extra\['when'\] is a object"):
        train.save_checkpoint(tmp_path / "a.pt", tiny_model(), extra={"when": object()})
    assert not (tmp_path / "a.pt").exists()


def test_missing_checkpoint_names_file_and_how_to_make_it(tmp_path):
    path = tmp_path / "nothing.pt"
    with pytest.raises(FileNotFoundError, match="nothing.pt.*run lesson 04"):
        train.load_checkpoint(path, tiny_model(), train_hint="run lesson 04")


def test_pickled_object_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": train.CHECKPOINT_FORMAT, "model": {}, "payload": InnerConfig()}, path)
    with pytest.raises(ValueError, match=r"cannot read checkpoint .*evil.pt: .*\(test_train.InnerConfig\)"):
        train.load_checkpoint(path, tiny_model())


def test_corrupt_and_foreign_files_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="corrupt.pt: .*corrupt"):
        train.load_checkpoint(corrupt, tiny_model())
    foreign = tmp_path / "foreign.pt"
    torch.save(tiny_model().state_dict(), foreign)  # a bare state dict, not our format
    with pytest.raises(ValueError, match="foreign.pt is not a minispeech checkpoint"):
        train.load_checkpoint(foreign, tiny_model())


def test_config_mismatch_names_the_field_and_the_fix(tmp_path):
    path = train.save_checkpoint(tmp_path / "a.pt", tiny_model(TinyConfig(n_layers=4)),
                                 config=TinyConfig(n_layers=4))
    with pytest.raises(ValueError, match=r"n_layers=4, this model has n_layers=2.*config_from_checkpoint"):
        train.load_checkpoint(path, tiny_model(), config=TinyConfig())
    nested = TinyConfig(n_layers=4, inner=InnerConfig(n_mels=80))
    with pytest.raises(ValueError, match=r"inner.n_mels=8, this model has inner.n_mels=80"):
        train.load_checkpoint(path, tiny_model(nested), config=nested)


def test_state_dict_mismatch_names_keys_and_shapes(tmp_path):
    path = train.save_checkpoint(tmp_path / "a.pt", tiny_model(TinyConfig(n_layers=1)))
    with pytest.raises(ValueError, match=r"missing 1.weight"):
        train.load_checkpoint(path, tiny_model(TinyConfig(n_layers=2)))
    with pytest.raises(ValueError, match=r"0.weight has shape \(4, 4\), the model wants \(5, 5\)"):
        train.load_checkpoint(path, tiny_model(TinyConfig(n_layers=1, width=5)))


def test_optimizer_requested_but_not_saved(tmp_path):
    model, optimizer = trained_pair()
    path = train.save_checkpoint(tmp_path / "a.pt", model)
    with pytest.raises(ValueError, match="no optimizer state: pass optimizer=None"):
        train.load_checkpoint(path, model, optimizer)


def test_config_from_checkpoint_rebuilds_nested_frozen_config(tmp_path):
    config = TinyConfig(n_layers=3, inner=InnerConfig(n_mels=5, sizes=(1, 2, 3)))
    path = train.save_checkpoint(tmp_path / "a.pt", tiny_model(config), config=config)
    assert train.config_from_checkpoint(path, TinyConfig) == config
    with pytest.raises(ValueError, match="holds a TinyConfig, not a InnerConfig"):
        train.config_from_checkpoint(path, InnerConfig)


def test_config_from_dict_rejects_unknown_and_missing_keys():
    assert train.config_from_dict(InnerConfig, {"sizes": [5, 6]}) == InnerConfig(sizes=(5, 6))
    with pytest.raises(ValueError, match=r"unknown TinyConfig keys \['n_layer'\].*'n_layers'"):
        train.config_from_dict(TinyConfig, {"n_layer": 3})
    with pytest.raises(ValueError, match=r"unknown InnerConfig keys \['hop'\]"):
        train.config_from_dict(TinyConfig, {"inner": {"hop": 3}})

    @dataclasses.dataclass(frozen=True)
    class NeedsWidth:
        width: int

    with pytest.raises(ValueError, match=r"NeedsWidth needs keys \['width'\]"):
        train.config_from_dict(NeedsWidth, {})


# --- NaN guard, clipping, schedules -----------------------------------------------------------


def test_check_finite_returns_value_and_names_the_step():
    assert train.check_finite(torch.tensor(1.5), step=3) == 1.5
    with pytest.raises(FloatingPointError, match="loss became NaN at step 12: lower the learning rate"):
        train.check_finite(torch.tensor(float("nan")), step=12)
    with pytest.raises(FloatingPointError, match="loss became inf at step 4"):
        train.check_finite(float("-inf"), step=4)


def test_clip_gradients_returns_norm_and_clips():
    model = torch.nn.Linear(3, 1, bias=False)
    model.weight.grad = torch.tensor([[3.0, 4.0, 0.0]])
    assert train.clip_gradients(model, max_norm=1.0) == pytest.approx(5.0)
    assert model.weight.grad.norm().item() == pytest.approx(1.0, rel=1e-5)


def test_warmup_cosine_key_values_and_shape():
    lr = [train.warmup_cosine(s, 10, 110, peak_lr=1.0, final_lr=0.1) for s in range(130)]
    assert lr[0] == pytest.approx(0.1) and lr[9] == pytest.approx(1.0)  # linear warm-up
    assert np.all(np.diff(lr[:10]) > 0)
    assert lr[10] == pytest.approx(1.0)
    assert lr[60] == pytest.approx(0.55)  # half way: the mean of peak and final
    assert lr[110] == pytest.approx(0.1) and lr[129] == pytest.approx(0.1)
    assert np.all(np.diff(lr[10:]) <= 0)  # never rises after the peak
    with pytest.raises(ValueError, match="warmup_steps <= total_steps"):
        train.warmup_cosine(0, 10, 5, 1.0)


def test_warmup_cosine_drives_lambda_lr():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: train.warmup_cosine(step, 4, 20, 1.0))
    seen = []
    for _ in range(6):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen[:4] == pytest.approx([0.125, 0.25, 0.375, 0.5])
    assert seen[4] == pytest.approx(0.5) and seen[5] < 0.5


def test_noam_peaks_at_warmup():
    values = [train.noam(s, d_model=256, warmup_steps=400) for s in range(1, 2000)]
    assert int(np.argmax(values)) + 1 == 400
    assert values[399] == pytest.approx(256**-0.5 * 400**-0.5)
    assert train.noam(0, 256, 400) == train.noam(1, 256, 400)


# --- progress, averages, timing -------------------------------------------------------------


def test_progress_bar_yields_items_and_shows_values(monkeypatch):
    monkeypatch.setenv("MINISPEECH_PROGRESS", "0")
    bar = train.progress(range(5), description="train")
    seen = []
    for item in bar:
        seen.append(item)
        bar.set(loss=torch.tensor(0.5), cer=0.25)
    bar.close()
    assert seen == list(range(5))
    assert bar.bar.disable
    assert bar.bar.postfix == "loss=0.5, cer=0.25"


def test_running_average_is_exponential():
    average = train.RunningAverage(smoothing=0.5)
    assert average.update(loss=4.0) == {"loss": 4.0}  # the first value starts the average
    assert average.update(loss=2.0, cer=1.0) == {"loss": 3.0, "cer": 1.0}
    assert average["loss"] == 3.0
    with pytest.raises(ValueError, match="smoothing"):
        train.RunningAverage(smoothing=1.0)


def test_timer_and_time_budget():
    with train.Timer() as timer:
        time.sleep(0.02)
    assert 0.015 < timer.seconds < 1.0
    assert not train.time_budget(None).expired()
    assert not train.time_budget(60).expired()
    budget = train.time_budget(0.01)
    time.sleep(0.02)
    assert budget.expired() and budget.elapsed() >= 0.01
    with pytest.raises(ValueError, match="budget_seconds"):
        train.time_budget(-1)


def test_count_parameters():
    model = torch.nn.Linear(3, 2)  # 6 weights + 2 biases
    assert train.count_parameters(model) == 8
    model.bias.requires_grad_(False)
    assert train.count_parameters(model) == 6
    assert train.count_parameters(model, trainable_only=False) == 8


# --- artifacts: what a lesson saves for later lessons ----------------------------------------


def test_load_trained_prefers_the_real_run_and_names_the_lesson_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    hint = "run lessons/99_tiny.ipynb"
    assert train.artifact_path("tiny", "ci") == tmp_path / "artifacts" / "tiny_ci.pt"
    assert train.artifact_path("tiny", "gpu") == tmp_path / "artifacts" / "tiny.pt"
    with pytest.raises(FileNotFoundError, match="99_tiny"):
        train.load_trained("tiny", tiny_model, TinyConfig, hint)
    ci_model, real_model = tiny_model(), tiny_model()
    train.save_checkpoint(train.artifact_path("tiny", "ci"), ci_model, config=TinyConfig())
    loaded = train.load_trained("tiny", tiny_model, TinyConfig, hint)
    assert not loaded.training
    assert torch.equal(loaded[0].weight, ci_model[0].weight)
    train.save_checkpoint(train.artifact_path("tiny", "cpu"), real_model, config=TinyConfig())
    loaded = train.load_trained("tiny", tiny_model, TinyConfig, hint)
    assert torch.equal(loaded[0].weight, real_model[0].weight)
    wide = TinyConfig(width=6)
    train.save_checkpoint(tmp_path / "wide.pt", tiny_model(wide), config=wide)
    assert train.load_trained("tiny", tiny_model, TinyConfig, hint, path=tmp_path / "wide.pt")[0].in_features == 6
