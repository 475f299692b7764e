"""The claims file format: JSON Lines, one CreateClaimRequest a line.

Each line is a CreateClaimRequest in the protobuf JSON mapping, with the
speaker and sources inline, so a file exported from one server imports into
another unchanged::

    {"claim": {"text": "…", "attribution": "ATTRIBUTION_DIRECT_QUOTE",
               "speaker": {"displayName": "Dmitry Peskov", …},
               "statedAt": "2025-11-20T00:00:00Z", "statedAtPrecision": "DATE_PRECISION_DAY",
               "citations": [{"role": "CITATION_ROLE_REPORT", "source": {"url": "…"}}]}}

Both lowerCamelCase and the .proto's snake_case field names are read;
:func:`format_import_line` writes lowerCamelCase, as the mapping prescribes.
"""

import json

from google.protobuf import json_format

from . import _json_shortcut
from .v1 import claim_pb2, claim_service_pb2


def parse_import_line(line: str) -> claim_service_pb2.CreateClaimRequest:
    """Parses one line; raises ValueError saying what is wrong (bad JSON, unknown field…).

    The line is read as ``json_format.Parse`` reads it, with its messages: JSON that is not
    an object too (where "[]" is an empty request), which :func:`is_json_but_not_an_object`
    tells apart beforehand for a message that says so.
    """
    request = _json_shortcut.parse(line, claim_service_pb2.CreateClaimRequest)
    if request is not None:
        return request
    try:
        return json_format.Parse(line, claim_service_pb2.CreateClaimRequest())
    except json_format.ParseError as error:
        raise ValueError(str(error)) from error


def is_json_but_not_an_object(line: str) -> bool:
    """Tells whether ``line`` is JSON of something other than an object (a string, a number,
    null, an array such as a whole file of claims on one line), which no line of claims holds.
    A line that opens with "{" is not parsed to tell, so lines of claims cost nothing here."""
    if line.lstrip(" \t\r\n").startswith("{"):
        return False
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def format_import_line(request: claim_service_pb2.CreateClaimRequest) -> str:
    """Returns ``request`` as one line of JSON, without the trailing newline."""
    as_dict = _json_shortcut.to_dict(request)
    if as_dict is None:
        as_dict = json_format.MessageToDict(request)
    return json.dumps(as_dict, ensure_ascii=False, separators=(",", ":"))


def import_request(claim: claim_pb2.Claim) -> claim_service_pb2.CreateClaimRequest:
    """Returns the request that creates ``claim`` anew on any server.

    ``claim`` must be in the full view. Server-assigned fields (ids, times,
    counts) are left out; the speaker and sources are given inline, to be
    matched or created on the server that imports them.
    """
    content = claim_pb2.Claim()
    content.CopyFrom(claim)
    for claim_field in ("id", "speaker_id", "create_time", "update_time", "etag", "revision"):
        content.ClearField(claim_field)
    content.ClearField("delete_time")
    content.ClearField("deletion")
    speaker = content.speaker
    for speaker_field in ("id", "create_time", "update_time", "claim_count", "etag"):
        speaker.ClearField(speaker_field)
    for citation in content.citations:
        citation.ClearField("source_id")
        for source_field in ("id", "create_time", "update_time", "etag"):
            citation.source.ClearField(source_field)
    return claim_service_pb2.CreateClaimRequest(claim=content)
