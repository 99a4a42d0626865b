"""TrainConfig: JSON round trip and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medtl_gui.core.training import ConfigError, TrainConfig


def test_json_round_trip_keeps_every_field(tmp_path: Path) -> None:
    config = TrainConfig(model="densenet121", pretrained="imagenet", strategy="gradual_unfreezing", lr_decay=0.3,
                         retention="l2sp", alpha=0.1, beta=0.9, epochs=7, image_size=96, in_channels=3,
                         augmentation="strong", imbalance="balanced_sampler", early_stopping_patience=3,
                         threshold_policy="youden", channels_last=False, schedule="onecycle", warmup_epochs=1.5)
    assert TrainConfig.from_json(config.to_json()) == config
    path = tmp_path / "cfg.json"
    config.save(path)
    assert TrainConfig.load(path) == config
    assert json.loads(path.read_text())["warmup_epochs"] == 1.5


def test_defaults_round_trip() -> None:
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def test_unknown_setting_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="'epoch'.*unknown setting"):
        TrainConfig.from_dict({"epoch": 3})


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"model": "resnet19"}, "model"),
        ({"strategy": "freeze_all"}, "strategy"),
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"augmentation": "extreme"}, "augmentation"),
        ({"precision": "int8"}, "precision"),
        ({"lr_decay": 1.5}, "lr_decay"),
        ({"threshold": 1.0}, "threshold"),
        ({"warmup_epochs": 20}, "warmup_epochs"),
    ],
)
def test_invalid_values_name_the_setting(changes: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict(TrainConfig().to_dict() | changes, origin="cfg.json")
    assert info.value.key == key and str(info.value).startswith("cfg.json: config")


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json.*not valid JSON"):
        TrainConfig.load(path)


def test_a_run_config_record_loads_as_a_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"run_id": "x", "config": TrainConfig(epochs=4).to_dict(), "seed": 0,
                                "model": {"architecture": "resnet18"}}))
    assert TrainConfig.load(path).epochs == 4


def test_config_events_and_strategies_import_without_torch() -> None:
    code = "import sys; import medtl_gui.core.training as t; t.TrainConfig().validate(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
