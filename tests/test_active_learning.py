"""Active learning (core.review): uncertainty and diversity scores, project rankings, ``medtl rank``."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from medtl_gui.core.review.active_learning import (
    rank_by_disagreement,
    rank_by_diversity,
    rank_by_uncertainty,
    rank_hybrid,
)
from medtl_gui.core.review.diversity import k_center_greedy
from medtl_gui.core.review.uncertainty import disagreement, entropy, least_confidence, margin


# --------------------------------------------------------------------------- scores
def test_entropy_ranking_puts_the_half_probability_images_first() -> None:
    p_positive = np.array([0.99, 0.5, 0.02, 0.7, 0.5, 0.9, 0.45])
    probabilities = np.stack([1 - p_positive, p_positive], axis=1)
    ranked = rank_by_uncertainty([10, 11, 12, 13, 14, 15, 16], probabilities, "entropy")
    assert [r.key for r in ranked[:2]] == [11, 14]  # exactly 0.5, in input order
    assert [r.key for r in ranked] == [11, 14, 16, 13, 15, 12, 10]  # 0.02 is less sure than 0.99
    assert [r.rank for r in ranked] == list(range(1, 8))
    assert ranked[0].score == pytest.approx(1.0) and ranked[0].probabilities == (0.5, 0.5)
    for method in ("margin", "least_confidence"):  # the same order for two classes
        assert [r.key for r in rank_by_uncertainty(list(range(7)), probabilities, method)][:2] == [1, 4]


def test_scores_are_normalised_and_agree_on_extremes() -> None:
    certain, tie = [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]
    for score in (entropy, margin, least_confidence):
        values = score(np.array([certain, tie]))
        assert values[0] == pytest.approx(0.0, abs=1e-9) and values[1] == pytest.approx(1.0)
    assert entropy(np.array([0.5, 0.9]))[0] == pytest.approx(1.0)  # 1-D: P(positive) of a binary model
    with pytest.raises(ValueError, match="probabilities"):
        entropy(np.array([[0.5, np.nan]]))


def test_disagreement_is_high_only_when_members_contradict_each_other() -> None:
    agree = np.array([[[0.9, 0.1]], [[0.9, 0.1]], [[0.9, 0.1]]])
    unsure_together = np.array([[[0.5, 0.5]], [[0.5, 0.5]], [[0.5, 0.5]]])
    contradict = np.array([[[0.99, 0.01]], [[0.01, 0.99]], [[0.99, 0.01]]])
    assert disagreement(agree)[0] == pytest.approx(0.0, abs=1e-9)
    assert disagreement(unsure_together)[0] == pytest.approx(0.0, abs=1e-9)  # uncertain, but no disagreement
    assert disagreement(contradict)[0] > 0.7
    members = np.concatenate([agree, unsure_together, contradict], axis=1)
    ranked = rank_by_disagreement([0, 1, 2], members)
    assert ranked[0].key == 2
    with pytest.raises(ValueError, match="members >= 2"):
        rank_by_disagreement([0], agree[:1])


def _clusters(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three tight clusters of 20 points (a large one near the origin) in 8-D; returns points and cluster ids."""
    centres = np.eye(8)[:3] * 5 + 1.0
    ids = np.repeat(np.arange(3), 20)
    return centres[ids] + rng.normal(0, 0.05, (60, 8)), ids


def test_k_center_picks_spread_points() -> None:
    points, cluster = _clusters(np.random.default_rng(0))
    pick = k_center_greedy(points, 3)
    assert sorted(cluster[pick.order[:3]]) == [0, 1, 2]  # one from each cluster before any second one
    assert sorted(pick.order.tolist()) == list(range(60))  # every candidate is ordered
    # points already labelled count as centres: nothing from their cluster is picked first
    labelled = points[cluster == 0][:2]
    pick = k_center_greedy(points, 2, labelled_features=labelled)
    assert set(cluster[pick.order[:2]]) == {1, 2}
    assert pick.distances[0] >= pick.distances[1] >= pick.distances[2]
    ranked = rank_by_diversity(list(range(100, 160)), points, labelled, n_select=2)
    assert {cluster[r.key - 100] for r in ranked[:2]} == {1, 2}


def test_hybrid_keeps_uncertain_images_but_spreads_them() -> None:
    points, cluster = _clusters(np.random.default_rng(1))
    p = np.where(cluster == 2, 0.99, 0.5)  # clusters 0 and 1 uncertain, cluster 2 certain
    p = p + np.random.default_rng(2).normal(0, 0.001, 60)
    probabilities = np.stack([1 - p, p], axis=1)
    by_entropy = rank_by_uncertainty(list(range(60)), probabilities)
    assert len({cluster[r.key] for r in by_entropy[:2]}) <= 2
    hybrid = rank_hybrid(list(range(60)), probabilities, points, n_select=2, pool_factor=20)
    assert {cluster[r.key] for r in hybrid[:2]} == {0, 1}  # one of each uncertain cluster, none certain
    assert sorted(r.key for r in hybrid) == list(range(60))


# --------------------------------------------------------------------------- projects
@pytest.fixture(scope="module")
def ranked_project_template(tmp_path_factory):
    """A tiny run (baseline CNN, 16 px, head dropout) and a project of its data with 20 labels removed."""
    from medtl_gui.core.data.npz_source import load_npz_splits
    from medtl_gui.core.data.synthetic import SYNTHETIC_CLASSES, write_synthetic_npz
    from medtl_gui.core.project import Project, import_sources
    from medtl_gui.core.training import TrainConfig, train

    folder = tmp_path_factory.mktemp("rank")
    npz = write_synthetic_npz(folder / "tiny.npz", n_train=24, n_val=8, n_test=8, size=16)
    config = TrainConfig(model="baseline_cnn", image_size=16, epochs=1, batch_size=8, precision="fp32",
                         head_dropout=0.3, device="cpu")
    result = train(config, load_npz_splits(npz), run_dir=folder / "run")
    assert result.status == "completed"
    with Project.create(folder / "project") as project:
        import_sources(project, [npz], class_names=SYNTHETIC_CLASSES)
        ids = [r.id for r in project.images()]
        for image_id in ids[:20]:
            project.set_label(image_id, None)
    return folder / "run", folder / "project"


@pytest.fixture
def ranked_project(ranked_project_template, tmp_path):
    import shutil

    run, project = ranked_project_template
    shutil.copytree(project, tmp_path / "project")
    return run, tmp_path / "project"


def test_rank_project_orders_unlabelled_images_and_stores_the_order(ranked_project) -> None:
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.project import Project
    from medtl_gui.core.review.active_learning import rank_project
    from medtl_gui.core.review.ranking_store import ranking_positions, stored_ranking

    run, folder = ranked_project
    trained = load_trained_model(run)
    with Project.open(folder) as project:
        unlabelled = {r.id for r in project.images(unlabelled=True)}
        calls = []
        ranking = rank_project(project, trained, "entropy", progress=lambda d, t: calls.append((d, t)))
        assert set(ranking.keys()) == unlabelled and len(unlabelled) == 20
        scores = [item.score for item in ranking.items]
        assert scores == sorted(scores, reverse=True)
        assert calls[-1] == (20, 20)
        stored = stored_ranking(project)
        assert [s.image_id for s in stored] == ranking.keys()
        assert {s.method for s in stored} == {"entropy"} and stored[0].run_id == run.name
        first = ranking.keys()[0]
        project.set_label(first, "clear")
        assert first not in [s.image_id for s in stored_ranking(project, unlabelled_only=True)]
        assert ranking_positions(project)[first] == 1  # the row stays; the view hides labelled images
        # a new ranking replaces the old one
        diverse = rank_project(project, trained, "kcenter", top=5)
        assert set(diverse.keys()) == unlabelled - {first}
        assert [s.method for s in stored_ranking(project)] == ["kcenter"] * 19
        mc = rank_project(project, trained, "mc_dropout", mc_passes=8, store=False)
        assert len(mc.items) == 19 and all(0.0 <= i.score <= 1.0 for i in mc.items)
        hybrid = rank_project(project, trained, "hybrid", top=4, store=False)
        assert set(hybrid.keys()) == unlabelled - {first}
        ensemble = rank_project(project, [trained, load_trained_model(run, "last")], "ensemble", store=False)
        assert len(ensemble.items) == 19
        assert [s.method for s in stored_ranking(project)] == ["kcenter"] * 19  # store=False kept it


def test_mc_dropout_needs_a_head_with_dropout(ranked_project, tmp_path) -> None:
    from medtl_gui.core.data.npz_source import load_npz_splits
    from medtl_gui.core.data.synthetic import write_synthetic_npz
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.project import Project
    from medtl_gui.core.review.active_learning import rank_project
    from medtl_gui.core.training import TrainConfig, train

    _, folder = ranked_project
    npz = write_synthetic_npz(tmp_path / "t.npz", n_train=8, n_val=4, n_test=4, size=16)
    config = TrainConfig(model="lenet5", image_size=16, epochs=1, batch_size=8, precision="fp32", device="cpu")
    assert train(config, load_npz_splits(npz), run_dir=tmp_path / "plain").status == "completed"
    with Project.open(folder) as project:
        with pytest.raises(ValueError, match="no dropout"):
            rank_project(project, load_trained_model(tmp_path / "plain"), "mc_dropout")
        with pytest.raises(ValueError, match="unknown ranking method"):
            rank_project(project, load_trained_model(tmp_path / "plain"), "bald")


def test_an_unreadable_image_is_skipped_not_fatal(ranked_project) -> None:
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.project import Project
    from medtl_gui.core.review.active_learning import rank_project

    run, folder = ranked_project
    with Project.open(folder) as project:
        broken = project.images(unlabelled=True)[0].id
        broken_path = project.image_path(broken)
        broken_path.write_bytes(b"\x89PNG\r\n\x1a\n damaged")
        ranking = rank_project(project, load_trained_model(run), "margin")
    assert broken not in ranking.keys() and len(ranking.items) == 19
    assert len(ranking.skipped) == 1
    source, reason = ranking.skipped[0]
    assert source == str(broken_path) and reason


def test_medtl_rank_cli(ranked_project, capsys: pytest.CaptureFixture) -> None:
    from medtl_gui.cli import main

    run, folder = ranked_project
    assert main(["rank", str(folder), "--run", str(run), "--method", "margin", "--top", "3"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith("rank\timage_id\tscore\tp_clear\tp_opacity") and len(lines) == 4
    assert "ranked 20 unlabelled images by margin; stored in" in captured.err
    assert main(["rank", str(folder), "--run", str(run), "--method", "kcenter", "--json", "--no-store"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == "kcenter" and len(result["ranking"]) == 20
    assert [r["rank"] for r in result["ranking"]] == list(range(1, 21))
    assert main(["rank", str(folder), "--run", str(folder / "nowhere")]) == 2
    assert main(["rank", str(folder / "missing"), "--run", str(run)]) == 2
    assert "error" in capsys.readouterr().err


def test_projects_from_schema_2_gain_the_ranking_table(ranked_project) -> None:
    from medtl_gui.core.project import SCHEMA_VERSION, Project

    _, folder = ranked_project
    conn = sqlite3.connect(folder / "project.sqlite")
    conn.executescript("DROP TABLE review_ranking; UPDATE meta SET value = '2' WHERE key = 'schema_version';")
    conn.commit()
    conn.close()
    with Project.open(folder) as project:
        conn = project.database.connection()
        assert conn.execute("SELECT COUNT(*) FROM review_ranking").fetchone()[0] == 0  # read before migrating
        project.set_meta("touched", "1")  # the first write migrates (reading never does)
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert conn.execute("SELECT COUNT(*) FROM review_ranking").fetchone()[0] == 0
        assert not [p for p in project.check_integrity() if "review_ranking" in p]
