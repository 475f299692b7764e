"""The shortcuts that checking claims takes for the common case decide exactly as the full
checks do: text that is printable, topics that are clean as given, language tags seen before.

Each shortcut is compared with the rule it stands for over strings chosen to sit on the
edges of the rule (white space of every kind, control and format characters, accents,
lengths at the limit), and over many random mixes of them.
"""

import random
import re

import pytest
from claimstore_server import _validation
from claimstore_server._text import fold_name

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

EDGES = [
    "",
    " ",
    "x",
    "  peace plan  ",
    "Peace Plan",
    "peace\u00a0plan",  # no-break space: not printable, not a control character
    "peace\u200bplan",  # zero-width space: a format character
    "peace\u2028plan",  # line separator
    "peace\nplan",
    "peace\r\nplan",
    "peace\tplan",
    "peace\x00plan",
    "peace\x7fplan",
    "peace\x1bplan",
    "\ufeffpeace",
    "Noël",
    "Noe\u0301l",
    "日本語",
    "🙂",
    "--",
    "x" * 100,
    "x" * 101,
    " " + "x" * 100 + " ",
]


def reference_text(value: str, *, max_length: int, required: bool, lines: bool) -> tuple[str, bool]:
    """The text rule as written before any shortcut: the stripped value, and whether it
    passes."""
    stripped = value.strip()
    if required and not stripped:
        return stripped, False
    if len(stripped) > max_length:
        return stripped, False
    pattern = _CONTROL_EXCEPT_WHITESPACE if lines else _CONTROL
    return stripped, pattern.search(stripped) is None


def random_texts(count: int) -> list[str]:
    rng = random.Random(20261201)
    return ["".join(rng.choices(EDGES, k=rng.randint(1, 3))) for _ in range(count)]


@pytest.mark.parametrize("lines", [False, True])
@pytest.mark.parametrize("required", [False, True])
def test_the_printable_shortcut_checks_text_as_the_rule_does(required: bool, lines: bool) -> None:
    for value in [*EDGES, *random_texts(3_000)]:
        check = _validation._Violations()
        cleaned = check.text(value, "field", max_length=100, required=required, lines=lines)
        expected, passes = reference_text(value, max_length=100, required=required, lines=lines)
        assert (cleaned, not check.items) == (expected, passes), repr(value)


def test_clean_topics_are_what_checking_each_topic_gives() -> None:
    rng = random.Random(7)
    taken = 0
    for _ in range(3_000):
        values = tuple(rng.choices(EDGES, k=rng.randint(0, 5)))
        shortcut = _validation._clean_topics(values)
        check = _validation._Violations()
        checked = _validation._checked_topics(values, "claim.topics", check)
        if shortcut is None:
            continue
        taken += 1
        assert not check.items, values
        assert shortcut == checked, values
        assert len({fold_name(topic) for topic in shortcut}) == len(shortcut)
    assert taken > 100, "the corpus must reach the shortcut"


def test_topics_that_need_cleaning_are_still_cleaned_and_named() -> None:
    check = _validation._Violations()
    assert _validation._topics(["  war ", "War", "x" * 101, ""], "claim.topics", check) == (
        "war",
        "x" * 101,
        "",
    )
    assert [item.field for item in check.items] == ["claim.topics[2]", "claim.topics[3]"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("en", "en"), (" EN-us ", "en-US"), ("zh-hant-tw", "zh-Hant-TW"), ("", ""), ("  ", "")],
)
def test_language_tags_are_canonical_however_often_they_come(given: str, expected: str) -> None:
    for _ in range(2):
        check = _validation._Violations()
        assert check.language(given, "claim.language") == expected
        assert not check.items


@pytest.mark.parametrize("given", ["e", "en_US", "toolongtag-abcdefghijk", "en-", "\x00"])
def test_bad_language_tags_are_refused_however_often_they_come(given: str) -> None:
    for _ in range(2):
        check = _validation._Violations()
        check.language(given, "claim.language")
        assert [item.field for item in check.items] == ["claim.language"]
