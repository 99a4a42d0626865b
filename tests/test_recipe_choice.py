"""Recipes resolved against what is installed: never refused, the best weights there are, data-sized, a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medtl_gui.core.models.weights import WeightStore
from medtl_gui.core.models.weights.manifest import WeightsEntry, write_manifest
from medtl_gui.core.training.presets import preset_choice, preset_overrides, with_overrides
from medtl_gui.core.training.recipe_choice import choose_recipe, project_weights
from medtl_gui.core.training.recipes import RECIPES, recipe_config, steps_per_epoch
from medtl_gui.core.training.time_budget import MAX_BUDGET_EPOCHS, BudgetClock, ProbeCosts, plan_budget


def _store_with(tmp_path: Path, *entries: WeightsEntry) -> WeightStore:
    folder = tmp_path / "weights"
    folder.mkdir(exist_ok=True)
    write_manifest(folder, list(entries))
    return WeightStore(folder, hub_dirs=[])


def _in_domain(name: str, run_dir: Path, created: str, architecture: str = "resnet18", size: int = 48) -> WeightsEntry:
    return WeightsEntry(name=name, architecture=architecture, file=f"{name}.safetensors", sha256="0" * 64,
                        source="self-supervised (SimCLR) on chest", licence="derived", layout="medtl-backbone",
                        created=created, notes=json.dumps({"run_dir": str(run_dir), "image_size": size}))


def test_an_empty_weight_store_falls_back_to_training_from_scratch_with_a_reason(tmp_path):
    choice = choose_recipe("quick", store=WeightStore(tmp_path / "empty", hub_dirs=[]), n_train=40,
                           runs_dir=tmp_path / "project" / "runs")
    assert choice.source == "scratch" and choice.asked == "quick"
    config = choice.config
    assert (config.recipe, config.pretrained, config.strategy) == ("balanced", None, "full")
    assert "ImageNet ResNet-18 weights are not installed" in choice.reason
    assert "from scratch with the Balanced recipe" in choice.reason and "\n" not in choice.reason
    # no store at all behaves the same; a recipe that needs no weights is used as written
    assert choose_recipe("quick", store=None, n_train=40).source == "scratch"
    best = choose_recipe("best", store=None, n_train=40)
    assert best.source == "recipe" and best.config.recipe == "best" and "no pretrained weights" in best.reason


def test_this_projects_in_domain_weights_are_chosen_when_imagenet_is_missing(tmp_path):
    runs = tmp_path / "project" / "runs"
    other = tmp_path / "elsewhere" / "runs"
    store = _store_with(tmp_path,
                        _in_domain("old-ssl", runs / "20260101-pretrain-ssl", "2026-01-01T00:00:00+00:00"),
                        _in_domain("new-ssl", runs / "20260301-pretrain-ssl", "2026-03-01T00:00:00+00:00"),
                        _in_domain("foreign", other / "x", "2026-05-01T00:00:00+00:00"))
    assert [w.name for w in project_weights(store, runs)] == ["new-ssl", "old-ssl"]  # not another project's
    choice = choose_recipe("quick", store=store, n_train=200, runs_dir=runs)
    assert choice.source == "in-domain"
    config = choice.config
    assert (config.pretrained, config.model, config.strategy, config.recipe) == (
        "new-ssl", "resnet18", "feature_extraction", "quick")
    assert config.image_size == 48  # the size the weights were pretrained at
    assert "this project's self-supervised weights 'new-ssl' (run 20260301-pretrain-ssl)" in choice.reason
    # weights the user names explicitly are never replaced
    explicit = choose_recipe("quick", store=store, n_train=200, runs_dir=runs, pretrained="old-ssl")
    assert explicit.source == "explicit" and explicit.config.pretrained == "old-ssl"


def test_batch_size_and_epochs_follow_the_number_of_training_images():
    recipe = RECIPES["balanced"]
    sizes = {n: recipe_config("balanced", n_train=n) for n in (40, 500, 3882)}
    assert [sizes[n].batch_size for n in (40, 500, 3882)] == [16, 32, 128]
    assert sizes[3882].epochs == 10  # the data the recipe was measured on: unchanged
    assert sizes[500].epochs == 19 and steps_per_epoch(500, 32) * 19 >= recipe.min_steps
    assert sizes[40].epochs == recipe.max_epochs  # capped
    assert sizes[40].epochs > sizes[500].epochs > sizes[3882].epochs
    # explicit settings win, and the epochs follow an explicit batch
    assert recipe_config("balanced", n_train=500, epochs=3).epochs == 3
    assert recipe_config("balanced", n_train=500, batch_size=64).epochs == 38
    choice = preset_choice("balanced", n_train=500)
    assert "batch 32, 19 epochs (304 steps) for 500 training images" in choice.reason


def test_overrides_are_the_fields_a_user_changed_and_apply_again():
    preset = preset_choice("balanced", n_train=100).config
    mine = with_overrides(preset, {"lr": 0.01, "augmentation": "strong"})
    assert mine is not None and mine.recipe is None
    assert preset_overrides(mine, preset) == {"lr": 0.01, "augmentation": "strong"}
    assert with_overrides(preset, {"model": "no-such-net"}) is None  # stale overrides are dropped, not fatal


def test_a_budget_chooses_epochs_from_the_probe_and_grows_the_image_size_only_when_time_is_left():
    costs = ProbeCosts(seconds_per_batch=0.1, validation_s=0.5, checkpoint_s=0.2, probe_s=1.0, batches_timed=6)
    short = plan_budget(1.0, 5.0, costs, batches_per_epoch=10, image_size=64, n_val=100, n_test=100, may_grow=True)
    epoch_s = 10 * 0.1 + 0.5 + 1.5 * 0.2
    assert short.image_size == 64 and short.epochs == int((0.9 * 55 - short.end_s) // epoch_s)
    assert short.epochs * short.epoch_s + short.end_s + 5.0 <= 60.0
    long = plan_budget(30.0, 5.0, costs, batches_per_epoch=10, image_size=64, n_val=100, n_test=100, may_grow=True)
    assert long.image_size > 64 and long.epochs <= MAX_BUDGET_EPOCHS
    kept = plan_budget(30.0, 5.0, costs, batches_per_epoch=10, image_size=64, n_val=100, n_test=100, may_grow=False)
    assert kept.image_size == 64 and kept.epochs == MAX_BUDGET_EPOCHS and kept.capped
    tiny = plan_budget(0.01, 5.0, costs, batches_per_epoch=10, image_size=64, n_val=100, n_test=100, may_grow=True)
    assert tiny.epochs == 1  # always at least one epoch


def test_the_budget_clock_stops_when_another_epoch_would_not_fit():
    now = [0.0]
    clock = BudgetClock(budget_s=10.0, started=0.0, end_s=1.0, clock=lambda: now[0])
    assert not clock.must_stop()  # nothing measured yet
    clock.epoch_started()
    now[0] = 3.0
    clock.epoch_ended()
    assert not clock.must_stop()  # 3 + 3 + 1 <= 10
    clock.epoch_started()
    now[0] = 6.5
    clock.epoch_ended()
    assert clock.must_stop() and clock.stopped_early  # 6.5 + 3.25 + 1 > 10
    assert clock.left() == pytest.approx(3.5)


def test_the_budget_clock_replans_when_measured_epochs_disagree_with_the_probe():
    now = [0.0]
    clock = BudgetClock(budget_s=100.0, started=0.0, end_s=2.0, clock=lambda: now[0])
    clock.epoch_started()
    now[0] = 2.0
    clock.epoch_ended()  # 2 s per epoch, 98 s left: 0.9 * 98 - 2 = 86.2 s -> 43 more epochs
    assert clock.replanned_epochs(planned=10, done=1) == 44  # the probe (busy machine) planned far too few
    assert clock.replans == [{"after_epoch": 1, "epochs": 44, "epoch_s": 2.0}]
    assert clock.replanned_epochs(planned=44, done=1) is None  # within the tolerance: the plan stands
    clock.epoch_started()
    now[0] = 30.0
    clock.epoch_ended()  # the machine got busy: mean 15 s, 70 s left: 0.9 * 70 - 2 = 61 s -> 4 more
    assert clock.replanned_epochs(planned=44, done=2) == 6


def test_a_replanned_schedule_keeps_its_steps_and_follows_the_new_length():
    import torch

    from medtl_gui.core.training.optimisation import build_scheduler, lr_factor, retarget_scheduler

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = build_scheduler(optimizer, "onecycle", total_steps=10, warmup_steps=0)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    retarget_scheduler(scheduler, "onecycle", total_steps=100, warmup_steps=0)
    optimizer.step()
    scheduler.step()
    assert scheduler.last_epoch == 5
    assert optimizer.param_groups[0]["lr"] == pytest.approx(lr_factor("onecycle", 100, 0)(5))
