"""File names as the operating system gives them: stored without loss, shown without tricks.

Storing. A POSIX file name is bytes; Python hands names that are not valid
UTF-8 (``M\\xfcller.png`` from a Latin-1 Windows share) to us as ``str``
with lone surrogates (PEP 383, ``surrogateescape``), and Windows may give
names with unpaired UTF-16 surrogates. SQLite's text columns cannot hold
either. :func:`to_stored` therefore keeps every name that is valid UTF-8
exactly as it is (all existing projects) and writes any other name as
``fs-bytes:`` followed by its OS bytes (``os.fsencode``) percent-encoded,
e.g. ``fs-bytes:/data/M%FCller.png``. A valid name that happens to start
with ``fs-bytes:`` is encoded the same way, so :func:`from_stored` is the
exact inverse for every name: ``from_stored(to_stored(p)) == p``.

Showing. Names can also hold characters that mislead a reader: a
right-to-left override (U+202E: ``a\\u202egnp.png`` shows as ``apng.png``),
zero-width characters, newlines that break a report line or a log in two.
:func:`display_name` escapes those, and the undecodable bytes, for display
only (the GUI's browser and import summary, the CLI's reports); the stored
name is never changed.
"""

from __future__ import annotations

import os
import unicodedata
from urllib.parse import quote_from_bytes, unquote_to_bytes

#: marks a stored path written as percent-encoded OS bytes
STORED_BYTES_PREFIX = "fs-bytes:"

_SAFE = "/\\:._-~ "  # kept as they are inside the percent-encoding (readable paths)
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def needs_encoding(text: str) -> bool:
    """True when ``text`` cannot be stored as it is (not valid UTF-8, or it looks encoded)."""
    if text.startswith(STORED_BYTES_PREFIX):
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def to_stored(path: str | os.PathLike[str]) -> str:
    """The text stored in the database for a path (see the module docstring)."""
    text = os.fspath(path)
    if not needs_encoding(text):
        return text
    return STORED_BYTES_PREFIX + quote_from_bytes(os.fsencode(text), safe=_SAFE)


def from_stored(text: str | None) -> str | None:
    """The path a stored text stands for (the exact inverse of :func:`to_stored`)."""
    if text is None or not text.startswith(STORED_BYTES_PREFIX):
        return text
    return os.fsdecode(unquote_to_bytes(text[len(STORED_BYTES_PREFIX):]))


def display_name(text: object) -> str:
    """``text`` with misleading characters escaped, for showing a file name or path to a person.

    Undecodable bytes become ``\\xNN``; newlines, tabs and other control
    characters ``\\n``, ``\\t``, ``\\xNN``; invisible format characters
    (bidirectional overrides and isolates, zero-width spaces and joiners,
    the byte-order mark) and line/paragraph separators ``\\uNNNN``.
    Everything else, including accented letters and other scripts, is kept.
    """
    value = str(text)
    if value.isprintable() and not any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        return value  # the common case, fast
    return "".join(_escape_char(c) for c in value)


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: one undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    category = unicodedata.category(char)
    if category == "Cc":
        return f"\\x{code:02x}"
    if category in ("Cf", "Cs", "Zl", "Zp", "Co", "Cn"):
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char
