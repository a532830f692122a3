"""A target whose ids have all-lowercase random parts, as about one id in five million of
localstripe's (and of Stripe's 14-character ones) has: an id map or a compare that takes
such an id for a word shows a difference that is none.

`python tests/lowercaseproxy.py --port N` starts its own localstripe and answers on
127.0.0.1:N by forwarding every request to it, each id in an answer given a lowercase
alias of its length (`cus_UzivYKRp2JBnCC` → `cus_qkdmwzexlrbtao`), each alias in a
request (path, query, body) turned back into the id it stands for.
"""

from __future__ import annotations

import argparse
import random
import re
import string
import threading

from harness.demo.simulated_upgrade import serve_changed
from harness.replay.launch.localstripe import localstripe
from harness.replay.launch.process import LocalProcess
from harness.stripe import ID_PATTERN, NON_OBJECT_PREFIXES, id_prefix

# An alias in a request: a prefix, `_`, lowercase letters only.
_ALIAS = re.compile(r"(?<![A-Za-z0-9_])[a-z]+_[a-z]{8,}(?![A-Za-z0-9])")


class Aliases:
    """Id ↔ alias, one to one, made as ids are first seen (thread-safe)."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.alias: dict[str, str] = {}
        self.real: dict[str, str] = {}

    def _of(self, match: re.Match[str]) -> str:
        found = match.group(0)
        prefix = id_prefix(found)
        if prefix in NON_OBJECT_PREFIXES:
            return found
        with self._lock:
            alias = self.alias.get(found)
            while alias is None or (alias in self.real and self.real[alias] != found):
                tail = len(found) - len(prefix) - 1
                alias = prefix + "_" + "".join(self._random.choices(string.ascii_lowercase, k=tail))
            self.alias[found], self.real[alias] = alias, found
        return alias

    def hide(self, text: str) -> str:
        """Every id in an answer as its alias."""
        return ID_PATTERN.sub(self._of, text)

    def show(self, text: str) -> str:
        """Every alias in a request as the id it stands for."""
        return _ALIAS.sub(lambda m: self.real.get(m.group(0), m.group(0)), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    aliases = Aliases()

    def hide(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
        return status, aliases.hide(body.decode()).encode()

    def show(path: str, body: bytes) -> tuple[str, bytes]:
        return aliases.show(path), aliases.show(body.decode()).encode()

    def start() -> LocalProcess:
        return localstripe("lowercase-upstream", tied_to_parent=True)

    serve_changed(parser.parse_args().port, start, hide, show)


if __name__ == "__main__":
    main()
