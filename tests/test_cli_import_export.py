"""The `claimstore import` and `claimstore export` commands, run in-process against a real
server: the summary, FILE:LINE failures, exit statuses, stdin, filters and silence on pipes."""

import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import claimstore
import pytest
from claimstore import format_import_line, import_request, parse_import_line
from claimstore.cli._main import main
from claimstore.v1 import claim_pb2, claim_service_pb2, speaker_pb2
from claimstore_server import ClaimServer
from helpers import stamp, start_server

FAILURE = re.compile(r"^  (\S+:\d+): (.*)$", re.MULTILINE)


def run(*argv: str) -> tuple[int, str]:
    """Runs the command; returns its exit status and what it wrote to ``out``."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def line(text: str, *, speaker: str = "Dmitry Peskov", day: str = "2025-11-20") -> str:
    """One JSON Lines claim, as `claimstore export` writes it."""
    claim = claim_pb2.Claim(
        text=text,
        attribution=claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
        speaker=speaker_pb2.Speaker(display_name=speaker),
        stated_at=stamp(f"{day}T00:00:00+00:00"),
        stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
        topics=["peace plan"],
    )
    return format_import_line(claim_service_pb2.CreateClaimRequest(claim=claim))


def failures(output: str) -> dict[str, str]:
    """The FILE:LINE -> message pairs a summary lists."""
    return dict(FAILURE.findall(output))


def texts(client: claimstore.Client) -> set[str]:
    return {claim.text for claim in client.list_claims(page_size=1000)}


# import


@pytest.fixture
def mixed_file(tmp_path: Path) -> Path:
    """Four good lines; between them a blank line and four bad ones, at lines 4, 6, 7 and 8."""
    lines = [
        line("Good claim A."),  # 1
        line("Good claim B."),  # 2
        "",  # 3: blank lines are skipped but counted
        '{"claim": {"text": "Half a line"',  # 4: not JSON
        line("Good claim C."),  # 5
        json.dumps({"claim": json.loads(line("Unknown field."))["claim"], "bogus": 1}),  # 6
        '{"claim": {"text": 5, "attribution": "ATTRIBUTION_DIRECT_QUOTE"}}',  # 7: wrong type
        line(""),  # 8: the server rejects an empty text
        line("Good claim D."),  # 9
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_reports_each_bad_line_and_stores_the_good_ones(
    server: ClaimServer, client: claimstore.Client, mixed_file: Path
) -> None:
    status, output = run("import", "--target", server.target, str(mixed_file))
    assert status == 1
    assert output.splitlines()[0] == "4 created, 0 already there, 4 failed"
    found = failures(output)
    assert set(found) == {f"{mixed_file}:{number}" for number in (4, 6, 7, 8)}
    assert "not a claim" in found[f"{mixed_file}:4"]
    assert "bogus" in found[f"{mixed_file}:6"]
    assert "text" in found[f"{mixed_file}:7"]
    server_error = found[f"{mixed_file}:8"]
    assert server_error.startswith("INVALID_ARGUMENT")
    assert "claim.text" in server_error
    assert texts(client) == {f"Good claim {letter}." for letter in "ABCD"}


def test_import_of_the_same_file_again_creates_nothing(
    server: ClaimServer, client: claimstore.Client, mixed_file: Path
) -> None:
    run("import", "--target", server.target, str(mixed_file))
    status, output = run("import", "--target", server.target, str(mixed_file))
    assert status == 1
    assert output.splitlines()[0] == "0 created, 4 already there, 4 failed"
    assert len(texts(client)) == 4


def test_import_json_summary(server: ClaimServer, mixed_file: Path) -> None:
    status, output = run("import", "--target", server.target, "--json", str(mixed_file))
    assert status == 1
    summary = json.loads(output)
    assert (summary["created"], summary["already_existed"], summary["failed"]) == (4, 0, 4)
    lines = {failure["line"] for failure in summary["first_failures"]}
    assert lines == {f"{mixed_file}:{number}" for number in (4, 6, 7, 8)}


def test_import_counts_lines_in_each_file_from_1(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    first = tmp_path / "first.jsonl"
    second = tmp_path / "second.jsonl"
    first.write_text(line("One.") + "\n" + line("Two.") + "\n", encoding="utf-8")
    second.write_text(line("Three.") + "\nnot json\n", encoding="utf-8")
    status, output = run("import", "--target", server.target, str(first), str(second))
    assert status == 1
    assert output.splitlines()[0] == "3 created, 0 already there, 1 failed"
    assert set(failures(output)) == {f"{second}:2"}
    assert texts(client) == {"One.", "Two.", "Three."}


def test_import_of_good_lines_only_exits_0(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    path = tmp_path / "good.jsonl"
    path.write_text("".join(line(f"Claim {n}.") + "\n" for n in range(7)), encoding="utf-8")
    status, output = run("import", "--target", server.target, "--batch-size", "2", str(path))
    assert status == 0
    assert output == "7 created, 0 already there, 0 failed\n"
    assert len(texts(client)) == 7


def test_import_reports_a_line_that_is_not_utf8_and_goes_on(
    server: ClaimServer,
    client: claimstore.Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "latin1.jsonl"
    bad = '{"claim": {"text": "caf\xe9"}}'.encode("latin-1")
    path.write_bytes(line("Before.").encode() + b"\n" + bad + b"\n" + line("After.").encode())
    status, output = run("import", "--target", server.target, str(path))
    assert output.startswith("2 created, 0 already there, 1 failed\n"), capsys.readouterr().err
    assert status == 1
    assert set(failures(output)) == {f"{path}:2"}
    assert texts(client) == {"Before.", "After."}


def test_an_unknown_enum_name_is_reported_with_the_names_the_enum_takes(
    server: ClaimServer, tmp_path: Path
) -> None:
    path = tmp_path / "short-names.jsonl"
    path.write_text(line("Quoted.").replace("ATTRIBUTION_DIRECT_QUOTE", "QUOTE") + "\n")
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    message = failures(output)[f"{path}:1"]
    assert "Invalid enum value QUOTE for enum type claimstore.v1.Attribution" in message
    assert message.endswith(
        "; it takes ATTRIBUTION_DIRECT_QUOTE, ATTRIBUTION_PARAPHRASE, ATTRIBUTION_REPORTED"
    )


def test_a_parse_error_ends_in_one_period(server: ClaimServer, tmp_path: Path) -> None:
    path = tmp_path / "wrong-type.jsonl"
    path.write_text('{"claim": {"text": 5}}\n')
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    message = failures(output)[f"{path}:1"]
    assert message.endswith("got 'int'.")  # json_format's own message ends "got 'int'.."
    assert not message.endswith("..")


def test_import_reports_a_line_too_large_to_send_and_goes_on(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    # Larger than any message the client sends (and than any claim the server takes).
    huge = line("x" * 5_000_000)
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join([line("Before."), huge, line("After.")]) + "\n", encoding="utf-8")
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    assert output.startswith("2 created, 0 already there, 1 failed\n")
    assert failures(output)[f"{path}:2"].startswith("too large: 5,000,0")
    assert texts(client) == {"Before.", "After."}


def test_import_reads_a_file_that_opens_with_a_byte_order_mark(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    path = tmp_path / "from-windows.jsonl"
    text = line("First.") + "\r\n" + line("Second.") + "\r\n"
    path.write_bytes(text.encode("utf-8-sig"))
    status, output = run("import", "--target", server.target, str(path))
    assert (status, output) == (0, "2 created, 0 already there, 0 failed\n")
    assert texts(client) == {"First.", "Second."}


def test_import_reads_a_gzipped_file(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    path = tmp_path / "claims.jsonl.gz"
    path.write_bytes(gzip.compress((line("Zipped.") + "\n" + line("Also zipped.") + "\n").encode()))
    status, output = run("import", "--target", server.target, str(path))
    assert (status, output) == (0, "2 created, 0 already there, 0 failed\n")
    assert texts(client) == {"Zipped.", "Also zipped."}


def importing_from_stdin(target: str) -> subprocess.Popen[str]:
    """``claimstore import -`` in a child process, sending each line as it comes."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "claimstore", "import"),
            *("--batch-size", "1", "--target", target, "-"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def send_until_stored(
    importing: subprocess.Popen[str], client: claimstore.Client, *sent: str
) -> None:
    """Writes a claim of each text to the import's stdin, keeping it open (the import then
    waits for more), and waits until exactly those claims are stored."""
    assert importing.stdin is not None
    for text in sent:
        importing.stdin.write(line(text) + "\n")
    importing.stdin.flush()
    deadline = time.monotonic() + 20
    while len(texts(client)) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert texts(client) == set(sent)


def test_ctrl_c_during_an_import_prints_what_was_stored_and_exits_130(
    server: ClaimServer, client: claimstore.Client
) -> None:
    importing = importing_from_stdin(server.target)
    try:
        send_until_stored(importing, client, "One.", "Two.", "Three.")
        importing.send_signal(signal.SIGINT)
        out, err = importing.communicate(timeout=20)
    finally:
        importing.kill()
    assert importing.returncode == 130
    assert out == "3 created, 0 already there, 0 failed\n"
    assert "interrupted" in err
    assert "Traceback" not in err


def test_a_server_stopping_during_an_import_leaves_the_summary_of_what_was_stored(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "stopping.db")
    importing = importing_from_stdin(server.target)
    try:
        with claimstore.Client(server.target) as client:
            send_until_stored(importing, client, "One.", "Two.")
        server.stop(grace=0)
        out, err = importing.communicate(line("Three.") + "\n", timeout=20)
    finally:
        importing.kill()
        server.stop(grace=0)
    assert importing.returncode == 1
    assert out == "2 created, 0 already there, 0 failed\n"
    assert "claimstore import: stopped; the claims counted above are stored" in err
    assert "Traceback" not in err
    assert "Fatal Python error" not in err  # gRPC's thread still reading stdin at exit


def test_a_server_shutting_down_ends_an_open_import_at_once_and_says_why(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "shutting-down.db")
    importing = importing_from_stdin(server.target)
    try:
        with claimstore.Client(server.target) as client:
            send_until_stored(importing, client, "One.")
        started = time.monotonic()
        server.stop(grace=30)  # the import's stdin is still open: it does not wait for it
        assert time.monotonic() - started < 10
        out, err = importing.communicate(timeout=20)
    finally:
        importing.kill()
        server.stop(grace=0)
    assert importing.returncode == 1
    assert out == "1 created, 0 already there, 0 failed\n"
    assert "claimstore: UNAVAILABLE: the server is shutting down" in err
    assert "is a server running" not in err  # the server answered: no need to ask


def test_import_of_a_missing_file_exits_2_and_says_so(
    server: ClaimServer,
    client: claimstore.Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(line("A claim.") + "\n", encoding="utf-8")
    missing = tmp_path / "no-such-file.jsonl"
    status, output = run("import", "--target", server.target, str(good), str(missing))
    assert status == 2
    assert output == ""
    assert str(missing) in capsys.readouterr().err
    assert texts(client) == set()


def test_import_dash_reads_stdin(
    server: ClaimServer,
    client: claimstore.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = line("From stdin 1.") + "\n" + line("From stdin 2.") + "\n{oops\n"
    # Like the real stdin: text over a byte buffer, which the import reads.
    stdin = io.TextIOWrapper(io.BytesIO(content.encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    status, output = run("import", "--target", server.target, "-")
    assert status == 1
    assert output.splitlines()[0] == "2 created, 0 already there, 1 failed"
    assert set(failures(output)) == {"-:3"}
    assert texts(client) == {"From stdin 1.", "From stdin 2."}


def test_import_and_export_print_no_progress_when_stderr_is_not_a_terminal(
    server: ClaimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "good.jsonl"
    path.write_text(line("Quiet.") + "\n", encoding="utf-8")
    assert main(["import", "--target", server.target, str(path)]) == 0
    assert main(["export", "--target", server.target]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    summary, exported = captured.out.splitlines()
    assert summary == "1 created, 0 already there, 0 failed"
    assert parse_import_line(exported).claim.text == "Quiet."


class Terminal(io.StringIO):
    """A stream that is a terminal, as the CLI's progress bars are drawn for one."""

    def isatty(self) -> bool:
        return True


def terminal_stderr(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """Makes standard error a terminal, where the progress bars go, for the rest of the test
    (in its body: pytest puts its own capture back between a fixture and the test)."""
    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    return stderr


def one_line_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "one.jsonl"
    path.write_text(line(text) + "\n", encoding="utf-8")
    return path


def test_import_draws_its_progress_on_the_terminal(
    server: ClaimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = terminal_stderr(monkeypatch)
    summary = io.StringIO()
    path = one_line_file(tmp_path, "Counted.")
    assert main(["import", "--target", server.target, str(path)], out=summary) == 0
    assert "importing" in terminal.getvalue()
    assert summary.getvalue() == "1 created, 0 already there, 0 failed\n"


@pytest.mark.parametrize("to_terminal", [False, True])
def test_export_draws_its_progress_on_the_terminal_unless_it_writes_there(
    server: ClaimServer,
    client: claimstore.Client,
    monkeypatch: pytest.MonkeyPatch,
    to_terminal: bool,
) -> None:
    terminal = terminal_stderr(monkeypatch)
    client.create_claim(
        "Shown.", speaker="Dmitry Peskov", attribution="paraphrase", stated_at="2025-11-20"
    )
    out = terminal if to_terminal else io.StringIO()
    assert main(["export", "--target", server.target], out=out) == 0
    # Written to the terminal, the claims show how far it is; a bar would cut in between.
    assert ("exporting" in terminal.getvalue()) is not to_terminal
    assert "\x1b" not in out.getvalue()
    (exported,) = exported_lines(out.getvalue())
    assert exported.claim.text == "Shown."


# export


@pytest.fixture
def four_days(client: claimstore.Client) -> claimstore.Client:
    """Claims by Peskov and Rubio on 2025-11-19 to 2025-11-22."""
    for day in ("2025-11-19", "2025-11-20", "2025-11-21", "2025-11-22"):
        for speaker in ("Dmitry Peskov", "Marco Rubio"):
            client.create_claim(
                f"{speaker} on {day}.",
                speaker=speaker,
                attribution="paraphrase",
                stated_at=day,
                citations=[{"url": f"https://example.com/{day}", "publisher": "Reuters"}],
            )
    return client


def exported_lines(output: str) -> list[claim_service_pb2.CreateClaimRequest]:
    assert output.endswith("\n")
    return [parse_import_line(text) for text in output.splitlines()]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], {"speaker": None, "since": None, "before": None}),
        (["--speaker", "peskov"], {"speaker": "peskov", "since": None, "before": None}),
        (["--since", "2025-11-21"], {"speaker": None, "since": "2025-11-21", "before": None}),
        # --until is inclusive: the whole of 2025-11-20.
        (["--until", "2025-11-20"], {"speaker": None, "since": None, "before": "2025-11-21"}),
        (
            ["--speaker", "Marco Rubio", "--since", "2025-11-20", "--until", "2025-11-21"],
            {"speaker": "Marco Rubio", "since": "2025-11-20", "before": "2025-11-22"},
        ),
    ],
    ids=["everything", "speaker", "since", "until", "speaker since until"],
)
def test_export_writes_json_lines_honouring_the_filters(
    server: ClaimServer,
    four_days: claimstore.Client,
    options: list[str],
    expected: dict[str, Any],
) -> None:
    status, output = run("export", "--target", server.target, *options)
    assert status == 0
    requests = exported_lines(output)
    wanted = [import_request(claim) for claim in four_days.export_claims(**expected)]
    assert requests == wanted
    assert requests
    if options:
        assert len(requests) < 8
    for request in requests:
        assert not request.claim.id
        assert not request.claim.speaker_id
        assert request.claim.speaker.display_name
        assert all(citation.source.url for citation in request.claim.citations)


def test_exported_file_imports_into_an_empty_server(
    server: ClaimServer, four_days: claimstore.Client, tmp_path: Path
) -> None:
    status, output = run("export", "--target", server.target, "--speaker", "Rubio")
    assert status == 0
    path = tmp_path / "rubio.jsonl"
    path.write_text(output, encoding="utf-8")
    other = start_server(tmp_path / "other.db")
    try:
        status, summary = run("import", "--target", other.target, str(path))
        assert status == 0
        assert summary == "4 created, 0 already there, 0 failed\n"
        assert run("export", "--target", other.target) == (0, output)
    finally:
        other.stop(0)


def exporting(target: str, **popen: Any) -> subprocess.Popen[str]:
    """``claimstore export`` in a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "claimstore", "export", "--target", target],
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_export_with_stdout_closed_says_so_and_exits_2(
    server: ClaimServer, four_days: claimstore.Client
) -> None:
    # Started with `>&-`: Python's sys.stdout is None, which had ended in a traceback.
    child = exporting(server.target, preexec_fn=lambda: os.close(1))
    _, err = child.communicate(timeout=20)
    assert (child.returncode, err) == (2, "claimstore export: standard output is closed\n")
