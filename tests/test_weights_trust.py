"""Trust in the weight store: provenance of published weights, bounded archives, non-regular files.

Issue 17, findings 1, 5 and the weights half of 11: a random-initialised
resnet18 must not pass for torchvision's published ImageNet file (by name,
by source or through a sidecar manifest), a zip-bomb ``.pth`` is refused
before anything is inflated, and ``/dev/zero``, a FIFO or a folder given as
weights is "not a regular file" (never "no such file", never a hang).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import torch

from conftest import run_cli
from medtl_gui.cli import main
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.models.architectures import build_torchvision_model
from medtl_gui.core.models.weights.safe_load import sha256_file
from medtl_gui.core.models.weights.weights_fuzzing import write_weights_zip_bomb

PUBLISHED = "resnet18-f37072fd"  # torchvision's published ImageNet file for resnet18
IMAGENET_SOURCE = "ImageNet-1k torchvision V1"


@pytest.fixture(scope="module")
def random_resnet18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-initialised resnet18 as safetensors (45 MB: made once for the module)."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("usb")
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in build_torchvision_model("resnet18").state_dict().items()}
    save_file(state, folder / "resnet18.safetensors")
    return folder / "resnet18.safetensors"


def _env(tmp_path: Path) -> dict[str, str]:
    return {"MEDTL_WEIGHTS_DIR": str(tmp_path / "store"), "TORCH_HOME": str(tmp_path / "torch_home")}


@pytest.fixture
def medtl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """``medtl ARGS`` in this process (torch is loaded once), over the test's weight store."""
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return run


def _listing(medtl) -> dict:
    done = medtl("weights", "list", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _panel_choice(tmp_path: Path, value: str):
    """The training panel's pretrained-weights choice ``value`` for resnet18 over the test's store."""
    from medtl_gui.core.models.weights import WeightStore
    from medtl_gui.core.training.setup_checks import weight_choices

    store = WeightStore(tmp_path / "store", hub_dirs=[tmp_path / "torch_home"])
    return next(c for c in weight_choices(store, "resnet18", "classification") if c.value == value)


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_random_weights_named_as_the_published_file_are_refused(random_resnet18: Path, tmp_path: Path) -> None:
    done = run_cli(["weights", "import", str(random_resnet18), "--arch", "resnet18", "--name", PUBLISHED],
                   _env(tmp_path))
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert str(random_resnet18) in line and PUBLISHED in line and "published" in line
    assert not (tmp_path / "store" / "manifest.json").exists()


def test_a_sidecar_manifest_cannot_grant_the_published_source(random_resnet18: Path, tmp_path: Path, medtl) -> None:
    spoof = tmp_path / "resnet18.safetensors"
    os.symlink(random_resnet18, spoof)
    sidecar = {"name": PUBLISHED, "architecture": "resnet18", "file": spoof.name, "source": IMAGENET_SOURCE,
               "sha256": sha256_file(random_resnet18), "verification": "verified", "licence": "BSD"}
    (tmp_path / (spoof.name + ".manifest.json")).write_text(json.dumps(sidecar))
    done = medtl("weights", "import", str(spoof))
    assert done.returncode == 2
    assert "published" in _one_line(done.stderr)
    # the same sidecar under an honest name still claims the published source: refused too
    sidecar["name"] = "my-resnet18"
    (tmp_path / (spoof.name + ".manifest.json")).write_text(json.dumps(sidecar))
    done = medtl("weights", "import", str(spoof))
    assert done.returncode == 2 and IMAGENET_SOURCE in _one_line(done.stderr)
    # without the claim it is stored, as unverified, whatever the sidecar says about verification
    sidecar["source"] = "fine-tuned on chest X-rays elsewhere"
    (tmp_path / (spoof.name + ".manifest.json")).write_text(json.dumps(sidecar))
    done = medtl("weights", "import", str(spoof))
    assert done.returncode == 0, done.stderr
    [entry] = _listing(medtl)["entries"]
    assert entry["name"] == "my-resnet18" and entry["verification"] == "unverified"
    assert entry["sha256"] == sha256_file(random_resnet18)


def test_a_spoofed_store_entry_fails_verify_and_imagenet_training_refuses_it(
        random_resnet18: Path, tmp_path: Path, medtl) -> None:
    """A store written before this check (or edited by hand) holding a spoof: caught at verify and at use."""
    store = tmp_path / "store"
    store.mkdir()
    os.symlink(random_resnet18, store / "resnet18.safetensors")
    entry = {"name": PUBLISHED, "architecture": "resnet18", "file": "resnet18.safetensors",
             "sha256": sha256_file(random_resnet18), "source": IMAGENET_SOURCE, "licence": "BSD",
             "verification": "verified"}
    (store / "manifest.json").write_text(json.dumps({"version": 1, "entries": [entry]}))
    done = medtl("weights", "verify")
    assert done.returncode == 1
    assert done.stdout.startswith(f"FAILED  {PUBLISHED}") and "published" in done.stdout
    [listed] = _listing(medtl)["entries"]
    assert listed["verification"] == "mismatch"
    imagenet = _panel_choice(tmp_path, "imagenet")
    assert not imagenet.enabled and "unverified" in imagenet.text and "SHA-256" in imagenet.reason

    data = write_synthetic_npz(tmp_path / "tiny.npz", n_train=8, n_val=4, n_test=4, size=32)
    done = run_cli(["train", str(data), "--model", "resnet18", "--pretrained", "imagenet", "--epochs", "1",
                    "--run-dir", str(tmp_path / "run"), "--quiet"], _env(tmp_path))
    assert done.returncode == 2
    assert "published" in _one_line(done.stderr)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_user_supplied_weights_train_and_are_recorded_as_unverified(random_resnet18: Path, tmp_path: Path, medtl) -> None:
    done = medtl("weights", "import", str(random_resnet18), "--arch", "resnet18", "--name", "mine")
    assert done.returncode == 0, done.stderr
    assert "unverified" in done.stdout
    done = medtl("weights", "verify")
    assert done.returncode == 0 and done.stdout.startswith("ok      mine") and "unverified" in done.stdout
    mine = _panel_choice(tmp_path, "mine")
    assert mine.enabled and "(unverified)" in mine.text and "nothing proves" in mine.reason

    data = write_synthetic_npz(tmp_path / "tiny.npz", n_train=8, n_val=4, n_test=4, size=32)
    run = tmp_path / "run"
    done = run_cli(["train", str(data), "--model", "resnet18", "--pretrained", "mine", "--epochs", "1",
                    "--image-size", "32", "--batch-size", "8", "--precision", "fp32", "--run-dir", str(run),
                    "--quiet"], _env(tmp_path))
    assert done.returncode == 0, done.stderr
    weights = json.loads((run / "config.json").read_text())["weights"]
    assert weights["sha256"] == sha256_file(random_resnet18) and weights["verification"] == "unverified"

    from medtl_gui.core.inference.model_card import _weights_source

    assert "unverified" in _weights_source({"weights": weights})


def test_a_zip_bomb_weights_file_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = write_weights_zip_bomb(tmp_path / "bomb.pth", 64 << 20)  # torch.load would inflate 64 MiB
    assert bomb.stat().st_size < 1 << 20
    started = time.monotonic()
    done = run_cli(["weights", "import", str(bomb), "--arch", "resnet18"], _env(tmp_path), timeout=120)
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert str(bomb) in line and "archive/data/0" in line and "uncompressed" in line
    print(f"zip bomb refused in {time.monotonic() - started:.1f} s")


def test_device_fifo_and_folder_are_not_regular_files(tmp_path: Path, medtl) -> None:
    fifo = tmp_path / "weights.pth"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.pth"
    folder.mkdir()
    # the FIFO in a child process: a regression would hang there (timeout), not here
    done = run_cli(["weights", "import", str(fifo), "--arch", "resnet18"], _env(tmp_path), timeout=60)
    cases = [(done, str(fifo), "FIFO")]
    cases += [(medtl("weights", "import", path, "--arch", "resnet18"), path, kind)
              for path, kind in (("/dev/zero", "character device"), (str(folder), "folder"))]
    for done, path, kind in cases:
        assert done.returncode == 2
        line = _one_line(done.stderr)
        assert path in line and "not a regular file" in line and kind in line and "no such file" not in line
    done = medtl("weights", "import", str(tmp_path / "missing.pth"), "--arch", "resnet18")
    assert done.returncode == 2 and "no such file" in _one_line(done.stderr)
