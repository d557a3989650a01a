import random
import time
import warnings

import numpy as np
import pytest
import torch

from minispeech import profiles, train

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


# --- fixed steps with a wall-clock cap ------------------------------------------------------


class FakeClock:
    """A clock that advances `seconds_per_call` each time it is read."""

    def __init__(self, seconds_per_call: float):
        self.now, self.seconds_per_call = 0.0, seconds_per_call

    def __call__(self) -> float:
        self.now += self.seconds_per_call
        return self.now


def test_step_budget_runs_every_step_when_the_cap_is_not_reached():
    budget = train.StepBudget(1200, cap_seconds=900, clock=FakeClock(0.5))
    assert list(budget) == list(range(1200))
    assert not budget.stopped_early and budget.steps_done == 1200
    assert budget.message() == f"trained 1200 steps in {budget.seconds:.0f} s"
    assert list(train.StepBudget(3)) == [0, 1, 2]  # no cap: the real clock, never stops early


def test_step_budget_stops_at_the_cap_and_says_so():
    clock = FakeClock(1.0)  # the clock reads once per step: each step "takes" 1 s
    budget = train.StepBudget(1200, cap_seconds=812, clock=clock)
    seen = [step for step in budget]
    assert seen == list(range(811)) and budget.stopped_early and budget.steps_done == 811
    assert budget.message().startswith("stopped at step 811 of 1200: the 812 s cap was reached (")
    assert "set the cap higher" in budget.message()


def test_step_budget_counts_a_break_and_restarts_when_iterated_again():
    budget = train.StepBudget(10, cap_seconds=100, clock=FakeClock(1.0))
    for step in budget:
        if step == 4:
            break
    assert budget.steps_done == 4 and not budget.stopped_early
    assert list(budget) == list(range(10)) and budget.steps_done == 10


def test_step_budget_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps must be >= 0"):
        train.StepBudget(-1)
    with pytest.raises(ValueError, match=r"cap_seconds must be > 0 \(or None: no cap\)"):
        train.StepBudget(10, cap_seconds=0)
