"""`claimstore import` of files that are not what it reads: missing, cut short, corrupt, not
UTF-8, not JSON Lines, or with a line too large; each is reported in words, with the summary
of what was stored, and never with a traceback. Run in-process against a real server."""

import gzip
import io
import json
import os
import random
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import claimstore
import pytest
from claimstore import format_import_line
from claimstore.cli._main import main
from claimstore.v1 import claim_pb2, claim_service_pb2, speaker_pb2
from claimstore_server import ClaimServer
from helpers import stamp

FAILURE = re.compile(r"^  (\S+?): (.*)$", re.MULTILINE)

NOT_AN_OBJECT = (
    'not a JSON object: each line holds one claim as an object, such as {"claim": {...}}'
)


def run(*argv: str) -> tuple[int, str]:
    """Runs the command; returns its exit status and what it wrote to ``out``."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def line(text: str) -> str:
    """One JSON Lines claim, as `claimstore export` writes it."""
    claim = claim_pb2.Claim(
        text=text,
        attribution=claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
        speaker=speaker_pb2.Speaker(display_name="Dmitry Peskov"),
        stated_at=stamp("2025-11-20T00:00:00+00:00"),
        stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
    )
    return format_import_line(claim_service_pb2.CreateClaimRequest(claim=claim))


def claims_file(count: int) -> bytes:
    """``count`` lines of claims, with words random enough that gzip cannot shrink them to
    nothing (a file cut short then still holds some whole lines)."""
    rng = random.Random(count)
    words = ["peace", "plan", "talks", "Kyiv", "Moscow", "envoy", "ceasefire", "draft"]
    texts = (" ".join(rng.choice(words) for _ in range(12)) + f" {n}." for n in range(count))
    return "".join(line(text) + "\n" for text in texts).encode()


def failures(output: str) -> dict[str, str]:
    """The FILE:LINE (or FILE, for a whole file) -> message pairs a summary lists."""
    return dict(FAILURE.findall(output))


def summary(output: str) -> str:
    return output.splitlines()[0]


def texts(client: claimstore.Client) -> set[str]:
    return {claim.text for claim in client.list_claims(page_size=1000)}


class Terminal(io.StringIO):
    """A stream that is a terminal, as the CLI's progress bars are drawn for one."""

    def isatty(self) -> bool:
        return True


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    """Makes standard error a terminal when ``terminal``: the import then counts the lines
    of its files first, for its bar."""
    if terminal:
        monkeypatch.setattr(sys, "stderr", Terminal())


def error_output(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command wrote to standard error: the terminal, or pytest's capture."""
    if isinstance(sys.stderr, Terminal):
        return sys.stderr.getvalue()
    return capsys.readouterr().err


# Files that cannot be read: checked before anything is sent


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_every_file_is_checked_before_anything_is_sent(
    server: ClaimServer,
    client: claimstore.Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    terminal: bool,
) -> None:
    bulk = tmp_path / "bulk.jsonl"
    bulk.write_bytes(claims_file(30))
    missing = tmp_path / "nonexist.jsonl"
    directory = tmp_path / "a-directory"
    directory.mkdir()
    on_a_terminal(monkeypatch, terminal)
    status, output = run(
        "import", "--target", server.target, "--batch-size", "1",
        str(bulk), str(missing), str(directory),
    )  # fmt: skip
    assert (status, output) == (2, "")
    assert error_output(capsys).splitlines() == [
        f"claimstore: cannot read {missing}: no such file",
        f"claimstore: cannot read {directory}: it is a directory, not a file",
        "claimstore import: nothing imported",
    ]
    assert texts(client) == set()


def test_a_file_gone_by_its_turn_is_reported_with_the_summary_of_the_rest(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    first = tmp_path / "first.jsonl"
    os.mkfifo(first)
    later = tmp_path / "later.jsonl"
    later.write_text(line("Never read.") + "\n", encoding="utf-8")

    def write_then_remove_the_later_file() -> None:
        with open(first, "w", encoding="utf-8") as writer:  # once the import opens the pipe
            writer.write(line("Read.") + "\n")
            later.unlink()

    writing = threading.Thread(target=write_then_remove_the_later_file, daemon=True)
    writing.start()
    status, output = run("import", "--target", server.target, str(first), str(later))
    writing.join(timeout=20)
    assert status == 1
    assert summary(output) == "1 created, 0 already there, 1 failed"
    assert failures(output) == {str(later): "cannot read it: no such file"}
    assert texts(client) == {"Read."}


def test_a_pipe_is_read_once_on_a_terminal_too(
    server: ClaimServer, client: claimstore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As `claimstore import <(zcat claims.jsonl.gz)` gives it: the lines are not counted for
    # the bar, which would take them from the import.
    reading, writing = os.pipe()
    os.write(writing, (line("Piped.") + "\n").encode())
    os.close(writing)
    on_a_terminal(monkeypatch, True)
    try:
        status, output = run("import", "--target", server.target, f"/dev/fd/{reading}")
    finally:
        os.close(reading)
    assert (status, output) == (0, "1 created, 0 already there, 0 failed\n")
    assert texts(client) == {"Piped."}


# Compressed files cut short or corrupt


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_a_gzip_file_cut_short_is_reported_after_the_claims_before_the_cut(
    server: ClaimServer,
    client: claimstore.Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    terminal: bool,
) -> None:
    whole = gzip.compress(claims_file(200))
    cut = tmp_path / "t.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    after = tmp_path / "after.jsonl"
    after.write_text(line("After the cut file.") + "\n", encoding="utf-8")
    on_a_terminal(monkeypatch, terminal)
    status, output = run("import", "--target", server.target, str(cut), str(after))
    assert status == 1
    stored = texts(client)
    assert "After the cut file." in stored
    before_the_cut = len(stored) - 1
    assert 0 < before_the_cut < 200
    assert summary(output) == f"{len(stored)} created, 0 already there, 1 failed"
    assert failures(output) == {
        str(cut): f"the compressed file is cut short after line {before_the_cut}: import a"
        " whole copy to add the rest"
    }
    assert "Traceback" not in error_output(capsys)


def corrupt_crc(whole: bytes) -> bytes:
    """The gzip file with the checksum at its end changed."""
    return whole[:-8] + bytes(byte ^ 0xFF for byte in whole[-8:-4]) + whole[-4:]


def corrupt_data(whole: bytes) -> bytes:
    """The gzip file with its first block of compressed data made of a type there is none of:
    its header is the 10 bytes before, and bits 1 and 2 of the block's first byte its type."""
    return whole[:10] + bytes([whole[10] | 0b110]) + whole[11:]


@pytest.mark.parametrize(
    ("corrupt", "detail"),
    [(corrupt_crc, "(CRC check failed"), (corrupt_data, "(Error -3 while decompressing data")],
    ids=["checksum", "data"],
)
def test_a_corrupt_gzip_file_is_reported(
    server: ClaimServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    corrupt: Callable[[bytes], bytes],
    detail: str,
) -> None:
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(corrupt(gzip.compress(claims_file(2000))))
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    message = failures(output)[str(path)]
    assert message.startswith("the compressed file is corrupt")
    assert detail in message
    assert message.endswith(": import a good copy")
    assert "Traceback" not in capsys.readouterr().err


def test_a_file_named_gz_that_is_not_gzip_is_reported_and_the_next_file_imported(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text(line("Not zipped.") + "\n", encoding="utf-8")
    zipped = tmp_path / "zipped.jsonl.gz"
    zipped.write_bytes(gzip.compress((line("Zipped.") + "\n").encode()))
    status, output = run("import", "--target", server.target, str(plain), str(zipped))
    assert status == 1
    assert summary(output) == "1 created, 0 already there, 1 failed"
    assert failures(output) == {
        str(plain): "not gzip data, though its name ends in .gz: unzip it, or rename it if it"
        " holds JSON Lines already"
    }
    assert texts(client) == {"Zipped."}


# Text that is not UTF-8


def test_a_line_that_is_not_utf8_says_so(server: ClaimServer, tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        line("Before.").encode() + b"\n" + '{"claim": {"text": "caf\xe9"}}'.encode("latin-1")
    )
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    assert failures(output) == {
        f"{path}:2": "not UTF-8 text (0xe9 at byte 24): save the file as UTF-8"
    }


def test_a_utf16_file_is_one_failure_saying_so(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    path = tmp_path / "utf16.jsonl"
    path.write_bytes((line("One.") + "\n" + line("Two.") + "\n").encode("utf-16"))
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    assert summary(output) == "0 created, 0 already there, 1 failed"
    assert failures(output) == {
        str(path): "UTF-16 text, not UTF-8: save it as UTF-8, such as with iconv -f UTF-16 -t UTF-8"
    }
    assert texts(client) == set()


# Lines that are JSON but not JSON Lines of claims


def test_json_that_is_not_an_object_is_reported_as_such(
    server: ClaimServer,
    client: claimstore.Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    not_objects = ['"a string"', "42", "null", "true", "[1,2,3]", "[]", '""', f"[{line('x')}]"]
    path = tmp_path / "not-objects.jsonl"
    path.write_text("\n".join([*not_objects, line("An object.")]) + "\n", encoding="utf-8")
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    assert summary(output) == f"1 created, 0 already there, {len(not_objects)} failed"
    assert failures(output) == {
        f"{path}:{number}": NOT_AN_OBJECT for number in range(1, len(not_objects) + 1)
    }
    assert texts(client) == {"An object."}
    assert "several lines" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "rewrite"),
    [
        (json.dumps(json.loads(line("Pretty.")), indent=2), "jq -c ."),
        (json.dumps([json.loads(line("In an array."))], indent=2), "jq -c '.[]'"),
    ],
    ids=["objects", "array"],
)
def test_json_written_over_several_lines_gets_one_hint(
    server: ClaimServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    rewrite: str,
) -> None:
    path = tmp_path / "pretty.json"
    path.write_text(content + "\n" + content + "\n", encoding="utf-8")
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    assert f"{path}:1" in failures(output)
    hints = [text for text in capsys.readouterr().err.splitlines() if "several lines" in text]
    assert hints == [
        f"claimstore import: {path} looks like JSON written over several lines, but import"
        " reads JSON Lines, one whole claim a line, as 'claimstore export' writes them:"
        f" {rewrite} {path} > claims.jsonl rewrites it so"
    ]


# Lines too large


def test_a_line_too_large_is_reported_as_such_without_being_parsed(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    # Not even JSON: its size alone says what is wrong with it, and its end is found.
    huge = '{"claim": {"text": "' + "x" * 7_000_000
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join([line("Before."), huge, line("After.")]) + "\n", encoding="utf-8")
    status, output = run("import", "--target", server.target, str(path))
    assert status == 1
    assert summary(output) == "2 created, 0 already there, 1 failed"
    assert failures(output) == {
        f"{path}:2": f"too large: {len(huge) + 1:,} bytes, more than a claim may take (2,097,152)"
    }
    assert texts(client) == {"Before.", "After."}
