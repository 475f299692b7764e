"""Checks requests and turns them into the store's normalized drafts and queries.

Every check that fails is collected, with the path of the field at fault
(``claim.citations[1].source.url``), and reported together in one
:class:`ValidationError`: a client fixes all of its mistakes in one round.
The limits checked here are the ones written in the .proto comments.
"""

import functools
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import urlsplit

from claimstore.v1 import claim_filter_pb2, claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from . import _ids
from ._text import canonical_url, words
from ._text import fold as fold_text
from ._text import fold_name as fold
from .store import (
    CitationDraft,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    DeletionDraft,
    SourceDraft,
    SpeakerDraft,
)

MAX_TEXT: Final = 10_000
MAX_NAME: Final = 200
MAX_SOURCE_TITLE: Final = 500
MAX_URL: Final = 2_048
MAX_EXCERPT: Final = 2_000
MAX_CHANNEL: Final = 200
MAX_LANGUAGE: Final = 35
MAX_TOPIC: Final = 100
MAX_TOPICS: Final = 50
MAX_ALIASES: Final = 50
MAX_CITATIONS: Final = 100
MAX_FILTER_IDS: Final = 100
MAX_REQUEST_ID: Final = 128
MAX_ID: Final = 64

# Protobuf Timestamps span 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS: Final = -62_135_596_800
_MAX_SECONDS: Final = 253_402_300_799
MIN_MICROS: Final = _MIN_SECONDS * 1_000_000
MAX_MICROS: Final = _MAX_SECONDS * 1_000_000 + 999_999

# The C0 and C1 controls and DEL (C1's U+009B opens a terminal's escape sequences, and
# U+0085 breaks a line); a field of one line also refuses the line and paragraph separators.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_EXCEPT_WHITESPACE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LANGUAGE: Final = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
_WIKIDATA: Final = re.compile(r"^Q[1-9][0-9]{0,15}$")
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]+$")

_SECONDS_PER_DAY: Final = 86_400

CLAIM_OUTPUT_ONLY_PATHS: Final = (
    "id",
    "create_time",
    "update_time",
    "etag",
    "revision",
    "delete_time",
    "deletion",
)
"""The fields of a Claim that the server sets: ignored on create, refused in update masks."""

Value = TypeVar("Value", bound=int)
Part = TypeVar("Part", bound=Message)
Draft = TypeVar("Draft")

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper as EnumType


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One thing wrong with a request: the field's path and what is wrong with it."""

    field: str
    description: str


class ValidationError(Exception):
    """A request broke one or more rules; nothing was done."""

    def __init__(self, violations: Iterable[FieldViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))


class _Violations:
    """Collects violations while a request is checked."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items)

    def text(
        self,
        value: str,
        field: str,
        *,
        max_length: int,
        required: bool = False,
        lines: bool = False,
    ) -> str:
        """Returns ``value`` stripped, after checking emptiness, length and control characters."""
        stripped = value.strip()
        # The common case, decided by two calls into C: printable text has no control
        # characters at all (nor line breaks, which take the regular expression below).
        if stripped and len(stripped) <= max_length and stripped.isprintable():
            return stripped
        if required and not stripped:
            self.add(field, "is required and must not be empty or only white space")
        elif len(stripped) > max_length:
            self.add(field, f"must be at most {max_length:,} characters, not {len(stripped):,}")
        elif (_CONTROL_EXCEPT_WHITESPACE if lines else _CONTROL).search(stripped):
            self.add(field, "must not contain control characters")
        return stripped

    def enum(self, value: int, enum: "EnumType[Value]", field: str, *, default: int | None) -> int:
        """Returns ``value``, or ``default`` for the UNSPECIFIED value (``None``: required)."""
        if value not in _enum_numbers(enum):
            self.add(field, f"{value} is not a valid {enum.DESCRIPTOR.name}")
            return value
        if value == 0:
            if default is None:
                names = ", ".join(name for name in enum.keys()[1:])
                self.add(field, f"is required: one of {names}")
                return value
            return default
        return value

    def timestamp(self, value: Timestamp, field: str) -> int:
        """Returns ``value`` in microseconds since the epoch, after checking its range."""
        seconds, nanos = value.seconds, value.nanos
        if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
            self.add(field, "must lie between the years 1 and 9999")
            return 0
        if not 0 <= nanos <= 999_999_999:
            self.add(field, "nanos must be between 0 and 999,999,999")
            return 0
        return seconds * 1_000_000 + nanos // 1000

    def resource_id(self, value: str, prefix: str, field: str, *, required: bool = True) -> str:
        """Returns ``value`` after checking that it is shaped like an id with ``prefix``."""
        if not value:
            if required:
                self.add(field, "is required")
            return value
        if len(value) > MAX_ID or not _ids.is_well_formed(value, prefix):
            shown = value if len(value) <= MAX_ID else value[:MAX_ID] + "…"
            self.add(
                field,
                f"{shown!r} is not a valid id: ids are {prefix!r} and 26 capital letters and"
                f" digits, such as '{prefix}01JD3M0X8Y9Z0000000000000A'",
            )
        return value

    def language(self, value: str, field: str) -> str:
        """Returns the BCP-47 tag ``value`` in its canonical case, such as "en-US"."""
        canonical = _canonical_language_tag(value)
        if canonical is None:
            value = value.strip()
            self.add(field, f"{value[:MAX_LANGUAGE]!r} is not a BCP-47 language tag such as 'en'")
            return value
        return canonical


@functools.cache
def _enum_numbers(enum: "EnumType[Value]") -> frozenset[int]:
    """The numbers of ``enum``'s values (its descriptor makes a new map at every look)."""
    return frozenset(enum.DESCRIPTOR.values_by_number)


@functools.lru_cache(maxsize=1_024)
def _canonical_language_tag(value: str) -> str | None:
    """``value`` stripped, as a BCP-47 tag in canonical case ("" for none); None when it is
    not one. Remembered: a data set has a handful of languages."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > MAX_LANGUAGE or not _LANGUAGE.match(value):
        return None
    return canonical_language(value)


def _remembered(
    check: Callable[[Part, str, "_Violations"], Draft], size: int, *, suffix: str = ""
) -> Callable[[Part, str, "_Violations"], Draft]:
    """Wraps the check of a part of requests (an inline speaker or source) so that the draft
    of a part that passed is kept by the part's bytes: an import names the same few speakers
    and outlets thousands of times, and checking one costs more than serializing it. Parts
    that fail are not kept, so that their errors name the field where each appears.

    The wrapper takes the path of the part's parent when ``suffix`` is given (".source" for
    a citation's source), and makes the part's own path only when it checks the part."""
    drafts: dict[bytes, Draft] = {}

    def checked(part: Part, field: str, violations: "_Violations") -> Draft:
        key = part.SerializeToString(deterministic=True)
        draft = drafts.get(key)
        if draft is not None:
            return draft
        before = len(violations.items)
        draft = check(part, field + suffix, violations)
        if len(violations.items) == before:
            if len(drafts) >= size:
                drafts.clear()
            drafts[key] = draft
        return draft

    return checked


def canonical_language(tag: str) -> str:
    """Returns the BCP-47 ``tag`` in canonical case: "EN-us" becomes "en-US"."""
    subtags = tag.split("-")
    canonical = [subtags[0].lower()]
    for subtag in subtags[1:]:
        if len(subtag) == 4 and subtag.isalpha():
            canonical.append(subtag.title())
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            canonical.append(subtag.upper())
        else:
            canonical.append(subtag.lower())
    return "-".join(canonical)


def _unique_folded(values: Iterable[str], also_skip: Iterable[str] = ()) -> tuple[str, ...]:
    """Returns ``values`` in order, dropping those equal, once folded, to an earlier one."""
    seen = {fold(value) for value in also_skip}
    kept = []
    for value in values:
        key = fold(value)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return tuple(kept)


# Speakers


def _speaker_draft(speaker: speaker_pb2.Speaker, field: str, check: _Violations) -> SpeakerDraft:
    display_name = check.text(
        speaker.display_name, f"{field}.display_name", max_length=MAX_NAME, required=True
    )
    if display_name and not fold(display_name):
        check.add(f"{field}.display_name", "must contain a letter or a digit")
    if len(speaker.aliases) > MAX_ALIASES:
        check.add(f"{field}.aliases", f"must hold at most {MAX_ALIASES} aliases")
    aliases = []
    for index, alias in enumerate(speaker.aliases[:MAX_ALIASES]):
        cleaned = check.text(alias, f"{field}.aliases[{index}]", max_length=MAX_NAME, required=True)
        if cleaned and not fold(cleaned):
            check.add(f"{field}.aliases[{index}]", "must contain a letter or a digit")
        aliases.append(cleaned)
    wikidata_id = speaker.wikidata_id.strip()
    if wikidata_id and not _WIKIDATA.match(wikidata_id):
        check.add(f"{field}.wikidata_id", "must be 'Q' followed by digits, such as 'Q3874799'")
    return SpeakerDraft(
        display_name=display_name,
        kind=check.enum(
            speaker.kind,
            speaker_pb2.SpeakerKind,
            f"{field}.kind",
            default=speaker_pb2.SPEAKER_KIND_PERSON,
        ),
        title=check.text(speaker.title, f"{field}.title", max_length=MAX_NAME),
        affiliation=check.text(speaker.affiliation, f"{field}.affiliation", max_length=MAX_NAME),
        aliases=_unique_folded(aliases, also_skip=(display_name,)),
        wikidata_id=wikidata_id,
    )


def speaker_draft(request: claim_service_pb2.CreateSpeakerRequest) -> SpeakerDraft:
    """Checks a CreateSpeakerRequest; returns the speaker to create."""
    check = _Violations()
    if not request.HasField("speaker"):
        check.add("speaker", "is required")
        check.raise_if_any()
    draft = _speaker_draft(request.speaker, "speaker", check)
    check.raise_if_any()
    return draft


# Sources


def _url(value: str, field: str, check: _Violations) -> str:
    url = value.strip()
    if url:
        problem = _url_problem(url)
        if problem:
            check.add(field, problem)
        else:
            url = canonical_url(url)
    return url


@functools.lru_cache(maxsize=4_096)
def _url_problem(url: str) -> str:
    """What is wrong with ``url`` ("" for nothing); remembered, as sources recur."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL:,} characters, not {len(url):,}"
    if _CONTROL.search(url) or " " in url:
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        return "must be an absolute http or https URL, such as 'https://example.com/a'"
    return ""


def _source_draft(source: source_pb2.Source, field: str, check: _Violations) -> SourceDraft:
    return SourceDraft(
        url=_url(source.url, f"{field}.url", check),
        publisher=check.text(source.publisher, f"{field}.publisher", max_length=MAX_NAME),
        title=check.text(source.title, f"{field}.title", max_length=MAX_SOURCE_TITLE),
        kind=check.enum(
            source.kind,
            source_pb2.SourceKind,
            f"{field}.kind",
            default=source_pb2.SOURCE_KIND_OTHER,
        ),
        published_at_us=(
            check.timestamp(source.published_at, f"{field}.published_at")
            if source.HasField("published_at")
            else None
        ),
    )


def _says_nothing(source: source_pb2.Source) -> bool:
    """Whether ``source`` has neither a url nor a title nor a publisher, which every source
    needs: they say what it is, and an inline source is matched by them."""
    return not (source.url.strip() or source.title.strip() or source.publisher.strip())


def _inline_source_draft(source: source_pb2.Source, field: str, check: _Violations) -> SourceDraft:
    if _says_nothing(source):
        check.add(field, "give a url, a title or a publisher: an inline source is matched by them")
    return _source_draft(source, field, check)


_checked_inline_source = _remembered(_inline_source_draft, size=4_096, suffix=".source")
_checked_speaker = _remembered(_speaker_draft, size=4_096)


def source_draft(request: claim_service_pb2.CreateSourceRequest) -> SourceDraft:
    """Checks a CreateSourceRequest; returns the source to create."""
    check = _Violations()
    if not request.HasField("source"):
        check.add("source", "is required")
        check.raise_if_any()
    source = request.source
    if _says_nothing(source):
        check.add("source", "give a url, a title or a publisher: without them it says nothing")
    draft = _source_draft(source, "source", check)
    check.raise_if_any()
    return draft


# Claims


def _start_of_period(micros: int, precision: int) -> int:
    """Returns the first instant of the year, month or day holding ``micros`` (UTC)."""
    if precision == claim_pb2.DATE_PRECISION_EXACT:
        return micros
    day_us = _SECONDS_PER_DAY * 1_000_000
    start_of_day = micros - micros % day_us
    if precision == claim_pb2.DATE_PRECISION_DAY:
        return start_of_day
    return _start_of_month_or_year(start_of_day, precision)


@functools.lru_cache(maxsize=4_096)
def _start_of_month_or_year(start_of_day: int, precision: int) -> int:
    """The first instant of the month or year (by ``precision``) of the day starting at
    ``start_of_day``; remembered, as claims of the same days recur."""
    stamp = Timestamp()
    stamp.FromMicroseconds(start_of_day)
    moment = stamp.ToDatetime()
    moment = moment.replace(day=1)
    if precision == claim_pb2.DATE_PRECISION_YEAR:
        moment = moment.replace(month=1)
    stamp.FromDatetime(moment)
    return stamp.ToMicroseconds()


def _citation_draft(citation: claim_pb2.Citation, field: str, check: _Violations) -> CitationDraft:
    has_source = citation.HasField("source")
    if citation.source_id and has_source:
        check.add(field, "give source_id or source, not both")
    elif not citation.source_id and not has_source:
        check.add(f"{field}.source_id", "is required when source is not given")
    source_id = citation.source_id
    if source_id:
        check.resource_id(source_id, _ids.SOURCE_PREFIX, f"{field}.source_id")
    # The paths of the fields are made only for the checks that need them: an import
    # checks hundreds of thousands of citations, nearly all of them fine.
    role: int = citation.role
    if role not in _CITATION_ROLES:
        role = check.enum(
            role, claim_pb2.CitationRole, f"{field}.role", default=claim_pb2.CITATION_ROLE_REPORT
        )
    excerpt = citation.excerpt
    if excerpt:
        excerpt = check.text(excerpt, f"{field}.excerpt", max_length=MAX_EXCERPT, lines=True)
    return CitationDraft(
        role,
        excerpt,
        "" if has_source else source_id,
        _checked_inline_source(citation.source, field, check) if has_source else None,
    )


_CITATION_ROLES: Final = frozenset(claim_pb2.CitationRole.values()) - {
    claim_pb2.CITATION_ROLE_UNSPECIFIED
}
"""The roles a citation may name itself (UNSPECIFIED takes the default)."""


def _topics(values: Iterable[str], field: str, check: _Violations) -> tuple[str, ...]:
    values = tuple(values)
    clean = _clean_topics(values)
    if clean is not None:
        return clean[0]
    return _checked_topics(values, field, check)


def _checked_topics(values: tuple[str, ...], field: str, check: _Violations) -> tuple[str, ...]:
    """Checks every topic of ``values``, naming each one at fault; returns them cleaned."""
    if len(values) > MAX_TOPICS:
        check.add(field, f"must hold at most {MAX_TOPICS} topics, not {len(values)}")
        return ()
    topics = []
    for index, topic in enumerate(values):
        cleaned = check.text(topic, f"{field}[{index}]", max_length=MAX_TOPIC, required=True)
        if cleaned and not fold(cleaned):
            check.add(f"{field}[{index}]", "must contain a letter or a digit")
        topics.append(cleaned)
    return _unique_folded(topics)


def _clean_topics(values: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The topics ``values`` checked, when each is fine as it is (see :func:`_clean_topic`),
    without the ones equal, once folded, to an earlier one, and the same topics folded;
    None when one is not, for :func:`_topics` to name it."""
    if len(values) > MAX_TOPICS:
        return None
    folded = []
    for topic in values:
        key = _clean_topic(topic)
        if key is None:
            return None
        folded.append(key)
    if len(set(folded)) == len(folded):
        return values, tuple(folded)
    first: dict[str, str] = {}  # folded -> the first topic folding to it, in order
    for topic, key in zip(values, folded, strict=True):
        first.setdefault(key, topic)
    return tuple(first.values()), tuple(first)


@functools.lru_cache(maxsize=16_384)
def _clean_topic(topic: str) -> str | None:
    """``topic`` folded when it is fine as it is: stripped, short enough, printable and with
    a letter or a digit; None when it is not. Remembered, as the same topics recur from
    claim to claim (their combinations far less)."""
    if topic and len(topic) <= MAX_TOPIC and topic.isprintable() and topic.strip() == topic:
        return fold(topic) or None
    return None


def _fingerprint(claim: claim_pb2.Claim) -> str:
    """Identifies the content of a claim to create, output-only fields left out."""
    content = claim
    # Clients rarely send output-only fields: copy the claim only to clear some.
    if (
        claim.id
        or claim.etag
        or claim.revision
        or claim.HasField("create_time")
        or claim.HasField("update_time")
        or claim.HasField("delete_time")
        or claim.HasField("deletion")
    ):
        content = claim_pb2.Claim()
        content.CopyFrom(claim)
        for output_only in CLAIM_OUTPUT_ONLY_PATHS:
            content.ClearField(output_only)
    return hashlib.sha256(content.SerializeToString(deterministic=True)).hexdigest()


def claim_draft(request: claim_service_pb2.CreateClaimRequest) -> ClaimDraft:
    """Checks a CreateClaimRequest; returns the claim to create."""
    draft = _clean_claim_draft(request)
    if draft is not None:
        return draft
    return _checked_claim_draft(request)


def _clean_text(value: str, max_length: int) -> bool:
    """Whether ``value`` passes a text check as it is: stripped, printable (so without
    control characters or line breaks) and at most ``max_length`` characters long."""
    return len(value) <= max_length and value.isprintable() and value.strip() == value


def _clean_claim_draft(request: claim_service_pb2.CreateClaimRequest) -> ClaimDraft | None:
    """The draft :func:`_checked_claim_draft` makes of ``request``, when every field of it
    is in the form nearly every request gives it (no white space to strip, no default to
    fill in but the usual ones, no part seen before with a problem); None otherwise, and
    the full check then cleans the request or names what is wrong with it.

    The same rules, decided in a call or two a field: the full check makes the path of
    every field and a call for every rule, about a tenth of the time it takes. A test holds
    the two to the same drafts over thousands of odd requests.
    """
    if not request.HasField("claim"):
        return None
    claim = request.claim
    request_id = request.request_id
    if request_id and (len(request_id) > MAX_REQUEST_ID or not _REQUEST_ID.match(request_id)):
        return None
    text = claim.text
    attribution: int = claim.attribution
    precision: int = claim.stated_at_precision or claim_pb2.DATE_PRECISION_EXACT
    channel = claim.channel
    if not (
        text
        and _clean_text(text, MAX_TEXT)
        and attribution in _ATTRIBUTIONS
        and precision in _PRECISIONS
        and (not channel or _clean_text(channel, MAX_CHANNEL))
        and claim.HasField("stated_at")
        and len(claim.citations) <= MAX_CITATIONS
    ):
        return None
    stated_at = claim.stated_at
    seconds, nanos = stated_at.seconds, stated_at.nanos
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos <= 999_999_999):
        return None
    language = _canonical_language_tag(claim.language)
    clean_topics = _clean_topics(tuple(claim.topics))
    if language is None or clean_topics is None:
        return None
    topics, folded_topics = clean_topics
    folded_text = fold_text(text)
    if not folded_text:
        return None
    speaker_id = claim.speaker_id
    speaker = None
    if claim.HasField("speaker"):
        if speaker_id:
            return None
        speaker = _clean_part(_checked_speaker, claim.speaker, "claim.speaker")
        if speaker is None:
            return None
    elif not (speaker_id and _well_formed_id(speaker_id, _ids.SPEAKER_PREFIX)):
        return None
    citations = []
    for citation in claim.citations:
        source_id = citation.source_id
        role: int = citation.role or claim_pb2.CITATION_ROLE_REPORT
        excerpt = citation.excerpt
        if role not in _CITATION_ROLES or (excerpt and not _clean_text(excerpt, MAX_EXCERPT)):
            return None
        if citation.HasField("source"):
            source = _clean_part(_checked_inline_source, citation.source, "citation")
            if source_id or source is None:
                return None
            citations.append(CitationDraft(role, excerpt, "", source))
        elif source_id and _well_formed_id(source_id, _ids.SOURCE_PREFIX):
            citations.append(CitationDraft(role, excerpt, source_id, None))
        else:
            return None
    return ClaimDraft(
        text,
        attribution,
        _start_of_period(seconds * 1_000_000 + nanos // 1000, precision),
        precision,
        folded_text,
        folded_topics,
        speaker_id,
        speaker,
        channel,
        language,
        topics,
        tuple(citations),
        request_id,
        _fingerprint(claim) if request_id else "",
    )


def _clean_part(
    checked: Callable[[Part, str, _Violations], Draft], part: Part, field: str
) -> Draft | None:
    """The draft a remembered check makes of ``part``, or None when the part has a problem."""
    violations = _Violations()
    draft = checked(part, field, violations)
    return None if violations.items else draft


def _well_formed_id(value: str, prefix: str) -> bool:
    return len(value) <= MAX_ID and _ids.is_well_formed(value, prefix)


_ATTRIBUTIONS: Final = frozenset(claim_pb2.Attribution.values()) - {0}
_PRECISIONS: Final = frozenset(claim_pb2.DatePrecision.values()) - {0}


def _checked_claim_draft(request: claim_service_pb2.CreateClaimRequest) -> ClaimDraft:
    """Checks every rule on every field of ``request``, naming each one at fault (all of
    them in one ValidationError); returns the claim to create."""
    check = _Violations()
    if not request.HasField("claim"):
        check.add("claim", "is required")
        check.raise_if_any()
    claim = request.claim
    request_id = request.request_id
    if request_id and (len(request_id) > MAX_REQUEST_ID or not _REQUEST_ID.match(request_id)):
        check.add(
            "request_id",
            f"must be 1 to {MAX_REQUEST_ID} letters, digits or '._:-', such as a UUID",
        )
    has_speaker = claim.HasField("speaker")
    if claim.speaker_id and has_speaker:
        check.add("claim.speaker", "give claim.speaker_id or claim.speaker, not both")
    elif not claim.speaker_id and not has_speaker:
        check.add("claim.speaker_id", "is required when claim.speaker is not given")
    speaker_id = check.resource_id(
        claim.speaker_id, _ids.SPEAKER_PREFIX, "claim.speaker_id", required=False
    )
    precision = check.enum(
        claim.stated_at_precision,
        claim_pb2.DatePrecision,
        "claim.stated_at_precision",
        default=claim_pb2.DATE_PRECISION_EXACT,
    )
    stated_at_us = 0
    if not claim.HasField("stated_at"):
        check.add("claim.stated_at", "is required")
    else:
        stated_at_us = check.timestamp(claim.stated_at, "claim.stated_at")
    if len(claim.citations) > MAX_CITATIONS:
        check.add("claim.citations", f"must hold at most {MAX_CITATIONS} citations")
    # Each field in the order of the message, so that violations come in that order too.
    text_problems = len(check.items)
    text = check.text(claim.text, "claim.text", max_length=MAX_TEXT, required=True, lines=True)
    folded_text = fold_text(text)
    if text and not folded_text and len(check.items) == text_problems:
        # Claims are told apart by their text folded: without a letter or a digit, all of
        # them would be one claim ("!!!", "?", an invisible mark).
        check.add("claim.text", "must contain a letter or a digit")
    attribution = check.enum(
        claim.attribution, claim_pb2.Attribution, "claim.attribution", default=None
    )
    stated_at_us = _start_of_period(stated_at_us, precision) if not check.items else 0
    speaker = _checked_speaker(claim.speaker, "claim.speaker", check) if has_speaker else None
    channel = check.text(claim.channel, "claim.channel", max_length=MAX_CHANNEL)
    language = check.language(claim.language, "claim.language")
    topics = _topics(claim.topics, "claim.topics", check)
    citations = tuple(
        _citation_draft(citation, f"claim.citations[{index}]", check)
        for index, citation in enumerate(claim.citations[:MAX_CITATIONS])
    )
    draft = ClaimDraft(
        text=text,
        attribution=attribution,
        stated_at_us=stated_at_us,
        stated_at_precision=precision,
        folded_text=folded_text,
        folded_topics=tuple(fold(topic) for topic in topics),
        speaker_id=speaker_id if not has_speaker else "",
        speaker=speaker,
        channel=channel,
        language=language,
        topics=topics,
        citations=citations,
        request_id=request_id,
        fingerprint=_fingerprint(claim) if request_id else "",
    )
    check.raise_if_any()
    return draft


MAX_IMPORT_BATCH: Final = 1_000


def import_batch(batch: claim_service_pb2.ImportClaimsRequest) -> None:
    """Checks the size of one ImportClaims batch (its claims are checked one by one)."""
    count = len(batch.claims)
    if count > MAX_IMPORT_BATCH:
        raise ValidationError(
            [
                FieldViolation(
                    "claims", f"must hold at most {MAX_IMPORT_BATCH:,} claims, not {count:,}"
                )
            ]
        )


def resource_id(value: str, prefix: str, field: str = "id") -> str:
    """Checks a request's id field; returns the id."""
    check = _Violations()
    checked = check.resource_id(value, prefix, field)
    check.raise_if_any()
    return checked


# Queries


def claim_query(
    claim_filter: claim_filter_pb2.ClaimFilter,
    field: str = "filter",
    *,
    show_deleted: bool = False,
) -> ClaimQuery:
    """Checks a ClaimFilter; returns its normalized form, deleted claims left out unless
    ``show_deleted``.

    Remembered by the filter's bytes: the same filters come again and again (pages of one
    listing, a dashboard's queries), and checking one costs more than serializing it.
    """
    return _claim_query(claim_filter.SerializeToString(deterministic=True), field, show_deleted)


@functools.lru_cache(maxsize=1_024)
def _claim_query(filter_bytes: bytes, field: str, show_deleted: bool) -> ClaimQuery:
    claim_filter = claim_filter_pb2.ClaimFilter.FromString(filter_bytes)
    check = _Violations()
    if len(claim_filter.speaker_ids) > MAX_FILTER_IDS:
        check.add(f"{field}.speaker_ids", f"must hold at most {MAX_FILTER_IDS} ids")
    speaker_ids = tuple(
        dict.fromkeys(
            check.resource_id(value, _ids.SPEAKER_PREFIX, f"{field}.speaker_ids[{index}]")
            for index, value in enumerate(claim_filter.speaker_ids[:MAX_FILTER_IDS])
        )
    )
    speaker = check.text(claim_filter.speaker, f"{field}.speaker", max_length=MAX_NAME)
    speaker_words = words(speaker)
    if speaker and not speaker_words:
        check.add(f"{field}.speaker", "must contain a letter or a digit")
    topics = tuple(fold(topic) for topic in _topics(claim_filter.topics, f"{field}.topics", check))
    publisher = check.text(claim_filter.publisher, f"{field}.publisher", max_length=MAX_NAME)
    if publisher and not fold(publisher):
        check.add(f"{field}.publisher", "must contain a letter or a digit")
    attributions = []
    for index, value in enumerate(claim_filter.attributions):
        attribution = check.enum(
            value, claim_pb2.Attribution, f"{field}.attributions[{index}]", default=None
        )
        attributions.append(attribution)
    since = (
        check.timestamp(claim_filter.stated_since, f"{field}.stated_since")
        if claim_filter.HasField("stated_since")
        else None
    )
    before = (
        check.timestamp(claim_filter.stated_before, f"{field}.stated_before")
        if claim_filter.HasField("stated_before")
        else None
    )
    if since is not None and before is not None and before <= since:
        check.add(f"{field}.stated_before", f"must be later than {field}.stated_since")
    query = ClaimQuery(
        speaker_ids=speaker_ids,
        speaker_words=speaker_words,
        topics=topics,
        publisher=fold(publisher),
        source_id=check.resource_id(
            claim_filter.source_id, _ids.SOURCE_PREFIX, f"{field}.source_id", required=False
        ),
        attributions=tuple(sorted(set(attributions))),
        stated_since_us=since,
        stated_before_us=before,
        language=check.language(claim_filter.language, f"{field}.language"),
        show_deleted=show_deleted,
    )
    check.raise_if_any()
    return query


def name_prefix(value: str, field: str = "name_prefix") -> str:
    """Checks a speaker name prefix; returns it folded ("" for none)."""
    check = _Violations()
    cleaned = check.text(value, field, max_length=MAX_NAME)
    if cleaned and not fold(cleaned):
        check.add(field, "must contain a letter or a digit")
    check.raise_if_any()
    return fold(cleaned)


def full_view(view: int, *, default_full: bool, field: str = "view") -> bool:
    """Checks a ClaimView; returns whether it asks for the full view."""
    if view == claim_service_pb2.CLAIM_VIEW_UNSPECIFIED:
        return default_full
    if view not in claim_service_pb2.ClaimView.DESCRIPTOR.values_by_number:
        raise ValidationError([FieldViolation(field, f"{view} is not a valid ClaimView")])
    return view == claim_service_pb2.CLAIM_VIEW_FULL


MAX_SNIPPET_MARKER: Final = 16


def snippet_markers(start: str, end: str) -> tuple[str, str]:
    """Checks the snippet markers of a search; returns them, "[" and "]" by default."""
    check = _Violations()
    markers = []
    for value, field, default in ((start, "snippet_start", "["), (end, "snippet_end", "]")):
        if len(value) > MAX_SNIPPET_MARKER:
            check.add(field, f"must be at most {MAX_SNIPPET_MARKER} characters")
        elif _CONTROL.search(value):
            check.add(field, "must not contain control characters")
        markers.append(value or default)
    check.raise_if_any()
    return markers[0], markers[1]


def claim_order(order_by: str, field: str = "order_by") -> ClaimOrder:
    """Checks an order_by string; returns the order it names."""
    normalized = " ".join(order_by.lower().split())
    if normalized in ("", "stated_at desc"):
        return ClaimOrder(descending=True)
    if normalized in ("stated_at", "stated_at asc"):
        return ClaimOrder(descending=False)
    raise ValidationError(
        [FieldViolation(field, "must be 'stated_at desc' (the default) or 'stated_at asc'")]
    )


# Changes to claims

MAX_REASON: Final = 1_000
MAX_ACTOR: Final = 200
ACTOR_METADATA_KEY: Final = "claimstore-actor"


def actor(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """Returns who makes a change, from the request's ``claimstore-actor`` metadata ("" when
    not given), after checking it is at most 200 printable characters."""
    given = [value for key, value in metadata or () if key == ACTOR_METADATA_KEY]
    if not given:
        return ""
    field = f"metadata {ACTOR_METADATA_KEY}"
    check = _Violations()
    if len(given) > 1:
        check.add(field, "must be given once")
    value = given[0] if isinstance(given[0], str) else given[0].decode("utf-8", "replace")
    value = check.text(value, field, max_length=MAX_ACTOR)
    check.raise_if_any()
    return value


def change_reason(value: str, field: str = "reason") -> str:
    """Checks the reason given for a change; returns it stripped ("" for none)."""
    check = _Violations()
    reason = check.text(value, field, max_length=MAX_REASON, lines=True)
    check.raise_if_any()
    return reason


def revision_number(value: int, field: str = "revision") -> int:
    """Checks a revision number (0: the current one)."""
    if value < 0:
        raise ValidationError([FieldViolation(field, f"must not be negative, not {value}")])
    return value


def citation_draft(citation: claim_pb2.Citation | None, field: str = "citation") -> CitationDraft:
    """Checks one citation given alone (AddCitation); returns it."""
    if citation is None:
        raise ValidationError([FieldViolation(field, "is required")])
    check = _Violations()
    draft = _citation_draft(citation, field, check)
    check.raise_if_any()
    return draft


def cited_claim(
    current: claim_pb2.Claim, citation: claim_pb2.Citation, field: str = "citation"
) -> claim_pb2.Claim:
    """Returns ``current`` with ``citation`` added last, after checking there is room."""
    if len(current.citations) >= MAX_CITATIONS:
        raise ValidationError(
            [FieldViolation(field, f"the claim has {MAX_CITATIONS} citations, the most it may")]
        )
    revised = claim_pb2.Claim()
    revised.CopyFrom(current)
    revised.citations.append(citation)
    return revised


def uncited_claim(current: claim_pb2.Claim, source_id: str, role: int) -> claim_pb2.Claim:
    """Returns ``current`` without its citations of ``source_id`` in ``role`` (0: any role)."""
    revised = claim_pb2.Claim()
    revised.CopyFrom(current)
    del revised.citations[:]
    revised.citations.extend(
        citation
        for citation in current.citations
        if not (citation.source_id == source_id and role in (0, citation.role))
    )
    return revised


def citation_role(value: int, field: str = "role") -> int:
    """Checks a CitationRole that may be left unspecified (0: any role)."""
    check = _Violations()
    role = check.enum(value, claim_pb2.CitationRole, field, default=0)
    check.raise_if_any()
    return role


def deletion_draft(deletion: claim_pb2.Deletion, field: str = "deletion") -> DeletionDraft:
    """Checks why a claim is deleted; returns it."""
    check = _Violations()
    reason = check.enum(deletion.reason, claim_pb2.DeletionReason, f"{field}.reason", default=None)
    note = check.text(deletion.note, f"{field}.note", max_length=MAX_REASON, lines=True)
    if reason == claim_pb2.DELETION_REASON_OTHER and not note and not check.items:
        check.add(f"{field}.note", "is required with DELETION_REASON_OTHER: say why")
    check.raise_if_any()
    return DeletionDraft(reason, note)
