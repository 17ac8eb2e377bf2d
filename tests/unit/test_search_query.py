"""Parsing search text: web-search syntax into words only, so no backend's query language leaks through."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.search import MAX_QUERY_LENGTH, MAX_QUERY_WORDS, SearchTerms, any_word_query, parse_query
from persistence.search_postgres import tsquery_expression
from persistence.search_sqlite import match_expression


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Reset password", SearchTerms(((("reset",),), (("password",),)))),
        ('"reset link" expires', SearchTerms(((("reset", "link"),), (("expires",),)))),
        ("email OR sms code", SearchTerms(((("email",), ("sms",)), (("code",),)))),
        ("token -refresh", SearchTerms(((("token",),),), (("refresh",),))),
        ("e-mail", SearchTerms(((("e", "mail"),),))),
        ('col:x NEAR(y) "z', SearchTerms(((("col", "x"),), (("near", "y"),), (("z",),)))),
        ("OR first", SearchTerms(((("first",),),))),
        ("Ünïcode 日本", SearchTerms(((("ünïcode",),), (("日本",),)))),
    ],
)
def test_text_parses_into_words_phrases_or_and_exclusions(text, terms):
    assert parse_query(text) == terms


@pytest.mark.parametrize("text", ["", "   ", '"" * ()', "-only -negatives", "a\x00b", "x" * (MAX_QUERY_LENGTH + 1)])
def test_text_without_a_word_or_with_control_characters_or_too_long_is_refused(text):
    with pytest.raises(InvalidInput) as error:
        parse_query(text)
    assert error.value.field == "text"


def test_each_backend_quotes_every_word():
    terms = parse_query('"reset link" OR token -refresh')

    assert match_expression(terms) == '(("reset link" OR "token")) NOT ("refresh")'
    sql, params = tsquery_expression(terms)
    assert params == {"w0": "reset link", "w1": "token", "w2": "refresh"}
    assert ":w0" in sql and "reset" not in sql


def test_a_question_becomes_any_of_its_distinct_words_capped():
    assert any_word_query('Why does "reset" fail? reset -x') == SearchTerms(
        (((("why",), ("does",), ("reset",), ("fail",), ("x",))),)
    )
    many = " ".join(f"w{i}" for i in range(100))
    assert len(any_word_query(many).clauses[0]) == MAX_QUERY_WORDS
    with pytest.raises(InvalidInput):
        any_word_query("?!")
