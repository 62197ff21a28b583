"""A UDP socket's kernel receive buffer: sized on purpose, and its overflow counted.

Why: a datagram that arrives while the socket's kernel buffer is full is thrown away by the kernel
before any user code sees it. Without reading the kernel's own counter that loss appears nowhere
(a flood into the board endpoint lost 97 % of its datagrams that way, counted by nothing). Linux
keeps one drop counter per socket (``sk_drops``): the value ``SO_RXQ_OVFL`` reports with each
``recvmsg``, and the ``drops`` column of ``/proc/net/udp``, which is what is read here, because
asyncio's datagram transport reads with ``recvfrom`` (no ancillary data). Where the table cannot
be read (not Linux) :func:`kernel_drops` returns ``None``: unknown, which is not zero.
"""

from __future__ import annotations

import os
import socket

__all__ = ["DEFAULT_RCVBUF", "kernel_drops", "set_receive_buffer", "udp_port_owners"]

#: The buffer every spinnlive UDP receive socket asks for: 4 MiB holds about 2 s of a full
#: 1 ms-tick LPG stream, or 6553 injection datagrams (Linux charges 1280 bytes for each
#: against the 8 MiB it grants for this), instead of the kernel's ~200 kB default.
DEFAULT_RCVBUF = 4 << 20
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33 if os.uname().sysname == "Linux" else None)


def set_receive_buffer(sock: socket.socket, size: int = DEFAULT_RCVBUF) -> int:
    """Ask for ``size`` bytes of receive buffer (as root past ``rmem_max``); return what was got."""
    try:
        if _SO_RCVBUFFORCE is None:
            raise PermissionError
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, size)
    except OSError:  # PermissionError included: not root, the kernel caps it at rmem_max
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def kernel_drops(sock: socket.socket | int) -> int | None:
    """Datagrams the kernel dropped for this UDP socket (buffer full); ``None`` where unknown."""
    fd = sock if isinstance(sock, int) else sock.fileno()
    if fd < 0:
        return None
    try:
        inode = str(os.fstat(fd).st_ino)
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            with open(table) as lines:
                for line in lines:
                    fields = line.split()
                    if len(fields) > 12 and fields[9] == inode:
                        return int(fields[-1])
    except OSError:
        return None
    return None


def udp_port_owners(host: str, port: int) -> list[str]:
    """``"pid N (command)"`` of each process holding a UDP socket bound to ``host:port`` (or to
    any address on that port); empty where unknown. Why: a process that squats a notification
    port and never answers makes every run time out, and the message should name it."""
    inodes = set()
    try:
        packed = socket.inet_aton(host)
        want = {f"{int.from_bytes(packed, 'little'):08X}:{port:04X}", f"00000000:{port:04X}"}
        with open("/proc/net/udp") as lines:
            for line in lines:
                fields = line.split()
                if len(fields) > 9 and fields[1] in want:
                    inodes.add(f"socket:[{fields[9]}]")
    except (OSError, ValueError):
        return []
    owners = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                    command = cmd.read().replace(b"\0", b" ").decode(errors="replace").strip()
                owners.append(f"pid {pid} ({command[:80]})")
        except OSError:
            continue
    return owners
