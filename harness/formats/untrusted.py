"""Reading text the harness did not write itself, within limits: JSON and YAML nested at
most MAX_DEPTH levels, no NaN or Infinity, no number longer than Python converts
(4,300 digits), no lone UTF-16 surrogate, and lines of a recording no longer than
`max_line_chars()`.

Every file a user hands over (recordings, run directories, id maps, scenarios, rules,
summaries) and every answer a target sends is read through here, so no input, however
it was made, ends in a RecursionError deep inside a stage or costs unbounded memory.
A limit passed is a JSONProblem (a ValueError) or a YAML error with a mark: the reader
that called says which file, line and field it was, in its own stage's error.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from harness.errors import InputError

if TYPE_CHECKING:
    from harness.model import Response

# How deep JSON and YAML may nest. Stripe's deepest answers (four levels of `expand[]`
# inside a list) stay under 30; the recursive walks of the stages stay far from Python's
# recursion limit at 100.
MAX_DEPTH = 100
# Python refuses to turn longer digit strings into integers (sys.get_int_max_str_digits).
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300
# Nodes a YAML document may expand to, its aliases counted each time they are used (a
# "billion laughs" document is a few lines long).
MAX_YAML_NODES = 1_000_000

# The longest line a recording or a target file may have, in MB; a body larger than
# this (a file upload, say) needs the limit raised.
LINE_LIMIT_ENV = "SHADOW_MAX_LINE_MB"
DEFAULT_LINE_LIMIT_MB = 16


def max_line_chars() -> int:
    """The longest line (in characters) a JSON Lines reader accepts: SHADOW_MAX_LINE_MB
    megabytes, 16 unless set."""
    value = os.environ.get(LINE_LIMIT_ENV, "").strip()
    if not value:
        return DEFAULT_LINE_LIMIT_MB << 20
    try:
        megabytes = float(value)
    except ValueError:
        megabytes = math.nan
    if not 0 < megabytes <= 4096:
        raise InputError(
            f"{LINE_LIMIT_ENV}={value[:40]}: expected a number of megabytes between 0 and 4096"
        )
    return int(megabytes * (1 << 20))


def line_limit_hint() -> str:
    """What to do about a line over the limit, for a reader's message."""
    megabytes = max_line_chars() / (1 << 20)
    return (
        f"longer than {megabytes:g} MB; if the recording really holds such a body, "
        f"raise the limit with {LINE_LIMIT_ENV}=<megabytes>"
    )


class JSONProblem(ValueError):
    """Text that is not JSON the harness reads: its syntax (`limit` False), or a limit it
    passes. `problem` says what in a few words; `line` is the line of the text, when
    known."""

    def __init__(self, problem: str, line: int | None = None, *, limit: bool = True) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.limit = limit

    def located(self, path: object) -> str:
        """`PATH:LINE: problem` (or `PATH: problem` when the line is not known)."""
        where = f"{path}:{self.line}" if self.line is not None else str(path)
        return f"{where}: {self.problem}"


def _no_constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONProblem(f"the number {text[:20]} is out of range")
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONProblem(f"the key {key[:60]!r} is given twice in one object")
            seen.add(key)
    return found


# Made once: json.loads with hooks builds a decoder per call, which costs as much as
# parsing a small answer.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)
_UNIQUE_KEYS_DECODER = json.JSONDecoder(
    parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=_unique_keys
)


# A number orjson might read as a float though JSON wrote an integer past 64 bits (below
# -2^63: nineteen digits; above 2^64 - 1: twenty): nineteen digits in a row right after
# what may stand before a number (`:`, `[`, `,`, `-`, a blank) or at the very start. Found
# with every digit made a 9 and each of those a `:` (bytes.translate and `in` run at C
# speed; a regular expression took six times as long as parsing). Digits inside a text
# (a hex Idempotency-Key holds runs of them) follow a letter or a quote and do not
# count: a text is never a number.
_NUMBER_MARKS = bytes.maketrans(b"0123456789[,- \t\n\r", b"9999999999:::::::")
_LONG_DIGITS = b"9" * 19
_LONG_NUMBER = b":" + _LONG_DIGITS


def _has_long_integer(text: str | bytes) -> bool:
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    marked = raw.translate(_NUMBER_MARKS)
    return _LONG_NUMBER in marked or marked.lstrip(b":").startswith(_LONG_DIGITS)


def load_json(text: str | bytes, *, unique_keys: bool = False) -> Any:
    """Parse JSON text within the limits of this module; JSONProblem says what is wrong.
    With `unique_keys`, a key given twice in one object is refused too (JSON parsers
    keep the last one silently).

    orjson parses, several times as fast as the standard library, and refuses NaN,
    Infinity and lone surrogates itself. The standard library's decoder reads what
    orjson refuses (to say precisely why), texts with integers past 64 bits (which orjson
    turns into floats), and every text when `unique_keys` is asked for."""
    if not unique_keys:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # read again below, for the precise problem
        else:
            if isinstance(text, str):
                brackets = text.count("{") + text.count("[")
            else:
                brackets = text.count(b"{") + text.count(b"[")
            if not _has_long_integer(text):
                # The number of brackets bounds the depth, at C speed: most texts stop here.
                if brackets > MAX_DEPTH and too_deep(value):
                    raise JSONProblem(f"nested deeper than {MAX_DEPTH} levels")
                return value
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig" if text[:3] == b"\xef\xbb\xbf" else "utf-8")
        value = (_UNIQUE_KEYS_DECODER if unique_keys else _DECODER).decode(text)
    except JSONProblem:
        raise
    except json.JSONDecodeError as exc:
        raise JSONProblem(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            exc.lineno,
            limit=False,
        ) from None
    except RecursionError:
        raise JSONProblem(f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise JSONProblem("not UTF-8 text", limit=False) from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise JSONProblem(f"a number longer than {MAX_INT_DIGITS} digits") from None
        raise JSONProblem(f"not valid JSON ({exc})", limit=False) from None
    # The number of brackets bounds the depth, at C speed: most texts stop there.
    if text.count("{") + text.count("[") > MAX_DEPTH and too_deep(value):
        raise JSONProblem(f"nested deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(text) is not None:
        found = lone_surrogate(value)
        if found is not None:
            raise JSONProblem(f"invalid unicode: a lone surrogate \\u{ord(found):04x} in a string")
    return value


def too_deep(tree: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and mappings nest more than `limit` levels in a parsed JSON `tree`
    (walked level by level, without recursion)."""
    level = [tree] if type(tree) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        add = below.append
        for node in level:
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    add(child)
        level = below
    return False


def lone_surrogate(tree: Any) -> str | None:
    """The first UTF-16 surrogate found in a string (or a key) of `tree`, or None. Valid
    text never holds one; JSON's `\\ud800` escape alone makes one, which no UTF-8
    encoder will write."""
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str:
            found = _SURROGATE.search(node)
            if found is not None:
                return found.group(0)
        elif kind is dict:
            stack.extend(node.keys())
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
    return None


# --- YAML ----------------------------------------------------------------------------


class YAMLLoader(yaml.SafeLoader):
    """YAML as every file of the harness is read: SafeLoader refusing nesting deeper than
    MAX_DEPTH, documents that expand to more than MAX_YAML_NODES nodes, a key given
    twice, a key that is not text, NaN, infinities and integers of more than
    MAX_INT_DIGITS digits. Each refusal is a MarkedYAMLError naming its line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}
        self._expanded = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            node = super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth -= 1
        if node is None:
            return None
        size = self._sizes.get(id(node))
        if size is None:
            size = 1
            if isinstance(node, yaml.SequenceNode):
                size += sum(self._sizes.get(id(child), 1) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                size += sum(
                    self._sizes.get(id(key), 1) + self._sizes.get(id(value), 1)
                    for key, value in node.value
                )
            self._sizes[id(node)] = size
        else:
            self._expanded += size  # an alias: what it points at, once more
        if self._expanded > MAX_YAML_NODES or size > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"expands to more than {MAX_YAML_NODES} values (aliases counted each time)",
                node.start_mark,
            )
        return node

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_int(node)  # type: ignore[no-untyped-call]
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a number longer than {MAX_INT_DIGITS} digits", node.start_mark
            ) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_float(node)  # type: ignore[no-untyped-call]
        if not math.isfinite(value):
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value[:20]} is not a number a file may hold", node.start_mark
            )
        return value


def _construct_mapping(loader: YAMLLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[str] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults`
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"keys are text; this one is {_yaml_kind(key)} (quote it)",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _yaml_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "empty"
    return "a list" if isinstance(value, list) else type(value).__name__


YAMLLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
YAMLLoader.add_constructor("tag:yaml.org,2002:int", YAMLLoader.construct_yaml_int)
YAMLLoader.add_constructor("tag:yaml.org,2002:float", YAMLLoader.construct_yaml_float)


def load_yaml(text: str) -> Any:
    """One YAML document read with YAMLLoader; a problem is a yaml.YAMLError, which
    `yaml_problem` turns into one line for the caller's own error."""
    loader = YAMLLoader(text)
    try:
        return loader.get_single_data()  # type: ignore[no-untyped-call]
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def yaml_problem(exc: yaml.YAMLError, source: str, text: str = "") -> str:
    """A YAML error as one line: `SOURCE:LINE: not valid YAML: what`."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        return f"{source}{line}: not valid YAML: {exc.problem or exc.context}"
    if isinstance(exc, yaml.reader.ReaderError):
        character = exc.character
        shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
        line = f":{text.count(chr(10), 0, exc.position) + 1}" if text else ""
        return (
            f"{source}{line}: not valid YAML: the character {shown} is not allowed "
            "(a NUL byte or another control character; is this a text file?)"
        )
    return f"{source}: not valid YAML: {' '.join(str(exc).split())}"


def response_json(response: Response | None) -> Any:
    """The parsed JSON body of a response, or None when it has none, or none the harness
    walks (past a limit of harness.formats.untrusted: nothing is learnt from it)."""
    if response is None or not response.body:
        return None
    text = response.text
    if text[:1] not in ("{", "["):
        return None
    try:
        return load_json(text)
    except JSONProblem:
        return None


def read_json_file(file: Path, *, missing: str, named: str, again: str = "") -> Any:
    """The JSON document a user gave by path (a summary.json, a map.json), within the
    limits, or an InputError of one line naming the file: `missing` says what writes one,
    `named` the file a directory should have been given as, `again` how to write it anew."""
    try:
        return load_json(file.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{file}: {missing}") from None
    except IsADirectoryError:
        raise InputError(f"{file}: is a directory; give its {named}") from None
    except OSError as exc:
        raise InputError(f"{file}: cannot be read ({exc.strerror})") from None
    except JSONProblem as exc:
        raise InputError(exc.located(file) + (f"; {again}" if again else "")) from None
