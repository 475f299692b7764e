"""The edit, retract, restore, history and watch commands, against a real server."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import claimstore
import pytest
from claimstore.v1 import claim_pb2
from claimstore_server import ClaimServer
from helpers import cli_usage_error as usage_error
from helpers import run_cli as run

CONSOLE_SCRIPT = Path(sys.executable).parent / "claimstore"


def create(client: claimstore.Client, text: str, speaker: str = "Dmitry Peskov") -> claim_pb2.Claim:
    return client.create_claim(
        text,
        speaker=speaker,
        attribution="direct_quote",
        stated_at="2025-11-20",
        channel="remarks to reporters",
        topics=["peace plan"],
    )


@pytest.fixture
def claim(client: claimstore.Client) -> claim_pb2.Claim:
    return create(client, "Consultations are not under way")


# edit


def test_edit_changes_only_the_options_given(
    server: ClaimServer, client: claimstore.Client, claim: claim_pb2.Claim
) -> None:
    status, output = run(
        "edit", claim.id, "--target", server.target, "--actor", "alice",
        "--text", "Consultations are not currently under way",
        "--topic", "peace plan", "--topic", "negotiations", "--reason", "transcript",
    )  # fmt: skip
    assert status == 0
    assert "Consultations are not currently under way" in output
    assert re.search(r"^revision +2$", output, re.MULTILINE)

    stored = client.get_claim(claim.id)
    assert stored.text == "Consultations are not currently under way"
    assert list(stored.topics) == ["peace plan", "negotiations"]
    assert stored.channel == "remarks to reporters"
    assert stored.speaker_id == claim.speaker_id
    (revision,) = list(client.list_claim_revisions(claim.id))[1:]
    assert revision.actor == "alice"
    assert revision.reason == "transcript"
    assert sorted(revision.changed_fields.paths) == ["text", "topics"]


def test_edit_clears_and_moves(
    server: ClaimServer, client: claimstore.Client, claim: claim_pb2.Claim
) -> None:
    status, output = run(
        "edit", claim.id, "--target", server.target, "--json",
        "--channel", "", "--no-topics", "--stated-at", "2025-11-21T08:00:00Z",
        "--speaker", "Sergei Lavrov", "--attribution", "paraphrase", "--language", "ru",
    )  # fmt: skip
    assert status == 0
    as_json = json.loads(output)
    assert as_json["id"] == claim.id
    assert as_json["speaker"]["display_name"] == "Sergei Lavrov"
    stored = client.get_claim(claim.id)
    assert stored.channel == ""
    assert list(stored.topics) == []
    assert stored.stated_at.ToJsonString() == "2025-11-21T08:00:00Z"
    assert stored.stated_at_precision == claim_pb2.DATE_PRECISION_EXACT
    assert stored.attribution == claim_pb2.ATTRIBUTION_PARAPHRASE
    assert stored.language == "ru"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "nothing to change"),
        (["--reason", "nothing else"], "nothing to change"),
        (["--topic", "a", "--no-topics"], "not both"),
    ],
    ids=["nothing", "only a reason", "topic and no topics"],
)
def test_edit_without_a_change_is_a_usage_error(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    options: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert message in usage_error(capsys, "edit", claim.id, "--target", server.target, *options)
    assert client.get_claim(claim.id).revision == 1


def test_edit_to_what_the_claim_already_says_changes_nothing(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, output = run("edit", claim.id, "--target", server.target, "--text", claim.text)
    assert status == 0
    assert re.search(r"^revision +1$", output, re.MULTILINE)
    assert "nothing changed: the claim already says so" in capsys.readouterr().err
    assert [revision.revision for revision in client.list_claim_revisions(claim.id)] == [1]


def test_edit_of_an_unknown_claim_exits_1(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "clm_01JD3M0X8Y9Z0000000000000A"
    status, output = run("edit", unknown, "--target", server.target, "--text", "x")
    assert status == 1
    assert output == ""
    assert "NOT_FOUND" in capsys.readouterr().err


def test_edit_of_a_deleted_claim_exits_1(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client.delete_claim(claim.id, reason="retracted")
    status, _ = run("edit", claim.id, "--target", server.target, "--text", "x")
    assert status == 1
    assert "FAILED_PRECONDITION" in capsys.readouterr().err


def test_edit_to_a_month_or_a_year_brings_that_precision(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("edit", claim.id, "--target", server.target, "--date", "2025-10")[0] == 0
    stored = client.get_claim(claim.id)
    assert stored.stated_at.ToJsonString() == "2025-10-01T00:00:00Z"
    assert stored.stated_at_precision == claim_pb2.DATE_PRECISION_MONTH
    assert "2025 gives no day for --precision day" in usage_error(
        capsys, "edit", claim.id, "--target", server.target, "--date", "2025", "--precision", "day"
    )
    assert client.get_claim(claim.id).revision == 2


def test_edit_with_both_speaker_options_is_a_usage_error(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = usage_error(
        capsys, "edit", claim.id, "--target", server.target,
        "--speaker", "Sergei Lavrov", "--speaker-id", claim.speaker_id,
    )  # fmt: skip
    assert "claimstore edit: error: give --speaker or --speaker-id, not both" in err
    assert client.get_claim(claim.id).revision == 1


# retract and restore


def test_retract_and_restore(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, output = run(
        "retract", claim.id, "--target", server.target,
        "--reason", "duplicate", "--note", "same as clm_x",
    )  # fmt: skip
    assert status == 0
    assert "deleted" in output
    assert "duplicate: same as clm_x" in output
    status, output = run("list", "--target", server.target, "--json")
    assert output == ""
    status, output = run("list", "--target", server.target, "--json", "--show-deleted")
    assert json.loads(output)["deletion"] == {
        "reason": "DELETION_REASON_DUPLICATE",
        "note": "same as clm_x",
    }
    status, output = run("export", "--target", server.target, "--show-deleted")
    assert claim.text in output

    status, _ = run("retract", claim.id, "--target", server.target, "--reason", "duplicate")
    assert status == 1
    assert "already deleted" in capsys.readouterr().err

    status, output = run("restore", claim.id, "--target", server.target, "--reason", "not one")
    assert status == 0
    assert "deleted" not in output
    assert re.search(r"^revision +3$", output, re.MULTILINE)
    assert not client.get_claim(claim.id).HasField("delete_time")
    assert [c.id for c in client.list_claims()] == [claim.id]

    status, _ = run("restore", claim.id, "--target", server.target)
    assert status == 1
    assert "ALREADY_EXISTS: id: the claim is not deleted" in capsys.readouterr().err


def test_the_fields_of_a_change_the_server_refuses_are_named_by_their_options(
    server: ClaimServer, claim: claim_pb2.Claim, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "r" * 1001
    target = ("--target", server.target)
    assert run("edit", claim.id, *target, "--text", " ", "--topic", "ok", "--topic", "!!") == (
        1,
        "",
    )
    assert capsys.readouterr().err.splitlines() == [
        "claimstore: INVALID_ARGUMENT: 2 fields at fault",
        "  --text: is required and must not be empty or only white space",
        "  --topic #2: must contain a letter or a digit",
    ]
    assert run("edit", claim.id, *target, "--text", "New.", "--reason", long) == (1, "")
    assert capsys.readouterr().err == (
        "claimstore: INVALID_ARGUMENT: --reason: must be at most 1,000 characters, not 1,001\n"
    )
    assert run("retract", claim.id, *target, "--reason", "other", "--note", long) == (1, "")
    assert capsys.readouterr().err == (
        "claimstore: INVALID_ARGUMENT: --note: must be at most 1,000 characters, not 1,001\n"
    )
    assert run("watch", *target, "--after", "garbage") == (1, "")
    assert capsys.readouterr().err == (
        "claimstore: INVALID_ARGUMENT: --after: is not a cursor this service issued\n"
    )


def test_retract_for_another_reason_needs_a_note(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "--note" in usage_error(
        capsys, "retract", claim.id, "--target", server.target, "--reason", "other"
    )
    with pytest.raises(SystemExit):
        run("retract", claim.id, "--target", server.target)  # no reason
    assert not client.get_claim(claim.id).HasField("delete_time")


def test_an_edit_of_a_retracted_claim_says_how_to_restore_it(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client.delete_claim(claim.id, reason="retracted")
    status, _ = run("edit", claim.id, "--target", server.target, "--text", "x")
    assert status == 1
    *_, hint = capsys.readouterr().err.splitlines()
    assert hint == f"  to undelete it: claimstore restore {claim.id}"


def test_retracting_a_retracted_claim_says_it_is_already_deleted(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deleted = client.delete_claim(claim.id, reason="retracted")
    status, _ = run("retract", claim.id, "--target", server.target, "--reason", "duplicate")
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        f"claimstore: NOT_FOUND: id: claim {claim.id!r} is already deleted"
    ]
    assert client.get_claim(claim.id) == deleted


# history and get --revision


def test_history_table_and_json(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIMSTORE_ACTOR", "desk")
    target = ("--target", server.target)
    assert run("edit", claim.id, *target, "--channel", "briefing", "--reason", "source")[0] == 0
    assert run("retract", claim.id, *target, "--reason", "fabricated", "--note", "made up")[0] == 0
    assert run("--actor", "chief", "restore", claim.id, *target)[0] == 0

    status, output = run("history", claim.id, *target)
    assert status == 0
    header, *rows = output.splitlines()
    assert header.split() == ["REV", "TIME", "CHANGE", "ACTOR", "CHANGED", "REASON"]
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4"]
    assert "created" in rows[0]
    assert "updated" in rows[1]
    assert "desk" in rows[1]
    assert "channel" in rows[1]
    assert "source" in rows[1]
    assert "deleted (fabricated)" in rows[2]
    assert "made up" in rows[2]
    assert "undeleted" in rows[3]
    assert "chief" in rows[3]

    status, output = run("history", claim.id, *target, "--json")
    assert status == 0
    revisions = [json.loads(line) for line in output.splitlines()]
    assert [r["revision"] for r in revisions] == ["1", "2", "3", "4"]  # int64 as JSON strings
    assert [r.get("actor", "") for r in revisions] == ["", "desk", "desk", "chief"]
    assert revisions[1]["changed_fields"] == "channel"  # a FieldMask in the JSON mapping
    assert revisions[2]["change_type"] == "CHANGE_TYPE_DELETED"

    status, output = run("get", claim.id, *target, "--revision", "1")
    assert status == 0
    assert "remarks to reporters" in output
    assert "briefing" not in output


def test_actor_that_cannot_be_sent_is_an_error(
    server: ClaimServer, claim: claim_pb2.Claim, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(
        capsys, "edit", claim.id, "--target", server.target, "--actor", "Noël", "--text", "x"
    )
    # A usage error of the command, naming the option: it read "claimstore: actor: …".
    assert err == (
        "claimstore edit: error: --actor (or $CLAIMSTORE_ACTOR): 'Noël' has characters other"
        " than printable ASCII\n"
    )
    assert "at most 200 characters" in usage_error(
        capsys, "--actor", "a" * 201, "get", claim.id, "--target", server.target
    )


# watch, as a process


class Watcher:
    """``claimstore watch`` running as a process, its stdout lines read as they come."""

    def __init__(self, *arguments: str) -> None:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        environment.pop("CLAIMSTORE_TARGET", None)
        self.process = subprocess.Popen(
            [str(CONSOLE_SCRIPT), "watch", *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read_lines() -> None:
            for line in stdout:
                self.lines.put(line)

        threading.Thread(target=read_lines, daemon=True).start()

    def read(self, count: int) -> list[str]:
        try:
            return [self.lines.get(timeout=30) for _ in range(count)]
        except queue.Empty:
            self.process.kill()
            _, err = self.process.communicate()
            pytest.fail(f"claimstore watch printed fewer than {count} lines: {err}")

    def interrupt(self) -> tuple[int, str]:
        """Sends Ctrl-C's SIGINT; returns the exit status and stderr."""
        self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        finally:
            self.process.kill()
        return self.process.returncode, err


@pytest.fixture
def cursor(client: claimstore.Client) -> str:
    """A cursor of now: given to --after, the watch sees every change made from here on,
    however long the process takes to start."""
    with client.watch_claims() as watch:
        return watch.cursor


@pytest.fixture
def watcher_cleanup() -> Iterator[list[Watcher]]:
    started: list[Watcher] = []
    yield started
    for watcher in started:
        watcher.process.kill()
        watcher.process.communicate()


def test_watch_json_prints_each_event_with_its_cursor_until_ctrl_c(
    server: ClaimServer,
    client: claimstore.Client,
    cursor: str,
    watcher_cleanup: list[Watcher],
) -> None:
    watcher = Watcher("--target", server.target, "--json", "--after", cursor)
    watcher_cleanup.append(watcher)
    first = create(client, "First watched")
    second = create(client, "Second watched", speaker="Sergei Lavrov")
    client.update_claim(first.id, text="First watched, edited")
    client.delete_claim(second.id, reason="retracted")

    events = [json.loads(line) for line in watcher.read(4)]

    assert [(e["revision"]["change_type"], e["revision"]["claim"]["id"]) for e in events] == [
        ("CHANGE_TYPE_CREATED", first.id),
        ("CHANGE_TYPE_CREATED", second.id),
        ("CHANGE_TYPE_UPDATED", first.id),
        ("CHANGE_TYPE_DELETED", second.id),
    ]
    assert all(e["cursor"] for e in events)
    assert len({e["cursor"] for e in events}) == 4
    assert events[1]["revision"]["claim"]["speaker"]["display_name"] == "Sergei Lavrov"

    assert watcher.interrupt() == (0, "")

    # The last cursor printed picks up where this watch stopped.
    third = create(client, "Made after the watch stopped")
    with client.watch_claims(after_cursor=events[-1]["cursor"]) as watch:
        assert next(watch).revision.claim.id == third.id


def test_watch_lines_for_people_with_a_filter(
    server: ClaimServer,
    client: claimstore.Client,
    cursor: str,
    watcher_cleanup: list[Watcher],
) -> None:
    watcher = Watcher(
        "--target", server.target, "--after", cursor, "--speaker", "Lavrov", "--actor", "x"
    )
    watcher_cleanup.append(watcher)
    create(client, "Not by Lavrov")
    by_lavrov = create(client, "By Lavrov", speaker="Sergei Lavrov")
    config = claimstore.ClientConfig(target=server.target, actor="alice")
    with claimstore.Client(config=config) as alice:
        alice.update_claim(by_lavrov.id, channel="briefing", reason="seen the video")

    created, updated = watcher.read(2)

    assert "created" in created
    assert by_lavrov.id in created
    assert "Sergei Lavrov: By Lavrov" in created
    assert "updated" in updated
    assert "rev 2" in updated
    assert "by alice" in updated
    assert "[channel]" in updated
    assert watcher.interrupt() == (0, "")


def test_watch_of_an_unreachable_server_exits_1(stopped_target: str) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "watch", "--target", stopped_target],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stderr
    assert "Traceback" not in result.stderr
