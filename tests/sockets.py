"""What a launched target listens on, read from the kernel through psutil: the addresses
of every listening TCP socket of a process tree, or of the whole machine on one port."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import psutil


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, or an IPv4-mapped loopback address (::ffff:127.0.0.1)."""
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def listening(pids: Iterable[int]) -> set[tuple[str, int]]:
    """(host, port) of every TCP socket in LISTEN state that the process trees of `pids`
    hold."""
    found: set[tuple[str, int]] = set()
    for pid in pids:
        for process in process_tree(pid):
            try:
                connections = process.net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue
            for connection in connections:
                if connection.status == psutil.CONN_LISTEN:
                    found.add((connection.laddr.ip, connection.laddr.port))
    return found


def listening_on_port(port: int) -> set[tuple[str, int]]:
    """(host, port) of every TCP socket of the machine listening on `port`."""
    return {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }
