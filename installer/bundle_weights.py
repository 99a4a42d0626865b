"""Copy the weights listed in installer/weights.txt into the build's bundled weight store.

    python installer/bundle_weights.py --list installer/weights.txt --from DIR --to BUILD/medtl_data/weights

``DIR`` is either a MedTL weight store (a folder with ``manifest.json``,
e.g. the store of a connected machine after ``medtl weights download
resnet18``) or a plain folder of files named like the weights
(``resnet18-f37072fd.pth``, ``my-ssl.safetensors`` with its
``.manifest.json`` sidecar from ``medtl weights export``). Every listed name
must be found; each file goes through ``WeightStore.import_file`` (SHA-256
checked against its name prefix or sidecar, loaded with the safe loader,
shape-checked against its architecture) and is verified again after the
copy. Exit 1 with the names that are missing or bad.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def read_weights_list(path: Path) -> list[str]:
    """Names in a weights list: one per line, ``#`` starts a comment, blank lines ignored."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


def find_source(name: str, folder: Path):
    """``(path, entry or None)`` of weights ``name`` in ``folder`` (a store or plain files), or None."""
    from medtl_gui.core.models.weights import WeightStore

    if (folder / "manifest.json").is_file():
        store = WeightStore(folder, hub_dirs=[])
        entry = store.find(name)
        if entry is not None:
            store.verify(entry)
            return store.path_of(entry), entry
    for suffix in SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate, None
    return None


def bundle(names: list[str], source_dir: Path, target_dir: Path) -> list[str]:
    """Import each name from ``source_dir`` into the store at ``target_dir``; returns problems (empty: all good)."""
    from medtl_gui.core.models.weights import WeightsError, WeightStore

    target = WeightStore(target_dir, hub_dirs=[])
    problems = []
    for name in names:
        found = find_source(name, source_dir)
        if found is None:
            problems.append(f"{name}: not found in {source_dir} (expected {name}.pth/.safetensors or a store entry)")
            continue
        path, entry = found
        try:
            options = {"name": name}
            if entry is not None:
                options.update(architecture=entry.architecture, source=entry.source, licence=entry.licence,
                               layout=entry.layout)
            imported = target.import_file(path, **options)
            digest = target.verify(imported)
            print(f"bundled {name:28s} {imported.architecture:18s} sha256 {digest[:16]}...  ({path})")
        except WeightsError as exc:
            problems.append(f"{name}: {exc}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line of the build step."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", type=Path, required=True, help="weights list (installer/weights.txt)")
    parser.add_argument("--from", dest="source", type=Path, required=True, help="folder holding the weights")
    parser.add_argument("--to", type=Path, required=True, help="the build's bundled weight store folder")
    args = parser.parse_args(argv)
    names = read_weights_list(args.list)
    if not names:
        print(f"{args.list}: lists no weights; nothing bundled")
        return 0
    if not args.source.is_dir():
        print(f"error: {args.source}: no such folder", file=sys.stderr)
        return 1
    problems = bundle(names, args.source, args.to)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
