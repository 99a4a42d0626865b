"""`medtl weights | pretrain`: the offline weight store and in-domain pretraining.

- ``medtl weights list | import FILE | verify [NAME...] | export NAME DEST |
  download NAME``: the offline weight store. ``download`` is the only
  command that uses the network.
- ``medtl pretrain DATA --method ssl|supervised --model M --name N``:
  in-domain pretraining; the backbone goes into the weight store as N.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medtl_gui.commands import UsageError, user_errors as _user_errors, weight_store as _store
from medtl_gui.commands.job import cancellable_job, exit_code


def register(sub: Any) -> None:
    weights = sub.add_parser("weights", help="manage the offline weight store")
    wsub = weights.add_subparsers(dest="weights_command", metavar="ACTION")
    wsub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", type=Path, help="weight store folder (default: $MEDTL_WEIGHTS_DIR or user data)")
    w = wsub.add_parser("list", parents=[common], help="list stored weights and which zoo weights are missing")
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=run_weights_list)
    w = wsub.add_parser("import", parents=[common], help="import a weights file (.pth/.pt/.safetensors)")
    w.add_argument("file", type=Path)
    w.add_argument("--arch", help="architecture (found from torchvision file names)")
    w.add_argument("--name", help="name in the store (default: file name without extension)")
    w.add_argument("--source", help='what the weights were trained on, e.g. "supervised on project Y"')
    w.add_argument("--licence", help="licence of the weights")
    w.add_argument("--layout", choices=("torchvision", "medtl-backbone"), help="key layout (default torchvision)")
    w.set_defaults(func=run_weights_import)
    w = wsub.add_parser("verify", parents=[common], help="re-check SHA-256 of stored weights (exit 1 on a mismatch)")
    w.add_argument("names", nargs="*", metavar="NAME")
    w.set_defaults(func=run_weights_verify)
    w = wsub.add_parser("export", parents=[common], help="copy weights plus a manifest sidecar into a folder")
    w.add_argument("name")
    w.add_argument("destination", type=Path)
    w.set_defaults(func=run_weights_export)
    w = wsub.add_parser("download", parents=[common],
                        help="fetch torchvision's published weights (network; run on a connected machine)")
    w.add_argument("name", help="model (e.g. resnet18) or weights name (resnet18-f37072fd)")
    w.add_argument("--url", help="alternative address (mirror)")
    w.set_defaults(func=run_weights_download)

    _register_pretrain(sub)


def _register_pretrain(sub: Any) -> None:
    p = sub.add_parser("pretrain", help="in-domain pretraining: the backbone goes into the weight store",
                       description="ssl: SimCLR on every image of DATA (labels ignored; test split only with "
                                   "--include-test). supervised: train on DATA's labels and keep the backbone. "
                                   "Use the result with: medtl train OTHER --pretrained NAME --model M")
    p.add_argument("data", metavar="DATA", help="project folder or .npz file")
    p.add_argument("--method", choices=("ssl", "supervised"), required=True)
    p.add_argument("--name", required=True, help="name of the new weights in the weight store")
    p.add_argument("--model", default="resnet18", help="architecture from the model zoo")
    p.add_argument("--pretrained", help="start from these weights instead of random ones")
    for option, kind in (("--epochs", int), ("--batch-size", int), ("--lr", float), ("--image-size", int),
                         ("--temperature", float), ("--seed", int)):
        p.add_argument(option, type=kind, help="(ssl defaults: 20 epochs, batch 128, lr 1e-3, 64 px, "
                                               "temperature 0.2; supervised: the default recipe's)")
    p.add_argument("--allow-flips", action="store_true", help="ssl: left/right flips (off: laterality matters)")
    p.add_argument("--include-test", action="store_true", help="ssl: also use test-split images")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--run-dir", type=Path, help="folder for the pretraining run (default: DATA's runs/<new id>)")
    p.add_argument("--weights-dir", type=Path, help="weight store folder (default: $MEDTL_WEIGHTS_DIR or user data)")
    p.add_argument("--json", action="store_true", help="print the final report as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_pretrain)



def run_weights_list(args: argparse.Namespace) -> int:
    """Handler of ``medtl weights list``."""
    from medtl_gui.core.models.zoo import list_models

    try:
        store = _store(args.dir)
        entries = store.entries()
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    present = {e.name for e in entries}
    missing = [s for s in list_models() if s.weights is not None and s.weights.name not in present]
    if args.json:
        print(json.dumps({
            "directory": str(store.directory),
            "hub_dirs": [str(d) for d in store.hub_dirs],
            "entries": [e.to_json() for e in entries],
            "missing": [{"model": s.name, "file": s.weights.file_name, "url": s.weights.url} for s in missing],
        }, indent=2))
        return 0
    print(f"weight store: {store.directory}")
    if not entries:
        print("  (empty)")
    for e in entries:
        digest = e.sha256[:12] if e.sha256 else "(name prefix)"
        print(f"  {e.name:40s} {e.architecture:20s} {e.location:9s} {digest:14s} {e.verification:10s} {e.source}")
    if missing:
        print("not installed (medtl weights import FILE, or download on a connected machine):")
        for s in missing:
            print(f"  {s.name:20s} {s.weights.file_name:45s} {s.weights.url}")
    return 0


def run_weights_import(args: argparse.Namespace) -> int:
    """Handler of ``medtl weights import``."""
    from medtl_gui.core.models.weights.errors import WeightsError

    try:
        entry = _store(args.dir).import_file(args.file, architecture=args.arch, name=args.name, source=args.source,
                                             licence=args.licence, layout=args.layout)
    except WeightsError as exc:  # caught first: _user_errors() imports torch, which a refusal must not need
        raise UsageError(str(exc)) from exc
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    print(f"imported {entry.name} ({entry.architecture}, {entry.source}; {entry.verification}), sha256 {entry.sha256}")
    return 0


def run_weights_verify(args: argparse.Namespace) -> int:
    """Handler of ``medtl weights verify``: re-hashes every file; exit 1 if any fails (hash or provenance)."""
    from medtl_gui.core.models.weights.errors import WeightsError

    try:
        store = _store(args.dir)
        entries = store.entries()
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    if args.names:
        unknown = sorted(set(args.names) - {e.name for e in entries})
        if unknown:
            raise UsageError(f"no weights named {', '.join(unknown)} in {store.directory}")
        entries = [e for e in entries if e.name in args.names]
    failures = 0
    for entry in entries:
        try:
            digest = store.verify(entry)
            print(f"ok      {entry.name}  ({entry.verification}, sha256 {digest})")
        except WeightsError as exc:
            failures += 1
            print(f"FAILED  {entry.name}: {exc.reason}")
    if not entries:
        print(f"no weights in {store.directory}")
    return 1 if failures else 0


def run_weights_export(args: argparse.Namespace) -> int:
    """Handler of ``medtl weights export``."""
    try:
        target = _store(args.dir).export(args.name, args.destination)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    print(f"exported {args.name} to {target} (with {target.name}.manifest.json)")
    return 0


def run_weights_download(args: argparse.Namespace) -> int:
    """Handler of ``medtl weights download`` (the one network operation)."""
    from medtl_gui.core.models.weights.download import download_weights

    def progress(done: int, total: int | None) -> None:
        text = f"{done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else "")
        print(f"\rdownloading {text}", end="", file=sys.stderr, flush=True)

    try:
        entry = download_weights(args.name, _store(args.dir), url=args.url, progress=progress)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    print(file=sys.stderr)
    print(f"stored {entry.name} ({entry.architecture}), sha256 {entry.sha256}")
    return 0


# --------------------------------------------------------------------------- pretrain
def run_pretrain(args: argparse.Namespace) -> int:
    """Handler of ``medtl pretrain``."""
    from medtl_gui.core.pretraining.config import PretrainConfig
    from medtl_gui.core.pretraining.launch import pretrain_location

    settings = {key: getattr(args, key) for key in ("method", "name", "model", "pretrained", "epochs", "batch_size",
                                                    "lr", "image_size", "seed", "device", "precision")}
    settings |= {"allow_flips": args.allow_flips, "include_test": args.include_test}
    if args.temperature is not None:
        settings["temperature"] = args.temperature
    settings = {k: v for k, v in settings.items() if v is not None}
    if str(settings.get("pretrained", "")).lower() == "none":
        del settings["pretrained"]
    with cancellable_job(quiet=args.quiet) as job:
        config = PretrainConfig.from_dict(settings, origin="command line")
        result = pretrain_location(config, args.data, job.progress(), job.control,
                                   run_dir=args.run_dir, weight_store=_store(args.weights_dir))
    if args.json:
        print(json.dumps(result.report, indent=2))
    elif result.weights is not None:
        print(f"stored {result.weights.name} ({result.weights.source}); use it with: medtl train DATA "
              f"--model {result.weights.architecture} --pretrained {result.weights.name}", file=sys.stderr)
    return exit_code(result.status)
