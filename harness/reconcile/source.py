"""The customer's side: rows streamed from a database (any SQLAlchemy URL; a bare path
to a SQLite file too) or from CSV files, never loaded whole.

Every table, query and column a mapping names is checked before a row is read, so a
mistake costs one line and nothing else. A database that cannot be reached is an
InfrastructureError (exit 3); a URL, file or name that is wrong is an InputError (2).
Messages show a URL with its password hidden.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, NoSuchTableError

from harness.errors import InfrastructureError, InputError
from harness.reconcile.mapping import ObjectMapping

# Rows fetched from a database per round trip (a server-side cursor where there is one).
BATCH_ROWS = 5000
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row of the customer's: where it is (`line`: its CSV line or row number), its
    own key, the Stripe id it holds and each mapped column's value."""

    line: int
    key: Any
    stripe_id: str | None
    values: dict[str, Any]


class Source(Protocol):
    """Rows per object type, after `check` found every table and column."""

    description: str

    def check(self, mapping: ObjectMapping) -> None: ...

    def rows(self, mapping: ObjectMapping) -> Iterator[SourceRow]: ...

    def close(self) -> None: ...


def _row(mapping: ObjectMapping, line: int, values: dict[str, Any]) -> SourceRow:
    stripe_id = values.get(mapping.stripe_id)
    return SourceRow(
        line,
        values.get(mapping.key) if mapping.key else None,
        None if stripe_id in (None, "") else str(stripe_id).strip(),
        values,
    )


def _missing_column(where: str, column: str, mapping: ObjectMapping, has: list[str]) -> InputError:
    return InputError(
        f"{where}: no column {column!r} (mapping objects.{mapping.object}); it has "
        f"{', '.join(has) or 'no columns'}"
    )


class DatabaseSource:
    """A database through SQLAlchemy, read-only in intent: it only ever SELECTs."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise InputError(
                f"--source {url!r}: not a database URL (sqlite:///app.db, "
                "postgresql+psycopg://user@host/db) nor a CSV file or directory"
            ) from None
        self.description = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if not database or database == ":memory:" or not Path(database).is_file():
                raise InputError(f"--source {self.description}: no such SQLite file")
            # Opened read-only: a mistyped name must not create an empty database.
            parsed = parsed.set(
                database=f"file:{Path(database).resolve()}?mode=ro", query={"uri": "true"}
            )
        try:
            self.engine: Engine = sqlalchemy.create_engine(parsed)
        except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
            raise InputError(
                f"--source {self.description}: no driver for it ({exc}); for PostgreSQL "
                "install stripe-shadow[postgres]"
            ) from None
        try:
            with self.engine.connect():
                pass
        except DBAPIError as exc:
            raise InfrastructureError(
                f"--source {self.description}: cannot connect ({_first_line(exc)})"
            ) from None

    def _columns(self, mapping: ObjectMapping) -> list[str]:
        try:
            if mapping.table is not None:
                schema, _, name = mapping.table.rpartition(".")
                inspector = sqlalchemy.inspect(self.engine)
                return [c["name"] for c in inspector.get_columns(name, schema=schema or None)]
            probe = sqlalchemy.text(f"SELECT * FROM ({mapping.query}) AS probe WHERE 1 = 0")
            with self.engine.connect() as connection:
                return list(connection.execute(probe).keys())
        except NoSuchTableError:
            raise InputError(
                f"{self.description}: no table {mapping.table!r} (mapping objects."
                f"{mapping.object}.table)"
            ) from None
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, sqlalchemy.exc.InterfaceError):
                raise InfrastructureError(
                    f"{self.description}: the database went away ({_first_line(exc)})"
                ) from None
            raise InputError(
                f"{self.description}: objects.{mapping.object}.query fails: {_first_line(exc)}"
            ) from None

    def check(self, mapping: ObjectMapping) -> None:
        has = self._columns(mapping)
        for column in mapping.columns:
            if column not in has:
                raise _missing_column(f"{self.description} {mapping.where}", column, mapping, has)

    def rows(self, mapping: ObjectMapping) -> Iterator[SourceRow]:
        columns = mapping.columns
        if mapping.table is not None:
            schema, _, name = mapping.table.rpartition(".")
            statement: Any = sqlalchemy.select(
                *(sqlalchemy.column(c) for c in columns)
            ).select_from(sqlalchemy.table(name, schema=schema or None))
        else:
            statement = sqlalchemy.text(mapping.query or "")
        try:
            with self.engine.connect() as connection:
                result = connection.execution_options(
                    stream_results=True, yield_per=BATCH_ROWS
                ).execute(statement)
                for number, row in enumerate(result, start=1):
                    found = row._mapping
                    yield _row(mapping, number, {c: found[c] for c in columns})
        except DBAPIError as exc:
            raise InfrastructureError(
                f"{self.description}: reading {mapping.where} failed ({_first_line(exc)})"
            ) from None

    def close(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


class CsvSource:
    """CSV files with a header line: one file (one object type), or a directory holding
    `<table>.csv` per object type."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)

    def _file(self, mapping: ObjectMapping) -> Path:
        if mapping.table is None:
            raise InputError(
                f"{self.path}: objects.{mapping.object} gives a query; CSV files have "
                "tables only (table: the file's name without .csv)"
            )
        if self.path.is_file():
            return self.path
        found = self.path / f"{mapping.table}.csv"
        if not found.is_file():
            raise InputError(
                f"{found}: no such file (mapping objects.{mapping.object}.table); a CSV "
                "directory holds <table>.csv"
            )
        return found

    def _header(self, file: Path) -> list[str]:
        try:
            with file.open(encoding="utf-8-sig", newline="") as handle:
                return next(csv.reader(handle), [])
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"{file}: cannot read it as CSV ({exc})") from None

    def check(self, mapping: ObjectMapping) -> None:
        file = self._file(mapping)
        has = self._header(file)
        for column in mapping.columns:
            if column not in has:
                raise _missing_column(f"{file}:1", column, mapping, has)

    def close(self) -> None:
        """Nothing stays open between reads."""

    def rows(self, mapping: ObjectMapping) -> Iterator[SourceRow]:
        file = self._file(mapping)
        columns = mapping.columns
        try:
            with file.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                for found in reader:
                    yield _row(mapping, reader.line_num, {c: found.get(c) for c in columns})
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"{file}: cannot read it as CSV ({exc})") from None


def open_source(spec: str, objects: int) -> Source:
    """The source `--source` names: a URL, a SQLite file, a CSV file or a directory of
    them. `objects` is how many object types the mapping has (one CSV file holds one)."""
    if "://" in spec:
        return DatabaseSource(spec)
    path = Path(spec)
    if path.is_dir() or (path.suffix.lower() == ".csv" and path.is_file()):
        if path.is_file() and objects > 1:
            raise InputError(
                f"--source {spec}: one CSV file holds one object type and the mapping has "
                f"{objects}; give a directory of <table>.csv files"
            )
        return CsvSource(path)
    if path.is_file():
        with path.open("rb") as handle:
            if handle.read(16) == _SQLITE_MAGIC:
                return DatabaseSource(f"sqlite:///{path.resolve()}")
        raise InputError(
            f"--source {spec}: neither a SQLite database nor a .csv file; give a database URL, "
            "a SQLite file, a CSV file or a directory of them"
        )
    raise InputError(f"--source {spec}: no such file or directory, and not a database URL")
