"""Field paths and known keys for one-line validation messages, on plain models."""

from __future__ import annotations

from pydantic import BaseModel

from harness.validation import field_path, known_fields, model_at


class Inner(BaseModel):
    url: str
    timeout: float = 1.0


class Outer(BaseModel):
    name: str
    targets: list[Inner]
    retry: Inner | None = None
    choice: Inner | str = ""


def test_field_paths_read_as_written_in_the_file() -> None:
    assert field_path(("targets", 1, "url")) == "targets[1].url"
    assert field_path(("expect", 0, "reason"), "compare") == "compare.expect[0].reason"
    assert field_path((), "compare") == "compare"


def test_the_model_at_a_location_names_the_keys_it_knows() -> None:
    assert model_at(Outer, ()) is Outer
    assert model_at(Outer, ("targets", 3)) is Inner
    assert model_at(Outer, ("retry",)) is Inner
    assert known_fields(Outer, ("targets", 0)) == ["url", "timeout"]
    # A plain value or an unknown key names no keys; a union holding one model names its.
    assert model_at(Outer, ("name",)) is None
    assert known_fields(Outer, ("nope",)) == []
    assert model_at(Outer, ("choice",)) is Inner
