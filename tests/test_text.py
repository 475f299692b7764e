"""Text folding: the one rule for matching names, topics and claim contents."""

import random
import re

import pytest
from claimstore_server._text import canonical_url, fold, words

ASCII = [chr(code) for code in range(128)]


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("  Jean-Noël  BARROT ", "jean noel barrot"),
        ("Peskov: 'no capitulation'!", "peskov no capitulation"),
        ("snake_case and\ttabs\nnewlines", "snake case and tabs newlines"),
        ("ÆSIR straße", "æsir strasse"),
        ("", ""),
        ("--- ... ___", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_ascii_text_folds_as_the_general_rule_does() -> None:
    """The ASCII shortcut and the rule for any text agree: content keys depend on it."""
    general = re.compile(r"[\W_]+", re.UNICODE)
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(ASCII) for _ in range(rng.randint(0, 24)))
        assert fold(text) == general.sub(" ", text.casefold()).strip()


def test_words_are_folded_once_each_in_order() -> None:
    assert words("Peace plan, PEACE talks") == ("peace", "plan", "talks")


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://News.Example.COM/Story", "https://news.example.com/Story"),
        ("HTTPS://example.com/a", "https://example.com/a"),
        ("https://User:Pw@Ex.COM:8080/A?B=C#D", "https://User:Pw@ex.com:8080/A?B=C#D"),
        ("https://Example.com/a?", "https://example.com/a?"),
        ("https://example.com/a#", "https://example.com/a#"),
        ("http://[::1]:80/A", "http://[::1]:80/A"),
        ("https://example.com", "https://example.com"),
    ],
)
def test_a_url_takes_its_scheme_and_host_in_lower_case_and_keeps_the_rest(
    url: str, canonical: str
) -> None:
    assert canonical_url(url) == canonical
