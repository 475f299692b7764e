"""Converts between stored rows and ``claimstore.v1`` messages: the one place that does.

Each row of speakers, sources and claims keeps, beside the plain columns that
queries filter on (and that people read), a ``body``: the row's own message in
protobuf wire format, written from the same draft in the same statement. A
claim's body holds its citations (source id, role, excerpt) but neither its
speaker nor its sources, which live in their own rows: reading a claim in the
basic view is one parse, and the full view merges the speaker's and sources'
bodies into it.

Each write to a claim also records a ``claim_revisions`` row whose body is a
ClaimRevision holding the claim as the write left it. Etags are written into
the bodies too, so reading never computes one.

Times are integers of microseconds since the Unix epoch, UTC.
"""

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from claimstore.v1.claim_pb2 import Citation, Claim, Deletion
from claimstore.v1.claim_revision_pb2 import ClaimRevision
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from . import _wire
from ._model import ClaimDraft, DeletionDraft, SourceDraft, SpeakerDraft

_REVISION_CLAIM_KEY = _wire.length_delimited_tag(
    ClaimRevision.DESCRIPTOR.fields_by_name["claim"].number
)


def timestamp(micros: int) -> Timestamp:
    """Returns the Timestamp for ``micros`` microseconds since the Unix epoch."""
    seconds, remainder = divmod(micros, 1_000_000)
    return Timestamp(seconds=seconds, nanos=remainder * 1000)


def etag(resource_id: str, version: int) -> str:
    """The etag of version ``version`` of a resource: a claim's revision, or the update time
    of a speaker or source. Opaque to clients; equal exactly when id and version are."""
    return hashlib.blake2b(f"{resource_id}@{version}".encode(), digest_size=8).hexdigest()


# Writing: drafts to bodies


def speaker_body(
    speaker_id: str, draft: SpeakerDraft, now_us: int, *, create_time_us: int | None = None
) -> bytes:
    """Returns the body of a speaker row written at ``now_us``: a new speaker, or one changed
    that keeps its ``create_time_us``."""
    return Speaker(
        id=speaker_id,
        display_name=draft.display_name,
        kind=draft.kind,  # type: ignore[arg-type]
        title=draft.title,
        affiliation=draft.affiliation,
        aliases=draft.aliases,
        wikidata_id=draft.wikidata_id,
        create_time=timestamp(now_us if create_time_us is None else create_time_us),
        update_time=timestamp(now_us),
        etag=etag(speaker_id, now_us),
    ).SerializeToString()


def source_body(
    source_id: str, draft: SourceDraft, now_us: int, *, create_time_us: int | None = None
) -> bytes:
    """Returns the body of a source row written at ``now_us``: a new source, or one changed
    that keeps its ``create_time_us``."""
    source = Source(
        id=source_id,
        url=draft.url,
        publisher=draft.publisher,
        title=draft.title,
        kind=draft.kind,  # type: ignore[arg-type]
        create_time=timestamp(now_us if create_time_us is None else create_time_us),
        update_time=timestamp(now_us),
        etag=etag(source_id, now_us),
    )
    if draft.published_at_us is not None:
        source.published_at.CopyFrom(timestamp(draft.published_at_us))
    return source.SerializeToString()


def claim_body(
    claim_id: str,
    speaker_id: str,
    source_ids: Sequence[str],
    draft: ClaimDraft,
    now_us: int,
    *,
    create_time_us: int | None = None,
    revision: int = 1,
) -> bytes:
    """Returns the body of a claim row at ``revision``, written at ``now_us``; ``source_ids``
    are its citations' sources, in order. A new claim was created now; a revised one keeps
    its ``create_time_us``."""
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
        create_time=timestamp(now_us if create_time_us is None else create_time_us),
        update_time=timestamp(now_us),
        etag=etag(claim_id, revision),
        revision=revision,
    ).SerializeToString()


def _key(message: type[Claim] | type[Citation], name: str) -> bytes:
    """The wire key of field ``name`` of ``message``, from its descriptor."""
    field = message.DESCRIPTOR.fields_by_name[name]
    if field.type in (field.TYPE_STRING, field.TYPE_MESSAGE):
        return _wire.length_delimited_tag(field.number)
    return _wire.varint_tag(field.number)


class NewClaimBodies:
    """Makes the bodies of the claims one write creates at ``now_us``: what
    :func:`claim_body` gives for revision 1, byte for byte, written as wire format
    (see ``_wire``), with the times the claims share encoded once."""

    _ID = _key(Claim, "id")
    _TEXT = _key(Claim, "text")
    _ATTRIBUTION = _key(Claim, "attribution")
    _SPEAKER_ID = _key(Claim, "speaker_id")
    _STATED_AT = _key(Claim, "stated_at")
    _PRECISION = _key(Claim, "stated_at_precision")
    _CHANNEL = _key(Claim, "channel")
    _LANGUAGE = _key(Claim, "language")
    _TOPIC = _key(Claim, "topics")
    _CITATION = _key(Claim, "citations")
    _CREATE_TIME = _key(Claim, "create_time")
    _UPDATE_TIME = _key(Claim, "update_time")
    _ETAG = _key(Claim, "etag")
    _FIRST_REVISION = _key(Claim, "revision") + _wire.varint(1)
    _SOURCE_ID = _key(Citation, "source_id")
    _ROLE = _key(Citation, "role")
    _EXCERPT = _key(Citation, "excerpt")

    def __init__(self, now_us: int) -> None:
        self._times = _wire.timestamp(self._CREATE_TIME, now_us) + _wire.timestamp(
            self._UPDATE_TIME, now_us
        )
        # The encoded fields whose values recur from claim to claim, by value: a write's
        # claims name the same speakers, channels, languages, topics and sources.
        self._speakers: dict[str, bytes] = {}
        self._channels: dict[str, bytes] = {}
        self._languages: dict[str, bytes] = {}
        self._topics: dict[str, bytes] = {}
        self._citations: dict[tuple[str, int], bytes] = {}  # without an excerpt

    def body(
        self, claim_id: str, speaker_id: str, source_ids: Sequence[str], draft: ClaimDraft
    ) -> bytes:
        """The body of the new claim ``claim_id`` of ``draft``; ``source_ids`` are its
        citations' sources, in order. Fields holding their default value are left out, as
        protobuf leaves them out (but for the elements of repeated fields)."""
        string = _wire.string
        parts = [string(self._ID, claim_id)]
        if draft.text:
            parts.append(string(self._TEXT, draft.text))
        if draft.attribution:
            parts.append(self._ATTRIBUTION + _wire.varint(draft.attribution))
        if speaker_id:
            parts.append(_recurring(self._speakers, self._SPEAKER_ID, speaker_id))
        parts.append(_wire.timestamp(self._STATED_AT, draft.stated_at_us))
        if draft.stated_at_precision:
            parts.append(self._PRECISION + _wire.varint(draft.stated_at_precision))
        if draft.channel:
            parts.append(_recurring(self._channels, self._CHANNEL, draft.channel))
        if draft.language:
            parts.append(_recurring(self._languages, self._LANGUAGE, draft.language))
        topics = self._topics
        for topic in draft.topics:
            parts.append(_recurring(topics, self._TOPIC, topic))
        for source_id, citation in zip(source_ids, draft.citations, strict=True):
            parts.append(self._citation(source_id, citation.role, citation.excerpt))
        parts += (
            self._times,
            string(self._ETAG, etag(claim_id, 1)),
            self._FIRST_REVISION,
        )
        return b"".join(parts)

    def _citation(self, source_id: str, role: int, excerpt: str) -> bytes:
        """A citations field: its source, role and excerpt, the ones not empty. One without
        an excerpt is encoded once for its source and role."""
        if excerpt:
            return self._encoded_citation(source_id, role, excerpt)
        known = self._citations.get((source_id, role))
        if known is None:
            known = self._citations[source_id, role] = self._encoded_citation(source_id, role, "")
        return known

    def _encoded_citation(self, source_id: str, role: int, excerpt: str) -> bytes:
        payload = _wire.string(self._SOURCE_ID, source_id) if source_id else b""
        if role:
            payload += self._ROLE + _wire.varint(role)
        if excerpt:
            payload += _wire.string(self._EXCERPT, excerpt)
        return _wire.length_delimited(self._CITATION, payload)


def _recurring(encoded: dict[str, bytes], key: bytes, value: str) -> bytes:
    """The string field ``key`` holding ``value``, encoded once and kept in ``encoded``."""
    field = encoded.get(value)
    if field is None:
        field = encoded[value] = _wire.string(key, value)
    return field


def restated_claim_body(
    body: bytes, now_us: int, revision: int, deletion: DeletionDraft | None
) -> bytes:
    """Returns ``body`` at a new revision that deletes the claim for ``deletion`` or, when
    that is None, brings it back."""
    claim = Claim.FromString(body)
    claim.update_time.CopyFrom(timestamp(now_us))
    claim.revision = revision
    claim.etag = etag(claim.id, revision)
    if deletion is None:
        claim.ClearField("delete_time")
        claim.ClearField("deletion")
    else:
        claim.delete_time.CopyFrom(timestamp(now_us))
        claim.deletion.CopyFrom(Deletion(reason=deletion.reason, note=deletion.note))  # type: ignore[arg-type]
    return claim.SerializeToString()


def revision_head(
    *,
    revision: int,
    change_type: int,
    change_time_us: int,
    actor: str = "",
    reason: str = "",
    changed_fields: Iterable[str] = (),
) -> bytes:
    """The fields of a ClaimRevision besides its claim, serialized: what :func:`revision_body`
    puts before the claim. The creations of a batch share one."""
    return ClaimRevision(
        revision=revision,
        change_type=change_type,  # type: ignore[arg-type]
        change_time=timestamp(change_time_us),
        actor=actor,
        reason=reason,
        changed_fields=FieldMask(paths=list(changed_fields)),
    ).SerializeToString()


def revision_body(claim_body: bytes, head: bytes) -> bytes:
    """Returns the body of a ``claim_revisions`` row: a ClaimRevision of ``head`` (see
    :func:`revision_head`) around ``claim_body``.

    The claim is appended as its already serialized bytes: protobuf reads a
    message field from its tag and length wherever it comes, so the claim is
    not parsed again to be wrapped.
    """
    return head + _wire.length_delimited(_REVISION_CLAIM_KEY, claim_body)


# Reading: bodies to messages


def speaker_from_body(body: bytes, claim_count: int = 0) -> Speaker:
    """Returns the Speaker a speakers row's body holds, with its claim count."""
    speaker = Speaker.FromString(body)
    speaker.claim_count = claim_count
    return speaker


def source_from_body(body: bytes) -> Source:
    """Returns the Source a sources row's body holds."""
    return Source.FromString(body)


def revision_from_body(body: bytes) -> ClaimRevision:
    """Returns the ClaimRevision a claim_revisions row's body holds, in the basic view."""
    return ClaimRevision.FromString(body)


NewClaim = Callable[[], Claim]
"""Makes the empty Claim a row is parsed into: ``Claim`` itself, or the ``add`` of a
response's repeated field, so that a page is parsed straight into the response and never
copied there (a copy costs about as much as the parse)."""


def basic_claim(body: bytes, new: NewClaim = Claim) -> Claim:
    """Returns the Claim a claims row's body holds, in the basic view."""
    claim = new()
    claim.MergeFromString(body)
    return claim


def fill_claim(claim: Claim, speaker: bytes, sources: Mapping[str, bytes]) -> Claim:
    """Turns a basic ``claim`` into the full view, in place: merges its speaker's body and its
    sources' bodies by id; returns it."""
    claim.speaker.MergeFromString(speaker)
    for citation in claim.citations:
        citation.source.MergeFromString(sources[citation.source_id])
    return claim
