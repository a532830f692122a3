"""Streaming the containers cassettes come in: JSON (through ijson), YAML (one list
entry composed at a time), gzip around either. A cassette or a HAR of any size is read
one interaction at a time; only the interaction being converted is in memory.

Also the Shape of a file (its container and the key paths of its first interaction),
from which each format recognises its own files.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
from collections.abc import Iterator
from typing import IO, Any

import ijson
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from harness.capture.importers.base import FileProblem, Shape

# The first events of a file read to find its shape, at most.
SHAPE_EVENTS = 20_000
# How much of a file's start tells JSON from YAML from mitmproxy's tnetstrings.
_HEAD = 64
_TNETSTRING = re.compile(rb"^[0-9]{1,12}:")
_GZIP_MAGIC = b"\x1f\x8b"


def open_input(raw: IO[bytes]) -> IO[bytes]:
    """The file's content: gunzipped when it is gzip (a `.har.gz`), as it is otherwise."""
    head = _peek(raw, 2)
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _peek(stream: IO[bytes], size: int) -> bytes:
    position = stream.tell()
    data = stream.read(size)
    stream.seek(position)
    return data


def container_of(stream: IO[bytes]) -> str:
    """`json`, `tnetstring` (mitmproxy's flow files) or `yaml`, from the first bytes."""
    head = _peek(stream, _HEAD)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "json"
    if _TNETSTRING.match(head):
        return "tnetstring"
    return "yaml"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _first_interaction_ended(prefix: str) -> bool:
    """A mapping that ends at `item`, `interactions.item` or `log.entries.item`: the
    first interaction of a list has been read whole."""
    parts = prefix.split(".")
    return parts[-1] == "item" and len(parts) <= 3


# --- JSON --------------------------------------------------------------------------------


def json_shape(stream: IO[bytes]) -> Shape:
    paths: set[str] = set()
    try:
        for count, (prefix, event, value) in enumerate(ijson.parse(stream, use_float=True)):
            if event == "map_key":
                paths.add(_join(prefix, value))
            elif event == "end_map" and _first_interaction_ended(prefix):
                break
            if count >= SHAPE_EVENTS:
                break
    except ijson.JSONError as exc:
        if not paths:
            raise FileProblem(f"not valid JSON ({_one_line(exc)})") from None
    return Shape("json", frozenset(paths))


def json_items(stream: IO[bytes], prefix: str) -> Iterator[tuple[int, int | None, Any]]:
    """(position, None, entry) for each entry of the list at `prefix` (`item` for a
    top-level list, `log.entries.item` for HAR)."""
    position = 0
    try:
        for position, item in enumerate(ijson.items(stream, prefix, use_float=True)):
            yield position, None, item
    except ijson.JSONError as exc:
        raise FileProblem(f"not valid JSON ({_one_line(exc)})", f"entry {position}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


# --- YAML --------------------------------------------------------------------------------


def _binary(loader: Any, node: yaml.Node) -> bytes:
    """Ruby's `!binary` and YAML's `!!binary`: base64 of the bytes."""
    value = loader.construct_scalar(node)
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError):
        raise yaml.constructor.ConstructorError(
            None, None, "a !binary value that is not base64", node.start_mark
        ) from None


def _untagged(loader: Any, node: yaml.Node) -> Any:
    """Any other tag (`!ruby/object:…`, `!!python/unicode`) is read as its plain value."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def _timestamp_as_text(loader: Any, node: yaml.Node) -> Any:
    """Times stay the text they were written as; the readers parse the ones they need."""
    return loader.construct_scalar(node)


class _Constructing(SafeConstructor):
    """The constructors cassettes need, on top of YAML's safe ones."""


_Constructing.add_constructor("!binary", _binary)
_Constructing.add_constructor("tag:yaml.org,2002:binary", _binary)
_Constructing.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_Constructing.add_constructor(None, _untagged)  # type: ignore[arg-type]  # any other tag


class PythonCassetteLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                           Composer, _Constructing, Resolver):  # fmt: skip
    """A safe YAML loader that reads cassettes' tags, in Python."""

    def __init__(self, stream: IO[bytes]) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        Composer.__init__(self)
        _Constructing.__init__(self)
        Resolver.__init__(self)


CassetteLoader: Any = PythonCassetteLoader
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class LibyamlCassetteLoader(CParser, _Constructing, Resolver):  # type: ignore[misc]
        """The same, on libyaml's parser (about nine times faster): Python's composer
        composes one list entry at a time from libyaml's events."""

        def __init__(self, stream: IO[bytes]) -> None:
            CParser.__init__(self, stream)
            _Constructing.__init__(self)
            Resolver.__init__(self)
            self.anchors: dict[str, yaml.Node] = {}

        compose_node = Composer.compose_node
        compose_scalar_node = Composer.compose_scalar_node
        compose_sequence_node = Composer.compose_sequence_node
        compose_mapping_node = Composer.compose_mapping_node

    CassetteLoader = LibyamlCassetteLoader

_YAML_ERRORS = (yaml.YAMLError, UnicodeDecodeError, RecursionError)


def _yaml_problem(exc: BaseException, fallback: str) -> FileProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}" if mark is not None else fallback
    problem = getattr(exc, "problem", None) or _one_line(exc)
    return FileProblem(f"not valid YAML ({' '.join(str(problem).split())})", where)


def yaml_shape(stream: IO[bytes]) -> Shape:
    paths: set[str] = set()
    loader = CassetteLoader(stream)
    # One frame per open container: [prefix, is_mapping, expecting_a_key, last_key].
    frames: list[list[Any]] = []
    try:
        for _ in range(SHAPE_EVENTS):
            if not loader.check_event():
                break
            event = loader.get_event()
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                if not frames:
                    break
                ended = frames.pop()
                if ended[1] and _first_interaction_ended(ended[0]):
                    break
                _value_done(frames)
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue  # the stream's and documents' starts and ends
            frame = frames[-1] if frames else None
            if frame is not None and frame[1] and frame[2]:
                if not isinstance(event, yaml.ScalarEvent):
                    break  # a complex key: no cassette has one
                frame[2], frame[3] = False, str(event.value)
                paths.add(_join(frame[0], frame[3]))
                continue
            prefix = ""
            if frame is not None:
                prefix = _join(frame[0], frame[3]) if frame[1] else _join(frame[0], "item")
            if isinstance(event, yaml.MappingStartEvent):
                frames.append([prefix, True, True, ""])
            elif isinstance(event, yaml.SequenceStartEvent):
                frames.append([prefix, False, False, ""])
            else:
                _value_done(frames)
    except _YAML_ERRORS as exc:
        if not paths:
            raise _yaml_problem(exc, "") from None
    finally:
        loader.dispose()
    return Shape("yaml", frozenset(paths))


def _value_done(frames: list[list[Any]]) -> None:
    if frames and frames[-1][1]:
        frames[-1][2] = True


def yaml_items(stream: IO[bytes], key: str) -> Iterator[tuple[int, int | None, Any]]:
    """(position, line, entry) for each entry of the list under the top-level `key`, one
    entry in memory at a time."""
    loader = CassetteLoader(stream)
    position = 0
    line: int | None = None
    try:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            raise FileProblem("empty file")
        loader.get_event()  # document start
        if not loader.check_event(yaml.MappingStartEvent):
            raise FileProblem(f"expected a mapping with '{key}' at the top")
        loader.get_event()
        found = False
        while not loader.check_event(yaml.MappingEndEvent):
            name = loader.construct_document(loader.compose_node(None, None))
            if name != key or not loader.check_event(yaml.SequenceStartEvent):
                loader.construct_document(loader.compose_node(None, None))
                continue
            found = True
            loader.get_event()
            while not loader.check_event(yaml.SequenceEndEvent):
                node = loader.compose_node(None, None)
                line = node.start_mark.line + 1
                yield position, line, loader.construct_document(node)
                position += 1
            loader.get_event()
        if not found:
            raise FileProblem(f"no '{key}' list")
    except _YAML_ERRORS as exc:
        raise _yaml_problem(exc, f"entry {position}") from None
    finally:
        loader.dispose()


def shape_of(stream: IO[bytes]) -> Shape:
    """The Shape of a file; the stream is left where it was."""
    position = stream.tell()
    container = container_of(stream)
    try:
        if container == "json":
            return json_shape(stream)
        if container == "tnetstring":
            return Shape("tnetstring")
        return yaml_shape(stream)
    finally:
        stream.seek(position)


def list_items(stream: IO[bytes], key: str) -> Iterator[tuple[int, int | None, Any]]:
    """The entries of the list under the top-level `key`, in a JSON or a YAML file."""
    if container_of(stream) == "json":
        return json_items(stream, f"{key}.item")
    return yaml_items(stream, key)
