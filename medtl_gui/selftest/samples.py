"""Codec samples for the self-test: one small synthetic DICOM file per transfer syntax.

The installer build writes them into the frozen app's data folder
(``python -m medtl_gui.selftest.samples OUT_DIR``); a source checkout
writes them into a temporary folder on the fly. Every file holds the same
deterministic 64 x 64 phantom (:func:`phantom`), encoded with the encoders
that ship with MedTL's dependencies (pydicom's native RLE and deflate,
pyjpegls, pylibjpeg-openjpeg, GDCM, Pillow for baseline JPEG), so the
self-test can compare what MedTL's reader decodes with the known pixels.
No patient data is involved, and ``../shared/data`` is never copied.

``samples.json`` in the output folder lists each file with its transfer
syntax, whether it is lossless and the largest tolerated mean error.
A codec that cannot encode on this machine is listed under ``skipped``
with the reason, never silently dropped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SAMPLES_MANIFEST = "samples.json"
PHANTOM_SIZE = 64


@dataclass(frozen=True)
class CodecSample:
    """One sample file: its transfer syntax and how exactly it must decode.

    ``max_mean_error`` is 0 for lossless syntaxes and the tolerated mean
    absolute difference (in stored values) for lossy ones.
    """

    file: str
    transfer_syntax: str
    name: str
    bits: int
    max_mean_error: float


def phantom(bits: int) -> np.ndarray:
    """The deterministic test image: a ramp, a disc and a noise patch, as uint8 or uint16 (12 bits used)."""
    size = PHANTOM_SIZE
    y, x = np.mgrid[0:size, 0:size]
    top = 255 if bits == 8 else 4095
    ramp = (x + y) / (2 * (size - 1)) * 0.6 * top
    disc = ((x - 40) ** 2 + (y - 24) ** 2 < 12**2) * 0.35 * top
    noise = np.zeros((size, size))
    noise[44:60, 8:24] = np.random.default_rng(7).integers(0, int(0.3 * top), (16, 16))
    image = np.clip(ramp + disc + noise, 0, top)
    return image.astype(np.uint8 if bits == 8 else np.uint16)


def _dataset(bits: int):
    from medtl_gui.core.imaging.dicom_writer import dicom_dataset

    return dicom_dataset(phantom(bits), modality="OT", bits_stored=8 if bits == 8 else 12,
                         series_description="MedTL self-test codec sample", patient_id="SELFTEST")


def _save(ds, path: Path) -> None:
    ds.save_as(path, enforce_file_format=True)


def _native(uid: str) -> Callable[[Path], None]:
    """Uncompressed in ``uid`` (implicit/explicit VR little endian, deflated data set)."""
    def write(path: Path) -> None:
        ds = _dataset(16)
        ds.file_meta.TransferSyntaxUID = uid
        _save(ds, path)
    return write


def _big_endian(path: Path) -> None:
    from pydicom.uid import ExplicitVRBigEndian
    from pydicom.filewriter import dcmwrite

    ds = _dataset(16)
    ds.PixelData = phantom(16).astype(">u2").tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)


def _pydicom_compress(uid: str, bits: int = 16, **options) -> Callable[[Path], None]:
    """Compressed with pydicom's encoder plugins (native RLE, pyjpegls, pylibjpeg-openjpeg)."""
    def write(path: Path) -> None:
        ds = _dataset(bits)
        ds.compress(uid, **options)
        _save(ds, path)
    return write


def _jpeg_baseline(path: Path) -> None:
    """8-bit baseline JPEG made by Pillow, encapsulated by pydicom (pydicom has no baseline encoder)."""
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    ds = _dataset(8)
    buffer = io.BytesIO()
    Image.fromarray(phantom(8)).save(buffer, format="JPEG", quality=95)
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.LossyImageCompression = "01"
    _save(ds, path)


def _jpeg_lossless_gdcm(path: Path) -> None:
    """JPEG Lossless, first-order prediction (Process 14 SV1), encoded by GDCM."""
    import tempfile

    import gdcm

    handle, plain = tempfile.mkstemp(suffix=".dcm", dir=path.parent)
    os.close(handle)
    try:
        _native("1.2.840.10008.1.2.1")(Path(plain))
        reader = gdcm.ImageReader()
        reader.SetFileName(plain)
        if not reader.Read():
            raise RuntimeError("GDCM could not read the uncompressed sample")
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGLosslessProcess14_1))
        change.SetInput(reader.GetImage())
        if not change.Change():
            raise RuntimeError("GDCM could not encode JPEG Lossless")
        writer = gdcm.ImageWriter()
        writer.SetFileName(str(path))
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        if not writer.Write():
            raise RuntimeError("GDCM could not write the JPEG Lossless sample")
    finally:
        Path(plain).unlink(missing_ok=True)


def _deflated_image_frames(path: Path) -> None:
    """Deflated Image Frame Compression (DICOM 2024): each frame a raw-deflate stream."""
    from pydicom.encaps import encapsulate
    from pydicom.filewriter import dcmwrite

    from medtl_gui.core.imaging.dicom_codecs import DEFLATED_IMAGE_FRAME_COMPRESSION

    ds = _dataset(16)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    frame = compressor.compress(phantom(16).astype("<u2").tobytes()) + compressor.flush()
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = DEFLATED_IMAGE_FRAME_COMPRESSION
    # pydicom 3.0 does not know this (2024) syntax yet: say how to encode the data set explicitly
    dcmwrite(path, ds, implicit_vr=False, little_endian=True, force_encoding=True)


def _catalogue() -> list[tuple[CodecSample, Callable[[Path], None]]]:
    """Every sample MedTL's self-test knows how to make, with its writer."""
    return [
        (CodecSample("implicit_le.dcm", "1.2.840.10008.1.2", "Implicit VR Little Endian", 16, 0),
         _native("1.2.840.10008.1.2")),
        (CodecSample("explicit_le.dcm", "1.2.840.10008.1.2.1", "Explicit VR Little Endian", 16, 0),
         _native("1.2.840.10008.1.2.1")),
        (CodecSample("explicit_be.dcm", "1.2.840.10008.1.2.2", "Explicit VR Big Endian", 16, 0), _big_endian),
        (CodecSample("deflated_le.dcm", "1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", 16, 0),
         _native("1.2.840.10008.1.2.1.99")),
        (CodecSample("rle.dcm", "1.2.840.10008.1.2.5", "RLE Lossless", 16, 0),
         _pydicom_compress("1.2.840.10008.1.2.5")),
        (CodecSample("jpeg_baseline.dcm", "1.2.840.10008.1.2.4.50", "JPEG Baseline (8-bit, lossy)", 8, 3.0),
         _jpeg_baseline),
        (CodecSample("jpeg_lossless_sv1.dcm", "1.2.840.10008.1.2.4.70", "JPEG Lossless SV1", 16, 0),
         _jpeg_lossless_gdcm),
        (CodecSample("jpegls_lossless.dcm", "1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", 16, 0),
         _pydicom_compress("1.2.840.10008.1.2.4.80")),
        (CodecSample("jpegls_near.dcm", "1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless", 16, 3.0),
         _pydicom_compress("1.2.840.10008.1.2.4.81", jls_error=3)),
        (CodecSample("j2k_lossless.dcm", "1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless", 16, 0),
         _pydicom_compress("1.2.840.10008.1.2.4.90")),
        (CodecSample("j2k_lossy.dcm", "1.2.840.10008.1.2.4.91", "JPEG 2000 (lossy)", 16, 40.0),
         _pydicom_compress("1.2.840.10008.1.2.4.91", j2k_cr=[10])),
        (CodecSample("deflated_frames.dcm", "1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression", 16, 0),
         _deflated_image_frames),
    ]


def write_codec_samples(folder: str | os.PathLike) -> dict:
    """Write every sample this machine can encode into ``folder``; returns the manifest written.

    The manifest (``samples.json``) has ``samples`` (one :class:`CodecSample`
    dict per file) and ``skipped`` (``{"name", "transfer_syntax", "reason"}``
    for each sample whose encoder failed here).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    for sample, write in _catalogue():
        target = folder / sample.file
        try:
            write(target)
        except Exception as exc:  # noqa: BLE001 - an encoder missing here is reported, not fatal
            target.unlink(missing_ok=True)
            skipped.append({"name": sample.name, "transfer_syntax": sample.transfer_syntax,
                            "reason": f"{type(exc).__name__}: {exc}"})
            continue
        written.append(asdict(sample))
    manifest = {"phantom_size": PHANTOM_SIZE, "samples": written, "skipped": skipped}
    (folder / SAMPLES_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_samples_manifest(folder: str | os.PathLike) -> tuple[list[CodecSample], list[dict]]:
    """The samples and skipped encoders listed in ``folder/samples.json``.

    Raises ``ValueError`` naming the file when it is missing or malformed.
    """
    path = Path(folder) / SAMPLES_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [CodecSample(**item) for item in data["samples"]], list(data.get("skipped", []))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable codec-sample manifest ({exc})") from exc


def main(argv: list[str] | None = None) -> int:
    """``python -m medtl_gui.selftest.samples OUT_DIR [--strict]``: write the samples (installer build step)."""
    parser = argparse.ArgumentParser(prog="python -m medtl_gui.selftest.samples", description=main.__doc__)
    parser.add_argument("out", type=Path, help="folder to write the samples and samples.json into")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any sample could not be encoded")
    args = parser.parse_args(argv)
    manifest = write_codec_samples(args.out)
    for item in manifest["samples"]:
        print(f"wrote   {item['file']:24s} {item['name']}")
    for item in manifest["skipped"]:
        print(f"skipped {item['name']}: {item['reason']}")
    return 1 if args.strict and manifest["skipped"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
