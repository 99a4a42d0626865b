"""Background fine-tuning in the GUI: training panel, worker thread, run monitor, run history, apply the model.

- the Qt-free choices behind the panel (presets, weight choices, checks
  before a run starts) live in :mod:`medtl_gui.core.training.setup_checks`,
  their task-specific parts behind the task registry (:mod:`medtl_gui.core.tasks`).
- ``training_panel`` / ``augmentation_preview``: the settings form.
- ``worker`` / ``training_session``: the engine on a ``QThread``; its events
  become queued Qt signals.
- ``run_monitor`` with ``curves``, ``confusion_matrix_view``, ``roc_view``,
  ``per_class_table``, ``segmentation_strip``: live plots, redrawn at ~15 Hz.
- ``run_history``: runs of the project (summarised by :mod:`medtl_gui.core.runs.history`), reopened and
  compared; the monitor's figures come from :mod:`medtl_gui.core.evaluation.epoch_figures`.
- ``prediction_job``: apply a run to the unlabelled images as model proposals.
- ``training_controller``: docks, menu actions and the wiring to the main window.

Nothing here imports torch at import time; the worker thread imports it.
"""
