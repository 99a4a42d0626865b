"""The offline weight store: a folder of verified pretrained weights.

Default folder: ``platformdirs.user_data_dir("MedTL")/weights``, overridden
by the ``MEDTL_WEIGHTS_DIR`` environment variable or an explicit folder
(application settings). Files that torchvision publishes are also found in
a torch hub cache (``$TORCH_HOME/hub/checkpoints``, default
``~/.cache/torch/hub/checkpoints``), so a pre-seeded cache works as is.

Every load verifies the file's SHA-256 first (the full digest recorded in
the manifest, or the prefix in a torchvision file name) and that an entry
claiming to be a published file is that file (see ``provenance``), and
reads it only as safetensors or with ``torch.load(weights_only=True)``,
after bounding a ``.pth`` archive's declared sizes. Nothing here uses
the network; see :mod:`medtl_gui.core.models.weights.download` for the one
explicit exception.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from medtl_gui.core.models.weights.archive_limits import check_regular_file
from medtl_gui.core.models.weights.errors import MissingWeightsError, WeightsError
from medtl_gui.core.models.weights.manifest import (
    LAYOUTS,
    WeightsEntry,
    read_manifest,
    write_json_atomic,
    write_manifest,
)
from medtl_gui.core.models.weights.provenance import (
    LOCAL,
    USER_SUPPLIED_SOURCE,
    VERIFIED,
    ProvenanceError,
    check_claim,
    claim_of,
    verification_of,
)
from medtl_gui.core.models.weights.safe_load import (
    check_sha256,
    load_state_dict_file,
    name_hash_prefix,
    sha256_file,
)
from medtl_gui.core.models.zoo import get_model_spec, list_models, spec_for_weights_file

ENV_WEIGHTS_DIR = "MEDTL_WEIGHTS_DIR"
#: ``pretrained`` values meaning "the zoo's published ImageNet weights for this model"
IMAGENET_ALIASES = ("imagenet", "default")
SIDECAR_SUFFIX = ".manifest.json"


@dataclass
class PretrainedWeights:
    """A verified, loaded state dict plus the entry it came from."""

    entry: WeightsEntry
    state_dict: dict
    sha256: str


def default_weights_dir() -> Path:
    """``$MEDTL_WEIGHTS_DIR`` or the per-user data folder's ``weights``."""
    override = os.environ.get(ENV_WEIGHTS_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("MedTL")) / "weights"


def default_hub_checkpoints_dir() -> Path:
    """torch hub's checkpoint folder, computed as ``torch.hub.get_dir()`` does (without importing torch)."""
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        torch_home = os.path.join(cache, "torch")
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class WeightStore:
    """Pretrained weights on disk, with a manifest, verified before every use."""

    def __init__(self, directory: str | os.PathLike | None = None, hub_dirs: list[str | os.PathLike] | None = None):
        self.directory = Path(directory).expanduser() if directory is not None else default_weights_dir()
        self.hub_dirs = [Path(d) for d in hub_dirs] if hub_dirs is not None else [default_hub_checkpoints_dir()]
        self._verified: dict[tuple[str, int, int], str] = {}

    # ------------------------------------------------------------------ listing
    def stored_entries(self) -> list[WeightsEntry]:
        """Entries in the store folder's manifest, with their verification state recomputed."""
        return [dataclasses.replace(e, verification=verification_of(e)) for e in read_manifest(self.directory)]

    def hub_cache_entries(self) -> list[WeightsEntry]:
        """torchvision files of zoo models found in the hub cache folders (not copied)."""
        found = []
        for spec in list_models():
            if spec.weights is None:
                continue
            for hub_dir in self.hub_dirs:
                path = hub_dir / spec.weights.file_name
                if path.is_file():
                    found.append(
                        WeightsEntry(
                            name=spec.weights.name,
                            architecture=spec.name,
                            file=str(path),
                            sha256="",
                            source=spec.weights.source,
                            licence=spec.weights.licence,
                            location="hub-cache",
                            verification=VERIFIED,
                        )
                    )
                    break
        return found

    def entries(self) -> list[WeightsEntry]:
        """All usable entries: the store's, then hub-cache files not also in the store."""
        stored = self.stored_entries()
        names = {e.name for e in stored}
        return stored + [e for e in self.hub_cache_entries() if e.name not in names]

    def find(self, name: str) -> WeightsEntry | None:
        """The entry called ``name`` (or whose file is called ``name``), if any."""
        for entry in self.entries():
            if name in (entry.name, Path(entry.file).name):
                return entry
        return None

    def path_of(self, entry: WeightsEntry) -> Path:
        """Where an entry's file is on disk."""
        return Path(entry.file) if entry.location == "hub-cache" else self.directory / entry.file

    # ---------------------------------------------------------------- resolving
    def resolve(self, model_name: str, pretrained: str | None) -> WeightsEntry | None:
        """The entry a config's ``pretrained`` value asks for, ``None`` for random init.

        ``pretrained`` is ``None``/``"none"`` (random init), ``"imagenet"``
        (the zoo's torchvision weights for ``model_name``) or a store name.
        Raises :class:`MissingWeightsError` saying exactly what to import.
        """
        if pretrained is None or pretrained.lower() == "none":
            return None
        spec = get_model_spec(model_name)
        if pretrained.lower() in IMAGENET_ALIASES:
            if spec.weights is None:
                raise MissingWeightsError(
                    self.directory,
                    pretrained,
                    f"{model_name} has no published ImageNet weights; use --pretrained none "
                    "or weights from in-domain pretraining",
                )
            wanted = spec.weights.name
        else:
            wanted = pretrained
        entry = self.find(wanted)
        if entry is None:
            raise MissingWeightsError(self.directory, wanted, self.missing_message(model_name, wanted))
        if entry.architecture != model_name:
            raise WeightsError(
                self.path_of(entry),
                f"weights {entry.name!r} are for {entry.architecture}, not {model_name}",
            )
        return entry

    def missing_message(self, model_name: str, wanted: str) -> str:
        """Says which file to import and how, for weights that are not here."""
        spec = get_model_spec(model_name)
        if spec.weights is not None and wanted == spec.weights.name:
            w = spec.weights
            return (
                f"pretrained weights {w.name!r} for {model_name} are not in the weight store. "
                f"Import the file with: medtl weights import {w.file_name}  "
                f"(fetch it on a connected machine from {w.url}, or run "
                f"'medtl weights download {model_name}' there, and copy it over)"
            )
        available = sorted(e.name for e in self.entries() if e.architecture == model_name)
        hint = f"; weights for {model_name} here: {', '.join(available)}" if available else ""
        return (
            f"no weights named {wanted!r} in the weight store{hint}. "
            f"Import a file with: medtl weights import FILE --arch {model_name}"
        )

    # ------------------------------------------------------------ verification
    def verify(self, entry: WeightsEntry) -> str:
        """Check an entry's file against its recorded SHA-256; returns the full digest.

        Raises :class:`TamperedWeightsError` on a mismatch,
        :class:`ProvenanceError` when the entry claims to be a published file
        that it is not, and :class:`WeightsError` when the file is missing or
        not a regular file.
        """
        path = self.path_of(entry)
        if not path.exists():
            raise WeightsError(path, f"weights file of {entry.name!r} is missing")
        stat = check_regular_file(path)
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        digest = self._verified.get(key) or sha256_file(path)
        if entry.sha256:
            check_sha256(path, entry.sha256, digest)
        prefix = name_hash_prefix(path.name)
        if prefix:
            check_sha256(path, prefix, digest)
        check_claim(path, digest, claim_of(entry.name, entry.file, entry.source, entry.architecture),
                    entry.architecture)
        self._verified[key] = digest
        return digest

    def load(self, entry: WeightsEntry) -> PretrainedWeights:
        """Verify, then read an entry's state dict safely."""
        digest = self.verify(entry)
        return PretrainedWeights(entry, load_state_dict_file(self.path_of(entry)), digest)

    # ---------------------------------------------------------------- changing
    def import_file(
        self,
        source_path: str | os.PathLike,
        *,
        architecture: str | None = None,
        name: str | None = None,
        source: str | None = None,
        licence: str | None = None,
        layout: str | None = None,
        validate: bool = True,
    ) -> WeightsEntry:
        """Copy a weights file into the store after checking it.

        torchvision's files are recognised by name (architecture, source and
        licence filled in, hash prefix verified). A ``FILE.manifest.json``
        sidecar written by :meth:`export` supplies the metadata of other
        files, but never their provenance: a file whose name, ``--name`` or
        source claims a published torchvision file must hash to it, else it
        is refused (:class:`ProvenanceError`); any other file is stored as
        ``unverified``. The file is loaded safely and, with ``validate``,
        checked to fit the architecture before anything is written.
        """
        source_path = Path(source_path)
        check_regular_file(source_path)
        sidecar = self._read_sidecar(source_path)
        spec = spec_for_weights_file(source_path.name)
        architecture = architecture or sidecar.get("architecture") or (spec.name if spec else None)
        if architecture is None:
            raise WeightsError(
                source_path,
                "cannot tell which architecture these weights are for; pass --arch MODEL "
                f"(one of {', '.join(s.name for s in list_models())})",
            )
        get_model_spec(architecture)
        layout = layout or sidecar.get("layout") or "torchvision"
        if layout not in LAYOUTS:
            raise WeightsError(source_path, f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        digest = sha256_file(source_path)
        if sidecar.get("sha256"):
            check_sha256(source_path, sidecar["sha256"], digest)
        prefix = name_hash_prefix(source_path.name)
        if prefix:
            check_sha256(source_path, prefix, digest)
        entry_name = name or sidecar.get("name") or source_path.name.rsplit(".", 1)[0]
        source = source or sidecar.get("source")
        claim = claim_of(entry_name, source_path.name, source, architecture)
        verification = check_claim(source_path, digest, claim, architecture)
        state_dict = load_state_dict_file(source_path)
        in_channels = sidecar.get("in_channels")
        if validate:
            from medtl_gui.core.models.builder import check_state_dict_fits

            in_channels = check_state_dict_fits(architecture, state_dict, layout, source_path)
        if self._stored_entry(entry_name) is not None:
            existing = self._stored_entry(entry_name)
            if existing.sha256 == digest:
                return existing
            raise WeightsError(source_path, f"the store already holds different weights named {entry_name!r}; pass --name")
        published = claim.published if verification == VERIFIED and claim is not None else None
        entry = WeightsEntry(
            name=entry_name,
            architecture=architecture,
            file=self._free_file_name(source_path.name),
            sha256=digest,
            source=published.source if published else (source or USER_SUPPLIED_SOURCE),
            licence=licence or (published.licence if published else sidecar.get("licence") or "unknown"),
            layout=layout,
            in_channels=in_channels,
            created=sidecar.get("created") or _now(),
            imported_from=str(source_path.resolve()),
            notes=sidecar.get("notes", ""),
            verification=verification,
        )
        self._copy_in(source_path, entry.file)
        check_sha256(self.directory / entry.file, digest)
        write_manifest(self.directory, self.stored_entries() + [entry])
        return entry

    def add_state_dict(
        self,
        name: str,
        architecture: str,
        state_dict: dict,
        *,
        source: str,
        licence: str = "unknown",
        layout: str = "torchvision",
        in_channels: int | None = None,
        notes: str = "",
    ) -> WeightsEntry:
        """Save tensors as ``name.safetensors`` in the store (e.g. after in-domain pretraining)."""
        from safetensors.torch import save_file

        get_model_spec(architecture)
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        claim = claim_of(name, f"{name}.safetensors", source, architecture)
        if claim is not None:
            raise ProvenanceError(self.directory, f"new weights cannot claim to be torchvision's published file "
                                                  f"({claim.grounds}); choose another name and source")
        if self._stored_entry(name) is not None:
            raise WeightsError(self.directory, f"the store already holds weights named {name!r}")
        self.directory.mkdir(parents=True, exist_ok=True)
        file_name = self._free_file_name(f"{name}.safetensors")
        handle, temp = tempfile.mkstemp(prefix=".import.", suffix=".safetensors", dir=self.directory)
        os.close(handle)
        try:
            tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
            save_file(tensors, temp)
            digest = sha256_file(temp)
            os.replace(temp, self.directory / file_name)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        entry = WeightsEntry(
            name=name,
            architecture=architecture,
            file=file_name,
            sha256=digest,
            source=source,
            licence=licence,
            layout=layout,
            in_channels=in_channels,
            created=_now(),
            notes=notes,
            verification=LOCAL,
        )
        write_manifest(self.directory, self.stored_entries() + [entry])
        return entry

    def export(self, name: str, destination: str | os.PathLike) -> Path:
        """Copy weights (verified) and a ``.manifest.json`` sidecar into a folder, e.g. a USB stick."""
        entry = self.find(name)
        if entry is None:
            raise MissingWeightsError(self.directory, name, f"no weights named {name!r} in the weight store")
        digest = self.verify(entry)
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        source_path = self.path_of(entry)
        target = destination / source_path.name
        shutil.copyfile(source_path, target)
        check_sha256(target, digest)
        sidecar = entry.to_json() | {"sha256": digest, "file": target.name, "location": "store"}
        write_json_atomic(destination / (target.name + SIDECAR_SUFFIX), sidecar)
        return target

    # ---------------------------------------------------------------- helpers
    def _stored_entry(self, name: str) -> WeightsEntry | None:
        return next((e for e in self.stored_entries() if e.name == name), None)

    def _free_file_name(self, wanted: str) -> str:
        taken = {e.file for e in self.stored_entries()}
        if wanted not in taken and not (self.directory / wanted).exists():
            return wanted
        stem, dot, ext = wanted.rpartition(".")
        for counter in range(2, 10_000):
            candidate = f"{stem}_{counter}{dot}{ext}"
            if candidate not in taken and not (self.directory / candidate).exists():
                return candidate
        raise WeightsError(self.directory, f"no free file name for {wanted}")

    def _copy_in(self, source_path: Path, file_name: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".import.", dir=self.directory)
        os.close(handle)
        try:
            shutil.copyfile(source_path, temp)
            os.replace(temp, self.directory / file_name)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @staticmethod
    def _read_sidecar(source_path: Path) -> dict:
        sidecar_path = source_path.with_name(source_path.name + SIDECAR_SUFFIX)
        if not sidecar_path.is_file():
            return {}
        try:
            data = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise WeightsError(sidecar_path, f"unreadable sidecar manifest ({exc})") from exc
        if not isinstance(data, dict):
            raise WeightsError(sidecar_path, "sidecar manifest must be a JSON object")
        return data
