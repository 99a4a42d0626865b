"""Provenance of stored weights: "published" is proven by the file's hash, never by a name or a manifest.

An entry *claims* to be torchvision's published file for a model when its
name or file name is that file's name (``resnet18-f37072fd``), or when its
source says it is (``"ImageNet-1k torchvision V1"``). A claim holds only if
the SHA-256 of the bytes is the published one: the full digest where this
module knows it (:data:`PUBLISHED_SHA256`), else the prefix torchvision
puts in the file name, as ``torch.hub`` checks it. A safetensors conversion
or a re-saved copy is therefore never "the published file". Claims that do
not hold are refused at import and fail ``verify`` (and every load) for
entries already in a store. A sidecar ``*.manifest.json`` or a hand-edited
``manifest.json`` can say anything; the state is always recomputed here.

Verification states: ``verified`` (the published file, hash checked),
``local`` (made by MedTL in this store: in-domain pretraining),
``unverified`` (a user-supplied file: its own SHA-256 guards it against
later change, but nothing proves what it was trained on) and ``mismatch``
(claims to be a published file and is not; refused on use).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePath

from medtl_gui.core.models.weights.errors import WeightsError
from medtl_gui.core.models.zoo import MODEL_ZOO, TorchvisionWeightsFile

VERIFIED = "verified"
LOCAL = "local"
UNVERIFIED = "unverified"
MISMATCH = "mismatch"
VERIFICATION_STATES = (VERIFIED, LOCAL, UNVERIFIED, MISMATCH)
#: the source given to an imported file that names none
USER_SUPPLIED_SOURCE = "unverified (user-supplied)"

#: full SHA-256 of published files, where known; the name's prefix is the check for the others
PUBLISHED_SHA256: dict[str, str] = {}


class ProvenanceError(WeightsError):
    """Weights that claim to be a published file but whose hash says otherwise."""


@dataclass(frozen=True)
class Claim:
    """What an entry claims to be: a published file (``None``: one that does not exist) and on what grounds."""

    published: TorchvisionWeightsFile | None
    grounds: str


def _norm(text: object) -> str:
    return " ".join(str(text or "").lower().split())


def _claims_published_source(source: str) -> bool:
    text = _norm(source)
    published = {_norm(s.weights.source) for s in MODEL_ZOO.values() if s.weights is not None}
    return text in published or (text.startswith("imagenet") and "torchvision" in text)


def claim_of(name: str, file_name: str, source: str | None, architecture: str | None) -> Claim | None:
    """The published file an entry (or an import about to become one) claims to be, if any."""
    base = PurePath(str(file_name or "")).name
    names = {_norm(name), _norm(base), _norm(base.rsplit(".", 1)[0])} - {""}
    for spec in MODEL_ZOO.values():
        published = spec.weights
        if published is not None and (_norm(published.name) in names or _norm(published.file_name) in names):
            grounds = f"its name {name!r}" if _norm(published.name) == _norm(name) else f"its file name {base!r}"
            return Claim(published, grounds)
    if source and _claims_published_source(source):
        spec = MODEL_ZOO.get(str(architecture))
        return Claim(spec.weights if spec is not None else None, f"its source {source!r}")
    return None


def matches_published(published: TorchvisionWeightsFile, digest: str) -> bool:
    """Whether a full hex digest is that of the published file."""
    digest = digest.lower()
    full = PUBLISHED_SHA256.get(published.file_name)
    return digest == full if full else bool(digest) and digest.startswith(published.sha256_prefix)


def check_claim(path: str | os.PathLike, digest: str, claim: Claim | None, architecture: str | None) -> str:
    """The verification state of bytes with ``digest``; :class:`ProvenanceError` when a claim fails."""
    if claim is None:
        return UNVERIFIED
    if claim.published is None:
        raise ProvenanceError(path, f"claims a published torchvision source by {claim.grounds}, but torchvision "
                                    f"publishes no weights for {architecture}; refused. Give it another --source")
    if not matches_published(claim.published, digest):
        raise ProvenanceError(
            path,
            f"claims to be torchvision's published {claim.published.file_name} ({claim.published.source}) by "
            f"{claim.grounds}, but its SHA-256 starts {digest[:8]}, not {claim.published.sha256_prefix}; refused "
            "(only the published .pth file itself matches). To use it as unverified weights, import it with "
            "another --name and --source")
    return VERIFIED


def verification_of(entry) -> str:
    """An entry's state from its recorded hash and claims (never from what its manifest says)."""
    claim = claim_of(entry.name, entry.file, entry.source, entry.architecture)
    if claim is not None:
        if entry.location == "hub-cache":  # the published file name itself: its prefix is checked at every use
            return VERIFIED
        return VERIFIED if claim.published is not None and matches_published(claim.published, entry.sha256) \
            else MISMATCH
    return LOCAL if entry.verification == LOCAL else UNVERIFIED
