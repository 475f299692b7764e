"""How the CLI shows results: aligned tables for people, JSON Lines for scripts."""

import json
import shutil
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TextIO, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from .._values import enum_name
from ..v1 import claim_pb2, claim_revision_pb2, claim_service_pb2, source_pb2, speaker_pb2

_MIN_WIDE_COLUMN = 20

M = TypeVar("M", bound=Message)


def to_json(message: Message) -> str:
    """Returns ``message`` as one line of JSON in the protobuf JSON mapping, proto field names."""
    as_dict = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return json.dumps(as_dict, ensure_ascii=False, separators=(",", ":"))


def write_json_lines(messages: Iterable[Message], out: TextIO) -> int:
    """Writes one JSON line per message; returns how many."""
    count = 0
    for message in messages:
        out.write(to_json(message) + "\n")
        count += 1
    return count


def format_time(stamp: Timestamp, precision: int = claim_pb2.DATE_PRECISION_EXACT) -> str:
    """Returns ``stamp`` as ISO 8601 (UTC), shortened to the precision that is known."""
    moment = stamp.ToDatetime()
    # The year in four digits: strftime's %Y writes the year 1 as "1".
    year = f"{moment.year:04d}"
    if precision == claim_pb2.DATE_PRECISION_YEAR:
        return year
    if precision == claim_pb2.DATE_PRECISION_MONTH:
        return f"{year}-{moment:%m}"
    if precision == claim_pb2.DATE_PRECISION_DAY:
        return f"{year}-{moment:%m-%d}"
    return f"{year}-{moment:%m-%dT%H:%M:%SZ}"


def write_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO, *, wide: int
) -> None:
    """Writes an aligned table; on a terminal, column ``wide`` is cut to fit its width and
    the matches a search marked (:data:`MATCH_START`, :data:`MATCH_END`) show in bold."""
    cells = [[" ".join(cell.split()) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, _seen(cell)) for width, cell in zip(widths, row, strict=True)]
    terminal = out.isatty()
    if terminal:
        columns = shutil.get_terminal_size().columns
        others = sum(width + 2 for index, width in enumerate(widths) if index != wide)
        widths[wide] = max(_MIN_WIDE_COLUMN, min(widths[wide], columns - others))

    def line(values: Sequence[str]) -> str:
        parts = []
        for index, (value, width) in enumerate(zip(values, widths, strict=True)):
            value = _cut(value, width)
            if index < len(values) - 1:
                value += " " * (width - _seen(value))
            parts.append(value)
        text = "  ".join(parts).rstrip()
        return text.translate(_BOLD_MATCHES) if terminal else text

    out.write(line(headers) + "\n")
    for row in cells:
        out.write(line(row) + "\n")


MATCH_START = "\ue000"
MATCH_END = "\ue001"
"""What the CLI asks a search to put around the matching words of a snippet it shows on a
terminal: two private-use characters, which the table counts as no width while it lays out its
columns, then shows as bold on and off. (The server takes no control characters as markers.)"""

_BOLD_MATCHES = str.maketrans({MATCH_START: "\x1b[1m", MATCH_END: "\x1b[22m"})


_EMOJI_PRESENTATION = "\ufe0f"


def _char_width(character: str) -> int:
    """The columns a terminal gives ``character``: two for a wide one (CJK, most emoji), none
    for a combining mark, a format character such as a zero-width joiner, or a match marker."""
    if character in (MATCH_START, MATCH_END):
        return 0
    if character == _EMOJI_PRESENTATION:
        return 1  # it widens the symbol before it (❤ to ❤️) to two columns
    if unicodedata.category(character) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


def _seen(value: str) -> int:
    """How many columns of a terminal ``value`` takes; the match markers take none."""
    if value.isascii():
        return len(value)
    return sum(_char_width(character) for character in value)


def _cut(value: str, width: int) -> str:
    """``value`` cut to ``width`` columns seen, the last of them "…"; a match cut open is
    closed, so that bold never runs on past its cell."""
    if _seen(value) <= width:
        return value
    kept = []
    seen = 0
    for character in value:
        columns = _char_width(character)
        if seen + columns > width - 1:
            break
        seen += columns
        kept.append(character)
    cut = "".join(kept)
    if cut.count(MATCH_START) > cut.count(MATCH_END):
        cut += MATCH_END
    return cut + "…"


def claim_rows(claims: Iterable[claim_pb2.Claim]) -> list[list[str]]:
    """Returns the table rows of ``claims``: date, speaker, attribution, text, id."""
    return [
        [
            format_time(claim.stated_at, claim.stated_at_precision),
            claim.speaker.display_name,
            enum_name(claim_pb2.Attribution, claim.attribution),
            claim.text,
            claim.id,
        ]
        for claim in claims
    ]


def speaker_rows(speakers: Iterable[speaker_pb2.Speaker]) -> list[list[str]]:
    """Returns the table rows of ``speakers``: name, claims, kind, title, affiliation, id."""
    return [
        [
            speaker.display_name,
            f"{speaker.claim_count:,}",
            enum_name(speaker_pb2.SpeakerKind, speaker.kind),
            speaker.title,
            speaker.affiliation,
            speaker.id,
        ]
        for speaker in speakers
    ]


def source_rows(sources: Iterable[source_pb2.Source]) -> list[list[str]]:
    """Returns the table rows of ``sources``: publisher, title, kind, published, url, id."""
    return [
        [
            source.publisher,
            source.title,
            enum_name(source_pb2.SourceKind, source.kind),
            format_time(source.published_at, claim_pb2.DATE_PRECISION_DAY)
            if source.HasField("published_at")
            else "",
            source.url,
            source.id,
        ]
        for source in sources
    ]


def search_rows(results: Iterable[claim_service_pb2.SearchResult]) -> list[list[str]]:
    """Returns the table rows of search results: date, speaker, snippet, score, id."""
    return [
        [
            format_time(result.claim.stated_at, result.claim.stated_at_precision),
            result.claim.speaker.display_name,
            result.snippet,
            format_score(result.score),
            result.claim.id,
        ]
        for result in results
    ]


def format_score(score: float) -> str:
    """A search score for reading: two decimals, or two figures when that would show 0.00
    (bm25 gives a word found in nearly every claim almost no weight)."""
    if score == 0 or abs(score) >= 0.005:
        return f"{score:.2f}"
    return f"{score:.1e}"


def change_name(revision: claim_revision_pb2.ClaimRevision) -> str:
    """Returns what a revision did, such as "updated" or "deleted (retracted)"."""
    change = enum_name(claim_revision_pb2.ChangeType, revision.change_type)
    if revision.change_type == claim_revision_pb2.CHANGE_TYPE_DELETED:
        change += f" ({enum_name(claim_pb2.DeletionReason, revision.claim.deletion.reason)})"
    return change


def revision_rows(revisions: Iterable[claim_revision_pb2.ClaimRevision]) -> list[list[str]]:
    """Returns the table rows of revisions: revision, time, change, actor, fields, reason."""
    return [
        [
            str(revision.revision),
            format_time(revision.change_time),
            change_name(revision),
            revision.actor,
            ",".join(revision.changed_fields.paths),
            revision.reason,
        ]
        for revision in revisions
    ]


def event_line(event: claim_service_pb2.ClaimEvent) -> str:
    """Returns one line for a change to a claim: time, change, claim id, revision, actor,
    the fields changed, and the claim's speaker and text."""
    revision = event.revision
    claim = revision.claim
    parts = [
        format_time(revision.change_time),
        change_name(revision),
        claim.id,
        f"rev {revision.revision}",
    ]
    if revision.actor:
        parts.append(f"by {revision.actor}")
    if revision.changed_fields.paths:
        parts.append("[" + ",".join(revision.changed_fields.paths) + "]")
    if claim.speaker.display_name:
        parts.append(f"{claim.speaker.display_name}:")
    parts.append(claim.text)
    return " ".join(" ".join(parts).split())


@dataclass(frozen=True, slots=True)
class Table(Generic[M]):
    """How a listing shows as a table: its headers, its rows, and the column cut to fit."""

    headers: tuple[str, ...]
    rows: Callable[[Iterable[M]], list[list[str]]]
    wide: int


CLAIMS = Table(("STATED", "SPEAKER", "ATTRIBUTION", "TEXT", "ID"), claim_rows, wide=3)
SEARCH_RESULTS = Table(("STATED", "SPEAKER", "MATCH", "SCORE", "ID"), search_rows, wide=2)
SPEAKERS = Table(("NAME", "CLAIMS", "KIND", "TITLE", "AFFILIATION", "ID"), speaker_rows, wide=3)
SOURCES = Table(("PUBLISHER", "TITLE", "KIND", "PUBLISHED", "URL", "ID"), source_rows, wide=1)
REVISIONS = Table(("REV", "TIME", "CHANGE", "ACTOR", "CHANGED", "REASON"), revision_rows, wide=5)


def write_listing(items: Iterable[M], table: Table[M], out: TextIO, *, as_json: bool) -> None:
    """Writes ``items`` as JSON Lines for scripts, or as ``table`` for people."""
    if as_json:
        write_json_lines(items, out)
    else:
        write_table(table.headers, table.rows(items), out, wide=table.wide)


def _deletion(claim: claim_pb2.Claim) -> str:
    """Returns when and why the claim was deleted, or "" while it is not."""
    if not claim.HasField("delete_time"):
        return ""
    reason = enum_name(claim_pb2.DeletionReason, claim.deletion.reason)
    note = f": {claim.deletion.note}" if claim.deletion.note else ""
    return f"{format_time(claim.delete_time)} ({reason}{note})"


def write_claim(claim: claim_pb2.Claim, out: TextIO) -> None:
    """Writes one claim in full, field by field, for people."""
    speaker = claim.speaker
    who = speaker.display_name
    if speaker.title:
        who += f", {speaker.title}"
    if speaker.affiliation:
        who += f" ({speaker.affiliation})"
    fields = [
        ("id", claim.id),
        ("text", claim.text),
        ("speaker", f"{who}  [{claim.speaker_id}]"),
        ("attribution", enum_name(claim_pb2.Attribution, claim.attribution)),
        ("stated", format_time(claim.stated_at, claim.stated_at_precision)),
        ("channel", claim.channel),
        ("language", claim.language),
        ("topics", ", ".join(claim.topics)),
        ("revision", str(claim.revision) if claim.revision else ""),
        ("deleted", _deletion(claim)),
    ]
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        if value:
            out.write(f"{name.ljust(width)}  {value}\n")
    for citation in claim.citations:
        source = citation.source
        role = enum_name(claim_pb2.CitationRole, citation.role)
        described = ", ".join(
            part
            for part in (
                source.publisher,
                source.title,
                enum_name(source_pb2.SourceKind, source.kind),
                source.url,
            )
            if part
        )
        out.write(f"{'cited'.ljust(width)}  {role}: {described}  [{source.id}]\n")
        if citation.excerpt:
            out.write(f"{''.ljust(width)}    “{citation.excerpt}”\n")
