"""Grammars for JSON output."""

from __future__ import annotations

import pytest

from levante.engine import OutputConstraint
from levante.engine.sampling import compile_grammar
from levante.errors import InvalidRequestError


def test_schema_strings_exclude_raw_control_characters() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    grammar = compile_grammar(OutputConstraint("json_schema", schema))
    assert grammar is not None
    assert r'char ::= [^"\\\x7F\x00-\x1F]' in grammar._grammar


def test_json_object_grammar_and_no_constraint() -> None:
    assert compile_grammar(OutputConstraint("json_object")) is not None
    assert compile_grammar(None) is None


def test_unresolvable_schema() -> None:
    with pytest.raises(InvalidRequestError):
        compile_grammar(OutputConstraint("json_schema", {"$ref": "#/nowhere"}))
