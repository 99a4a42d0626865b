"""Render :class:`~medtl_gui.core.reporting.report_data.ReportContent` as one self-contained HTML file.

Inline CSS, figures as SVG ``data:`` URIs, thumbnails as PNG ``data:``
URIs: the file opens anywhere, offline, and references nothing outside
itself. Layout uses tables and simple CSS so that Qt's rich-text engine
(the PDF and PNG path of the GUI/CLI) renders it like a browser does. The
evaluation dict is also embedded verbatim as JSON (``<script
type="application/json" id="medtl-evaluation">``) for machines.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.reporting import svg_charts
from medtl_gui.core.reporting.curves import average_precision, calibration, class_curves
from medtl_gui.core.reporting.report_data import ReportContent
from medtl_gui.core.runs import RunRecord

#: section id -> heading, in report order (classification runs)
CLASSIFICATION_SECTIONS = {
    "data": "Data summary", "model": "Model card", "metrics": "Metrics with 95% confidence intervals",
    "confusion": "Confusion matrix", "curves": "ROC and precision-recall curves", "calibration": "Calibration",
    "per-class": "Per-class metrics", "errors": "Most confident errors", "training": "Training curves",
}
#: section id -> heading (segmentation runs)
SEGMENTATION_SECTIONS = {
    "data": "Data summary", "model": "Model card", "metrics": "Metrics", "per-case": "Per-case metrics",
    "training": "Training curves",
}
METRIC_ROWS = (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"), ("auc", "ROC AUC"),
               ("recall", "Sensitivity (recall)"), ("specificity", "Specificity"), ("precision", "Precision (PPV)"),
               ("f1", "F1 score"), ("mae", "MAE"), ("mse", "MSE"))
SEGMENTATION_ROWS = (("dice", "Dice"), ("iou", "IoU (Jaccard)"), ("auc", "Pixel ROC AUC"),
                     ("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("accuracy", "Pixel accuracy"),
                     ("dice_pooled", "Dice (pooled pixels)"), ("auc_pooled", "AUC (pooled pixels)"))

#: validation metrics drawn in the training curves (the first three a run recorded)
CURVE_TITLES = {"val_auc": "validation AUC", "val_dice": "validation Dice",
                "val_balanced_accuracy": "validation balanced accuracy", "val_accuracy": "validation accuracy",
                "val_iou": "validation IoU"}

CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #1a202c; background: #ffffff; margin: 0; font-size: 13px; }
.page { max-width: 980px; margin: 0 auto; padding: 24px 32px 48px 32px; }
.banner { background-color: #0b3d61; color: #ffffff; }
.banner h1 { margin: 0; font-size: 24px; font-weight: bold; color: #ffffff; }
.banner p { margin: 4px 0 0 0; color: #d6e4f0; font-size: 13px; }
h2 { font-size: 18px; color: #0b3d61; border-bottom: 2px solid #0b3d61; padding-bottom: 4px; margin: 28px 0 10px 0; }
h3 { font-size: 14px; color: #2d3748; margin: 14px 0 6px 0; }
table.grid { border-collapse: collapse; margin: 6px 0 10px 0; }
table.grid th { background-color: #edf2f7; text-align: left; padding: 5px 10px; border: 1px solid #cbd5e0;
  font-weight: bold; }
table.grid td { padding: 5px 10px; border: 1px solid #cbd5e0; }
td.num { text-align: right; font-family: Menlo, Consolas, monospace; }
.muted { color: #718096; }
.ok { color: #276749; font-weight: bold; }
.bad { color: #c53030; font-weight: bold; }
.note { background-color: #fffbea; border-left: 4px solid #d69e2e; padding: 8px 12px; margin: 8px 0; }
.card { border: 1px solid #cbd5e0; padding: 6px; text-align: center; font-size: 11px; }
.tile { border: 1px solid #cbd5e0; text-align: center; }
.tile-title { color: #4a5568; font-size: 12px; }
.tile-value { color: #0b3d61; font-size: 22px; font-weight: bold; }
.footer { margin-top: 36px; color: #718096; font-size: 11px; border-top: 1px solid #e2e8f0; padding-top: 8px; }
"""


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _table(header: list[str] | None, rows: list[list[Any]], numeric_from: int = 1) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            raw = isinstance(value, _Raw)
            text = value.html if raw else _fmt(value)
            cells.append(f'<td class="num">{text}</td>' if i >= numeric_from and not raw else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="grid" cellspacing="0" cellpadding="5">{head}{"".join(body)}</table>'


class _Raw:
    """Cell content that is already HTML."""

    def __init__(self, html: str):
        self.html = html


def _figure(svg: str, alt: str) -> str:
    return f'<img src="{svg_charts.svg_data_uri(svg)}" alt="{escape(alt)}">'


def _section(section_id: str, title: str, body: str) -> str:
    return f'<h2 id="{section_id}"><a name="{section_id}"></a>{escape(title)}</h2>\n<div>{body}</div>\n'


# -- sections ----------------------------------------------------------------------------------
def _data_section(content: ReportContent) -> str:
    summary = content.data_summary
    names = summary.get("class_names") or ["images"]
    counts = summary.get("counts", {})
    rows = [[split] + list(values) + [sum(values)] for split, values in counts.items()]
    parts = [f"<p>Data: <b>{escape(content.data_name)}</b>; evaluated on the <b>{escape(content.split)}</b> split "
             f"({content.evaluation.get('n', '?')} images).</p>",
             _table(["split", *names, "total"], rows)]
    if summary.get("label_names"):
        parts.append(f"<p>Segmentation labels: {escape(', '.join(summary['label_names']))}.</p>")
    check = content.patient_check
    parts.append("<h3>Patient-level split check</h3>")
    if not check.get("available"):
        parts.append(f'<p class="muted">Not available: {escape(check.get("reason", ""))}.</p>')
    elif check["passed"]:
        parts.append(f'<p><span class="ok">Passed</span>: none of the {check["n_patients"]} patients has images in '
                     f'more than one split ({check["images_with_patient_id"]} images with a patient id, '
                     f'{check["images_without_patient_id"]} without).</p>')
    else:
        leaks = check["patients_in_several_splits"]
        rows = [[patient, ", ".join(splits)] for patient, splits in sorted(leaks.items())[:20]]
        parts.append(f'<p><span class="bad">Failed</span>: {len(leaks)} patient(s) have images in several splits; '
                     "test results may be optimistic. Re-split by patient (medtl project splits).</p>"
                     + _table(["patient" + ("" if content.identified else " (pseudonym)"), "splits"], rows, 9))
    return "".join(parts)


def _model_section(content: ReportContent) -> str:
    card, record = content.model_card, content.record
    arch, training = card.get("architecture", {}), card.get("training", {})
    weights = record.get("weights") or {}
    rows = [
        ["Architecture", f"{arch.get('title') or arch.get('name')} ({arch.get('name')}), "
                         f"{arch.get('n_parameters') or '?'} parameters, {arch.get('head_kind')} head"],
        ["Starting weights", card.get("weights_source")],
        ["Weights checksum (SHA-256)", weights.get("sha256") or "– (no pretrained weights)"],
        ["Strategy", training.get("strategy")],
        ["Recipe", training.get("recipe") or "–"],
        ["Epochs", f"{training.get('epochs_completed')} of {training.get('epochs')} completed; best epoch "
                   f"{(training.get('best_epoch') or 0) + 1}"],
        ["Output", ", ".join(card.get("output", {}).get("class_names") or []) or "regression value"],
        ["Decision threshold", _threshold_text(card)],
        ["Intended use", card.get("intended_use") or "–"],
        ["Code version", training.get("code_version") or "unknown"],
        ["Trained", f"{training.get('created')} on {record.get('execution', {}).get('device')} "
                    f"({training.get('precision')}), seed {training.get('seed')}"],
    ]
    config = record.get("config", {})
    keys = [k for k in sorted(config) if config[k] is not None]
    per_column = -(-len(keys) // 3)  # three (setting, value) pairs per row, read down each column
    hyper = []
    for i in range(per_column):
        row: list[Any] = []
        for column in range(3):
            index = i + column * per_column
            row += [keys[index], _Raw(escape(str(config[keys[index]])))] if index < len(keys) else ["", _Raw("")]
        hyper.append(row)
    versions = training.get("versions") or record.get("versions", {})
    env = ", ".join(f"{k} {v}" for k, v in versions.items())
    return (_table(None, rows, 9) + "<h3>Hyper-parameters</h3>" + _table(["setting", "value"] * 3, hyper, 9)
            + f'<h3>Environment</h3><p class="muted">{escape(env)}</p>')


def _interval_text(intervals: dict[str, Any], key: str, pattern: str, missing: str) -> str:
    """A metric's 95% interval written with ``pattern`` (two ``{}``), or ``missing`` when it has none."""
    ci = intervals.get(key)
    return pattern.format(ci[0], ci[1]) if ci and ci[0] is not None else missing


def _metrics_section(evaluation: dict[str, Any], rows_spec: tuple[tuple[str, str], ...]) -> str:
    intervals = evaluation.get("ci95", {})
    rows = []
    for key, title in rows_spec:
        if evaluation.get(key) is None:
            continue
        ci_text = _interval_text(intervals, key, "{:.4f} – {:.4f}", "–")
        rows.append(f'<tr><td>{escape(title)}</td><td class="num" data-metric="{key}">{_fmt(evaluation[key])}</td>'
                    f'<td class="num">{ci_text}</td></tr>')
    note = ("95% intervals: percentile bootstrap, 1000 resamples of the evaluated images." if intervals else
            "Values are means over cases (pooled: over all pixels).")
    threshold = evaluation.get("threshold")
    threshold_text = f" Decision threshold {threshold:.3f}." if isinstance(threshold, float) else ""
    return ('<table class="grid" cellspacing="0" cellpadding="5"><tr><th>metric</th><th>value</th><th>95% CI</th></tr>' + "".join(rows)
            + f'</table><p class="muted">{note}{threshold_text}</p>')


def _curves_section(content: ReportContent) -> str:
    names = content.evaluation["class_names"]
    curves = class_curves(content.probabilities, content.targets, names)
    roc = svg_charts.line_chart([(f"{c.name} (AUC {content.evaluation['per_class'][c.name]['auc'] or 0:.3f})",
                                  c.x, c.y) for c in curves["roc"]], title="ROC curve",
                                x_label="1 - specificity (false positive rate)", y_label="sensitivity",
                                x_range=(0, 1), y_range=(0, 1), diagonal=True)
    pr_series = []
    for curve in curves["pr"]:
        ap = average_precision(content.probabilities[:, names.index(curve.name)], content.targets
                               == names.index(curve.name))
        pr_series.append((f"{curve.name} (AP {ap:.3f})", curve.x, curve.y))
    pr = svg_charts.line_chart(pr_series, title="Precision-recall curve", x_label="recall (sensitivity)",
                               y_label="precision", x_range=(0, 1), y_range=(0, 1), step=True,
                               legend_corner="bottom-left")
    return (f'<table class="layout" cellspacing="0" cellpadding="6"><tr><td>{_figure(roc, "ROC curve")}</td><td>{_figure(pr, "PR curve")}</td></tr>'
            "</table><p class=\"muted\">Binary models: the positive class; multi-class models: one curve per class "
            "(one-vs-rest). AP: average precision.</p>")


def _calibration_section(content: ReportContent) -> str:
    from medtl_gui.core.evaluation.classification import predict_labels

    predictions = predict_labels(content.probabilities, content.evaluation.get("threshold") or 0.5)
    result = calibration(content.probabilities, content.targets, predictions)
    svg = svg_charts.reliability_diagram(result.confidence, result.accuracy, result.counts, result.bin_edges)
    rows = [[f"{lo:.1f}–{hi:.1f}", int(n), None if n == 0 else float(c), None if n == 0 else float(a)]
            for lo, hi, n, c, a in zip(result.bin_edges[:-1], result.bin_edges[1:], result.counts,
                                       result.confidence, result.accuracy) if n]
    return (f'<table class="layout" cellspacing="0" cellpadding="6"><tr><td>{_figure(svg, "reliability diagram")}</td><td>'
            f'<p>Expected calibration error (ECE, 10 bins): <b data-metric="ece">{result.ece:.4f}</b></p>'
            + _table(["confidence", "images", "mean conf.", "accuracy"], rows) +
            "<p class=\"muted\">Confidence: the probability of the predicted class. A calibrated model's bars "
            "reach the diagonal.</p></td></tr></table>")


def _per_class_section(evaluation: dict[str, Any]) -> str:
    rows = [[name, v.get("support"), v.get("precision"), v.get("recall"), v.get("specificity"), v.get("f1"),
             v.get("auc")] for name, v in evaluation.get("per_class", {}).items()]
    return _table(["class", "images", "precision", "recall", "specificity", "F1", "AUC"], rows)


def _gallery_section(content: ReportContent) -> str:
    if not content.gallery:
        return '<p class="muted">No errors on this split.</p>'
    cells = []
    for item in content.gallery:
        picture = f'<img src="{item.thumbnail}" width="96" alt="image {escape(item.image_id)}">' if item.thumbnail \
            else '<span class="muted">(unreadable)</span>'
        if item.saliency:
            picture += f' <img src="{item.saliency}" width="96" alt="Grad-CAM of image {escape(item.image_id)}">'
        cells.append(f'<td class="card">{picture}<br>image {escape(item.image_id)}<br>true <b>{escape(item.true_class)}'
                     f'</b><br>predicted <b>{escape(item.predicted_class)}</b> ({item.probability:.1%})</td>')
    rows = ["<tr>" + "".join(cells[i:i + 4]) + "</tr>" for i in range(0, len(cells), 4)]
    cam = (" Right of each image: Grad-CAM of the predicted class (red: the regions that drove the decision)."
           if any(item.saliency for item in content.gallery) else "")
    return ('<p>The wrong predictions the model was most sure of, most confident first (images identified only by '
            f'their number in the data).{cam}</p><table class="layout" cellspacing="6" cellpadding="6">' + "".join(rows) + "</table>")


def _training_section(content: ReportContent) -> str:
    epochs = content.epochs
    if not epochs:
        return f'<p class="muted">No epochs recorded ({RunRecord.METRICS} is empty).</p>'
    x = [int(e.get("epoch", i)) + 1 for i, e in enumerate(epochs)]
    losses = [(name, x, [e.get(key, float("nan")) for e in epochs]) for key, name in
              (("train_loss", "training loss"), ("val_loss", "validation loss")) if any(key in e for e in epochs)]
    metric_keys = [k for k in CURVE_TITLES if any(e.get(k) is not None for e in epochs)][:3]
    metrics = [(CURVE_TITLES[k], x,
                [e.get(k) if e.get(k) is not None else float("nan") for e in epochs]) for k in metric_keys]
    figures = []
    if losses:
        figures.append(_figure(svg_charts.line_chart(losses, title="Loss", x_label="epoch", y_label="loss",
                                                     dashed=[False, True], legend_corner="top-right"), "loss"))
    if metrics:
        figures.append(_figure(svg_charts.line_chart(metrics, title="Validation metrics", x_label="epoch",
                                                     y_label="value", y_range=(0, 1)), "validation metrics"))
    best = content.run_report.get("best_epoch")
    note = f"<p class=\"muted\">Best epoch (checkpoint used): {best + 1}.</p>" if isinstance(best, int) else ""
    return '<table class="layout" cellspacing="0" cellpadding="6"><tr>' + "".join(f"<td>{f}</td>" for f in figures) + "</tr></table>" + note


def _per_case_section(evaluation: dict[str, Any]) -> str:
    cases = evaluation.get("per_case", [])
    rows = [[case["case"], case.get("n_images"), case.get("dice"), case.get("iou"), case.get("auc"),
             case.get("sensitivity"), case.get("specificity")] for case in cases]
    chart = svg_charts.bar_chart([c["case"] for c in cases], [c.get("dice") for c in cases], title="Dice per case",
                                 y_label="Dice")
    return (f"{_figure(chart, 'Dice per case')}"
            + _table(["case", "images", "Dice", "IoU", "AUC", "sensitivity", "specificity"], rows))


#: the headline tiles above the sections: (key, title), per task
CLASSIFICATION_KEY_FIGURES = (("auc", "ROC AUC"), ("balanced_accuracy", "Balanced accuracy"), ("recall", "Sensitivity"),
                              ("specificity", "Specificity"))
SEGMENTATION_KEY_FIGURES = (("dice", "Dice"), ("iou", "IoU"), ("auc", "Pixel AUC"))


def _key_results(evaluation: dict[str, Any], keys: tuple[tuple[str, str], ...]) -> str:
    """A row of tiles with the headline numbers (and their 95% intervals) above the sections."""
    intervals = evaluation.get("ci95", {})
    tiles = []
    for key, title in keys:
        if evaluation.get(key) is None:
            continue
        ci_text = _interval_text(intervals, key, "95% CI {:.3f}–{:.3f}", "&nbsp;")
        tiles.append(f'<td class="tile" bgcolor="#f0f5fa"><span class="tile-title">{escape(title)}</span><br>'
                     f'<span class="tile-value">{evaluation[key]:.3f}</span><br>'
                     f'<span class="muted">{ci_text}</span></td>')
    n = evaluation.get("n_images", evaluation.get("n"))
    tiles.append(f'<td class="tile" bgcolor="#f0f5fa"><span class="tile-title">Images evaluated</span><br>'
                 f'<span class="tile-value">{n}</span><br><span class="muted">split '
                 f'{escape(str(evaluation.get("split", "")))}</span></td>')
    return f'<table class="tiles" cellspacing="8" cellpadding="10" width="100%"><tr>{"".join(tiles)}</tr></table>'


def _threshold_text(card: dict[str, Any]) -> str:
    """The threshold and how it was chosen (the run's headline says), e.g. ``fixed 0.50``."""
    headline = card.get("headline") or {}
    if headline.get("rule"):
        return str(headline["rule"])
    value = card.get("output", {}).get("decision_threshold")
    return "–" if value is None else f"{value:.3f} ({card.get('output', {}).get('threshold_policy')})"


def _headline_block(content: ReportContent) -> str:
    """The training run's honest headline and a warning for every class never found at the threshold."""
    headline = content.model_card.get("headline") or {}
    evaluation = content.evaluation
    warnings = list(headline.get("warnings") or [])
    threshold = evaluation.get("threshold")
    rule = f"{threshold:.2f}" if isinstance(threshold, float) else "argmax"
    for name, figures in (evaluation.get("per_class") or {}).items():
        if figures.get("support") and figures.get("recall") == 0.0:
            warnings.append(f"on this {content.split} split, recall of '{name}' is 0 at threshold {rule}: none of "
                            f"its {figures['support']} image(s) is classified as such")
    parts = []
    if headline.get("text"):
        parts.append(f'<p class="muted">Training run: {escape(headline["text"].removesuffix(" ⚠"))} '
                     f'({escape(str(headline.get("source", "")))}).</p>')
    parts += [f'<p class="note"><b>Warning:</b> {escape(text)}</p>' for text in warnings]
    return "".join(parts)


# -- the page ----------------------------------------------------------------------------------
def section_titles(task: str) -> dict[str, str]:
    """Section id -> heading of a report for a run of config task ``task`` (the task registry's)."""
    from medtl_gui.core.tasks import task_named

    return task_named(task).report_titles


def classification_sections(content: ReportContent) -> dict[str, str]:
    """Section id -> HTML of a classification (or regression: no class figures) report."""
    evaluation = content.evaluation
    if not evaluation.get("class_names"):  # regression
        return {"data": _data_section(content), "model": _model_section(content),
                "metrics": _metrics_section(evaluation, METRIC_ROWS), "training": _training_section(content)}
    return {"data": _data_section(content), "model": _model_section(content),
            "metrics": _metrics_section(evaluation, METRIC_ROWS),
            "confusion": _figure(svg_charts.confusion_matrix_chart(evaluation["confusion_matrix"],
                                                                   evaluation["class_names"]), "confusion"),
            "curves": _curves_section(content), "calibration": _calibration_section(content),
            "per-class": _per_class_section(evaluation), "errors": _gallery_section(content),
            "training": _training_section(content)}


def segmentation_sections(content: ReportContent) -> dict[str, str]:
    """Section id -> HTML of a segmentation report."""
    return {"data": _data_section(content), "model": _model_section(content),
            "metrics": _metrics_section(content.evaluation, SEGMENTATION_ROWS),
            "per-case": _per_case_section(content.evaluation), "training": _training_section(content)}


def render_html(content: ReportContent) -> str:
    """The whole report as one HTML string (its sections and headline figures are the run's task's)."""
    from medtl_gui.core.tasks import task_named

    task = task_named(content.task)
    evaluation = content.evaluation
    bodies = task.report_sections(content)
    titles = task.report_titles
    sections = "".join(_section(key, titles[key], body) for key, body in bodies.items())
    contents = " · ".join(f'<a href="#{key}">{escape(titles[key])}</a>' for key in bodies)
    privacy = ("Identified report: may contain patient identifiers and file paths." if content.identified else
               "De-identified: no patient names or ids, no file paths; images are shown by their number only.")
    machine_readable = evaluation if content.identified else deidentified_evaluation(evaluation)
    machine = json.dumps(machine_readable, sort_keys=True, default=_json_default).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MedTL evaluation report: run {escape(content.run_id)}</title>
<style>{CSS}</style></head>
<body>
<table class="banner" width="100%" cellspacing="0" cellpadding="18" bgcolor="#0b3d61"><tr><td>
<h1>Evaluation report</h1>
<p>Run <b>{escape(content.run_id)}</b> · {escape(content.task)} · {escape(content.data_name)}, split
{escape(content.split)} · generated {escape(content.generated)} (UTC)</p></td></tr></table>
<div class="page">
<p class="note">For research use. Not a medical device. {escape(privacy)}</p>
{_key_results(evaluation, task.report_key_figures)}
{_headline_block(content)}
<p class="muted">Contents: {contents}</p>
{sections}
<div class="footer">MedTL evaluation report. Figures and numbers were computed by <code>medtl evaluate</code>'s
code on the data named above; this file is self-contained and references no external resource.</div>
</div>
<script type="application/json" id="medtl-evaluation">{machine}</script>
</body></html>
"""


def deidentified_evaluation(evaluation: dict[str, Any]) -> dict[str, Any]:
    """``evaluation`` with the run and data paths cut to their last part (folder names may name patients)."""
    out = dict(evaluation)
    for key in ("run", "data"):
        if isinstance(out.get(key), str):
            out[key] = Path(out[key]).name
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
