"""Format-blind mutations of a byte string (the classic fuzzing operators).

:func:`mutate_bytes` applies a few randomly chosen operators: bit flips,
random bytes, "interesting" integers (0, -1, 0x7FFFFFFF, 0xFFFFFFF0 ...)
written little- or big-endian, deleted/duplicated/inserted blocks,
truncation and splicing with another seed. Deterministic for a given
``random.Random``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

#: integers that break size and offset arithmetic (as unsigned bit patterns)
INTERESTING_8 = (0, 1, 0x7F, 0x80, 0xFF)
INTERESTING_16 = (0, 1, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE, 0x0100, 0x1000)
INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0, 0xFFFFFFFE, 0x00010000, 0x40000000)

_MAX_BLOCK = 256


def interesting_int(rng: random.Random, n_bytes: int) -> int:
    """An interesting unsigned value for a field of ``n_bytes``, or a random one."""
    table = {1: INTERESTING_8, 2: INTERESTING_16, 4: INTERESTING_32}[n_bytes]
    if rng.random() < 0.75:
        return rng.choice(table)
    return rng.getrandbits(8 * n_bytes)


def pack_uint(value: int, n_bytes: int, little_endian: bool) -> bytes:
    """``value`` as an unsigned ``n_bytes`` integer."""
    fmt = {1: "B", 2: "H", 4: "I"}[n_bytes]
    return struct.pack(("<" if little_endian else ">") + fmt, value & ((1 << (8 * n_bytes)) - 1))


def _flip_bit(data: bytearray, rng: random.Random, _: bytes) -> None:
    if data:
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)


def _random_byte(data: bytearray, rng: random.Random, _: bytes) -> None:
    if data:
        data[rng.randrange(len(data))] = rng.randrange(256)


def _interesting_integer(data: bytearray, rng: random.Random, _: bytes) -> None:
    n_bytes = rng.choice((1, 2, 4))
    if len(data) < n_bytes:
        return
    pos = rng.randrange(len(data) - n_bytes + 1)
    data[pos : pos + n_bytes] = pack_uint(interesting_int(rng, n_bytes), n_bytes, rng.random() < 0.7)


def _delete_block(data: bytearray, rng: random.Random, _: bytes) -> None:
    if len(data) > 1:
        start = rng.randrange(len(data))
        del data[start : start + rng.randint(1, _MAX_BLOCK)]


def _insert_block(data: bytearray, rng: random.Random, _: bytes) -> None:
    size = rng.randint(1, _MAX_BLOCK)
    block = bytes([rng.randrange(256)]) * size if rng.random() < 0.5 else rng.randbytes(size)
    pos = rng.randrange(len(data) + 1)
    data[pos:pos] = block


def _duplicate_block(data: bytearray, rng: random.Random, _: bytes) -> None:
    if not data:
        return
    start = rng.randrange(len(data))
    block = data[start : start + rng.randint(1, _MAX_BLOCK)]
    pos = rng.randrange(len(data) + 1)
    data[pos:pos] = block


def _overwrite_block(data: bytearray, rng: random.Random, _: bytes) -> None:
    if len(data) < 2:
        return
    size = rng.randint(1, min(_MAX_BLOCK, len(data) - 1))
    src = rng.randrange(len(data) - size + 1)
    dst = rng.randrange(len(data) - size + 1)
    data[dst : dst + size] = data[src : src + size]


def _truncate(data: bytearray, rng: random.Random, _: bytes) -> None:
    if len(data) > 1:
        del data[rng.randrange(1, len(data)) :]


def _splice(data: bytearray, rng: random.Random, other: bytes) -> None:
    if not other or not data:
        return
    cut = rng.randrange(len(data))
    start = rng.randrange(len(other))
    data[cut:] = other[start : start + rng.randint(1, 4 * _MAX_BLOCK)]


#: (operator, relative weight)
BYTE_OPERATORS: tuple[tuple[Callable[[bytearray, random.Random, bytes], None], int], ...] = (
    (_flip_bit, 6),
    (_random_byte, 5),
    (_interesting_integer, 6),
    (_delete_block, 2),
    (_insert_block, 2),
    (_duplicate_block, 2),
    (_overwrite_block, 2),
    (_truncate, 1),
    (_splice, 1),
)


def mutate_bytes(
    data: bytes, rng: random.Random, *, n_mutations: int | None = None, splice_with: Sequence[bytes] = ()
) -> bytes:
    """``data`` with 1-8 (or ``n_mutations``) random byte-level mutations."""
    out = bytearray(data)
    operators = [op for op, _ in BYTE_OPERATORS]
    weights = [w for _, w in BYTE_OPERATORS]
    other = rng.choice(splice_with) if splice_with else b""
    for _ in range(n_mutations or rng.choice((1, 1, 2, 2, 3, 4, 8))):
        rng.choices(operators, weights)[0](out, rng, other)
    return bytes(out)


def mutate_region(data: bytes, start: int, end: int, rng: random.Random, n_mutations: int = 2) -> bytes:
    """``data`` with byte mutations confined to ``data[start:end]`` (e.g. a file header)."""
    end = min(end, len(data))
    if start >= end:
        return mutate_bytes(data, rng, n_mutations=n_mutations)
    middle = bytearray(data[start:end])
    for _ in range(n_mutations):
        rng.choice((_flip_bit, _random_byte, _interesting_integer))(middle, rng, b"")
    return data[:start] + bytes(middle) + data[end:]
