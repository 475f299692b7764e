"""The shortcuts that checking claims takes for the common case decide exactly as the full
checks do: text that is printable, topics that are clean as given, language tags seen before,
and whole claims in the form nearly every request gives them.

Each shortcut is compared with the rule it stands for over strings chosen to sit on the
edges of the rule (white space of every kind, control and format characters, accents,
lengths at the limit), and over many random mixes of them.
"""

import random
import re
from collections.abc import Callable

import pytest
from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore_server import _validation
from claimstore_server._text import fold_name
from claimstore_server.store import ClaimDraft
from google.protobuf.timestamp_pb2 import Timestamp

# The rule: no C0 or C1 control nor DEL; in a field of one line, no line or paragraph
# separator either.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_EXCEPT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

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
    "peace\x85plan",  # next line: a C1 control, and white space to strip()
    "peace\x9bplan",  # a terminal's control sequence introducer
    "peace\u2029plan",  # paragraph separator
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
        topics, folded = shortcut
        assert not check.items, values
        assert topics == checked, values
        assert folded == tuple(fold_name(topic) for topic in topics), values
        assert len(set(folded)) == len(topics)
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


# Whole claims

NASTY = [
    *EDGES,
    "EN-us",
    "en_US",
    "Q5",
    "Q0",
    "https://a.example/x",
    "ftp://x",
    "https://a b",
    "clm_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "src_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "spk_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "src_bad",
    "x" * 201,
    "x" * 2_001,
    "x" * 10_001,
]


def base_requests() -> list[claim_service_pb2.CreateClaimRequest]:
    """Requests in the forms clients send: an inline speaker and sources, or ids; with and
    without a request id, channel, language, topics and excerpts."""
    inline = claim_pb2.Claim(
        text="Consultations are not currently under way.",
        attribution=claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
        speaker=speaker_pb2.Speaker(
            display_name="Dmitry Peskov", aliases=["Peskov"], wikidata_id="Q4167360"
        ),
        stated_at=Timestamp(seconds=1_763_640_000, nanos=5_000),
        stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
        channel="briefing",
        language="en",
        topics=["peace plan", "Talks"],
        citations=[
            claim_pb2.Citation(
                role=claim_pb2.CITATION_ROLE_REPORT,
                excerpt="Peskov said",
                source=source_pb2.Source(
                    url="https://reuters.example/1", publisher="Reuters", title="Report"
                ),
            ),
            claim_pb2.Citation(source=source_pb2.Source(publisher="TASS", title="Statement")),
        ],
    )
    by_ids = claim_pb2.Claim(
        text="The plan is a basis.",
        attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
        speaker_id="spk_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        stated_at=Timestamp(seconds=1_700_000_000),
        citations=[claim_pb2.Citation(source_id="src_01ARZ3NDEKTSV4RRFFQ69G5FAV")],
    )
    return [
        claim_service_pb2.CreateClaimRequest(claim=inline, request_id="req-1"),
        claim_service_pb2.CreateClaimRequest(claim=inline),
        claim_service_pb2.CreateClaimRequest(claim=by_ids, request_id="req:2"),
        claim_service_pb2.CreateClaimRequest(claim=by_ids),
    ]


def mutated(
    request: claim_service_pb2.CreateClaimRequest, rng: random.Random
) -> claim_service_pb2.CreateClaimRequest:
    """``request`` with up to three of its fields set to odd values."""
    changed = claim_service_pb2.CreateClaimRequest()
    changed.CopyFrom(request)
    claim = changed.claim
    for _ in range(rng.randint(0, 3)):
        value = rng.choice(NASTY)
        citation = rng.choice(claim.citations) if claim.citations else None
        match rng.randrange(20):
            case 0:
                claim.text = value
            case 1:
                claim.channel = value
            case 2:
                claim.language = value
            case 3:
                claim.topics.append(value)
            case 4:
                claim.attribution = rng.choice([0, 1, 3, 4, -5])  # type: ignore[assignment]
            case 5:
                claim.stated_at_precision = rng.choice([0, 1, 2, 4, 7])  # type: ignore[assignment]
            case 6:
                claim.stated_at.seconds = rng.choice([-62_135_596_801, 0, 253_402_300_800])
                claim.stated_at.nanos = rng.choice([0, -1, 10**9])
            case 7:
                claim.ClearField("stated_at")
            case 8:
                claim.speaker.display_name = value
            case 9:
                claim.speaker.aliases.append(value)
            case 10:
                claim.speaker.wikidata_id = value
            case 11:
                claim.speaker_id = value
            case 12 if citation is not None:
                citation.excerpt = value
            case 13 if citation is not None:
                citation.role = rng.choice([0, 1, 3, -1])  # type: ignore[assignment]
            case 14 if citation is not None:
                citation.source_id = value
            case 15 if citation is not None:
                citation.source.url = value
            case 16 if citation is not None:
                citation.ClearField("source")
            case 17:
                changed.request_id = rng.choice(["", "ok-1", "bad id", "x" * 129])
            case 18:
                claim.id = "clm_given"
                claim.revision = 3
            case 19:
                changed.ClearField("claim")
    return changed


def outcome(
    check: Callable[[claim_service_pb2.CreateClaimRequest], ClaimDraft],
    request: claim_service_pb2.CreateClaimRequest,
) -> ClaimDraft | tuple[_validation.FieldViolation, ...]:
    """The draft ``check`` makes of ``request``, or the violations it finds."""
    try:
        return check(request)
    except _validation.ValidationError as error:
        return error.violations


def test_clean_claims_get_the_draft_the_full_check_makes() -> None:
    rng = random.Random(11)
    taken = refused = 0
    for _ in range(6_000):
        request = mutated(rng.choice(base_requests()), rng)
        expected = outcome(_validation._checked_claim_draft, request)
        shortcut = _validation._clean_claim_draft(request)
        if shortcut is not None:
            taken += 1
            assert shortcut == expected, request
        refused += not isinstance(expected, ClaimDraft)
        assert outcome(_validation.claim_draft, request) == expected
    # The corpus reaches both ways, and refusals.
    assert taken > 1_000, taken
    assert refused > 1_000, refused
