"""Run a Python program confined to the loopback interface, with named files of its own
discarded: `python loopback.py [--discard PATH]... -- SCRIPT [ARG]...`.

A launched target must listen on 127.0.0.1 only, and a program that binds every interface
with no option to say otherwise (localstripe binds `::`) is started through this wrapper:
every bind to a wildcard address (`0.0.0.0`, `::`, empty) becomes a bind to loopback, and
an IPv6 socket is bound to `::ffff:127.0.0.1`, which IPv4 clients of 127.0.0.1 reach.
Writes to a `--discard` path (localstripe re-pickles its whole store to the fixed file
/tmp/localstripe.pickle, which every instance on the machine would share) go to the null
device: an instance started from scratch never reads it back.

SCRIPT runs as `__main__` in this process, as its interpreter would run it. This file
imports nothing but the standard library, so it runs under the interpreter of the
program's own environment.
"""

from __future__ import annotations

import argparse
import builtins
import io
import os
import runpy
import socket
import sys
from collections.abc import Callable
from typing import Any

_WILDCARDS = frozenset({"", "0.0.0.0", "::", "::0"})
# An IPv6 socket bound here takes IPv4 connections to 127.0.0.1, and nothing else.
_MAPPED_LOOPBACK = "::ffff:127.0.0.1"


def loopback_address(family: int, address: Any) -> Any:
    """`address` with a wildcard host replaced by loopback for a socket of `family`."""
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return address
    host = address[0]
    if host not in _WILDCARDS:
        return address
    loopback = "127.0.0.1" if family == socket.AF_INET else _MAPPED_LOOPBACK
    return (loopback, *address[1:])


def confine_binds() -> None:
    """Make every later bind to a wildcard address a bind to loopback."""
    original = socket.socket.bind

    def bind(self: socket.socket, address: Any) -> None:
        confined = loopback_address(self.family, address)
        if self.family == socket.AF_INET6 and confined is not address:
            self.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        original(self, confined)

    socket.socket.bind = bind  # type: ignore[method-assign,assignment]


def discard_writes(paths: list[str]) -> None:
    """Make opening any of `paths` open the null device instead."""
    discarded = {os.path.abspath(path) for path in paths}
    if not discarded:
        return
    original: Callable[..., Any] = builtins.open

    def open_(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and os.path.abspath(file) in discarded:
            file = os.devnull
        return original(file, *args, **kwargs)

    builtins.open = open_
    io.open = open_


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="loopback.py", description=__doc__)
    parser.add_argument("--discard", action="append", default=[], metavar="PATH")
    parser.add_argument("script")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    confine_binds()
    discard_writes(options.discard)
    sys.argv = [options.script, *options.arguments]
    # As the interpreter would set it for the script, and never this file's folder, whose
    # modules (localstripe.py, docker.py) would hide the packages of the same names.
    sys.path[0] = os.path.dirname(os.path.abspath(options.script))
    runpy.run_path(options.script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
