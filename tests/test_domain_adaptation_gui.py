"""The training panel's domain-adaptation row and its setup check."""

from __future__ import annotations

from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.setup_checks import DataSummary, preset_config, setup_problems


def _summary(domains: dict[str, int]) -> DataSummary:
    return DataSummary(["normal", "lesion"], {"train": {"normal": 4, "lesion": 4}}, {}, [], domains)


def test_domain_adaptation_needs_target_images_in_the_project() -> None:
    config = TrainConfig.from_dict(preset_config("balanced", n_train=8).to_dict()
                                   | {"domain_adaptation": "dann", "target_domain": "scanner-b"})
    problems = setup_problems(config, _summary({"source": 8}))
    assert any("target domain 'scanner-b'" in p and "found 0" in p for p in problems)
    assert setup_problems(config, _summary({"source": 8, "scanner-b": 5})) == []
    plain = preset_config("balanced", n_train=8)
    assert setup_problems(plain, _summary({"source": 8})) == []


def test_panel_round_trips_the_domain_adaptation_settings(qtbot) -> None:
    from medtl_gui.gui.training.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert panel.config().domain_adaptation == "none"
    assert not panel.domain_adaptation.target.isEnabled()
    wanted = TrainConfig(model="baseline_cnn", domain_adaptation="dsbn", target_domain="site-2", epochs=3,
                         batch_size=16, validation_samples=4096)
    panel.set_config(wanted)
    got = panel.config()
    assert got.domain_adaptation == "dsbn" and got.target_domain == "site-2"
    assert panel.domain_adaptation.target.isEnabled()
    index = panel.domain_adaptation.method.findData("dann")
    panel.domain_adaptation.method.setCurrentIndex(index)
    assert panel.config().domain_adaptation == "dann"
    assert panel.preset.currentData() == "custom"  # an edit leaves the preset
