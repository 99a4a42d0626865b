"""Model cards: what an exported model is, what it was trained on, how well it did, what it is not for.

Built from the run folder alone (``config.json`` and ``report.json``), as a
JSON-ready dict (:func:`build_model_card`) and as Markdown
(:func:`render_model_card`), following Mitchell et al. 2019 ("Model Cards
for Model Reporting"): details, intended use, data, metrics, limitations.
"""

from __future__ import annotations

from typing import Any

from medtl_gui.core.inference.trained_model import TrainedModel
from medtl_gui.core.models.zoo import get_model_spec

METRIC_KEYS = ("accuracy", "balanced_accuracy", "auc", "recall", "specificity", "precision", "f1", "mae", "mse")
METRIC_TITLES = {"recall": "sensitivity (recall)", "auc": "ROC AUC", "mae": "MAE", "mse": "MSE"}

INTENDED_USE = (
    "Research and second-reader decision support on images like the training data: the model proposes a "
    "class for a radiologist to confirm or correct. It is not a medical device, has not been cleared by any "
    "regulator, and must not be used to diagnose or treat patients without review by a qualified clinician."
)


def _weights_source(record: dict[str, Any]) -> str:
    weights = record.get("weights")
    if not weights:
        return "random initialisation (trained from scratch on the training data below)"
    provenance = {"verified": "verified published file", "local": "made in this weight store"}.get(
        weights.get("verification"), "unverified: user-supplied, origin not checked")  # also runs that recorded no state
    return f"{weights.get('name')} ({weights.get('source')}; {provenance}; licence: {weights.get('licence')}; " \
           f"sha256 {str(weights.get('sha256', ''))[:16]}...)"


def _metrics(split: dict[str, Any] | None) -> dict[str, Any]:
    if not split:
        return {}
    values: dict[str, Any] = {k: split[k] for k in METRIC_KEYS if split.get(k) is not None}
    if split.get("n") is not None:
        values["n"] = split["n"]
    if split.get("ci95"):
        values["ci95"] = {k: v for k, v in split["ci95"].items() if k in METRIC_KEYS}
    return values


def _limitations(trained: TrainedModel, counts: dict[str, Any], test: dict[str, Any]) -> list[str]:
    items = []
    train_counts = counts.get("train")
    if isinstance(train_counts, list) and train_counts:
        total = sum(train_counts)
        items.append(f"Trained on {total} images from one source ({trained.record['data'].get('source')}); "
                     "performance on other scanners, sites, populations or protocols is unknown until "
                     "validated externally (medtl evaluate OTHER_PROJECT --run ...).")
        if min(train_counts) > 0 and max(train_counts) / min(train_counts) > 1.5:
            items.append(f"The training classes were imbalanced {train_counts}; the run compensated with "
                         f"'{trained.record.get('resolved', {}).get('imbalance')}', but rare-class errors "
                         "remain the most likely ones.")
    size = trained.preprocessing.image_size
    items.append(f"Images are reduced to {size}x{size} px and {trained.preprocessing.in_channels} channel(s) "
                 "(middle slice of a volume); findings smaller than a few pixels at that size cannot be seen.")
    if trained.class_names:
        items.append(f"Outputs are limited to the classes {trained.class_names}; an image showing anything else "
                     "still receives one of them.")
        items.append(f"The decision threshold {trained.threshold:.3f} ({trained.config.threshold_policy}) trades "
                     "sensitivity against specificity; choose it for the clinical setting.")
    if not test:
        items.append("No test split was evaluated: the metrics below are validation metrics, which were also "
                     "used to select the checkpoint and are optimistic.")
    elif test.get("n", 0) < 200:
        items.append(f"The test set is small ({test.get('n')} images): see the wide confidence intervals.")
    return items


def intended_use(run_dir: Any) -> tuple[str, dict[str, Any] | None]:
    """The card's intended use (with the images the model is for, from its recorded scope) and the scope."""
    from medtl_gui.core.inference.model_scope import read_scope

    scope = read_scope(run_dir)
    if scope is None:
        return (f"{INTENDED_USE} The run recorded no scope (it predates scope records): check yourself that "
                "images are like its training data.", None)
    return f"{INTENDED_USE} {scope.intended_use()}", scope.to_json()


def run_card_headline(trained: TrainedModel) -> dict[str, Any] | None:
    """The run's honest headline (selection metric, balanced accuracy, per-class recall, threshold), or None."""
    from medtl_gui.core.evaluation.headline import run_headline
    from medtl_gui.core.runs import RunRecord

    try:
        headline = run_headline(trained.report, RunRecord(trained.run_dir).read_metrics(), trained.record)
    except (OSError, TypeError, ValueError):
        return None
    return None if headline is None else headline.to_json()


def build_model_card(trained: TrainedModel, export: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model card of a trained run as a JSON-ready dict (``export``: file, format, verification)."""
    record, report = trained.record, trained.report
    use, scope = intended_use(trained.run_dir)
    headline = run_card_headline(trained)
    spec = get_model_spec(trained.config.model)
    data = record.get("data", {})
    counts = data.get("counts", {})
    test = report.get("test") or {}
    prep = trained.preprocessing
    return {
        "model_card_version": 1,
        "name": f"{trained.config.model} from run {trained.run_id}",
        "export": export or {},
        "architecture": {
            "name": spec.name, "title": spec.title, "description": spec.description,
            "n_parameters": record.get("model", {}).get("n_parameters"),
            "head_kind": trained.head_kind, "in_channels": prep.in_channels,
        },
        "weights_source": _weights_source(record),
        "input": {
            "shape": ["batch", prep.in_channels, prep.image_size, prep.image_size], "dtype": "float32",
            "range": "[0, 1]",
            "preprocessing": "2D plane (middle slice of a volume); grey values to [0, 1] (8-bit / 255, else the "
                             f"scan's window, else the {prep.low_percentile}-{prep.high_percentile} percentiles); "
                             f"{prep.in_channels} channel(s); bilinear antialiased resize to {prep.image_size} px. "
                             "Mean/std normalisation is inside the exported model.",
            "mean": list(prep.mean), "std": list(prep.std),
        },
        "output": {
            "kind": "class probabilities" if trained.class_names else "regression values",
            "class_names": trained.class_names,
            "decision_threshold": trained.threshold if len(trained.class_names) == 2 else None,
            "threshold_policy": trained.config.threshold_policy,
        },
        "training": {
            "run_id": trained.run_id, "checkpoint": trained.checkpoint, "recipe": trained.config.recipe,
            "strategy": trained.config.strategy, "epochs": trained.config.epochs,
            "epochs_completed": report.get("epochs_completed"), "best_epoch": report.get("best_epoch"),
            "monitor": report.get("monitor"), "seed": record.get("seed"),
            "precision": record.get("execution", {}).get("precision"),
            "code_version": record.get("code_version"), "created": record.get("created"),
            "versions": record.get("versions", {}),
        },
        "training_data": {"source": data.get("source"), "class_names": data.get("class_names"), "counts": counts},
        "metrics": {"validation": _metrics(report.get("val")), "test": _metrics(test)},
        "headline": headline,
        "intended_use": use,
        "scope": scope,
        "limitations": [*(headline or {}).get("warnings", []), *_limitations(trained, counts, test)],
    }


def _metric_rows(metrics: dict[str, Any]) -> list[str]:
    rows = []
    intervals = metrics.get("ci95", {})
    for key in METRIC_KEYS:
        if key in metrics:
            ci = intervals.get(key)
            text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and ci[0] is not None else ""
            rows.append(f"| {METRIC_TITLES.get(key, key.replace('_', ' '))} | {metrics[key]:.4f}{text} |")
    return rows


def _headline_lines(headline: dict[str, Any] | None) -> list[str]:
    if not headline:
        return []
    lines = ["", "## Headline", "", f"{headline['text'].removesuffix(' ⚠')} ({headline['source']})."]
    lines += [f"- **Warning:** {warning}" for warning in headline.get("warnings", [])]
    return lines


def render_model_card(card: dict[str, Any]) -> str:
    """The card as Markdown."""
    arch, inp, out, train = card["architecture"], card["input"], card["output"], card["training"]
    export = card.get("export") or {}
    lines = [f"# Model card: {card['name']}", ""]
    if export:
        lines += [f"Exported as **{export.get('format')}**: `{export.get('file')}` (sha256 `{export.get('sha256')}`)."]
        if export.get("max_abs_difference") is not None:
            lines.append(f"Checked against the run's model: largest output difference "
                         f"{export['max_abs_difference']:.2e} on {export.get('compared_on')}.")
        lines.append("")
    lines += [
        "## Model details", "",
        f"- Architecture: {arch['title']} ({arch['name']}), {arch.get('n_parameters')} parameters, "
        f"{arch['head_kind']} head. {arch['description']}",
        f"- Starting weights: {card['weights_source']}",
        f"- Training: run `{train['run_id']}` (checkpoint {train['checkpoint']}, best epoch "
        f"{(train['best_epoch'] or 0) + 1} of {train['epochs_completed']}), recipe {train['recipe']}, strategy "
        f"{train['strategy']}, seed {train['seed']}, {train['precision']}; code {train['code_version']}.",
        f"- Input: float32 tensor {inp['shape']} in {inp['range']}. {inp['preprocessing']}",
        f"- Output: {out['kind']} for classes {out['class_names']}"
        + (f"; decision threshold {out['decision_threshold']:.3f} ({out['threshold_policy']})."
           if out.get("decision_threshold") is not None else "."),
        *_headline_lines(card.get("headline")),
        "", "## Intended use", "", card["intended_use"], "",
        "## Training data", "",
        f"- Source: {card['training_data']['source']}",
        f"- Classes: {card['training_data']['class_names']}",
        f"- Images per split (per class): {card['training_data']['counts']}",
        "", "## Metrics", "",
    ]
    for split in ("test", "validation"):
        metrics = card["metrics"].get(split)
        if metrics:
            lines += [f"{split.capitalize()} ({metrics.get('n', '?')} images; 95% bootstrap intervals in brackets):",
                      "", "| metric | value |", "| --- | --- |", *_metric_rows(metrics), ""]
    lines += ["## Limitations", "", *[f"- {item}" for item in card["limitations"]], ""]
    return "\n".join(lines)
