"""The ``claimstore`` command: its parser and its commands (serve, check; add, edit, retract,
restore, get, history; list, search, watch, speakers, sources; import, export). Import has a
module of its own (``_import``), as have edit-speaker and edit-source (``_resources``), the values
the options take (``_arguments``) and the reports of calls that failed (``_report``)."""

import argparse
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, TextIO

from .._exceptions import ClaimstoreError
from .._jsonl import format_import_line, import_request
from ..v1 import claim_pb2
from . import _render
from ._arguments import (
    ACTOR_VARIABLE,
    ATTRIBUTIONS,
    DELETION_REASONS,
    INTERRUPTED,
    PRECISIONS,
    add_client_options,
    batch_size,
    claim_precision,
    open_client,
    parse_when,
    seconds_value,
    undecodable_argument,
    whole_number,
)
from ._import import cmd_import
from ._progress import progress
from ._report import (
    ADD_OPTIONS,
    EDIT_OPTIONS,
    FILTER_OPTIONS,
    GET_OPTIONS,
    RESTORE_OPTIONS,
    RETRACT_OPTIONS,
    SPEAKERS_OPTIONS,
    WATCH_OPTIONS,
    citation_options,
    report,
)
from ._resources import add_resource_parsers

Handler = Callable[[argparse.Namespace, TextIO], int]


# Commands


def _show_claim(claim: claim_pb2.Claim, args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        out.write(_render.to_json(claim) + "\n")
    else:
        _render.write_claim(claim, out)


_SERVER_NOT_INSTALLED = (
    "claimstore: the server is not installed; install it with the 'server' extra,"
    " for example: pip install 'claimstore[server]'"
)


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from claimstore_server.__main__ import run_serve
    except ImportError:
        print(_SERVER_NOT_INSTALLED, file=sys.stderr)
        return 1
    return run_serve(args)


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from claimstore_server.__main__ import run_check
    except ImportError:
        print(_SERVER_NOT_INSTALLED, file=sys.stderr)
        return 1
    return run_check(args, out)


def _cmd_add(args: argparse.Namespace, out: TextIO) -> int:
    if bool(args.speaker) == bool(args.speaker_id):
        raise argparse.ArgumentTypeError("give --speaker NAME or --speaker-id ID (one of them)")
    if args.publisher is not None and not args.report:
        raise argparse.ArgumentTypeError(
            "--publisher names the publisher of the --report URLs: give --report URL too"
        )
    precision = claim_precision(args.stated_at, args.precision)
    citations = [{"url": url, "role": "origin"} for url in args.origin] + [
        {"url": url, "role": "report", "publisher": args.publisher or ""} for url in args.report
    ]
    args.field_options = {**ADD_OPTIONS, **citation_options(len(args.origin), len(args.report))}
    with open_client(args) as client:
        claim = client.create_claim(
            args.text,
            speaker=args.speaker,
            speaker_id=args.speaker_id,
            attribution=args.attribution,
            stated_at=args.stated_at.start,
            stated_at_precision=precision,
            channel=args.channel,
            language=args.language,
            topics=args.topic,
            citations=citations,
            request_id=args.request_id,
        )
    _show_claim(claim, args, out)
    return 0


def _cmd_get(args: argparse.Namespace, out: TextIO) -> int:
    with open_client(args) as client:
        claim = client.get_claim(args.id, revision=args.revision)
    _show_claim(claim, args, out)
    return 0


_EDIT_OPTIONS = {
    "text": "--text",
    "attribution": "--attribution",
    "speaker": "--speaker",
    "speaker_id": "--speaker-id",
    "stated_at": "--stated-at",
    "stated_at_precision": "--precision",
    "channel": "--channel",
    "language": "--language",
    "topics": "--topic",
}
"""The update_claim keyword argument of each option of ``edit``."""


def _cmd_edit(args: argparse.Namespace, out: TextIO) -> int:
    if args.topics is not None and args.no_topics:
        raise argparse.ArgumentTypeError("give --topic or --no-topics, not both")
    if args.speaker is not None and args.speaker_id is not None:
        raise argparse.ArgumentTypeError("give --speaker or --speaker-id, not both")
    if args.no_topics:
        args.topics = []
    if args.stated_at is not None:
        args.stated_at_precision = claim_precision(args.stated_at, args.stated_at_precision)
        args.stated_at = args.stated_at.start
    changes = {name: getattr(args, name) for name in _EDIT_OPTIONS}
    changes = {name: value for name, value in changes.items() if value is not None}
    if not changes:
        raise argparse.ArgumentTypeError(
            "nothing to change: give at least one of "
            + ", ".join(_EDIT_OPTIONS.values())
            + " or --no-topics"
        )
    with open_client(args) as client:
        # The etag of the claim as read: a change made by someone else in between is
        # refused (ABORTED) rather than overwritten.
        current = client.get_claim(args.id, view="basic")
        updated = client.update_claim(args.id, **changes, etag=current.etag, reason=args.reason)
        claim = client.get_claim(args.id)
    if updated.revision == current.revision:
        print(
            f"claimstore edit: nothing changed: the claim already says so (revision"
            f" {current.revision})",
            file=sys.stderr,
        )
    _show_claim(claim, args, out)
    return 0


def _cmd_retract(args: argparse.Namespace, out: TextIO) -> int:
    if args.reason == "other" and not args.note.strip():
        raise argparse.ArgumentTypeError("--reason other needs a --note saying why")
    with open_client(args) as client:
        client.delete_claim(args.id, reason=args.reason, note=args.note)
        claim = client.get_claim(args.id)
    _show_claim(claim, args, out)
    return 0


def _cmd_restore(args: argparse.Namespace, out: TextIO) -> int:
    with open_client(args) as client:
        client.undelete_claim(args.id, reason=args.reason)
        claim = client.get_claim(args.id)
    _show_claim(claim, args, out)
    return 0


def _cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    with open_client(args) as client:
        revisions = client.list_claim_revisions(args.id, page_size=1000)
        _render.write_listing(revisions, _render.REVISIONS, out, as_json=args.json)
    return 0


def _cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    """Prints each event as it comes, flushed at once, until Ctrl-C (which is no error).

    Once the watch runs, Ctrl-C closes it rather than raising KeyboardInterrupt inside
    gRPC's wait, so that the iteration simply ends.
    """
    try:
        with open_client(args) as client:
            watch = client.watch_claims(
                **_filter_arguments(args), after_cursor=args.after or "", view="full"
            )
            in_main_thread = threading.current_thread() is threading.main_thread()
            if in_main_thread:  # signal handlers can be set from there only
                previous = signal.signal(signal.SIGINT, lambda signum, frame: watch.close())
            try:
                with watch:
                    for event in watch:
                        line = _render.to_json(event) if args.json else _render.event_line(event)
                        out.write(line + "\n")
                        out.flush()
            finally:
                if in_main_thread:
                    signal.signal(signal.SIGINT, previous)
    except KeyboardInterrupt:
        return 0
    return 0


def _filter_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The ClaimFilter keyword arguments of the options ``_add_filter_options`` added."""
    return {
        "speaker": args.speaker,
        "speaker_ids": args.speaker_id,
        "topics": args.topic,
        "publisher": args.publisher,
        "source_id": args.source_id,
        "attributions": args.attribution,
        "since": args.since.start if args.since else None,
        "before": args.until.end() if args.until else None,
        "language": args.language,
    }


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    with open_client(args) as client:
        claims = client.list_claims(
            **_filter_arguments(args),
            order_by="stated_at asc" if args.oldest_first else "",
            view="full",
            page_size=min(args.limit, 1000) if args.limit else 0,
            show_deleted=args.show_deleted,
        )
        selected = islice(claims, args.limit)
        _render.write_listing(selected, _render.CLAIMS, out, as_json=args.json)
    return 0


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    # On a terminal the claims themselves show how far the export is; a bar would cut in.
    counting = progress("exporting", total=None, unit="claims", shown=not out.isatty())
    with open_client(args) as client, counting as bar:
        claims = client.export_claims(
            **_filter_arguments(args),
            show_deleted=args.show_deleted,
            timeout=args.export_timeout,
        )
        for claim in claims:
            out.write(format_import_line(import_request(claim)) + "\n")
            bar.advance()
    return 0


def _cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    # A table on a terminal shows the matches in bold; elsewhere they stand in brackets.
    bold = out.isatty() and not args.json
    with open_client(args) as client:
        results = client.search_claims(
            args.query,
            **_filter_arguments(args),
            view="full",
            snippet_start=_render.MATCH_START if bold else "[",
            snippet_end=_render.MATCH_END if bold else "]",
            page_size=min(args.limit, 100),
            show_deleted=args.show_deleted,
        )
        selected = islice(results, args.limit)
        _render.write_listing(selected, _render.SEARCH_RESULTS, out, as_json=args.json)
    return 0


def _cmd_speakers(args: argparse.Namespace, out: TextIO) -> int:
    with open_client(args) as client:
        speakers = client.list_speakers(name_prefix=args.prefix or "")
        _render.write_listing(speakers, _render.SPEAKERS, out, as_json=args.json)
    return 0


def _cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    with open_client(args) as client:
        sources = islice(client.list_sources(page_size=min(args.limit or 100, 100)), args.limit)
        _render.write_listing(sources, _render.SOURCES, out, as_json=args.json)
    return 0


# The parser


_WHEN_HELP = "when it was said: 2025-11-20, a month (2025-11), a year (2025) or an ISO 8601 time"
_PRECISION_DEFAULT = "as precise as the date or time given"


def _add_show_deleted_option(
    parser: argparse.ArgumentParser, description: str = "include deleted (retracted) claims"
) -> None:
    parser.add_argument("--show-deleted", action="store_true", help=description)


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speaker", help="speaker name or alias words, e.g. Peskov")
    parser.add_argument(
        "--speaker-id", action="append", default=[], help="speaker id (repeat for any of several)"
    )
    parser.add_argument(
        "--topic", action="append", default=[], help="topic (repeat for any of several)"
    )
    parser.add_argument("--publisher", help="cited by this publisher, e.g. Reuters")
    parser.add_argument("--source-id", help="citing this source id")
    parser.add_argument(
        "--attribution",
        action="append",
        default=[],
        choices=ATTRIBUTIONS,
        help="attribution (repeat for any of several)",
    )
    parser.add_argument(
        "--since",
        type=parse_when,
        help="stated on or after this date or time (2025-11-20; 2025-11 or 2025 from its start)",
    )
    parser.add_argument(
        "--until",
        type=parse_when,
        help="stated on or before this date (2025-11-20; 2025-11 or 2025 to its end)",
    )
    parser.add_argument("--language", help="BCP-47 language tag; en also finds en-US")
    parser.set_defaults(field_options=FILTER_OPTIONS)


def _add_serve_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the API over a SQLite file",
        description="Serve the claimstore gRPC API over a SQLite file, until SIGTERM or Ctrl-C.",
    )
    try:
        from claimstore_server.__main__ import add_serve_arguments
    except ImportError:
        serve.set_defaults(handler=_cmd_serve)
        return
    add_serve_arguments(serve)
    serve.set_defaults(handler=_cmd_serve)


def _add_check_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    check = commands.add_parser(
        "check",
        help="check a SQLite file for damage",
        description="Check a claimstore database file for damage, as after a DATA_LOSS error:"
        " SQLite's integrity and foreign key checks. The file is only read, so a server may"
        " go on serving it. Exits 0 when nothing is wrong, 1 when something is.",
    )
    check.set_defaults(handler=_cmd_check)
    try:
        from claimstore_server.__main__ import add_check_arguments
    except ImportError:
        return
    add_check_arguments(check)


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of the ``claimstore`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="claimstore",
        description="Record and query claims of fact: who said what, when, and who reported it.",
    )
    parser.add_argument(
        "--actor",
        default=os.environ.get(ACTOR_VARIABLE) or "",
        help="who makes the changes, recorded in each revision, such as alice or"
        f" factcheck-bot (default: ${ACTOR_VARIABLE}); also accepted after the command",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve_parser(commands)
    _add_check_parser(commands)

    add = commands.add_parser(
        "add",
        help="record a claim",
        description="Record a claim. The speaker is matched by name or alias, or created.",
    )
    add_client_options(add)
    add.add_argument("text", help="what was said")
    add.add_argument("--speaker", help="who said it, by name or alias")
    add.add_argument("--speaker-id", help="who said it, by speaker id")
    add.add_argument(
        "--attribution", required=True, choices=ATTRIBUTIONS, help="how the words reach us"
    )
    add.add_argument(
        "--stated-at",
        "--date",
        dest="stated_at",
        required=True,
        type=parse_when,
        help=_WHEN_HELP,
    )
    add.add_argument(
        "--precision",
        choices=PRECISIONS,
        help=f"how precisely the time is known (default: {_PRECISION_DEFAULT})",
    )
    add.add_argument("--channel", default="", help='how it was said, e.g. "post on X"')
    add.add_argument("--language", default="", help="BCP-47 language tag, e.g. en")
    add.add_argument("--topic", action="append", default=[], help="a topic (repeat for several)")
    add.add_argument(
        "--origin", action="append", default=[], metavar="URL", help="where it was said"
    )
    add.add_argument(
        "--report", action="append", default=[], metavar="URL", help="an outlet reporting it"
    )
    add.add_argument("--publisher", help="publisher of the --report sources, e.g. Reuters")
    add.add_argument("--request-id", help="makes a retried add create nothing new")
    add.set_defaults(handler=_cmd_add, field_options=ADD_OPTIONS)

    get = commands.add_parser("get", help="show one claim", description="Show one claim by id.")
    add_client_options(get)
    get.add_argument("id", help="claim id (clm_…)")
    get.add_argument(
        "--revision",
        type=int,
        default=0,
        help="show the claim as it was at this revision (see 'history'; default: current)",
    )
    get.set_defaults(handler=_cmd_get, field_options=GET_OPTIONS)

    _add_history_parsers(commands)

    listing = commands.add_parser(
        "list",
        help="list claims, newest first",
        description="List the claims that match every option given, newest statement first.",
    )
    add_client_options(listing)
    _add_filter_options(listing)
    _add_show_deleted_option(listing)
    listing.add_argument("--oldest-first", action="store_true", help="oldest statement first")
    listing.add_argument(
        "--limit", type=whole_number, default=None, help="show at most this many (default: all)"
    )
    listing.set_defaults(handler=_cmd_list)

    importing = commands.add_parser(
        "import",
        help="import claims from JSON Lines files",
        description="Import claims from JSON Lines files, one CreateClaimRequest a line (the"
        " format 'claimstore export' writes). Importing a file twice stores nothing new."
        " Exits 1 when any line failed.",
    )
    add_client_options(importing)
    importing.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="files to import (.gz ones are unzipped); - for stdin",
    )
    importing.add_argument(
        "--batch-size",
        type=batch_size,
        default=500,
        help="claims per message, 1 to 1,000 (default: %(default)s)",
    )
    importing.add_argument(
        "--import-timeout",
        type=seconds_value,
        default=None,
        help="seconds the whole import may take (default: no limit)",
    )
    importing.set_defaults(handler=cmd_import)

    exporting = commands.add_parser(
        "export",
        help="export claims as JSON Lines",
        description="Write the claims that match every option given to stdout as JSON Lines,"
        " oldest first, in the format 'claimstore import' reads.",
    )
    add_client_options(exporting)
    _add_filter_options(exporting)
    _add_show_deleted_option(
        exporting,
        description="include deleted (retracted) claims; a file holds no deletions, so they"
        " import as claims in force",
    )
    exporting.add_argument(
        "--export-timeout",
        type=seconds_value,
        default=None,
        help="seconds the whole export may take (default: no limit)",
    )
    exporting.set_defaults(handler=_cmd_export)

    searching = commands.add_parser(
        "search",
        help="search the words of claims, best matches first",
        description="Search claims' text, speakers, topics and channels. Plain words must all"
        ' match; use "exact phrases", prefix*, OR and -excluded words. The options narrow the'
        " results as for 'list'.",
    )
    add_client_options(searching)
    searching.add_argument(
        "query",
        help='what to look for, e.g. "peace plan" or capitul*; put -- before a query that'
        " starts with -",
    )
    _add_filter_options(searching)
    _add_show_deleted_option(searching)
    searching.add_argument(
        "--limit",
        type=whole_number,
        default=20,
        help="show at most this many (default: %(default)s)",
    )
    searching.set_defaults(handler=_cmd_search)

    speakers = commands.add_parser(
        "speakers",
        help="list speakers with their claim counts",
        description="List speakers, oldest first, with how many claims each made.",
    )
    add_client_options(speakers)
    speakers.add_argument("--prefix", help="only names with a word starting with this, e.g. zelen")
    speakers.set_defaults(handler=_cmd_speakers, field_options=SPEAKERS_OPTIONS)

    sources = commands.add_parser(
        "sources",
        help="list the sources claims cite",
        description="List the sources claims cite (reports, posts, statements, videos), oldest"
        " first. 'list --publisher NAME' lists the claims an outlet reports.",
    )
    add_client_options(sources)
    sources.add_argument(
        "--limit", type=whole_number, help="show at most this many (default: every source)"
    )
    sources.set_defaults(handler=_cmd_sources)
    add_resource_parsers(commands)

    watching = commands.add_parser(
        "watch",
        help="print changes to claims as they happen",
        description="Print each change to the claims that match every option given (creation,"
        " edit, retraction, restoration) as it is committed, one line each, until Ctrl-C."
        " With --json, each line is a JSON object whose cursor --after takes, to pick up"
        " where an earlier watch stopped. A server restart is waited out, and nothing is"
        " missed or printed twice.",
    )
    add_client_options(watching)
    _add_filter_options(watching)
    watching.add_argument(
        "--after",
        metavar="CURSOR",
        help="start after this cursor (from an earlier --json line), not from now",
    )
    watching.set_defaults(handler=_cmd_watch, field_options=WATCH_OPTIONS)
    return parser


def _add_history_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The commands that change a claim, and the one that shows its revisions."""
    edit = commands.add_parser(
        "edit",
        help="correct fields of a claim",
        description="Correct the fields of a claim that the options name, and only those, as"
        " one new revision. The claim is read first: if someone else changes it in between,"
        " nothing is changed and the command exits 1.",
    )
    add_client_options(edit)
    edit.add_argument("id", help="claim id (clm_…)")
    edit.add_argument("--text", help="what was said")
    edit.add_argument("--attribution", choices=ATTRIBUTIONS, help="how the words reach us")
    edit.add_argument("--speaker", help="who said it, by name or alias (matched or created)")
    edit.add_argument("--speaker-id", help="who said it, by speaker id")
    edit.add_argument(
        "--stated-at",
        "--date",
        dest="stated_at",
        type=parse_when,
        help=_WHEN_HELP,
    )
    edit.add_argument(
        "--precision",
        dest="stated_at_precision",
        choices=PRECISIONS,
        help=f"how precisely the time is known (default with --stated-at: {_PRECISION_DEFAULT})",
    )
    edit.add_argument("--channel", help='how it was said, e.g. "post on X"; "" clears it')
    edit.add_argument("--language", help='BCP-47 language tag, e.g. en; "" clears it')
    edit.add_argument(
        "--topic",
        dest="topics",
        metavar="TOPIC",
        action="append",
        help="a topic (repeat for several); the topics given replace all of them",
    )
    edit.add_argument("--no-topics", action="store_true", help="remove every topic")
    edit.add_argument(
        "--reason", default="", help='why, e.g. "quote corrected from the transcript"'
    )
    edit.set_defaults(handler=_cmd_edit, field_options=EDIT_OPTIONS)

    retract = commands.add_parser(
        "retract",
        help="delete a claim, saying why",
        description="Delete a claim softly: it keeps its data and history, leaves listings,"
        " searches and exports (unless --show-deleted), and 'restore' brings it back.",
    )
    add_client_options(retract)
    retract.add_argument("id", help="claim id (clm_…)")
    retract.add_argument(
        "--reason",
        required=True,
        choices=DELETION_REASONS,
        help="why: withdrawn by the speaker or outlet, a duplicate, made up, or other",
    )
    retract.add_argument("--note", default="", help="the explanation; required with --reason other")
    retract.set_defaults(handler=_cmd_retract, field_options=RETRACT_OPTIONS)

    restore = commands.add_parser(
        "restore",
        help="bring a retracted claim back",
        description="Bring a deleted claim back as it was, as one new revision.",
    )
    add_client_options(restore)
    restore.add_argument("id", help="claim id (clm_…)")
    restore.add_argument("--reason", default="", help="why it comes back")
    restore.set_defaults(handler=_cmd_restore, field_options=RESTORE_OPTIONS)

    history = commands.add_parser(
        "history",
        help="list the revisions of a claim",
        description="List every revision of a claim, oldest first: when, what changed, who"
        " changed it and why. 'get --revision N' shows the claim as it was.",
    )
    add_client_options(history)
    history.add_argument("id", help="claim id (clm_…)")
    history.set_defaults(handler=_cmd_history)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs the ``claimstore`` command; returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    undecodable = undecodable_argument(commands.choices[args.command], args)
    if undecodable:
        parser.exit(2, f"claimstore {args.command}: error: {undecodable}\n")
    out = out or sys.stdout
    if out is None:
        # Python's stdout is None when the command was started with it closed (`>&-`). The
        # server writes nothing there, and a service manager may start it so.
        if args.command != "serve":
            print(f"claimstore {args.command}: standard output is closed", file=sys.stderr)
            return 2
        out = io.StringIO()
    try:
        return handler(args, out)
    except argparse.ArgumentTypeError as error:
        parser.exit(2, f"claimstore {args.command}: error: {error}\n")
    except KeyboardInterrupt:
        print(f"claimstore {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `claimstore export | head`): not an error. Point
        # stdout at devnull so that flushing it at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"claimstore: {error}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as error:
        print(f"claimstore: {error}", file=sys.stderr)
        return 2
    except ClaimstoreError as error:
        report(error, args)
        return 1
