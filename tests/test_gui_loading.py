"""The background loader: cache bounds, superseded requests, and instant display of prefetched images."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt

from medtl_gui.gui.scan_loader import ScanLoader


class _Blob:
    def __init__(self, name: str, nbytes: int):
        self.name, self.nbytes = name, nbytes


def test_cache_is_bounded_in_bytes_and_keeps_the_requested_value(qtbot):
    loader = ScanLoader(cache_size=10, cache_bytes=250, threads=1)  # one thread: loads finish in order
    got = []
    loader.loaded.connect(lambda key, value: got.append(key))
    for key in "abc":
        loader.prefetch(key, lambda k=key: _Blob(k, 100))
    assert loader.wait(5000)
    qtbot.waitUntil(lambda: loader.cached_bytes == 200, timeout=5000)  # results arrive by queued signal
    assert loader.cached("a") is None, "the least recently used value was evicted"
    loader.request("c", lambda: _Blob("c", 100))
    assert got == ["c"], "a cached value is delivered at once"


def test_newer_request_supersedes_a_slow_one(qtbot):
    loader = ScanLoader(threads=2)
    release = threading.Event()
    got = []
    loader.loaded.connect(lambda key, value: got.append(key))
    loader.request("slow", lambda: (release.wait(5), _Blob("slow", 1))[1])
    loader.request("fast", lambda: _Blob("fast", 1))
    qtbot.waitUntil(lambda: got == ["fast"], timeout=5000)
    release.set()
    assert loader.wait(5000)
    qtbot.wait(50)
    assert got == ["fast"], "the superseded image does not replace the one asked for last"
    assert loader.cached("slow") is not None, "but it is cached for later"


def test_failures_are_reported_not_raised(qtbot):
    loader = ScanLoader()

    def broken():
        raise OSError("disk on fire")

    with qtbot.waitSignal(loader.failed, timeout=5000) as blocker:
        loader.request("x", broken)
    assert blocker.args == ["x", "disk on fire"]


def test_prefetched_next_image_is_shown_without_waiting(qtbot, main_window):
    win = main_window
    browser = win.browser
    browser.select_row(4)
    qtbot.waitUntil(lambda: win.viewer.scan is not None and win.current_id == browser.current_image_id(),
                    timeout=10000)
    assert win.loader.wait(10000)  # neighbours prefetched in the background
    qtbot.wait(20)
    shown = []
    win.image_shown.connect(shown.append)
    qtbot.keyClick(win, Qt.Key.Key_Right)
    assert shown == [win.current_id], "a prefetched image is on screen when the key press returns"
    assert win.viewer.image_item.image is not None
    assert np.array_equal(win.viewer.current_image(), win.viewer.scan.pixels if win.viewer.n_slices <= 1
                          else win.viewer.scan.pixels[win.viewer.slice_index])
