"""Read one release of Stripe's Python SDK (its unpacked source, never imported) into the
catalogue of the API version it pins (docs/catalogue.md).

Stripe generates the SDK from its OpenAPI description of one API version. Each resource
class (`class Invoice(...)`, `OBJECT_NAME = "invoice"`) declares every field of that
object with a type annotation and a docstring, and its nested classes describe the
objects embedded in it; each service class (`InvoiceService`) names, per method, the
HTTP method, the path and the TypedDict of its parameters. The source is read with `ast`,
so no code of the release runs and two releases can be read in one process.

What is taken from where:

* JSON type, nullable (`Optional[...]`), enum values (`Literal[...]`), embedded objects,
  expandable references (`ExpandableField["Customer"]`) and lists: the annotation;
* timestamps: integer fields whose docstring says so ("Measured in seconds since the Unix
  epoch", "Unix timestamp", "Date after which…", "Time at which…"), or whose name is a
  time's (`*_at`, `created`, `*_date`, …) and whose docstring does not say it is a count,
  a day of the month or a duration (the SDK has no format marker, so this is a rule over
  its words, shown in docs/catalogue.md);
* endpoints and their parameters: the service classes;
* id prefixes: the ids in the paths of the release's generated examples
  (tests/test_generated_examples.py, `/v1/customers/cus_xxxxxxxxxxxxx`), matched to the
  object the endpoint's method returns.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The catalogue covers API v1: v2's objects are another API (JSON bodies, RFC 3339
# times), and params/ holds request TypedDicts only.
_SKIPPED_TOP = frozenset({"v2", "params", "events", "_http_client.py"})

# An id in the generated examples: a prefix, then the placeholder the examples use.
_EXAMPLE_ID = re.compile(r"^([a-z]+(?:_[a-z]+)*)_x{8,}$")
_EXAMPLE_PATH = re.compile(r"""path\s*=\s*["'](/v1/[^"'?]+)""")

# --- timestamps -----------------------------------------------------------------------------

# Docstrings that say the integer is a Unix time, whatever the field is called.
_SAYS_TIME = re.compile(
    r"seconds since (the )?unix epoch|unix time|epoch seconds|\btimestamps?\b|utc format",
    re.IGNORECASE,
)
# Docstrings that open with a moment ("Date after which the coupon can no longer be
# redeemed", "Time at which the clock is frozen", "When the trial ends").
_OPENS_WITH_TIME = re.compile(
    r"^(if [^.]*?, )?(the |a )?(date|time|moment|point|deadline)\b(?! period| difference)"
    r"|^when\b|\b(date|time) (at|on|by|after|before|when|that)\b",
    re.IGNORECASE,
)
# Docstrings of integers that are not times although their words are about time.
_NOT_TIME = re.compile(
    r"between 1 and|day of (the )?(month|week|year)|in minutes|in seconds\b(?! since)"
    r"|number of|how (long|many)|duration in|\boffset\b|difference between",
    re.IGNORECASE,
)
# A time in milliseconds (a Terminal reader's `last_seen_at`) is not a Unix time in seconds.
_MILLISECONDS = re.compile(r"milliseconds", re.IGNORECASE)
# Names of time fields when the docstring says nothing either way.
_TIME_NAME = re.compile(
    r"^(created|updated|date|start|end|billing_cycle_anchor|frozen_time)$"
    r"|_(at|date|start|end)$|^(trial|period|current_period)_(start|end)$"
)


def is_timestamp(name: str, doc: str) -> bool:
    """True when an integer field named `name` with docstring `doc` holds a Unix time in
    seconds: the docstring says so, or it is not about a count, a day of the month or a
    duration and opens with a moment or the name is a time's."""
    if _MILLISECONDS.search(doc):
        return False
    if _SAYS_TIME.search(doc):
        return True
    if _NOT_TIME.search(doc):
        return False
    return bool(_OPENS_WITH_TIME.search(doc) or _TIME_NAME.search(name))


# --- the source tree ----------------------------------------------------------------------


@dataclass(slots=True)
class _Module:
    """One parsed module: its classes by name and the names it imports."""

    name: str  # `stripe.checkout._session`
    tree: ast.Module
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # alias → (module, name)


def _parse_module(path: Path, name: str) -> _Module:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _Module(name, tree)
    module.classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for found in ast.walk(tree):
        if isinstance(found, ast.ImportFrom) and found.module:
            for alias in found.names:
                module.imports[alias.asname or alias.name] = (found.module, alias.name)
    return module


def _modules(root: Path, under: str = "stripe") -> Iterator[_Module]:
    """Every module of the package under `root/under` (v2, params and events left out of
    the package itself; `under="stripe/params"` reads params)."""
    for path in sorted((root / under).rglob("*.py")):
        relative = path.relative_to(root)
        if under == "stripe" and relative.parts[1] in _SKIPPED_TOP:
            continue
        yield _parse_module(path, ".".join(relative.with_suffix("").parts))


def _object_name(node: ast.ClassDef) -> str | None:
    for statement in node.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        if (
            isinstance(target, ast.Name)
            and target.id == "OBJECT_NAME"
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            return value.value
    return None


def _is_stripe_object(node: ast.ClassDef) -> bool:
    """A nested class describing an embedded object (not a TypedDict of parameters)."""
    bases = " ".join(ast.unparse(base) for base in node.bases)
    return "TypedDict" not in bases and "RequestOptions" not in bases


def _docstring(body: list[ast.stmt], index: int) -> str:
    if index + 1 < len(body):
        following = body[index + 1]
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            return " ".join(following.value.value.split())
    return ""


def _fields(node: ast.ClassDef) -> Iterator[tuple[str, ast.expr, str]]:
    """(name, annotation, docstring) of each field a class declares."""
    for index, statement in enumerate(node.body):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        name = statement.target.id
        annotation = ast.unparse(statement.annotation)
        if name.startswith("_") or name.isupper() or annotation.startswith("ClassVar"):
            continue
        yield name, statement.annotation, _docstring(node.body, index)


def _parsed(node: ast.expr) -> ast.expr:
    """A string annotation (`"Customer"`, `"Literal['']|str"`) as an expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return node
    return node


def _subscript(node: ast.expr) -> tuple[str, list[ast.expr]] | None:
    """`Optional[X]` → ("Optional", [X]); `Union[A, B]` → ("Union", [A, B])."""
    if not isinstance(node, ast.Subscript):
        return None
    head = ast.unparse(node.value).rsplit(".", 1)[-1]
    inner = node.slice
    items = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    return head, items


def _flatten_union(node: ast.expr) -> list[ast.expr]:
    node = _parsed(node)
    sub = _subscript(node)
    if sub is not None and sub[0] in ("Union", "Optional"):
        parts = [part for item in sub[1] for part in _flatten_union(item)]
        return parts + ([ast.Constant(None)] if sub[0] == "Optional" else [])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _flatten_union(node.left) + _flatten_union(node.right)
    return [node]


_SCALARS = {
    "str": "str",
    "int": "int",
    "float": "num",
    "bool": "bool",
    "Decimal": "str",  # decimal strings ("12.5") in newer releases
}
# Characters the notation uses, which no enum value may hold.
_RESERVED = re.compile(r"[|()<>?]")
_UNTYPED = frozenset({"Any", "StripeObject", "UntypedStripeObject", "object", "Dict"})
_LISTS = frozenset({"ListObject", "SearchResultObject"})


class SdkReader:
    """The whole SDK source tree, read once: resources, their nested objects, services."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules = {module.name: module for module in _modules(root)}
        self.params = {module.name: module for module in _modules(root, "stripe/params")}
        # (module, class name) → object name, for every resource class.
        self.resources: dict[tuple[str, str], str] = {}
        for module in self.modules.values():
            for name, node in module.classes.items():
                object_name = _object_name(node)
                if object_name is not None and not object_name.startswith("v2."):
                    self.resources[(module.name, name)] = object_name

    # --- objects ----------------------------------------------------------------------------

    def types(self) -> dict[str, dict[str, Any]]:
        """Every object type: {type: {"fields": {name: descriptor}}}, nested ones as
        `invoice#StatusTransitions`. Two classes of one object name are merged."""
        types: dict[str, dict[str, Any]] = {}
        for (module_name, class_name), object_name in sorted(self.resources.items()):
            module = self.modules[module_name]
            self._describe_class(module, [module.classes[class_name]], object_name, types)
        return dict(sorted(types.items()))

    def _describe_class(
        self,
        module: _Module,
        scope: list[ast.ClassDef],
        type_name: str,
        types: dict[str, dict[str, Any]],
    ) -> None:
        node = scope[-1]
        entry: dict[str, Any] = types.setdefault(type_name, {"fields": {}})
        root_name = type_name.split("#", 1)[0]
        for name, annotation, doc in _fields(node):
            descriptor = self._descriptor(module, scope, root_name, annotation, name, doc)
            entry["fields"].setdefault(name, descriptor)
        entry["fields"] = dict(sorted(entry["fields"].items()))
        for statement in node.body:
            if isinstance(statement, ast.ClassDef) and _is_stripe_object(statement):
                nested = self._nested_name(root_name, [*scope, statement])
                self._describe_class(module, [*scope, statement], nested, types)

    @staticmethod
    def _nested_name(root_name: str, scope: list[ast.ClassDef]) -> str:
        return root_name + "#" + ".".join(node.name for node in scope[1:])

    def _resolve(
        self, module: _Module, scope: list[ast.ClassDef], root_name: str, name: str
    ) -> str | None:
        """The object type a class name in an annotation names: a class nested in the
        scope (innermost first), a resource of this module, or an imported resource."""
        for depth in range(len(scope), 0, -1):
            for statement in scope[depth - 1].body:
                if isinstance(statement, ast.ClassDef) and statement.name == name:
                    return self._nested_name(root_name, [*scope[:depth], statement])
        if (module.name, name) in self.resources:
            return self.resources[(module.name, name)]
        imported = module.imports.get(name)
        if imported is not None:
            return self.resources.get(imported)
        return None

    def _descriptor(
        self,
        module: _Module,
        scope: list[ast.ClassDef],
        root_name: str,
        annotation: ast.expr,
        name: str,
        doc: str,
    ) -> str:
        parts = _flatten_union(annotation)
        nullable = any(isinstance(p, ast.Constant) and p.value is None for p in parts)
        parts = [p for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
        described = self._describe_parts(module, scope, root_name, parts)
        if described == "int" and is_timestamp(name, doc):
            described = "time"
        return described + ("?" if nullable else "")

    def _describe_parts(
        self, module: _Module, scope: list[ast.ClassDef], root_name: str, parts: list[ast.expr]
    ) -> str:
        """One field type in the catalogue's notation (harness.stripe.catalogue.FieldType)."""
        enum: list[str] = []
        kinds: list[str] = []
        for part in parts:
            part = _parsed(part)
            sub = _subscript(part)
            if sub is not None and sub[0] == "Literal":
                for item in sub[1]:
                    if isinstance(item, ast.Constant) and isinstance(item.value, bool):
                        kinds.append("bool")
                    elif isinstance(item, ast.Constant) and item.value is not None:
                        enum.append(str(item.value))
                continue
            kinds.append(self._describe_one(module, scope, root_name, part))
        if enum and set(kinds) <= {"str"}:
            for value in enum:
                if _RESERVED.search(value):
                    raise ValueError(f"enum value {value!r} holds a character of the notation")
            return "enum(" + "|".join(sorted(set(enum))) + ")"
        if not kinds:
            return "any"
        if len(set(kinds)) == 1:
            return kinds[0]
        # `Union["Account", "Card"]`: one object of either type.
        heads = {kind.partition("(")[0] for kind in kinds}
        if len(heads) == 1 and all(kind.endswith(")") for kind in kinds):
            targets = sorted(
                {t for kind in kinds for t in kind[len(next(iter(heads))) + 1 : -1].split("|")}
            )
            return f"{heads.pop()}(" + "|".join(targets) + ")"
        return "any"

    def _describe_one(
        self, module: _Module, scope: list[ast.ClassDef], root_name: str, node: ast.expr
    ) -> str:
        sub = _subscript(node)
        if sub is not None:
            head, items = sub
            if head == "ExpandableField":
                targets = self._names_in(module, scope, root_name, items[0])
                return "ref(" + "|".join(targets) + ")" if targets else "str"
            if head == "List":
                inner = self._describe_parts(module, scope, root_name, _flatten_union(items[0]))
                return f"arr<{inner}>"
            if head in _LISTS:
                targets = self._names_in(module, scope, root_name, items[0])
                return "list(" + "|".join(targets) + ")" if targets else "obj"
            if head in ("Dict", "UntypedStripeObject", "Mapping"):
                inner = self._describe_parts(module, scope, root_name, _flatten_union(items[-1]))
                return f"map<{inner}>"
            return "any"
        text = ast.unparse(node).strip("'\"")
        if text in _SCALARS:
            return _SCALARS[text]
        if text in _UNTYPED:
            return "obj"
        resolved = self._resolve(module, scope, root_name, text)
        if resolved is not None:
            return f"obj({resolved})"
        return "any"

    def _names_in(
        self, module: _Module, scope: list[ast.ClassDef], root_name: str, node: ast.expr
    ) -> list[str]:
        found = set()
        for part in _flatten_union(node):
            resolved = self._resolve(module, scope, root_name, ast.unparse(part).strip("'\""))
            if resolved is not None:
                found.add(resolved)
        return sorted(found)

    # --- endpoints ------------------------------------------------------------------------------

    def endpoints(self) -> dict[str, dict[str, Any]]:
        """`POST /v1/customers/{}` → {"returns": object type or None, "params": tree}."""
        found: dict[str, dict[str, Any]] = {}
        for module in self.modules.values():
            if not module.name.endswith("_service"):
                continue
            for class_node in module.classes.values():
                for method in class_node.body:
                    if not isinstance(method, ast.FunctionDef):
                        continue
                    endpoint = _requested_endpoint(method)
                    if endpoint is None or endpoint in found:
                        continue
                    found[endpoint] = {
                        "returns": self._returns(module, method),
                        "params": _param_tree(self._method_params(module, class_node, method)),
                    }
        return dict(sorted(found.items()))

    def _returns(self, module: _Module, method: ast.FunctionDef) -> str | None:
        if method.returns is None:
            return None
        node = _parsed(method.returns)
        sub = _subscript(node)
        if sub is not None:
            return "list" if sub[0] in _LISTS else None
        return self.resources.get(module.imports.get(ast.unparse(node).strip("'\""), ("", "")))

    def _method_params(
        self, module: _Module, service: ast.ClassDef, method: ast.FunctionDef
    ) -> set[str]:
        annotation = next(
            (arg.annotation for arg in method.args.args if arg.arg == "params" and arg.annotation),
            None,
        )
        if annotation is None:
            return set()
        names = [n for n in _class_names(ast.unparse(_parsed(annotation))) if "Params" in n]
        if not names:
            return set()
        located = self._params_class(module, service, names[0])
        if located is None:
            return set()
        return set(self._param_paths(*located, prefix="", seen=frozenset()))

    def _params_class(
        self, module: _Module, service: ast.ClassDef, name: str
    ) -> tuple[_Module, ast.ClassDef, ast.ClassDef | None] | None:
        """Where a params TypedDict is defined: nested in the service (releases up to 12,
        `InvoiceService.CreateParams`) or in stripe/params (from 13 on)."""
        if "." in name:
            owner, _, inner = name.rpartition(".")
            holder = module.classes.get(owner.rsplit(".", 1)[-1])
            if holder is not None:
                for statement in holder.body:
                    if isinstance(statement, ast.ClassDef) and statement.name == inner:
                        return module, statement, holder
            return None
        imported = module.imports.get(name)
        if imported is not None and imported[0] in self.params:
            params_module = self.params[imported[0]]
            node = params_module.classes.get(imported[1])
            if node is not None:
                return params_module, node, None
        for statement in service.body:
            if isinstance(statement, ast.ClassDef) and statement.name == name:
                return module, statement, service
        return None

    def _param_paths(
        self,
        module: _Module,
        node: ast.ClassDef,
        holder: ast.ClassDef | None,
        *,
        prefix: str,
        seen: frozenset[str],
    ) -> Iterator[str]:
        if node.name in seen or prefix.count(".") >= 5:
            return
        seen = seen | {node.name}
        for name, annotation, _ in _fields(node):
            path = f"{prefix}{name}"
            yield path
            for class_name in _class_names(ast.unparse(_parsed(annotation))):
                if "Params" not in class_name:
                    continue
                inner = self._nested_params(module, holder, class_name)
                if inner is not None:
                    yield from self._param_paths(
                        inner[0], inner[1], holder, prefix=path + ".", seen=seen
                    )

    def _nested_params(
        self, module: _Module, holder: ast.ClassDef | None, name: str
    ) -> tuple[_Module, ast.ClassDef] | None:
        short = name.rsplit(".", 1)[-1]
        if holder is not None:
            for statement in holder.body:
                if isinstance(statement, ast.ClassDef) and statement.name == short:
                    return module, statement
        if short in module.classes:
            return module, module.classes[short]
        imported = module.imports.get(short)
        if imported is not None and imported[0] in self.params:
            other = self.params[imported[0]]
            if imported[1] in other.classes:
                return other, other.classes[imported[1]]
        return None

    # --- id prefixes -------------------------------------------------------------------------

    def id_prefixes(self, endpoints: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Object type → the id prefix its ids carry in the release's generated examples."""
        examples = self.root / "tests" / "test_generated_examples.py"
        if not examples.is_file():
            return {}
        votes: dict[str, Counter[str]] = {}
        for path in _EXAMPLE_PATH.findall(examples.read_text(encoding="utf-8")):
            segments = path.rstrip("/").split("/")
            for index, segment in enumerate(segments):
                match = _EXAMPLE_ID.match(segment)
                if match is None:
                    continue
                shape = "/".join("{}" if _EXAMPLE_ID.match(s) else s for s in segments[: index + 1])
                returned = endpoints.get(f"GET {shape}", {}).get("returns")
                if returned and returned != "list":
                    votes.setdefault(returned, Counter())[match.group(1)] += 1
        return {
            object_type: sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
            for object_type, counts in sorted(votes.items())
        }


def _param_tree(paths: set[str]) -> dict[str, Any]:
    """`{"a", "a.b"}` → `{"a": {"b": {}}}`: parameters nested as the form encodes them."""
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for name in path.split("."):
            node = node.setdefault(name, {})
    return tree


_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _class_names(text: str) -> list[str]:
    """Capitalised names in an annotation's text (`NotRequired["Literal['']|XParams"]`)."""
    return [n for n in _CLASS_NAME.findall(text) if n.rsplit(".", 1)[-1][:1].isupper()]


def _template(node: ast.expr) -> str | None:
    """The path a `_request` call sends to: a literal, `"/v1/x/{id}".format(...)` or an
    f-string; every placeholder as `{}`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        text = node.func.value.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    else:
        return None
    return re.sub(r"\{[^}]*\}", "{}", text)


def _requested_endpoint(method: ast.FunctionDef) -> str | None:
    """`POST /v1/customers/{}` for a service method that sends one request."""
    for node in ast.walk(method):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("_request", "_request_stream")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            path = _template(node.args[1])
            if path is not None and path.startswith("/v1/"):
                return f"{node.args[0].value.upper()} {path}"
    return None


def read_api_version(root: Path) -> str:
    """The API version a release pins (stripe/_api_version.py, `CURRENT = "…"`)."""
    source = (root / "stripe" / "_api_version.py").read_text(encoding="utf-8")
    match = re.search(r"""CURRENT\s*=\s*["']([^"']+)["']""", source)
    if match is None:
        raise ValueError(f"{root}: stripe/_api_version.py names no CURRENT version")
    return match.group(1)


def read_sdk(root: Path) -> dict[str, Any]:
    """The catalogue of the release unpacked at `root` (the directory holding `stripe/`
    and, for an sdist, `tests/`), as the JSON the shipped files hold."""
    reader = SdkReader(root)
    types = reader.types()
    endpoints = reader.endpoints()
    for object_type, prefix in reader.id_prefixes(endpoints).items():
        if object_type in types:
            types[object_type] = {"id_prefix": prefix, **types[object_type]}
    return {"api_version": read_api_version(root), "types": types, "endpoints": endpoints}
