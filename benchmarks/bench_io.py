"""I/O benchmark (issue 2).

1. Read the 128-slice MR series in ../shared/data/dicom/mr_series through
   MedTL (`read_scan(folder)`) and directly through SimpleITK's
   ImageSeriesReader, interleaved in the same run; report medians and the
   ratio MedTL / SimpleITK (target <= 1.1).
2. Import N (default 2,000) generated PNG files (256x256, 8-bit) into a
   new project; report files/s.

Usage: .venv/bin/python benchmarks/bench_io.py [--repeats 15] [--n-png 2000]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SERIES = ROOT.parent / "shared" / "data" / "dicom" / "mr_series"


def time_series_read(repeats: int) -> dict:
    import SimpleITK as sitk

    from medtl_gui.core.imaging import read_scan

    def via_sitk() -> np.ndarray:
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(SERIES)))
        return sitk.GetArrayFromImage(reader.Execute())

    listed = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(SERIES))

    def via_sitk_listed() -> np.ndarray:
        """SimpleITK given the ordered file list up front (discovery not timed)."""
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(listed)
        return sitk.GetArrayFromImage(reader.Execute())

    def via_medtl() -> np.ndarray:
        return read_scan(SERIES).pixels

    a, b = via_sitk(), via_medtl()  # warm-up (file cache, imports)
    assert a.shape == b.shape and np.array_equal(a, b), "MedTL and SimpleITK disagree on the series"
    t_sitk, t_listed, t_medtl = [], [], []
    for _ in range(repeats):
        for fn, out in ((via_sitk, t_sitk), (via_sitk_listed, t_listed), (via_medtl, t_medtl)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    med_s, med_l, med_m = (statistics.median(t) for t in (t_sitk, t_listed, t_medtl))
    return {
        "series_slices": int(a.shape[0]),
        "series_read_sitk_s": round(med_s, 5),
        "series_read_sitk_prelisted_s": round(med_l, 5),
        "series_read_medtl_s": round(med_m, 5),
        "series_read_ratio": round(med_m / med_s, 3),
        "series_read_ratio_vs_prelisted": round(med_m / med_l, 3),
    }


def time_png_import(n: int) -> dict:
    from PIL import Image

    from medtl_gui.core.project import Project, import_sources

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pngs"
        for cls in ("a", "b"):
            (src / cls).mkdir(parents=True)
        base = rng.integers(0, 255, size=(256, 256), dtype=np.uint8)
        for i in range(n):
            img = np.roll(base, i, axis=1)  # distinct content, so no duplicate is skipped
            img[0, :4] = np.frombuffer(i.to_bytes(4, "little"), dtype=np.uint8)
            Image.fromarray(img).save(src / ("a" if i % 2 else "b") / f"img_{i:05d}.png")
        figures: dict = {"png_files": n}
        for copy in (False, True):
            project = Project.create(Path(tmp) / f"project-copy{int(copy)}")
            start = time.perf_counter()
            report = import_sources(project, [src], copy=copy)
            elapsed = time.perf_counter() - start
            project.close()
            assert report.imported == n, f"imported {report.imported} of {n}: {report.skipped[:3]}"
            key = "png_import_copy" if copy else "png_import"
            figures[f"{key}_s"] = round(elapsed, 3)
            figures[f"{key}_files_per_s"] = round(n / elapsed, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--n-png", type=int, default=2000)
    args = parser.parse_args()
    figures: dict = {}
    if SERIES.is_dir():
        figures.update(time_series_read(args.repeats))
        print(f"series read: MedTL {figures['series_read_medtl_s']*1e3:.1f} ms, SimpleITK "
              f"{figures['series_read_sitk_s']*1e3:.1f} ms (ratio {figures['series_read_ratio']}), "
              f"SimpleITK with the file list given {figures['series_read_sitk_prelisted_s']*1e3:.1f} ms "
              f"(ratio {figures['series_read_ratio_vs_prelisted']})")
    else:
        print(f"skipping series read: {SERIES} not found")
    figures.update(time_png_import(args.n_png))
    print(f"PNG import: {figures['png_files']} files referenced in {figures['png_import_s']} s = "
          f"{figures['png_import_files_per_s']} files/s; copied in {figures['png_import_copy_s']} s = "
          f"{figures['png_import_copy_files_per_s']} files/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
