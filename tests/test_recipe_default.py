"""Training recipes: ``medtl train DATA`` without options uses the default recipe; options override it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.training import ConfigError, TrainConfig
from medtl_gui.core.training.recipes import (
    DEFAULT_RECIPE,
    RECIPES,
    batch_size_for,
    recipe_config,
    recipe_for_data,
    training_image_count,
)


@pytest.fixture
def small_npz(tmp_path: Path) -> Path:
    return write_synthetic_npz(tmp_path / "small.npz", n_train=12, n_val=4, n_test=4, size=8)


def test_medtl_train_without_options_uses_the_default_recipe(small_npz: Path, tmp_path: Path) -> None:
    # only --epochs is given (12 images would get the recipe's 50-epoch small-data cap: too long for a test)
    assert main(["train", str(small_npz), "--epochs", "2", "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    expected = recipe_for_data(DEFAULT_RECIPE, load_npz_splits(small_npz))
    assert saved["config"] == expected.to_dict() | {"epochs": 2}
    assert expected.epochs == RECIPES["balanced"].max_epochs  # 12 images: 2 steps per epoch, so more epochs
    config = saved["config"]
    assert config["recipe"] == "balanced" and DEFAULT_RECIPE == "balanced"
    assert (config["model"], config["image_size"], config["lr"], config["schedule"]) == (
        "resnet18", 64, 2e-3, "onecycle")
    assert config["batch_size"] == 8  # 12 training images: the recipe's 128 shrinks to a power of two <= 12
    assert saved["resolved"]["imbalance"] in ("none", "weighted_loss")
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2


def test_options_override_single_recipe_settings(small_npz: Path, tmp_path: Path) -> None:
    assert main(["train", str(small_npz), "--recipe", "best", "--epochs", "1", "--image-size", "32",
                 "--model", "baseline_cnn", "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert (config["recipe"], config["epochs"], config["image_size"], config["model"]) == ("best", 1, 32,
                                                                                            "baseline_cnn")
    assert config["augmentation"] == RECIPES["best"].values()["augmentation"] == "standard"


def test_recipe_and_config_file_together_is_a_usage_error(small_npz: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "cfg.json"
    TrainConfig(epochs=1).save(config)
    assert main(["train", str(small_npz), "--recipe", "quick", "--config", str(config)]) == 2
    assert "--recipe and --config" in capsys.readouterr().err


def test_batch_size_never_exceeds_the_training_images() -> None:
    assert batch_size_for(128, None) == 128 and batch_size_for(128, 5000) == 128
    assert batch_size_for(128, 100) == 64 and batch_size_for(128, 3) == 2 and batch_size_for(128, 1) == 2
    assert recipe_config("balanced", n_train=40).batch_size == 16  # about 8 steps per epoch, at least 16
    assert recipe_config("balanced", n_train=40, batch_size=8).batch_size == 8


def test_training_image_count_allows_for_the_held_out_validation(tmp_path: Path) -> None:
    data = load_npz_splits(write_synthetic_npz(tmp_path / "a.npz", n_train=40, n_val=8, n_test=4, size=8))
    assert training_image_count(data, 0.15) == 40
    data.val = None
    assert training_image_count(data, 0.15) == 34


def test_every_recipe_is_a_valid_config_and_unknown_names_fail() -> None:
    for name, recipe in RECIPES.items():
        config = recipe_config(name)
        assert config.recipe == name and recipe.description
        assert all(getattr(config, key) == value for key, value in recipe.values().items())
    with pytest.raises(ConfigError, match="unknown recipe 'fastest'"):
        recipe_config("fastest")
    with pytest.raises(ConfigError, match="recipe"):
        TrainConfig(recipe="fastest").validate()
