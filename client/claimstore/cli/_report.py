"""How the ``claimstore`` command reports a failed call: the server's message, its fields at
fault named by the options that set them, and what to do next."""

import argparse
import re
import sys

from google.rpc import error_details_pb2

from .._exceptions import (
    Aborted,
    ClaimstoreError,
    DeadlineExceeded,
    FailedPrecondition,
    ServiceError,
    Unavailable,
)
from ._arguments import DEFAULT_TARGET

FILTER_OPTIONS = {
    "filter.speaker": "--speaker",
    "filter.speaker_ids": "--speaker-id",
    "filter.topics": "--topic",
    "filter.publisher": "--publisher",
    "filter.source_id": "--source-id",
    "filter.attributions": "--attribution",
    "filter.stated_since": "--since",
    "filter.stated_before": "--until",
    "filter.language": "--language",
}
"""The option that sets each field of the ClaimFilter the options of ``_add_filter_options``
make, for the server's messages about it."""

CLAIM_OPTIONS = {
    "claim.speaker_id": "--speaker-id",
    "claim.speaker.display_name": "--speaker",
    "claim.speaker": "--speaker",
    "claim.attribution": "--attribution",
    "claim.stated_at": "--stated-at",
    "claim.stated_at_precision": "--precision",
    "claim.channel": "--channel",
    "claim.language": "--language",
    "claim.topics": "--topic",
}
"""The option of ``add`` and ``edit`` that sets each field of the claim (its text: the text
argument of ``add``, --text of ``edit``)."""

ADD_OPTIONS = {**CLAIM_OPTIONS, "claim.text": "text", "request_id": "--request-id"}
EDIT_OPTIONS = {**CLAIM_OPTIONS, "claim.text": "--text", "reason": "--reason"}
GET_OPTIONS = {"revision": "--revision"}
RETRACT_OPTIONS = {"deletion.reason": "--reason", "deletion.note": "--note"}
RESTORE_OPTIONS = {"reason": "--reason"}
WATCH_OPTIONS = {**FILTER_OPTIONS, "after_cursor": "--after"}
SPEAKERS_OPTIONS = {"name_prefix": "--prefix"}
SPEAKER_OPTIONS = {
    "speaker.display_name": "--name",
    "speaker.kind": "--kind",
    "speaker.title": "--title",
    "speaker.affiliation": "--affiliation",
    "speaker.aliases": "--alias",
    "speaker.wikidata_id": "--wikidata-id",
}
SOURCE_OPTIONS = {
    "source.url": "--url",
    "source.publisher": "--publisher",
    "source.title": "--title",
    "source.kind": "--kind",
    "source.published_at": "--published",
}
"""The option that sets each field the server may find at fault, command by command."""


def citation_options(origins: int, reports: int) -> dict[str, str]:
    """The options of ``add`` that make each of its citations: the --origin URLs first, then
    the --report ones, all of these with the --publisher."""
    options = {}
    for index in range(origins + reports):
        if index < origins:
            options[f"claim.citations[{index}].source.url"] = f"--origin #{index + 1}"
        else:
            options[f"claim.citations[{index}].source.url"] = f"--report #{index - origins + 1}"
            options[f"claim.citations[{index}].source.publisher"] = "--publisher"
    return options


_TIMEOUT_OPTIONS = {"import": "--import-timeout", "export": "--export-timeout"}
"""The option that sets the deadline of each streaming command; other commands take
--timeout, the deadline of each call."""

_FIELD_PATH = re.compile(r"\b([a-z_]\w*(?:\.[a-z_]\w*)+)(?:\[(\d+)\])?")


def _in_options(text: str, options: dict[str, str]) -> str:
    """``text`` with each field path in ``options`` named by its option instead, and an
    element of a repeated field by its place: filter.topics[1] as --topic #2. A field the
    server names at fault (before a colon) is named whole, so that a field of one word
    (reason:) or of an element (claim.citations[1].source.url:) is named too."""
    if options:
        keys = "|".join(re.escape(key) for key in sorted(options, key=len, reverse=True))
        text = re.sub(rf"(?<![\w.])(?:{keys})(?=:)", lambda key: options[key[0]], text)

    def option(path: re.Match[str]) -> str:
        name = options.get(path[1])
        if name is None:
            return path[0]
        return name if path[2] is None else f"{name} #{int(path[2]) + 1}"

    return _FIELD_PATH.sub(option, text)


def report(error: ClaimstoreError, args: argparse.Namespace) -> None:
    service = error if isinstance(error, ServiceError) else None
    options: dict[str, str] = getattr(args, "field_options", {})
    fields = service.field_violations if service is not None else {}
    violations = [
        _in_options(f"{field}: {description}", options) for field, description in fields.items()
    ]
    message = _in_options(str(error), options)
    if (
        service is not None
        and len(violations) > 1
        and _in_options(service.message, options) == "; ".join(violations)
    ):
        # The server's message joins them all: one a line reads better, each once (the
        # --publisher of every --report is at fault when it is).
        unique = list(dict.fromkeys(violations))
        if len(unique) == 1:
            print(f"claimstore: {service.code.name}: {unique[0]}", file=sys.stderr)
        else:
            header = f"claimstore: {service.code.name}: {len(unique)} fields at fault"
            print(header, file=sys.stderr)
            for violation in unique:
                print(f"  {violation}", file=sys.stderr)
    else:
        print(f"claimstore: {message}", file=sys.stderr)
        for violation in violations:
            if violation not in message:
                print(f"  {violation}", file=sys.stderr)
    for subject in _deleted_subjects(error):
        print(
            f"  to undelete it: claimstore restore {subject}",
            file=sys.stderr,
        )
    if isinstance(error, DeadlineExceeded):
        option = _TIMEOUT_OPTIONS.get(args.command, "--timeout")
        seconds = getattr(args, option.removeprefix("--").replace("-", "_"))
        print(
            f"  not done within {seconds:g} seconds ({option}): raise {option} to wait longer",
            file=sys.stderr,
        )
    if isinstance(error, Aborted):
        print(
            "  the claim changed since it was read; look at it again and retry",
            file=sys.stderr,
        )
    if isinstance(error, Unavailable) and not error.details:
        # No details: gRPC's own (no connection), not a server's answer, which says why.
        target = getattr(args, "target", DEFAULT_TARGET)
        # 'make serve' and 'claimstore serve' listen on 127.0.0.1:50051 unless told where.
        listen = "" if target in (DEFAULT_TARGET, "127.0.0.1:50051") else target
        print(
            f"  is a server running at {target}? Start one with"
            f" 'make serve{f' LISTEN={listen}' if listen else ''}' or"
            f" 'claimstore serve{f' --listen {listen}' if listen else ''}',"
            " or point --target / $CLAIMSTORE_TARGET at it.",
            file=sys.stderr,
        )


def _deleted_subjects(error: ClaimstoreError) -> list[str]:
    """The claims a FAILED_PRECONDITION names as deleted, which 'restore' brings back."""
    if not isinstance(error, FailedPrecondition):
        return []
    return [
        violation.subject
        for detail in error.details
        if isinstance(detail, error_details_pb2.PreconditionFailure)
        for violation in detail.violations
        if violation.type == "DELETED"
    ]
