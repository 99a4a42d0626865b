"""Fuzzing of the scan readers: seed files, format-aware mutators and a sandboxed runner.

The contract being tested (see ``read_scan``): every input either reads or
raises ``ScanReadError`` - no other exception, no crash of the process, no
hang, no memory use out of proportion to the input. The pieces:

- :mod:`.seeds` - small valid files of every supported format (generated in
  code, plus real DICOM files from pydicom's test data and ``../shared/data``).
- :mod:`.byte_mutations`, :mod:`.format_mutations` - turn a seed into a
  hostile variant (bit flips and lying lengths; DICOM header values, PNG
  chunks with fixed CRCs, NIfTI/NRRD/MHA header fields, TIFF tags).
- :mod:`.worker` - a child process that runs one target per input under a
  memory limit (``RLIMIT_AS``) and reports the outcome on a pipe.
- :mod:`.runner` - feeds inputs to the worker with a per-input time limit,
  restarts it after a crash or hang and collects :class:`Finding` objects.
- :mod:`.campaigns` - the reader targets (``read_scan`` per format,
  ``describe``, ``find_series``); the importer targets live in
  :mod:`medtl_gui.core.project.import_fuzzing`.

Used by ``tests/test_fuzz_*.py`` (a few hundred inputs) and
``benchmarks/bench_fuzz.py`` (10,000+ per target). POSIX only (``resource``).
"""

from medtl_gui.core.imaging.fuzzing.runner import CampaignResult, Finding, FuzzCampaign, run_campaign

__all__ = ["CampaignResult", "Finding", "FuzzCampaign", "run_campaign"]
