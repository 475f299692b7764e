"""``claimstore edit-speaker`` and ``edit-source``: a speaker's or a source's fields changed in
place (a new title, one more alias, a publisher spelled better), which every claim naming it
shows at once."""

import argparse
import sys
from typing import Any, TextIO

from .._values import enum_name
from ..v1 import source_pb2, speaker_pb2
from . import _render
from ._arguments import add_client_options, open_client, parse_when
from ._report import SOURCE_OPTIONS, SPEAKER_OPTIONS

SPEAKER_KINDS = [
    enum_name(speaker_pb2.SpeakerKind, value.number)
    for value in speaker_pb2.SpeakerKind.DESCRIPTOR.values
    if value.number
]
SOURCE_KINDS = [
    enum_name(source_pb2.SourceKind, value.number)
    for value in source_pb2.SourceKind.DESCRIPTOR.values
    if value.number
]

_SPEAKER_OPTIONS = {
    "display_name": "--name",
    "kind": "--kind",
    "title": "--title",
    "affiliation": "--affiliation",
    "aliases": "--alias",
    "wikidata_id": "--wikidata-id",
}
"""The update_speaker keyword argument of each option of ``edit-speaker``."""

_SOURCE_OPTIONS = {
    "url": "--url",
    "publisher": "--publisher",
    "title": "--title",
    "kind": "--kind",
    "published_at": "--published",
}
"""The update_source keyword argument of each option of ``edit-source``."""


def _changes(
    args: argparse.Namespace, options: dict[str, str], clearing: str, cleared: dict[str, Any]
) -> dict[str, Any]:
    """The keyword arguments the options given make, with ``cleared`` (what the option
    ``clearing`` clears, when given); a usage error when there are none."""
    changes = {name: getattr(args, name) for name in options}
    changes = {name: value for name, value in changes.items() if value is not None}
    changes.update(cleared)
    if not changes:
        raise argparse.ArgumentTypeError(
            f"nothing to change: give at least one of {', '.join(options.values())} or {clearing}"
        )
    return changes


def _unchanged(command: str, before: str, after: str) -> None:
    if before == after:
        print(f"claimstore {command}: nothing changed: it already says so", file=sys.stderr)


def _cmd_edit_speaker(args: argparse.Namespace, out: TextIO) -> int:
    if args.aliases is not None and args.no_aliases:
        raise argparse.ArgumentTypeError("give --alias or --no-aliases, not both")
    cleared: dict[str, Any] = {"aliases": []} if args.no_aliases else {}
    changes = _changes(args, _SPEAKER_OPTIONS, "--no-aliases", cleared)
    with open_client(args) as client:
        # The etag of the speaker as read: a change made by someone else in between is
        # refused (ABORTED) rather than overwritten.
        current = client.get_speaker(args.id)
        speaker = client.update_speaker(args.id, **changes, etag=current.etag)
    _unchanged("edit-speaker", current.etag, speaker.etag)
    _render.write_listing([speaker], _render.SPEAKERS, out, as_json=args.json)
    return 0


def _cmd_edit_source(args: argparse.Namespace, out: TextIO) -> int:
    if args.published_at is not None and args.no_published:
        raise argparse.ArgumentTypeError("give --published or --no-published, not both")
    if args.published_at is not None:
        args.published_at = args.published_at.start
    cleared: dict[str, Any] = {"published_at": None} if args.no_published else {}
    changes = _changes(args, _SOURCE_OPTIONS, "--no-published", cleared)
    with open_client(args) as client:
        current = client.get_source(args.id)
        source = client.update_source(args.id, **changes, etag=current.etag)
    _unchanged("edit-source", current.etag, source.etag)
    _render.write_listing([source], _render.SOURCES, out, as_json=args.json)
    return 0


def add_resource_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Adds ``edit-speaker`` and ``edit-source`` to the command line."""
    speaker = commands.add_parser(
        "edit-speaker",
        help="change a speaker: name, title, affiliation, aliases",
        description="Change the fields given of a speaker, and only those; every claim of the"
        " speaker shows the change and is found by its new names. An empty value clears a"
        " field.",
    )
    # No --actor: a speaker keeps no revisions to record it in.
    add_client_options(speaker, actor=False)
    speaker.add_argument("id", help="speaker id (spk_…), as 'claimstore speakers' lists them")
    speaker.add_argument(
        "--name", dest="display_name", metavar="NAME", help="the name best known by"
    )
    speaker.add_argument("--kind", choices=SPEAKER_KINDS, help="what kind of party it is")
    speaker.add_argument("--title", help='the role when speaking, e.g. "Kremlin spokesman"')
    speaker.add_argument("--affiliation", help='the country, party or body, e.g. "Russia"')
    speaker.add_argument(
        "--alias",
        dest="aliases",
        metavar="ALIAS",
        action="append",
        help="another spelling of the name (repeat for each; replaces every alias)",
    )
    speaker.add_argument("--no-aliases", action="store_true", help="remove every alias")
    speaker.add_argument("--wikidata-id", metavar="QID", help='its Wikidata item, e.g. "Q3874799"')
    speaker.set_defaults(handler=_cmd_edit_speaker, field_options=SPEAKER_OPTIONS)

    source = commands.add_parser(
        "edit-source",
        help="change a source: url, publisher, title, kind, date",
        description="Change the fields given of a source, and only those; every claim citing"
        " it shows the change. An empty value clears a field, but a source keeps a url, a"
        " title or a publisher.",
    )
    add_client_options(source, actor=False)
    source.add_argument("id", help="source id (src_…), as 'claimstore sources' lists them")
    source.add_argument("--url", help="where it can be read")
    source.add_argument("--publisher", help='who published it, e.g. "Reuters"')
    source.add_argument("--title", help="its headline or title")
    source.add_argument("--kind", choices=SOURCE_KINDS, help="what kind of source it is")
    source.add_argument(
        "--published",
        dest="published_at",
        metavar="DATE",
        type=parse_when,
        help="when it was published: 2025-11-20 or an ISO 8601 time (2025-11 or 2025 stand"
        " for their first day)",
    )
    source.add_argument("--no-published", action="store_true", help="remove its date")
    source.set_defaults(handler=_cmd_edit_source, field_options=SOURCE_OPTIONS)
