"""Converts between stored rows and ``claimstore.v1`` messages: the one place that does.

Each row of speakers, sources and claims keeps, beside the plain columns that
queries filter on (and that people read), a ``body``: the row's own message in
protobuf wire format, written from the same draft in the same statement. A
claim's body holds its citations (source id, role, excerpt) but neither its
speaker nor its sources, which live in their own rows: reading a claim in the
basic view is one parse, and the full view merges the speaker's and sources'
bodies into it.

Times are integers of microseconds since the Unix epoch, UTC.
"""

from collections.abc import Callable, Mapping, Sequence

from claimstore.v1.claim_pb2 import Citation, Claim
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker
from google.protobuf.timestamp_pb2 import Timestamp

from ._model import ClaimDraft, SourceDraft, SpeakerDraft


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


def claim_body(
    claim_id: str, speaker_id: str, source_ids: Sequence[str], draft: ClaimDraft, now_us: int
) -> bytes:
    """Returns the body of a new claim row; ``source_ids`` are its citations' sources, in order."""
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
        citations=[
            Citation(
                source_id=source_id,
                role=citation.role,  # type: ignore[arg-type]
                excerpt=citation.excerpt,
            )
            for source_id, citation in zip(source_ids, draft.citations, strict=True)
        ],
        create_time=timestamp(now_us),
        update_time=timestamp(now_us),
    ).SerializeToString()


# Reading: bodies to messages


def speaker_from_body(body: bytes, claim_count: int = 0) -> Speaker:
    """Returns the Speaker a speakers row's body holds, with its claim count."""
    speaker = Speaker.FromString(body)
    speaker.claim_count = claim_count
    return speaker


def source_from_body(body: bytes) -> Source:
    """Returns the Source a sources row's body holds."""
    return Source.FromString(body)


NewClaim = Callable[[], Claim]
"""Makes the empty Claim a row is parsed into: ``Claim`` itself, or the ``add`` of a
response's repeated field, so that a page is parsed straight into the response and never
copied there (a copy costs about as much as the parse)."""


def basic_claim(body: bytes, new: NewClaim = Claim) -> Claim:
    """Returns the Claim a claims row's body holds, in the basic view."""
    claim = new()
    claim.MergeFromString(body)
    return claim


def full_claim(
    body: bytes, speaker: bytes, sources: Mapping[str, bytes], new: NewClaim = Claim
) -> Claim:
    """Returns the Claim in the full view: its body, its speaker's body, and its sources'
    bodies by id."""
    claim = basic_claim(body, new)
    claim.speaker.MergeFromString(speaker)
    for citation in claim.citations:
        citation.source.MergeFromString(sources[citation.source_id])
    return claim
