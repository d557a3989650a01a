import dataclasses
import os

import pytest
import torch

from minispeech import checkpoint


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


def assert_same_weights(saved: torch.nn.Module, loaded: torch.nn.Module) -> None:
    for name, tensor in saved.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def assert_same_optimizer_state(saved, loaded) -> None:
    saved_state, loaded_state = saved.state_dict(), loaded.state_dict()
    assert saved_state["state"].keys() == loaded_state["state"].keys()
    for key in saved_state["state"]:
        for name, tensor in saved_state["state"][key].items():
            assert torch.equal(loaded_state["state"][key][name], tensor), (key, name)


# --- round trips ------------------------------------------------------------------------------


def test_round_trip_restores_weights_optimizer_step_and_extra(tmp_path):
    torch.manual_seed(0)
    model, optimizer = trained_pair()
    path = checkpoint.save(
        tmp_path / "runs" / "tiny.pt", model, optimizer, step=17, config=TinyConfig(),
        extra={"history": {"loss": [2.0, 1.5]}, "note": "ok"},
    )
    assert path.is_file()
    stored = torch.load(path, weights_only=True)
    assert stored["format"] == "minispeech-checkpoint-2"
    assert set(stored["modules"]) == {"model"} and set(stored["optimizers"]) == {"optimizer"}
    fresh, fresh_optimizer = trained_pair()  # different random weights and state
    step, extra = checkpoint.load(path, fresh, fresh_optimizer, config=TinyConfig())
    assert step == 17 and extra == {"history": {"loss": [2.0, 1.5]}, "note": "ok"}
    assert_same_weights(model, fresh)
    assert_same_optimizer_state(optimizer, fresh_optimizer)


def test_single_module_loads_as_a_dict_named_model(tmp_path):
    model = tiny_model()
    path = checkpoint.save(tmp_path / "a.pt", model, step=3)
    fresh = tiny_model()
    assert checkpoint.load(path, {"model": fresh}) == (3, {})
    assert_same_weights(model, fresh)


def test_two_modules_and_two_optimizers_round_trip(tmp_path):
    torch.manual_seed(0)
    generator, generator_optimizer = trained_pair()
    discriminator, discriminator_optimizer = trained_pair(TinyConfig(n_layers=1, width=3))
    path = checkpoint.save(
        tmp_path / "gan.pt",
        {"generator": generator, "discriminator": discriminator},
        {"generator": generator_optimizer, "discriminator": discriminator_optimizer},
        step=5,
        extra={"losses": {"generator": 1.0, "discriminator": 0.5}},
    )
    new_generator, new_generator_optimizer = trained_pair()
    new_discriminator, new_discriminator_optimizer = trained_pair(TinyConfig(n_layers=1, width=3))
    step, extra = checkpoint.load(
        path,
        {"generator": new_generator, "discriminator": new_discriminator},
        {"generator": new_generator_optimizer, "discriminator": new_discriminator_optimizer},
    )
    assert step == 5 and extra == {"losses": {"generator": 1.0, "discriminator": 0.5}}
    assert_same_weights(generator, new_generator)
    assert_same_weights(discriminator, new_discriminator)
    assert_same_optimizer_state(generator_optimizer, new_generator_optimizer)
    assert_same_optimizer_state(discriminator_optimizer, new_discriminator_optimizer)
    only_generator = tiny_model()  # inference needs the generator alone: the rest is left alone
    assert checkpoint.load(path, {"generator": only_generator})[0] == 5
    assert_same_weights(generator, only_generator)


def test_format_1_files_are_still_read(tmp_path):
    torch.manual_seed(0)
    model, optimizer = trained_pair()
    config = TinyConfig(n_layers=2, inner=InnerConfig(n_mels=5))
    path = tmp_path / "old.pt"
    torch.save({  # what train.save_checkpoint wrote before checkpoint.py existed
        "format": "minispeech-checkpoint-1", "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "step": 9, "config": dataclasses.asdict(config),
        "config_class": "TinyConfig", "extra": {"note": "old"},
    }, path)
    fresh, fresh_optimizer = trained_pair()
    assert checkpoint.load(path, fresh, fresh_optimizer, config=config) == (9, {"note": "old"})
    assert_same_weights(model, fresh)
    assert_same_optimizer_state(optimizer, fresh_optimizer)
    assert checkpoint.config_from_checkpoint(path, TinyConfig) == config
    torch.save({"format": "minispeech-checkpoint-1", "model": model.state_dict(), "optimizer": None,
                "step": 1, "config": None, "config_class": None, "extra": {}}, path)
    with pytest.raises(ValueError, match="no optimizer state for 'optimizer'.*optimizers=None"):
        checkpoint.load(path, fresh, fresh_optimizer)


# --- atomic, plain-data writes ----------------------------------------------------------------


def test_save_leaves_no_temporary_files_and_overwrites(tmp_path):
    model = tiny_model()
    checkpoint.save(tmp_path / "a.pt", model, step=1)
    checkpoint.save(tmp_path / "a.pt", model, step=2)
    assert os.listdir(tmp_path) == ["a.pt"]
    assert checkpoint.load(tmp_path / "a.pt", tiny_model())[0] == 2


def test_failed_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "a.pt"
    checkpoint.save(path, tiny_model(), step=1)
    before = path.read_bytes()

    def crash_mid_write(obj, target):
        with open(target, "wb") as handle:
            handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, tiny_model(), step=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.pt"]


def test_extra_and_config_must_be_plain_data(tmp_path):
    with pytest.raises(ValueError, match=r"extra\['when'\] is a object"):
        checkpoint.save(tmp_path / "a.pt", tiny_model(), extra={"when": object()})

    @dataclasses.dataclass(frozen=True)
    class HoldsAPath:
        folder: object = tmp_path

    with pytest.raises(ValueError, match=r"config\['folder'\] is a PosixPath.*convert it"):
        checkpoint.save(tmp_path / "a.pt", tiny_model(), config=HoldsAPath())
    assert not (tmp_path / "a.pt").exists()


def test_modules_and_optimizers_must_be_objects_or_named_dicts(tmp_path):
    with pytest.raises(TypeError, match=r"modules must be one torch.nn.*Module or a dict .*got list"):
        checkpoint.save(tmp_path / "a.pt", [tiny_model()])
    with pytest.raises(TypeError, match="optimizers must be one torch.optim.*Optimizer or a dict"):
        checkpoint.save(tmp_path / "a.pt", tiny_model(), {"": torch.optim.SGD(tiny_model().parameters())})
    with pytest.raises(ValueError, match="at least one module"):
        checkpoint.save(tmp_path / "a.pt", {})


# --- errors that name the file and the fix ----------------------------------------------------


def test_missing_checkpoint_names_file_and_how_to_make_it(tmp_path):
    path = tmp_path / "nothing.pt"
    with pytest.raises(FileNotFoundError, match="nothing.pt.*run lesson 04"):
        checkpoint.load(path, tiny_model(), train_hint="run lesson 04")


def test_pickled_object_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "modules": {}, "payload": InnerConfig()}, path)
    with pytest.raises(
        ValueError,
        match=r"cannot read checkpoint .*evil.pt: it stores a Python object "
        r"\(test_checkpoint.InnerConfig\), which weights_only=True refuses because unpickling can "
        r"run code; save it again with minispeech.checkpoint.save",
    ):
        checkpoint.load(path, tiny_model())


def test_corrupt_and_foreign_files_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="corrupt.pt: .*corrupt"):
        checkpoint.load(corrupt, tiny_model())
    foreign = tmp_path / "foreign.pt"
    torch.save(tiny_model().state_dict(), foreign)  # a bare state dict, not our format
    with pytest.raises(ValueError, match="foreign.pt is not a minispeech checkpoint"):
        checkpoint.load(foreign, tiny_model())


def test_config_mismatch_names_the_field_and_the_fix(tmp_path):
    path = checkpoint.save(tmp_path / "a.pt", tiny_model(TinyConfig(n_layers=4)),
                           config=TinyConfig(n_layers=4))
    with pytest.raises(ValueError, match=r"n_layers=4, this model has n_layers=2.*config_from_checkpoint"):
        checkpoint.load(path, tiny_model(), config=TinyConfig())
    nested = TinyConfig(n_layers=4, inner=InnerConfig(n_mels=80))
    with pytest.raises(ValueError, match=r"inner.n_mels=8, this model has inner.n_mels=80"):
        checkpoint.load(path, tiny_model(nested), config=nested)
    with pytest.raises(ValueError, match="holds a TinyConfig, this model a InnerConfig"):
        checkpoint.load(path, tiny_model(nested), config=InnerConfig())


def test_state_dict_mismatch_names_module_keys_and_shapes(tmp_path):
    path = checkpoint.save(tmp_path / "a.pt", tiny_model(TinyConfig(n_layers=1)))
    with pytest.raises(ValueError, match=r"does not fit module 'model' .*missing 1.weight"):
        checkpoint.load(path, tiny_model(TinyConfig(n_layers=2)))
    with pytest.raises(ValueError, match=r"0.weight has shape \(4, 4\), the module wants \(5, 5\)"):
        checkpoint.load(path, tiny_model(TinyConfig(n_layers=1, width=5)))


def test_a_mismatch_in_one_module_loads_none_of_them(tmp_path):
    generator, discriminator = tiny_model(), tiny_model()
    path = checkpoint.save(tmp_path / "gan.pt", {"generator": generator, "discriminator": discriminator})
    new_generator, wide_discriminator = tiny_model(), tiny_model(TinyConfig(width=5))
    before = {name: tensor.clone() for name, tensor in new_generator.state_dict().items()}
    with pytest.raises(ValueError, match="does not fit module 'discriminator'"):
        checkpoint.load(path, {"generator": new_generator, "discriminator": wide_discriminator})
    for name, tensor in new_generator.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_missing_module_is_named_with_what_the_file_holds(tmp_path):
    path = checkpoint.save(tmp_path / "gan.pt", {"generator": tiny_model(), "discriminator": tiny_model()})
    holds = r"gan.pt has no module 'model'; it holds \['discriminator', 'generator'\]"
    with pytest.raises(ValueError, match=holds):
        checkpoint.load(path, tiny_model())
    with pytest.raises(ValueError, match="has no module 'period_discriminator'"):
        checkpoint.load(path, {"generator": tiny_model(), "period_discriminator": tiny_model()})


def test_optimizer_requested_but_not_saved(tmp_path):
    model, optimizer = trained_pair()
    path = checkpoint.save(tmp_path / "a.pt", model)
    with pytest.raises(ValueError, match="no optimizer state for 'optimizer' .*: pass optimizers=None"):
        checkpoint.load(path, model, optimizer)
    path = checkpoint.save(tmp_path / "b.pt", {"generator": model}, {"generator": optimizer})
    holds = r"no optimizer state for 'discriminator' \(it holds \['generator'\]\)"
    with pytest.raises(ValueError, match=holds):
        checkpoint.load(path, {"generator": model}, {"discriminator": optimizer})


# --- configs ----------------------------------------------------------------------------------


def test_config_from_checkpoint_rebuilds_nested_frozen_config(tmp_path):
    config = TinyConfig(n_layers=3, inner=InnerConfig(n_mels=5, sizes=(1, 2, 3)))
    path = checkpoint.save(tmp_path / "a.pt", tiny_model(config), config=config)
    assert checkpoint.config_from_checkpoint(path, TinyConfig) == config
    with pytest.raises(ValueError, match="holds a TinyConfig, not a InnerConfig"):
        checkpoint.config_from_checkpoint(path, InnerConfig)
    no_config = checkpoint.save(tmp_path / "b.pt", tiny_model())
    fix = r"b.pt has no config: save it with checkpoint.save\(..., config=\)"
    with pytest.raises(ValueError, match=fix):
        checkpoint.config_from_checkpoint(no_config, TinyConfig)


def test_config_from_dict_rejects_unknown_and_missing_keys():
    assert checkpoint.config_from_dict(InnerConfig, {"sizes": [5, 6]}) == InnerConfig(sizes=(5, 6))
    with pytest.raises(ValueError, match=r"unknown TinyConfig keys \['n_layer'\].*'n_layers'"):
        checkpoint.config_from_dict(TinyConfig, {"n_layer": 3})
    with pytest.raises(ValueError, match=r"unknown InnerConfig keys \['hop'\]"):
        checkpoint.config_from_dict(TinyConfig, {"inner": {"hop": 3}})

    @dataclasses.dataclass(frozen=True)
    class NeedsWidth:
        width: int

    with pytest.raises(ValueError, match=r"NeedsWidth needs keys \['width'\]"):
        checkpoint.config_from_dict(NeedsWidth, {})


def test_unknown_config_key_in_a_checkpoint_is_rejected(tmp_path):
    path = checkpoint.save(tmp_path / "a.pt", tiny_model(), config=TinyConfig())
    stored = torch.load(path, weights_only=True)
    stored["config"]["n_heads"] = 4  # written by a newer (or misspelled) config class
    torch.save(stored, path)
    with pytest.raises(ValueError, match=r"unknown TinyConfig keys \['n_heads'\]"):
        checkpoint.config_from_checkpoint(path, TinyConfig)


# --- artifacts: what a lesson saves for later lessons -----------------------------------------


def test_load_pretrained_prefers_the_real_run_and_names_the_lesson_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    hint = "run lessons/99_tiny.ipynb"
    assert checkpoint.artifact_path("tiny", "ci") == tmp_path / "artifacts" / "tiny_ci.pt"
    assert checkpoint.artifact_path("tiny", "gpu") == tmp_path / "artifacts" / "tiny.pt"
    with pytest.raises(FileNotFoundError, match="99_tiny"):
        checkpoint.load_pretrained("tiny", tiny_model, TinyConfig, hint)
    ci_model, real_model = tiny_model(), tiny_model()
    checkpoint.save(checkpoint.artifact_path("tiny", "ci"), ci_model, config=TinyConfig())
    loaded = checkpoint.load_pretrained("tiny", tiny_model, TinyConfig, hint)
    assert not loaded.training
    assert torch.equal(loaded[0].weight, ci_model[0].weight)
    checkpoint.save(checkpoint.artifact_path("tiny", "cpu"), real_model, config=TinyConfig())
    loaded = checkpoint.load_pretrained("tiny", tiny_model, TinyConfig, hint)
    assert torch.equal(loaded[0].weight, real_model[0].weight)
    wide = TinyConfig(width=6)
    checkpoint.save(tmp_path / "wide.pt", tiny_model(wide), config=wide)
    wide_model = checkpoint.load_pretrained("tiny", tiny_model, TinyConfig, hint, path=tmp_path / "wide.pt")
    assert wide_model[0].in_features == 6
