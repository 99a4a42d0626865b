"""A short fuzz run over every scan reader: mutated inputs read or raise ScanReadError, nothing else.

The benchmark (``benchmarks/bench_fuzz.py``) runs 10,000+ inputs per
target; here each target gets a small, fixed set (seed from
``MEDTL_FUZZ_SEED``, default 0) so the suite stays fast. Inputs run in the
sandboxed worker: a crash, hang or memory blow-up is reported as a finding.
"""

from __future__ import annotations

import copy
import io
import os
import sys
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fuzz worker needs POSIX resource limits")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
INPUTS_PER_TARGET = 40
SEED = int(os.environ.get("MEDTL_FUZZ_SEED", "0"))


@pytest.fixture(scope="module")
def campaigns():
    from medtl_gui.core.imaging.fuzzing.campaigns import reader_campaigns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {c.name: c for c in reader_campaigns(SHARED_DATA if SHARED_DATA.is_dir() else None)}


@pytest.fixture(scope="module")
def worker():
    from medtl_gui.core.imaging.fuzzing.runner import WorkerProcess

    process = WorkerProcess(memory_limit=4 * 2**30)
    process.start()
    yield process
    process.stop()


TARGETS = ("read_scan-dicom", "read_scan-png", "read_scan-jpeg", "read_scan-tiff", "read_scan-gif-bmp",
           "read_scan-nifti", "read_scan-nrrd", "read_scan-mha", "describe", "find_series")


@pytest.mark.parametrize("target", TARGETS)
def test_short_fuzz_run_finds_nothing(campaigns, worker, target: str) -> None:
    from medtl_gui.core.imaging.fuzzing.runner import run_campaign

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_campaign(campaigns[target], INPUTS_PER_TARGET, seed=SEED, timeout_s=30, worker=worker)
    assert result.tried == INPUTS_PER_TARGET
    assert result.findings == [], "\n".join(
        f"input {f.index} (seed {SEED}): {f.kind} {f.type} at {f.where}: {f.detail}\n{f.traceback}"
        for f in result.findings[:3]
    )
    assert result.read > 0 and result.rejected > 0, "the mutations should produce both readable and broken inputs"


def test_every_seed_reads(tmp_path: Path) -> None:
    """Unmutated seeds are valid files: the harness must start from inputs that read."""
    from medtl_gui.core.imaging import read_scan
    from medtl_gui.core.imaging.fuzzing.seeds import raster_seeds, volume_seeds

    for index, seed in enumerate(s for group in (*raster_seeds().values(), *volume_seeds().values()) for s in group):
        path = tmp_path / f"seed{index}{seed.suffix}"
        path.write_bytes(seed.data)
        assert read_scan(path).pixels.size > 0, seed.name


def test_dicom_pixel_module_fuzzed_with_hypothesis(worker, tmp_path: Path) -> None:
    """Property: any combination of Image Pixel module values gives a Scan or a ScanReadError."""
    import pydicom
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from medtl_gui.core.imaging.fuzzing.format_mutations import TRANSFER_SYNTAXES, set_transfer_syntax
    from medtl_gui.core.imaging.fuzzing.runner import finding_from_reply
    from medtl_gui.core.imaging.fuzzing.seeds import pydicom_test_files

    sources = [pydicom.dcmread(pydicom_test_files() / name) for name in ("CT_small.dcm", "SC_rgb_jpeg_gdcm.dcm")]
    us = st.sampled_from([0, 1, 2, 3, 8, 12, 16, 32, 64, 100, 128, 256, 4096, 65535])

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(source=st.sampled_from([0, 1]), rows=us, columns=us, bits_allocated=us, bits_stored=us,
           samples=st.sampled_from([0, 1, 3, 4]), representation=st.sampled_from([0, 1, 2]),
           frames=st.sampled_from(["1", "2", "500", "0", "-1", "65535"]),
           photometric=st.sampled_from(["MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL_422", "PALETTE COLOR", "?"]),
           syntax=st.sampled_from(TRANSFER_SYNTAXES[:-1]))
    def check(source, rows, columns, bits_allocated, bits_stored, samples, representation, frames, photometric,
              syntax) -> None:
        from pydicom import config

        config.settings.writing_validation_mode = config.IGNORE
        ds = copy.deepcopy(sources[source])
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored = rows, columns, bits_allocated, bits_stored
        ds.SamplesPerPixel, ds.PixelRepresentation = samples, representation
        ds.NumberOfFrames, ds.PhotometricInterpretation = frames, photometric
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(buffer, enforce_file_format=False)
        data = set_transfer_syntax(buffer.getvalue(), syntax)  # the body keeps its own encoding
        assert data is not None
        path = tmp_path / "case.dcm"
        path.write_bytes(data)
        reply = worker.call("medtl_gui.core.imaging.fuzzing.campaigns:target_read_scan", str(path), timeout_s=30)
        assert finding_from_reply(reply, "hypothesis", 0) is None, reply

    check()
