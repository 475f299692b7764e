"""Converts between stored rows and ``claimstore.v1`` messages: the one place that does.

Each row of speakers, sources, claims and citations keeps, beside the plain
columns that queries filter on, a ``body``: the row's own message in protobuf
wire format. Reading a claim is then a join of bodies, not a dozen message
constructors in Python. Protobuf parses concatenated encodings as one message,
so a claim with its speaker and sources is assembled by appending each nested
body as its field (see :func:`claim_from_bodies`): the speaker body as
``Claim.speaker``, each citation body with its source body as
``Citation.source`` inside ``Claim.citations``.

Times are integers of microseconds since the Unix epoch, UTC.
"""

from collections.abc import Iterable
from typing import Final

from claimstore.v1.claim_pb2 import Citation, Claim
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker
from google.protobuf.timestamp_pb2 import Timestamp

from ._model import CitationDraft, ClaimDraft, SourceDraft, SpeakerDraft

_LENGTH_DELIMITED: Final = 2


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED)


_SPEAKER_TAG: Final = _tag(Claim.DESCRIPTOR.fields_by_name["speaker"].number)
_CITATIONS_TAG: Final = _tag(Claim.DESCRIPTOR.fields_by_name["citations"].number)
_SOURCE_TAG: Final = _tag(Citation.DESCRIPTOR.fields_by_name["source"].number)


def timestamp(micros: int) -> Timestamp:
    """Returns the Timestamp for ``micros`` microseconds since the Unix epoch."""
    seconds, remainder = divmod(micros, 1_000_000)
    return Timestamp(seconds=seconds, nanos=remainder * 1000)


# Writing: drafts to bodies


def speaker_body(speaker_id: str, draft: SpeakerDraft, now_us: int) -> bytes:
    """Returns the body of a new speaker row."""
    return Speaker(
        id=speaker_id,
        display_name=draft.display_name,
        kind=draft.kind,  # type: ignore[arg-type]
        title=draft.title,
        affiliation=draft.affiliation,
        aliases=draft.aliases,
        wikidata_id=draft.wikidata_id,
        create_time=timestamp(now_us),
        update_time=timestamp(now_us),
    ).SerializeToString()


def source_body(source_id: str, draft: SourceDraft, now_us: int) -> bytes:
    """Returns the body of a new source row."""
    source = Source(
        id=source_id,
        url=draft.url,
        publisher=draft.publisher,
        title=draft.title,
        kind=draft.kind,  # type: ignore[arg-type]
        create_time=timestamp(now_us),
        update_time=timestamp(now_us),
    )
    if draft.published_at_us is not None:
        source.published_at.CopyFrom(timestamp(draft.published_at_us))
    return source.SerializeToString()


def claim_body(claim_id: str, speaker_id: str, draft: ClaimDraft, now_us: int) -> bytes:
    """Returns the body of a new claim row: the claim without its speaker and citations."""
    return Claim(
        id=claim_id,
        text=draft.text,
        attribution=draft.attribution,  # type: ignore[arg-type]
        speaker_id=speaker_id,
        stated_at=timestamp(draft.stated_at_us),
        stated_at_precision=draft.stated_at_precision,  # type: ignore[arg-type]
        channel=draft.channel,
        language=draft.language,
        topics=draft.topics,
        create_time=timestamp(now_us),
        update_time=timestamp(now_us),
    ).SerializeToString()


def citation_body(source_id: str, draft: CitationDraft) -> bytes:
    """Returns the body of a citation row: the citation without its source."""
    return Citation(
        source_id=source_id,
        role=draft.role,  # type: ignore[arg-type]
        excerpt=draft.excerpt,
    ).SerializeToString()


# Reading: bodies to messages


def speaker_from_body(body: bytes) -> Speaker:
    """Returns the Speaker a speakers row's body holds."""
    return Speaker.FromString(body)


def source_from_body(body: bytes) -> Source:
    """Returns the Source a sources row's body holds."""
    return Source.FromString(body)


def claim_from_bodies(
    claim: bytes, speaker: bytes, citations: Iterable[tuple[bytes, bytes]]
) -> Claim:
    """Returns the full Claim from its body, its speaker's, and (citation, source) body pairs
    in citation order."""
    parts = [claim, _SPEAKER_TAG, _varint(len(speaker)), speaker]
    for citation, source in citations:
        source_length = _varint(len(source))
        citation_length = len(citation) + len(_SOURCE_TAG) + len(source_length) + len(source)
        parts += (_CITATIONS_TAG, _varint(citation_length), citation, _SOURCE_TAG)
        parts += (source_length, source)
    return Claim.FromString(b"".join(parts))
