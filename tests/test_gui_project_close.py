"""Closing a project while a background job is inside one of its queries: the close waits for the job.

SQLite must not have a connection closed under a running query (that crashed the process once); the
window therefore waits for the jobs running at that moment before it closes the project's connections.
"""

from __future__ import annotations

import threading
import time


def test_closing_a_project_waits_for_the_job_running_on_it(qtbot, main_window) -> None:
    from medtl_gui.gui.background import BackgroundJob

    project = main_window.project
    entered = threading.Event()

    def slow_count(progress=None, cancel=None):
        entered.set()
        time.sleep(0.5)  # the window starts closing the project meanwhile
        return project.info()["images"]

    job = BackgroundJob(slow_count)
    results: list = []
    failures: list = []
    job.succeeded.connect(results.append)
    job.failed.connect(lambda message, details: failures.append(message))
    job.start()
    assert entered.wait(10)
    main_window.close()  # closes the project
    assert job.done.is_set(), "the project closed only after the running job returned"
    qtbot.waitUntil(lambda: bool(results or failures), timeout=10_000)
    assert failures == [] and results and results[0] > 0
    assert project.database.closed
