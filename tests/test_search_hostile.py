"""Hostile queries through the raw stub: each one is either INVALID_ARGUMENT naming "query",
or searched as plain words with exactly the results the parser's rules give; never INTERNAL
or UNKNOWN, and never an FTS5 operator, column filter or SQL."""

import contextlib
from pathlib import Path

import claimstore
import grpc
import pytest
from claimstore.v1 import claim_service_pb2, claim_service_pb2_grpc
from claimstore_server.store import sqlite3
from helpers import call_error, violations

Stub = claim_service_pb2_grpc.ClaimServiceStub
INVALID = None  # the expected outcome of a query the parser rejects

SALAM = "السلام"  # Arabic, "the peace"
CORPUS: dict[str, tuple[str, str]] = {  # key: (text, speaker)
    "peace": ("Peace is near, the envoy said.", "Envoy"),
    "text_peace": ("Read the text: peace is possible.", "Analyst"),
    "peace_and_war": ("Between peace and war there is no third way.", "Analyst"),
    "war": ("The war goes on.", "Analyst"),
    "arabic": ("السلام قريب", "Analyst"),
    "drop": ("Critics drop the table of claims.", "Analyst"),
}
PEACE = {"peace", "text_peace", "peace_and_war"}

HOSTILE: dict[str, tuple[str, set[str] | None]] = {
    # Quotes must pair up.
    "unbalanced quote": ('"peace', INVALID),
    "closing quote only": ('peace"', INVALID),
    "three quotes": ('"peace" "war', INVALID),
    "quote inside a word": ('a"b', INVALID),
    "injection with a quote": ('peace"; DROP TABLE claims; --', INVALID),
    # OR needs a term on each side, and never joins an excluded one.
    "lone OR": ("OR", INVALID),
    "OR OR": ("OR OR", INVALID),
    "trailing OR": ("a OR", INVALID),
    "leading OR": ("OR peace", INVALID),
    "double OR between terms": ("peace OR OR war", INVALID),
    "OR before an exclusion": ("peace OR -war", INVALID),
    "OR after an exclusion only": ("-peace OR war", INVALID),
    # Nothing to look for.
    "empty": ("", INVALID),
    "spaces": ("     ", INVALID),
    "tab and newline": ("\t\n", INVALID),
    "lone minus": ("-", INVALID),
    "double minus": ("--", INVALID),
    "lone star": ("*", INVALID),
    "only punctuation": ("!?.,;:()[]{}^~@#$%&", INVALID),
    "empty phrase": ('""', INVALID),
    "two empty phrases": ('"" ""', INVALID),
    "lone backslash": ("\\", INVALID),
    "only an exclusion": ("-peace", INVALID),
    "only an excluded phrase": ('-"peace plan"', INVALID),
    "only an emoji": ("🕊️", INVALID),
    "only a NUL": ("\x00", INVALID),
    # Limits: 1,000 characters and 32 terms.
    "1,001 characters": ("peace" + " " * 992 + "near", INVALID),
    "10,000 characters": ("peace " * 1666 + "near", INVALID),
    "33 terms": (" ".join(["peace"] * 33), INVALID),
    "33 terms with OR": (" OR ".join(["peace"] * 33), INVALID),
    # FTS5 syntax is just words.
    "NEAR(": ("NEAR(", {"peace"}),
    "NEAR(a b)": ("NEAR(a b)", set()),
    "NEAR with quoted phrases": ('NEAR("peace" "war", 2)', set()),
    "column filter text:": ("text:peace", {"text_peace"}),  # the phrase "text peace"
    "column filter speaker:": ("speaker:envoy", set()),  # not the speaker "Envoy"
    "column filter set": ("{text}: peace", {"text_peace"}),  # the words "text" and "peace"
    "column filter set of two": ("{text speaker}: peace", set()),
    "caret": ("^peace", PEACE),
    "AND is a word": ("peace AND war", {"peace_and_war"}),
    "NOT is a word": ("peace NOT war", set()),
    "lower-case or is a word": ("peace or war", set()),
    "parentheses": ("(peace OR war)", PEACE | {"war"}),
    "plus": ("peace + war", {"peace_and_war"}),
    "star inside a word": ("pe*ace", set()),
    "star before a word": ("*peace", PEACE),
    "two stars": ("peace**", PEACE),
    "prefix phrase": ('"peace is"*', {"peace", "text_peace"}),
    "OR inside a phrase": ('"peace OR war"', set()),
    "empty phrase and a word": ('"" peace', PEACE),
    "trailing minus": ("war -", {"war", "peace_and_war"}),
    # Characters.
    "NUL between words": ("peace\x00war", {"peace_and_war"}),
    "escape sequences": ("\x1b[1mpeace\x1b[22m", set()),
    "DEL": ("peace\x7fnear", {"peace"}),
    "emoji and a word": ("🕊️ peace", PEACE),
    "RTL word": (SALAM, {"arabic"}),
    "RTL marks around a word": (f"\u200f{SALAM}\u200f", {"arabic"}),
    "RTL override": ("\u202epeace", PEACE),
    "combining accent": ("peace\u0301", PEACE),
    "backslash after a word": ("peace\\", PEACE),
    "escaped quotes": ('\\"peace\\"', PEACE),
    # Within the limits.
    "1,000 characters": ("peace" + " " * 991 + "near", {"peace"}),
    "one word of 1,000 letters": ("a" * 1000, set()),
    "32 terms": (" ".join(["peace"] * 32), PEACE),
    "a phrase of 200 words": ('"' + " ".join(["war"] * 200) + '"', set()),
    # SQL is just words.
    "DROP TABLE": ("'; DROP TABLE claims; --", {"drop"}),
    "OR 1=1": ("peace' OR 1=1 --", PEACE),
    "quote and parenthesis": ("peace') OR ('1'='1", PEACE),
    "SELECT": ("1; SELECT * FROM claims", set()),
}


@pytest.fixture
def corpus(client: claimstore.Client) -> dict[str, str]:
    """Claim key by claim id."""
    keys = {}
    for key, (text, speaker) in CORPUS.items():
        claim = client.create_claim(
            text, attribution="reported", stated_at="2025-11-20", speaker=speaker
        )
        keys[claim.id] = key
    return keys


def check(stub: Stub, corpus: dict[str, str], query: str, expected: set[str] | None) -> None:
    request = claim_service_pb2.SearchClaimsRequest(query=query, page_size=100)
    if expected is None:
        error = call_error(lambda: stub.SearchClaims(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert set(violations(error)) == {"query"}
        assert "query" in (error.details() or "")
        return
    response = stub.SearchClaims(request)
    keys = [corpus[result.claim.id] for result in response.results]
    assert len(keys) == len(set(keys))
    assert set(keys) == expected
    assert response.next_page_token == ""


@pytest.mark.parametrize(("query", "expected"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_query_is_rejected_or_searched_as_words(
    stub: Stub, corpus: dict[str, str], query: str, expected: set[str] | None
) -> None:
    check(stub, corpus, query, expected)


def test_the_whole_table_leaves_every_claim_in_place(
    stub: Stub, client: claimstore.Client, corpus: dict[str, str], db_path: Path
) -> None:
    for query, expected in HOSTILE.values():
        # A wrong answer is reported by the parametrized test; here only what is left matters.
        with contextlib.suppress(AssertionError):
            check(stub, corpus, query, expected)
    assert {claim.id for claim in client.list_claims()} == set(corpus)
    with sqlite3.connect(db_path) as database:
        tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master")}
        assert {"claims", "speakers", "claims_search"} <= tables
        assert database.execute("SELECT count(*) FROM claims").fetchone() == (len(CORPUS),)
        assert database.execute("SELECT count(*) FROM claims_search").fetchone() == (len(CORPUS),)
    database.close()
    # The index still answers.
    check(stub, corpus, "peace", PEACE)
