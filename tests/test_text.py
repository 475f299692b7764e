"""Text folding: the one rule for matching names, topics and claim contents."""

import random
import re

import pytest
from claimstore_server._text import fold, words

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
