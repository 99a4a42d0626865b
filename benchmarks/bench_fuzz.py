"""Fuzz the scan readers and the importers: inputs tried and contract violations found per target.

Every input must either read or be refused with ``ScanReadError`` (importers:
reported as skipped); any other exception, a crash of the worker process, a
hang (per-input time limit) or running into the worker's memory limit is a
finding. Inputs are mutated seeds (real DICOM files from pydicom's test data
and ``../shared/data/dicom``, generated PNG/JPEG/TIFF/GIF/BMP/NIfTI/NRRD/MHA
files, hostile CSV lists and ``.npz`` archives); see
``medtl_gui/core/imaging/fuzzing`` and ``medtl_gui/core/project/import_fuzzing.py``.
Target ``check-database``: ``medtl check`` (and ``--repair``) on copies of a
tiny project whose ``project.sqlite`` got random byte flips or a truncation
(``medtl_gui/core/project/database_fuzzing.py``); it must never raise and
never write to a damaged database:

    .venv/bin/python benchmarks/bench_fuzz.py --targets check-database --per-target 1000 --jobs 1

    .venv/bin/python benchmarks/bench_fuzz.py --per-target 10000 --jobs 2

Findings are saved (input + JSON description) under ``--findings-dir``.
Prints one line per target and, last, one JSON object with flat numeric keys.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from medtl_gui.core.imaging.fuzzing.campaigns import reader_campaigns  # noqa: E402
from medtl_gui.core.imaging.fuzzing.runner import CampaignResult, FuzzCampaign, run_campaign  # noqa: E402
from medtl_gui.core.project.import_fuzzing import import_campaigns  # noqa: E402
from medtl_gui.core.models.weights.weights_fuzzing import weights_campaigns  # noqa: E402
from medtl_gui.core.project.database_fuzzing import database_campaigns  # noqa: E402

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def _key(name: str) -> str:
    return name.replace("-", "_")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-target", type=int, default=10_000, help="inputs per target (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (input i of a target is reproducible)")
    parser.add_argument("--jobs", type=int, default=2, help="targets fuzzed at the same time (max 2 here)")
    parser.add_argument("--timeout-s", type=float, default=10.0, help="per-input time limit (hang)")
    parser.add_argument("--memory-limit-gib", type=float, default=4.0, help="worker address-space limit")
    parser.add_argument("--findings-dir", type=Path, default=None, help="where crashing inputs are saved")
    parser.add_argument("--targets", nargs="*", help="only these targets (names as printed)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # pydicom warns about every malformed value the mutators write

    shared = SHARED_DATA if SHARED_DATA.is_dir() else None
    campaigns: list[FuzzCampaign] = (reader_campaigns(shared) + import_campaigns(shared) + database_campaigns()
                                     + weights_campaigns())
    if args.targets:
        campaigns = [c for c in campaigns if c.name in args.targets]
    findings_dir = args.findings_dir or Path(tempfile.mkdtemp(prefix="medtl-fuzz-findings-"))
    memory_limit = int(args.memory_limit_gib * 2**30)
    print(f"[bench_fuzz] {len(campaigns)} targets x {args.per_target} inputs, seed {args.seed}, "
          f"{args.jobs} jobs, timeout {args.timeout_s:.0f} s, memory limit {args.memory_limit_gib:g} GiB, "
          f"shared data {'yes' if shared else 'no'}; findings -> {findings_dir}", flush=True)

    def progress(result: CampaignResult) -> None:
        print(f"  ... {result.name}: {result.tried} inputs, {len(result.findings)} findings, "
              f"{result.seconds:.0f} s", flush=True)

    def run(campaign: FuzzCampaign) -> CampaignResult:
        result = run_campaign(campaign, args.per_target, seed=args.seed, timeout_s=args.timeout_s,
                              memory_limit=memory_limit, findings_dir=findings_dir, progress=progress,
                              progress_every=max(1000, args.per_target // 5))
        print(f"{result.name:<20} inputs {result.tried:>6}  read {result.read:>6}  rejected {result.rejected:>6}"
              f"  findings {len(result.findings):>3} (unique {result.unique_findings})  {result.seconds:7.1f} s"
              f"  ({result.tried / max(result.seconds, 1e-9):.0f}/s, worker restarts {result.worker_restarts})",
              flush=True)
        for finding in result.findings[:20]:
            print(f"    {finding.kind} {finding.type} at {finding.where}: {finding.detail[:200]}"
                  f" -> {finding.saved_input}", flush=True)
        return result

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 2))) as pool:
        results = list(pool.map(run, campaigns))
    total_s = time.monotonic() - started

    figures: dict[str, float] = {
        "targets": len(results),
        "per_target_requested": args.per_target,
        "seed": args.seed,
        "timeout_s": args.timeout_s,
        "memory_limit_gib": args.memory_limit_gib,
        "inputs_total": sum(r.tried for r in results),
        "min_inputs_per_target": min((r.tried for r in results), default=0),
        "findings_total": sum(len(r.findings) for r in results),
        "unique_findings_total": sum(r.unique_findings for r in results),
        "crashes_total": sum(1 for r in results for f in r.findings if f.kind == "crash"),
        "hangs_total": sum(1 for r in results for f in r.findings if f.kind == "hang"),
        "memory_findings_total": sum(1 for r in results for f in r.findings if f.kind == "memory"),
        "wall_s": round(total_s, 1),
        "cpu_count": os.cpu_count() or 0,
    }
    for result in results:
        key = _key(result.name)
        figures[f"{key}_inputs"] = result.tried
        figures[f"{key}_read"] = result.read
        figures[f"{key}_rejected"] = result.rejected
        figures[f"{key}_findings"] = len(result.findings)
        figures[f"{key}_s"] = round(result.seconds, 1)
    print(f"[bench_fuzz] {figures['inputs_total']} inputs in {total_s:.0f} s on {platform.machine()} "
          f"({os.cpu_count()} CPUs): {figures['findings_total']} findings", flush=True)
    print(json.dumps(figures))
    return 0 if figures["findings_total"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
