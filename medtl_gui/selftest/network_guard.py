"""Refuse network access from Python: the proof that MedTL works on an air-gapped workstation.

:func:`blocked_network` (a context manager) and :func:`block_network`
(for good, e.g. from a ``sitecustomize`` module in a child process) replace
``socket.socket``, ``socket.create_connection`` and ``socket.getaddrinfo``
so that any attempt to create a network socket or resolve a host name
raises :class:`NetworkBlockedError` naming what was tried. Unix-domain
sockets (local inter-process communication, e.g. ``socket.socketpair``)
are still allowed: they never leave the machine.

Every attempt is also recorded in :data:`ATTEMPTS`, so a test can fail even
when the code under test swallowed the error.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

#: what was attempted while blocked ("socket(AF_INET)", "getaddrinfo('example.org', 443)", ...)
ATTEMPTS: list[str] = []

_ORIGINALS = {"socket": socket.socket, "create_connection": socket.create_connection,
              "getaddrinfo": socket.getaddrinfo}
_LOCAL_FAMILIES = {getattr(socket, "AF_UNIX", None)} - {None}


class NetworkBlockedError(OSError):
    """A network operation was attempted while the network is blocked."""

    def __init__(self, what: str):
        ATTEMPTS.append(what)
        super().__init__(f"network access blocked (MedTL must work offline): {what}")


class _GuardedSocket(_ORIGINALS["socket"]):  # type: ignore[misc, valid-type]
    """``socket.socket`` that refuses every family but Unix-domain sockets."""

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None):  # noqa: A002
        resolved = socket.AF_INET if family == -1 and fileno is None else family
        if fileno is None and resolved not in _LOCAL_FAMILIES:
            raise NetworkBlockedError(f"socket({_family_name(resolved)})")
        super().__init__(family, type, proto, fileno)


def _family_name(family: int) -> str:
    try:
        return socket.AddressFamily(family).name
    except ValueError:
        return str(family)


def _create_connection(address, *args, **kwargs):  # noqa: ARG001 - same signature as socket.create_connection
    raise NetworkBlockedError(f"create_connection({address!r})")


def _getaddrinfo(host, port, *args, **kwargs):  # noqa: ARG001 - same signature as socket.getaddrinfo
    raise NetworkBlockedError(f"getaddrinfo({host!r}, {port!r})")


def block_network() -> None:
    """Block network sockets and name resolution in this process until :func:`unblock_network`."""
    socket.socket = _GuardedSocket  # type: ignore[misc]
    socket.create_connection = _create_connection  # type: ignore[assignment]
    socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]


def unblock_network() -> None:
    """Restore the real socket functions."""
    socket.socket = _ORIGINALS["socket"]  # type: ignore[misc]
    socket.create_connection = _ORIGINALS["create_connection"]  # type: ignore[assignment]
    socket.getaddrinfo = _ORIGINALS["getaddrinfo"]  # type: ignore[assignment]


def network_is_blocked() -> bool:
    """Whether :func:`block_network` is in force."""
    return socket.socket is _GuardedSocket


@contextlib.contextmanager
def blocked_network() -> Iterator[list[str]]:
    """Block the network inside the ``with`` block; yields the list of attempts made in it."""
    already = network_is_blocked()
    start = len(ATTEMPTS)
    block_network()
    attempts: list[str] = []
    try:
        yield attempts
    finally:
        attempts.extend(ATTEMPTS[start:])
        if not already:
            unblock_network()
