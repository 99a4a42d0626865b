"""`medtl weights list | import | verify | export | download`."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
import torch

from medtl_gui.cli import main
from medtl_gui.core.models import zoo
from medtl_gui.core.models.architectures import build_torchvision_model
from medtl_gui.core.models.weights.safe_load import sha256_file


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEDTL_WEIGHTS_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "store"


def _published_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    temp = folder / "t.pth"
    torch.save(build_torchvision_model("mobilenet_v3_small").state_dict(), temp)
    final = folder / f"mobilenet_v3_small-{sha256_file(temp)[:8]}.pth"
    temp.rename(final)
    spec = zoo.MODEL_ZOO["mobilenet_v3_small"]
    monkeypatch.setitem(zoo.MODEL_ZOO, "mobilenet_v3_small",
                        dataclasses.replace(spec, weights=zoo.TorchvisionWeightsFile(final.name)))
    return final


def test_list_shows_missing_zoo_weights_with_their_urls(store_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["weights", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["directory"] == str(store_dir) and listing["entries"] == []
    assert {"model": "resnet18", "file": "resnet18-f37072fd.pth",
            "url": "https://download.pytorch.org/models/resnet18-f37072fd.pth"} in listing["missing"]


def test_import_verify_export_round_trip(store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    published = _published_file(tmp_path / "usb", monkeypatch)
    assert main(["weights", "import", str(published)]) == 0
    assert "imported mobilenet_v3_small-" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    assert published.stem in capsys.readouterr().out
    assert main(["weights", "verify"]) == 0
    assert capsys.readouterr().out.startswith("ok")
    assert main(["weights", "export", published.stem, str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / published.name).is_file()
    assert "exported" in capsys.readouterr().out
    assert (tmp_path / "out" / (published.name + ".manifest.json")).is_file()
    stored = store_dir / published.name
    stored.write_bytes(stored.read_bytes()[:-4] + b"\0\0\0\0")
    assert main(["weights", "verify", published.stem]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"FAILED  {published.stem}") and "SHA-256 mismatch" in out


def test_import_refuses_code_carrying_pickles(store_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    torch.save({"w": Exploit()}, evil)
    assert main(["weights", "import", str(evil), "--arch", "resnet18"]) == 2
    err = capsys.readouterr().err
    assert "evil.pth" in err and "refused" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_download_from_a_mirror_verifies_the_hash(store_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    published = _published_file(tmp_path / "mirror", monkeypatch)
    assert main(["weights", "download", "mobilenet_v3_small", "--url", published.as_uri()]) == 0
    assert (store_dir / published.name).is_file()
    other = tmp_path / "other.pth"
    other.write_bytes(b"garbage")
    monkeypatch.setenv("MEDTL_WEIGHTS_DIR", str(tmp_path / "store2"))
    assert main(["weights", "download", "mobilenet_v3_small", "--url", other.as_uri()]) == 2
