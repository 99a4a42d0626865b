"""Decode the Pixel Data of one DICOM data set into *stored* values.

:func:`decode_stored_pixels` returns an array shaped (frames, rows, cols)
or (frames, rows, cols, 3), in native byte order, with YBR colour already
converted to RGB; it validates the Image Pixel module first and the
decoded size after, and turns every decoding failure into a
``ScanReadError`` naming the transfer syntax and what would decode it.
Modality values (rescale, MONOCHROME1, palette) are the caller's next step
(:mod:`.modality_lut`, :mod:`.photometric`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtl_gui.core.imaging import dicom_codecs
from medtl_gui.core.imaging.codestream_headers import check_frame_matches_header, ends_with_end_of_image
from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.limits import MAX_DECODED_BYTES, check_expansion

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: JPEG-LS lossless and near-lossless
_JPEG_LS_SYNTAXES = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_KNOWN_PHOTOMETRIC = _MONOCHROME + (
    "PALETTE COLOR",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
    "YBR_PARTIAL_420",
    "YBR_PARTIAL_422",
)


@dataclass(frozen=True)
class PixelModule:
    """The validated Image Pixel module of a data set (what decoding needs)."""

    transfer_syntax: str
    pixel_keyword: str
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric: str
    n_frames: int
    planar_configuration: int

    @property
    def is_monochrome(self) -> bool:
        return self.photometric in _MONOCHROME

    @property
    def decoded_bytes(self) -> int:
        """Bytes of the decoded array (1-bit data unpack to one byte per pixel)."""
        item = max(1, self.bits_allocated // 8)
        return self.rows * self.columns * self.samples * self.n_frames * item


def _required_int(ds: Any, keyword: str, path: str) -> int:
    value = ds.get(keyword)
    if value is None or value == "":
        raise ScanReadError(path, f"missing required pixel attribute {keyword}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ScanReadError(path, f"invalid {keyword} {str(value)!r}") from None
    return number


def _optional_int(ds: Any, keyword: str, default: int, path: str) -> int:
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ScanReadError(path, f"invalid {keyword} {str(value)!r}") from None


def read_pixel_module(ds: Dataset, path: str) -> PixelModule:
    """Validate the attributes that describe the Pixel Data; raise ``ScanReadError`` if unusable."""
    keyword = next((k for k in _PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        raise ScanReadError(path, "no pixel data")
    file_meta = getattr(ds, "file_meta", None)
    tsyntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if not tsyntax:
        raise ScanReadError(path, "the file meta information has no Transfer Syntax UID")
    rows = _required_int(ds, "Rows", path)
    columns = _required_int(ds, "Columns", path)
    samples = _optional_int(ds, "SamplesPerPixel", 1, path)
    if keyword == "PixelData":
        bits_allocated = _required_int(ds, "BitsAllocated", path)
    else:
        bits_allocated = 32 if keyword == "FloatPixelData" else 64
    bits_stored = _optional_int(ds, "BitsStored", bits_allocated, path)
    pixel_representation = _optional_int(ds, "PixelRepresentation", 0, path)
    photometric = str(ds.get("PhotometricInterpretation") or "").strip().upper()
    if not photometric:
        photometric = "MONOCHROME2" if samples == 1 else "RGB"
    n_frames = _optional_int(ds, "NumberOfFrames", 1, path) or 1
    planar = _optional_int(ds, "PlanarConfiguration", 0, path)

    if rows <= 0 or columns <= 0:
        raise ScanReadError(path, f"invalid image size {rows} x {columns}")
    if n_frames < 0:
        raise ScanReadError(path, f"invalid Number of Frames {n_frames}")
    if samples not in (1, 3):
        raise ScanReadError(path, f"unsupported Samples per Pixel {samples} (expected 1 or 3)")
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise ScanReadError(path, f"unsupported Bits Allocated {bits_allocated}")
    if not 1 <= bits_stored <= bits_allocated:
        raise ScanReadError(
            path, f"invalid Bits Stored {bits_stored} for Bits Allocated {bits_allocated}"
        )
    if pixel_representation not in (0, 1):
        raise ScanReadError(path, f"invalid Pixel Representation {pixel_representation}")
    if photometric not in _KNOWN_PHOTOMETRIC:
        raise ScanReadError(path, f"unsupported Photometric Interpretation {photometric!r}")
    if (samples == 1) != (photometric in _MONOCHROME or photometric == "PALETTE COLOR"):
        raise ScanReadError(
            path, f"Photometric Interpretation {photometric} does not fit {samples} sample(s) per pixel"
        )
    module = PixelModule(
        str(tsyntax), keyword, rows, columns, samples, bits_allocated, bits_stored,
        pixel_representation, photometric, n_frames, planar,
    )
    check_expansion(
        path,
        decoded_bytes=module.decoded_bytes,
        stored_bytes=_stored_bytes(path),
        what=f"the header's {n_frames} frame(s) of {rows} x {columns} x {samples} ({bits_allocated}-bit)",
    )
    return module


def _stored_bytes(path: str) -> int:
    """Size of the file holding the pixels (an upper bound of the encoded pixel bytes)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return MAX_DECODED_BYTES  # not a file (e.g. a buffer): only the absolute limit applies


def _is_native(tsyntax: str) -> bool:
    from pydicom.uid import UID

    uid = UID(tsyntax)
    return uid.is_transfer_syntax and not uid.is_compressed


def _native_fast_path(ds: Dataset, module: PixelModule, path: str) -> np.ndarray | None:
    """Little-endian uncompressed monochrome 8/16/32-bit data as a zero-copy view, else None."""
    if (
        module.pixel_keyword != "PixelData"
        or module.samples != 1
        or module.bits_allocated not in (8, 16, 32)
        or module.transfer_syntax == "1.2.840.10008.1.2.2"  # big endian
        or not _is_native(module.transfer_syntax)
    ):
        return None
    data = ds.PixelData
    count = module.rows * module.columns * module.n_frames
    itemsize = module.bits_allocated // 8
    if len(data) < count * itemsize:
        raise ScanReadError(
            path,
            f"Pixel Data is truncated: {len(data)} bytes, expected {count * itemsize} "
            f"({module.n_frames} frame(s) of {module.rows} x {module.columns}, "
            f"{module.bits_allocated} bits)",
        )
    kind = "i" if module.pixel_representation == 1 else "u"
    arr = np.frombuffer(data, dtype=f"<{kind}{itemsize}", count=count)
    return arr.reshape(module.n_frames, module.rows, module.columns)


def _check_native_length(ds: Dataset, module: PixelModule, path: str) -> None:
    """Raise when uncompressed Pixel Data holds fewer bytes than the header announces."""
    if module.photometric == "YBR_FULL_422":
        per_frame = module.rows * module.columns * 2 * module.bits_allocated / 8
    else:
        per_frame = module.rows * module.columns * module.samples * module.bits_allocated / 8
    if module.bits_allocated == 1:
        expected = math.ceil(per_frame * module.n_frames)
    else:
        expected = int(per_frame) * module.n_frames
    actual = len(ds[module.pixel_keyword].value or b"")
    if actual < expected:
        raise ScanReadError(
            path,
            f"Pixel Data is truncated: {actual} bytes, expected {expected} "
            f"({module.n_frames} frame(s) of {module.rows} x {module.columns} x "
            f"{module.samples}, {module.bits_allocated} bits allocated)",
        )


def _decode_failure_reason(module: PixelModule, exc: BaseException) -> str:
    label = dicom_codecs.transfer_syntax_label(module.transfer_syntax)
    message = " ".join(str(exc).split())
    hint = dicom_codecs.decoder_hint(module.transfer_syntax)
    reason = f"cannot decode {label} pixel data: {message}"
    if hint and hint not in message:
        reason += f" ({hint})"
    return reason


def _is_capability_error(exc: BaseException) -> bool:
    """True when the plugins declined the encoding rather than failing on corrupt data."""
    if isinstance(exc, NotImplementedError):
        return True
    text = str(exc).lower()
    return "does not support" in text or "not supported" in text


def _decode_with_pydicom(ds: Dataset, module: PixelModule, path: str) -> tuple[np.ndarray, str]:
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(module.transfer_syntax)
    except NotImplementedError as exc:
        raise ScanReadError(path, _decode_failure_reason(module, exc)) from None
    if not decoder.is_available:
        hint = dicom_codecs.decoder_hint(module.transfer_syntax) or "no decoding plugin is installed"
        raise ScanReadError(
            path,
            f"no installed plugin decodes {dicom_codecs.transfer_syntax_label(module.transfer_syntax)}"
            f" ({hint})",
        )
    plugins = list(decoder.available_plugins)
    if not plugins:  # native (uncompressed) data: pydicom decodes it itself
        arr, meta = decoder.as_array(ds, as_rgb=True)
        return arr, str(meta.get("photometric_interpretation", module.photometric))
    if module.transfer_syntax in _JPEG_LS_SYNTAXES:
        check_jpeg_ls_frames(ds, module)
    failures: list[str] = []
    capability_only = True
    # GDCM last: it aborts the process on some corrupt frames, so it only gets frames that passed a check
    for plugin in [p for p in plugins if p != "gdcm"] + (["gdcm"] if "gdcm" in plugins else []):
        try:
            if plugin == "gdcm":
                check_frames_for_gdcm(ds, module)
            arr, meta = decoder.as_array(ds, as_rgb=True, decoding_plugin=plugin)
        except ScanReadError:
            raise
        except Exception as exc:  # this plugin failed: try the next one
            capability_only = capability_only and _is_capability_error(exc)
            failures.append(f"{plugin}: {' '.join(str(exc).split()) or type(exc).__name__}")
            continue
        return arr, str(meta.get("photometric_interpretation", module.photometric))
    message = "; ".join(failures)
    raise (NotImplementedError(message) if capability_only else RuntimeError(message))


def check_jpeg_ls_frames(ds: Dataset, module: PixelModule) -> None:
    """Refuse JPEG-LS frames that stop before their end-of-image marker: CharLS would never return."""
    for index, frame in enumerate(dicom_codecs.frame_fragments(ds, module.n_frames)):
        if not ends_with_end_of_image(frame):
            raise ValueError(f"JPEG-LS frame {index + 1} is truncated (no end-of-image marker)")


def check_frames_for_gdcm(ds: Dataset, module: PixelModule) -> None:
    """Refuse frames whose code stream contradicts the header: GDCM would abort the process on them."""
    if module.samples > 1 and module.bits_stored != module.bits_allocated:
        # GDCM asserts PF.GetBitsAllocated() == PF.GetBitsStored() for colour data (gdcmImageCodec.cxx)
        raise ValueError(f"colour data with {module.bits_stored} bits stored in {module.bits_allocated} allocated "
                         "is not valid for this encoding")
    try:
        frames = dicom_codecs.frame_fragments(ds, module.n_frames)
        for index, frame in enumerate(frames):
            check_frame_matches_header(
                frame, rows=module.rows, columns=module.columns, samples=module.samples,
                bits_allocated=module.bits_allocated, index=index,
            )
    except ValueError as exc:
        raise ValueError(f"inconsistent compressed frame: {exc}") from None


def decode_stored_pixels(ds: Dataset, module: PixelModule, path: str) -> tuple[np.ndarray, str, str]:
    """Stored values of every frame, the photometric interpretation they are in, and the decoder.

    Returns ``(array, photometric, decoder)``: ``array`` is (frames, rows,
    cols[, 3]) in native byte order; ``photometric`` is MONOCHROME1/2,
    PALETTE COLOR or RGB (YBR already converted); ``decoder`` names what
    decoded it, for the metadata.
    """
    tsyntax = module.transfer_syntax
    photometric = module.photometric
    try:
        if tsyntax == dicom_codecs.DEFLATED_IMAGE_FRAME_COMPRESSION:
            arr = dicom_codecs.decode_deflated_frames(
                ds,
                rows=module.rows,
                columns=module.columns,
                n_frames=module.n_frames,
                samples=module.samples,
                bits_allocated=module.bits_allocated,
                pixel_representation=module.pixel_representation,
                planar_configuration=module.planar_configuration,
            )
            decoder = "zlib (deflated frames)"
            if photometric.startswith("YBR_FULL"):
                from pydicom.pixels import convert_color_space

                arr = convert_color_space(arr, photometric, "RGB", per_frame=True)
                photometric = "RGB"
        elif tsyntax == dicom_codecs.RLE_LOSSLESS and module.bits_allocated == 1:
            arr = dicom_codecs.decode_rle_1bit(ds, module.rows, module.columns, module.n_frames)
            decoder = "PackBits (1-bit RLE)"
        else:
            fast = _native_fast_path(ds, module, path)
            if fast is not None:
                arr, decoder = fast, "numpy (native)"
            else:
                if _is_native(tsyntax):
                    _check_native_length(ds, module, path)
                try:
                    arr, photometric = _decode_with_pydicom(ds, module, path)
                    decoder = "pydicom"
                except ScanReadError:
                    raise
                except Exception as exc:  # every plugin failed: maybe GDCM can
                    if not (_is_capability_error(exc) and module.is_monochrome and module.samples == 1):
                        raise ScanReadError(path, _decode_failure_reason(module, exc)) from None
                    arr = _decode_with_gdcm_or_raise(ds, module, path, exc)
                    decoder = "gdcm (full-file reader)"
    except ScanReadError:
        raise
    except MemoryError:
        raise ScanReadError(path, "not enough memory to decode the pixel data") from None
    except Exception as exc:  # corrupt data: any decoder error becomes a named reason
        raise ScanReadError(path, _decode_failure_reason(module, exc)) from None

    arr = _normalise_shape(arr, module, path)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr, photometric, decoder


def _decode_with_gdcm_or_raise(
    ds: Dataset, module: PixelModule, path: str, pydicom_exc: BaseException
) -> np.ndarray:
    try:
        check_frames_for_gdcm(ds, module)
        return dicom_codecs.decode_with_gdcm(
            ds,
            rows=module.rows,
            columns=module.columns,
            n_frames=module.n_frames,
            bits_allocated=module.bits_allocated,
            bits_stored=module.bits_stored,
            pixel_representation=module.pixel_representation,
            transfer_syntax=module.transfer_syntax,
        )
    except Exception as gdcm_exc:
        reason = _decode_failure_reason(module, pydicom_exc)
        raise ScanReadError(path, f"{reason}; GDCM fallback failed: {gdcm_exc}") from None


def _normalise_shape(arr: np.ndarray, module: PixelModule, path: str) -> np.ndarray:
    """Add the frame axis and check the element count against the header."""
    channels = arr.shape[-1] if module.samples > 1 else 1
    expected = module.rows * module.columns * module.n_frames * module.samples
    if arr.size != expected:
        raise ScanReadError(
            path,
            f"decoded {arr.size} values, expected {expected} "
            f"({module.n_frames} x {module.rows} x {module.columns} x {module.samples})",
        )
    shape: tuple[int, ...] = (module.n_frames, module.rows, module.columns)
    if module.samples > 1:
        shape += (channels,)
    return arr.reshape(shape)
