"""Offline weight store: import, verify, refuse tampered or unsafe files, export, download."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import pytest
import torch

from medtl_gui.core.models import zoo
from medtl_gui.core.models.architectures import build_torchvision_model
from medtl_gui.core.models.builder import build_model
from medtl_gui.core.models.weights import (
    MissingWeightsError,
    TamperedWeightsError,
    UnsafeWeightsError,
    WeightsError,
    WeightStore,
)
from medtl_gui.core.models.weights.download import download_weights
from medtl_gui.core.models.weights.safe_load import load_state_dict_file, sha256_file


@pytest.fixture
def store(tmp_path: Path) -> WeightStore:
    return WeightStore(tmp_path / "weights", hub_dirs=[tmp_path / "hub"])


def _torchvision_style_file(folder: Path, arch: str = "resnet18", seed: int = 0) -> Path:
    """Random weights saved the way torchvision publishes them: ``arch-<sha256[:8]>.pth``."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    temp = folder / "temp.pth"
    torch.save(build_torchvision_model(arch).state_dict(), temp)
    final = folder / f"{arch}-{sha256_file(temp)[:8]}.pth"
    temp.rename(final)
    return final


def _pretend_published(monkeypatch: pytest.MonkeyPatch, arch: str, file_name: str) -> None:
    """Make the zoo believe ``file_name`` is torchvision's published file for ``arch``."""
    spec = zoo.MODEL_ZOO[arch]
    fake = dataclasses.replace(spec, weights=zoo.TorchvisionWeightsFile(file_name))
    monkeypatch.setitem(zoo.MODEL_ZOO, arch, fake)


class Exploit:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_default_folder_honours_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDTL_WEIGHTS_DIR", str(tmp_path / "custom"))
    assert WeightStore().directory == tmp_path / "custom"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert WeightStore().hub_dirs == [tmp_path / "th" / "hub" / "checkpoints"]


def test_import_torchvision_file_verifies_prefix_and_fills_metadata(
    store: WeightStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _torchvision_style_file(tmp_path / "usb")
    _pretend_published(monkeypatch, "resnet18", source.name)
    entry = store.import_file(source)
    assert entry.architecture == "resnet18"
    assert entry.sha256 == sha256_file(source)
    assert entry.source == "ImageNet-1k torchvision V1" and "BSD" in entry.licence
    assert entry.in_channels == 3
    assert [e.name for e in WeightStore(store.directory, hub_dirs=[]).entries()] == [entry.name]
    resolved = store.resolve("resnet18", "imagenet")
    loaded = store.load(resolved)
    model = build_model("resnet18", n_classes=2, in_channels=3, weights=loaded).model
    assert torch.equal(model.backbone.layer1[0].conv1.weight, loaded.state_dict["layer1.0.conv1.weight"])


def test_torchvision_file_with_wrong_hash_prefix_is_refused(store: WeightStore, tmp_path: Path) -> None:
    source = _torchvision_style_file(tmp_path / "usb")
    forged = source.with_name("resnet18-f37072fd.pth")  # the real name, other bytes
    source.rename(forged)
    with pytest.raises(TamperedWeightsError, match="SHA-256 mismatch"):
        store.import_file(forged)
    assert not store.directory.exists() or store.stored_entries() == []


def test_tampered_file_in_store_is_refused_before_loading(store: WeightStore) -> None:
    torch.manual_seed(0)
    entry = store.add_state_dict("lenet-test", "lenet5", build_model("lenet5").model.backbone.state_dict(),
                                 source="test", layout="medtl-backbone")
    store.load(entry)  # intact: fine
    path = store.path_of(entry)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedWeightsError) as info:
        store.load(entry)
    assert str(path) in str(info.value)


def test_pickle_that_would_execute_code_is_refused_and_nothing_runs(
    store: WeightStore, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "payload": Exploit(marker)}, evil)
    plain_pickle = tmp_path / "evil2.pt"
    plain_pickle.write_bytes(pickle.dumps(Exploit(marker)))
    for path in (evil, plain_pickle):
        with pytest.raises(UnsafeWeightsError, match="not executed|was not executed") as info:
            store.import_file(path, architecture="resnet18")
        assert str(path) in str(info.value)
        with pytest.raises(UnsafeWeightsError):
            load_state_dict_file(path)
    assert not marker.exists(), "the pickle's payload ran"
    assert store.stored_entries() == []


def test_hub_cache_files_are_found_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    good = _torchvision_style_file(hub)
    _pretend_published(monkeypatch, "resnet18", good.name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    store = WeightStore(tmp_path / "weights")
    entry = store.resolve("resnet18", "imagenet")
    assert entry is not None and entry.location == "hub-cache"
    assert store.load(entry).sha256 == sha256_file(good)
    good.write_bytes(good.read_bytes()[:-10] + b"0123456789")  # corrupt in place
    with pytest.raises(TamperedWeightsError):
        WeightStore(tmp_path / "weights").load(entry)


def test_missing_weights_error_says_what_to_import_and_where_to_get_it(store: WeightStore) -> None:
    with pytest.raises(MissingWeightsError) as info:
        store.resolve("resnet18", "imagenet")
    message = str(info.value)
    assert "medtl weights import resnet18-f37072fd.pth" in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert str(store.directory) in message
    with pytest.raises(MissingWeightsError, match="--arch resnet18"):
        store.resolve("resnet18", "my-own-weights")
    assert store.resolve("resnet18", "none") is None and store.resolve("resnet18", None) is None


def test_weights_that_do_not_fit_the_architecture_are_refused(store: WeightStore, tmp_path: Path) -> None:
    source = tmp_path / "r18.safetensors"
    from safetensors.torch import save_file

    save_file(build_torchvision_model("resnet18").state_dict(), source)
    with pytest.raises(WeightsError, match="do not fit"):
        store.import_file(source, architecture="resnet50")
    with pytest.raises(WeightsError, match="cannot tell which architecture"):
        store.import_file(source)
    entry = store.import_file(source, architecture="resnet18", source="supervised on project Y")
    assert entry.source == "supervised on project Y"
    with pytest.raises(WeightsError, match="for resnet18, not resnet50"):
        store.resolve("resnet50", entry.name)


def test_export_then_import_on_another_machine_keeps_metadata(store: WeightStore, tmp_path: Path) -> None:
    torch.manual_seed(0)
    backbone = build_model("baseline_cnn", in_channels=1).model.backbone.state_dict()
    store.add_state_dict("ssl-chest", "baseline_cnn", backbone, source="self-supervised on project X",
                         licence="CC-BY-4.0", layout="medtl-backbone", in_channels=1)
    exported = store.export("ssl-chest", tmp_path / "usb")
    other = WeightStore(tmp_path / "other", hub_dirs=[])
    entry = other.import_file(exported)
    assert (entry.name, entry.architecture, entry.source, entry.layout, entry.licence) == (
        "ssl-chest", "baseline_cnn", "self-supervised on project X", "medtl-backbone", "CC-BY-4.0")
    bundle = build_model("baseline_cnn", in_channels=1, weights=other.load(entry))
    assert torch.equal(bundle.model.backbone.block1[0].weight, backbone["block1.0.weight"])
    # a sidecar whose recorded hash no longer matches the file is refused
    exported.write_bytes(exported.read_bytes() + b"\0")
    with pytest.raises(TamperedWeightsError):
        WeightStore(tmp_path / "third", hub_dirs=[]).import_file(exported)


def test_download_verifies_the_published_hash(store: WeightStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    published = _torchvision_style_file(tmp_path / "mirror")
    _pretend_published(monkeypatch, "resnet18", published.name)
    entry = download_weights("resnet18", store, url=published.as_uri())
    assert entry.sha256 == sha256_file(published) and store.find(published.name) is not None
    other = WeightStore(tmp_path / "other", hub_dirs=[])
    wrong = tmp_path / "mirror" / "wrong.pth"
    wrong.write_bytes(b"not the published file")
    with pytest.raises(TamperedWeightsError):
        download_weights("resnet18", other, url=wrong.as_uri())
    assert other.stored_entries() == []
    assert [p for p in other.directory.iterdir() if p.name != "manifest.json"] == []
