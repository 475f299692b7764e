"""What an Update call changes (AIP-134): the fields its update_mask names, and the resource
as the call asks for it, which is then checked as a whole, as a create would be.

A mask names fields of the resource: an empty mask means the fields the request sets, "*"
every field the call changes. A path to any other field, an output-only one among them, is
INVALID_ARGUMENT naming ``update_mask``.
"""

import dataclasses
from collections.abc import Iterable
from typing import Final, TypeVar

from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from . import _validation
from ._validation import CLAIM_OUTPUT_ONLY_PATHS, FieldViolation, ValidationError
from .store import SourceDraft, SpeakerDraft

Resource = TypeVar("Resource", bound=Message)

CLAIM_PATHS: Final = (
    "text",
    "attribution",
    "speaker_id",
    "speaker",
    "stated_at",
    "stated_at_precision",
    "channel",
    "language",
    "topics",
    "citations",
)
"""The fields of a Claim that UpdateClaim changes, in the order of the message."""

SPEAKER_PATHS: Final = ("display_name", "kind", "title", "affiliation", "aliases", "wikidata_id")
"""The fields of a Speaker that UpdateSpeaker changes, in the order of the message."""

_SPEAKER_OUTPUT_ONLY: Final = ("id", "create_time", "update_time", "claim_count", "etag")

SOURCE_PATHS: Final = ("url", "publisher", "title", "kind", "published_at")
"""The fields of a Source that UpdateSource changes, in the order of the message."""

_SOURCE_OUTPUT_ONLY: Final = ("id", "create_time", "update_time", "etag")


def _mask_paths(
    mask: FieldMask,
    given: Message,
    updatable: tuple[str, ...],
    output_only: Iterable[str],
    method: str,
    *,
    every: tuple[str, ...] | None = None,
    exclusive: tuple[str, str] | None = None,
) -> tuple[str, ...]:
    """The fields ``mask`` names, in the order of ``updatable``, with an empty mask read as
    the ``updatable`` fields ``given`` sets and "*" as ``every`` (all of ``updatable`` unless
    told). Raises ValidationError naming update_mask for each path at fault, and for the two
    ``exclusive`` paths named together."""
    problems = []
    paths = list(mask.paths)
    if not paths:
        paths = [field.name for field, _ in given.ListFields() if field.name in updatable]
        if not paths:
            problems.append(f"is empty and the request sets no field {method} changes")
    elif "*" in paths:
        if len(paths) > 1:
            problems.append("'*' stands for every field and comes alone")
        paths = list(updatable if every is None else every)
    output_only = tuple(output_only)
    for path in paths:
        if path in output_only:
            problems.append(f"{path!r} is output only and cannot be changed")
        elif path not in updatable and path != "*":
            problems.append(f"{path!r} is not a field {method} changes: {', '.join(updatable)}")
    if exclusive is not None and set(exclusive) <= set(paths):
        problems.append(f"names {exclusive[0]} and {exclusive[1]}: give one of them")
    if problems:
        raise ValidationError(FieldViolation("update_mask", problem) for problem in problems)
    return tuple(path for path in updatable if path in paths)


def _merged(current: Resource, given: Message, paths: Iterable[str]) -> Resource:
    """A copy of ``current`` with the fields ``paths`` names taken from ``given``: a repeated
    field replaced whole, a message field cleared when ``given`` has none."""
    revised = type(current)()
    revised.CopyFrom(current)
    # Field names as strings: the generated stubs type these calls with literal names.
    target: Message = revised
    fields = current.DESCRIPTOR.fields_by_name
    for path in paths:
        target.ClearField(path)
        descriptor = fields[path]
        if descriptor.is_repeated:
            getattr(target, path).extend(getattr(given, path))
        elif descriptor.message_type is not None:
            if given.HasField(path):
                getattr(target, path).CopyFrom(getattr(given, path))
        else:
            setattr(target, path, getattr(given, path))
    return revised


# Claims


def claim_paths(request: claim_service_pb2.UpdateClaimRequest) -> tuple[str, ...]:
    """Returns the fields an UpdateClaimRequest changes, in message order.

    "*" means every field UpdateClaim changes: the claim's speaker inline when it is given,
    else its speaker_id.
    """
    claim = request.claim
    speaker = "speaker_id" if claim.HasField("speaker") else "speaker"
    return _mask_paths(
        request.update_mask,
        claim,
        CLAIM_PATHS,
        CLAIM_OUTPUT_ONLY_PATHS,
        "UpdateClaim",
        every=tuple(path for path in CLAIM_PATHS if path != speaker),
        exclusive=("speaker", "speaker_id"),
    )


def revised_claim(
    current: claim_pb2.Claim, given: claim_pb2.Claim, paths: Iterable[str]
) -> claim_pb2.Claim:
    """Returns ``current`` (in the basic view) with the fields ``paths`` names taken from
    ``given``: the claim an update asks for, to be checked as a whole by
    :func:`~claimstore_server._validation.claim_draft`."""
    paths = tuple(paths)
    revised = _merged(current, given, paths)
    # A claim names its speaker one way: by id, or inline.
    if "speaker" in paths:
        revised.ClearField("speaker_id")
    elif "speaker_id" in paths:
        revised.ClearField("speaker")
    return revised


# Speakers


def speaker_paths(request: claim_service_pb2.UpdateSpeakerRequest) -> tuple[str, ...]:
    """Returns the fields an UpdateSpeakerRequest changes, in message order."""
    return _mask_paths(
        request.update_mask, request.speaker, SPEAKER_PATHS, _SPEAKER_OUTPUT_ONLY, "UpdateSpeaker"
    )


def revised_speaker(
    current: speaker_pb2.Speaker, given: speaker_pb2.Speaker, paths: Iterable[str]
) -> SpeakerDraft:
    """Checks ``current`` with the fields ``paths`` names taken from ``given``, as
    CreateSpeaker checks a speaker; returns the speaker to store."""
    revised = _merged(current, given, paths)
    return _validation.speaker_draft(claim_service_pb2.CreateSpeakerRequest(speaker=revised))


# Sources


def source_paths(request: claim_service_pb2.UpdateSourceRequest) -> tuple[str, ...]:
    """Returns the fields an UpdateSourceRequest changes, in message order."""
    return _mask_paths(
        request.update_mask, request.source, SOURCE_PATHS, _SOURCE_OUTPUT_ONLY, "UpdateSource"
    )


def revised_source(
    current: source_pb2.Source, given: source_pb2.Source, paths: Iterable[str]
) -> SourceDraft:
    """Checks ``current`` with the fields ``paths`` names taken from ``given``, as
    CreateSource checks a source (it must keep a url, a title or a publisher); returns the
    source to store."""
    revised = _merged(current, given, paths)
    draft = _validation.source_draft(claim_service_pb2.CreateSourceRequest(source=revised))
    if "url" not in paths:
        # As stored, even in a form new urls no longer take (an older version kept them as
        # given): a change to another field must not make it another url.
        draft = dataclasses.replace(draft, url=current.url)
    return draft
