"""The client library's corrections, soft deletes, citations, revisions and change feed,
against a real server."""

import queue
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import claimstore
import pytest
from claimstore.v1 import claim_pb2, claim_revision_pb2
from claimstore_server import ClaimServer
from helpers import free_port, launch_server

UNKNOWN_CLAIM_ID = "clm_01JD3M0X8Y9Z0000000000000Z"


def create(client: claimstore.Client, text: str, speaker: str = "Dmitry Peskov") -> claim_pb2.Claim:
    return client.create_claim(
        text,
        speaker=speaker,
        attribution="direct_quote",
        stated_at="2025-11-20",
        channel="remarks to reporters",
        language="en",
        topics=["peace plan", "sanctions"],
        citations=[{"url": f"https://example.com/{abs(hash(text))}", "publisher": "Reuters"}],
    )


def without_version(claim: claim_pb2.Claim) -> claim_pb2.Claim:
    """The claim without the fields every change moves: etag, revision, update_time."""
    copy = claim_pb2.Claim()
    copy.CopyFrom(claim)
    copy.ClearField("etag")
    copy.ClearField("revision")
    copy.ClearField("update_time")
    return copy


@pytest.fixture
def alice(server: ClaimServer) -> Iterator[claimstore.Client]:
    """A client whose changes are recorded as made by "alice"."""
    config = claimstore.ClientConfig(target=server.target, actor="alice")
    with claimstore.Client(config=config) as connected:
        yield connected


# update_claim


def test_update_changes_only_the_named_fields_and_bumps_revision_and_etag(
    client: claimstore.Client,
) -> None:
    claim = create(client, "Consultations are not under way")
    assert claim.revision == 1
    assert claim.etag

    updated = client.update_claim(
        claim.id, text="Consultations are not currently under way", etag=claim.etag
    )

    assert updated.text == "Consultations are not currently under way"
    assert updated.revision == 2
    assert updated.etag not in ("", claim.etag)
    assert updated.update_time.ToDatetime() >= claim.update_time.ToDatetime()
    stored = client.get_claim(claim.id)
    assert stored.etag == updated.etag
    expected = without_version(claim)
    expected.text = "Consultations are not currently under way"
    assert without_version(stored) == expected


def test_update_clears_what_is_given_empty_and_leaves_the_rest(client: claimstore.Client) -> None:
    claim = create(client, "Clear some fields")
    client.update_claim(claim.id, channel="", topics=())
    stored = client.get_claim(claim.id)
    assert stored.channel == ""
    assert list(stored.topics) == []
    assert stored.language == "en"
    assert stored.text == "Clear some fields"
    assert len(stored.citations) == 1


def test_update_of_stated_at_brings_its_precision(client: claimstore.Client) -> None:
    claim = create(client, "When was it said")
    moment = datetime(2025, 11, 21, 9, 30, tzinfo=UTC)
    exact = client.update_claim(claim.id, stated_at=moment)
    assert exact.stated_at.ToDatetime(tzinfo=UTC) == moment
    assert exact.stated_at_precision == claim_pb2.DATE_PRECISION_EXACT

    day = client.update_claim(claim.id, stated_at="2025-11-22")
    assert day.stated_at_precision == claim_pb2.DATE_PRECISION_DAY

    month = client.update_claim(claim.id, stated_at_precision="month")
    assert month.stated_at.ToDatetime(tzinfo=UTC) == datetime(2025, 11, 1, tzinfo=UTC)
    assert month.stated_at_precision == claim_pb2.DATE_PRECISION_MONTH


def test_update_reattributes_to_another_speaker(client: claimstore.Client) -> None:
    claim = create(client, "Said by someone else")
    by_name = client.update_claim(claim.id, speaker="Sergei Lavrov", reason="misattributed")
    lavrov = client.get_claim(claim.id).speaker
    assert lavrov.display_name == "Sergei Lavrov"
    assert by_name.speaker_id == lavrov.id != claim.speaker_id

    by_id = client.update_claim(claim.id, speaker_id=claim.speaker_id)
    assert by_id.speaker_id == claim.speaker_id


def test_update_with_a_stale_etag_is_aborted_and_changes_nothing(
    client: claimstore.Client,
) -> None:
    claim = create(client, "Raced")
    client.update_claim(claim.id, text="First writer", etag=claim.etag)
    with pytest.raises(claimstore.Aborted):
        client.update_claim(claim.id, text="Second writer", etag=claim.etag)
    stored = client.get_claim(claim.id)
    assert stored.text == "First writer"
    assert stored.revision == 2


def test_update_without_an_etag_applies_whatever_the_version(client: claimstore.Client) -> None:
    claim = create(client, "Last writer wins")
    client.update_claim(claim.id, text="One")
    assert client.update_claim(claim.id, text="Two").revision == 3


def test_update_needs_a_field_and_one_speaker(client: claimstore.Client) -> None:
    claim = create(client, "Nothing to do")
    with pytest.raises(ValueError, match="at least one field"):
        client.update_claim(claim.id, reason="no field")
    with pytest.raises(ValueError, match="speaker"):
        client.update_claim(claim.id, speaker="A", speaker_id=claim.speaker_id)
    with pytest.raises(TypeError, match="topics"):
        client.update_claim(claim.id, topics="peace plan")
    assert client.get_claim(claim.id).revision == 1


def test_update_refused_by_the_server(client: claimstore.Client) -> None:
    claim = create(client, "Required fields stay")
    with pytest.raises(claimstore.InvalidArgument) as raised:
        client.update_claim(claim.id, text="   ")
    assert any("text" in field for field in raised.value.field_violations)
    with pytest.raises(claimstore.NotFound):
        client.update_claim(UNKNOWN_CLAIM_ID, text="nobody")
    assert client.get_claim(claim.id).revision == 1


# delete_claim and undelete_claim


def test_delete_and_undelete_round_trip(client: claimstore.Client) -> None:
    claim = create(client, "Retracted by the outlet")
    kept = create(client, "Still standing")

    deleted = client.delete_claim(
        claim.id, reason="retracted", note="the outlet corrected its report", etag=claim.etag
    )
    assert deleted.HasField("delete_time")
    assert deleted.deletion.reason == claim_pb2.DELETION_REASON_RETRACTED
    assert deleted.deletion.note == "the outlet corrected its report"
    assert deleted.revision == 2
    assert client.get_claim(claim.id).HasField("delete_time")

    assert [c.id for c in client.list_claims()] == [kept.id]
    assert {c.id for c in client.list_claims(show_deleted=True)} == {claim.id, kept.id}
    assert [r.claim.id for r in client.search_claims("retracted outlet")] == []
    found = client.search_claims("retracted outlet", show_deleted=True)
    assert [r.claim.id for r in found] == [claim.id]
    assert [c.id for c in client.export_claims()] == [kept.id]
    assert {c.id for c in client.export_claims(show_deleted=True)} == {claim.id, kept.id}

    restored = client.undelete_claim(claim.id, etag=deleted.etag, reason="report confirmed")
    assert not restored.HasField("delete_time")
    assert not restored.HasField("deletion")
    assert restored.revision == 3
    assert without_version(client.get_claim(claim.id)) == without_version(claim)
    assert {c.id for c in client.list_claims()} == {claim.id, kept.id}


def test_what_a_deleted_claim_cannot_do(client: claimstore.Client) -> None:
    claim = create(client, "Deleted twice")
    client.delete_claim(claim.id, reason="duplicate")
    with pytest.raises(claimstore.NotFound, match="already deleted"):  # AIP-164
        client.delete_claim(claim.id, reason="duplicate")
    with pytest.raises(claimstore.FailedPrecondition):
        client.update_claim(claim.id, text="changed while deleted")
    with pytest.raises(claimstore.FailedPrecondition):
        client.add_citation(claim.id, url="https://example.com/late")
    client.undelete_claim(claim.id)
    with pytest.raises(claimstore.AlreadyExists):  # AIP-164: it is not deleted
        client.undelete_claim(claim.id)
    assert client.get_claim(claim.id).revision == 3


def test_delete_with_a_stale_etag_is_aborted(client: claimstore.Client) -> None:
    claim = create(client, "Changed under the deleter")
    client.update_claim(claim.id, channel="interview")
    with pytest.raises(claimstore.Aborted):
        client.delete_claim(claim.id, reason="fabricated", etag=claim.etag)
    assert not client.get_claim(claim.id).HasField("delete_time")


def test_delete_for_another_reason_needs_a_note(client: claimstore.Client) -> None:
    claim = create(client, "Why though")
    with pytest.raises(claimstore.InvalidArgument) as raised:
        client.delete_claim(claim.id, reason="other")
    assert "deletion.note" in raised.value.field_violations
    with pytest.raises(ValueError, match="reason"):
        client.delete_claim(claim.id, reason="bored")
    deleted = client.delete_claim(claim.id, reason="other", note="a satire site")
    assert deleted.deletion.reason == claim_pb2.DELETION_REASON_OTHER


def test_delete_of_an_unknown_claim_is_not_found(client: claimstore.Client) -> None:
    with pytest.raises(claimstore.NotFound):
        client.delete_claim(UNKNOWN_CLAIM_ID, reason="retracted")
    with pytest.raises(claimstore.NotFound):
        client.undelete_claim(UNKNOWN_CLAIM_ID)


# add_citation and remove_citation


def test_add_and_remove_citations(client: claimstore.Client) -> None:
    claim = create(client, "Widely reported")
    (first,) = claim.citations

    by_url = client.add_citation(
        claim.id,
        url="https://apnews.com/article/x",
        publisher="Associated Press",
        role="origin",
        excerpt="not currently under way",
        etag=claim.etag,
        reason="found the original",
    )
    assert by_url.revision == 2
    added = by_url.citations[-1]
    assert added.role == claim_pb2.CITATION_ROLE_ORIGIN
    assert added.excerpt == "not currently under way"
    ap = client.get_source(added.source_id)
    assert ap.url == "https://apnews.com/article/x"

    by_id = client.add_citation(claim.id, source_id=ap.id)  # the same source, as a report
    assert [(c.source_id, c.role) for c in by_id.citations] == [
        (first.source_id, claim_pb2.CITATION_ROLE_REPORT),
        (ap.id, claim_pb2.CITATION_ROLE_ORIGIN),
        (ap.id, claim_pb2.CITATION_ROLE_REPORT),
    ]
    with pytest.raises(claimstore.AlreadyExists):
        client.add_citation(claim.id, source_id=ap.id, role="origin")

    one_role = client.remove_citation(claim.id, ap.id, role="report", etag=by_id.etag)
    assert [(c.source_id, c.role) for c in one_role.citations] == [
        (first.source_id, claim_pb2.CITATION_ROLE_REPORT),
        (ap.id, claim_pb2.CITATION_ROLE_ORIGIN),
    ]
    every_role = client.remove_citation(claim.id, first.source_id, reason="not about this")
    assert [c.source_id for c in every_role.citations] == [ap.id]
    assert every_role.revision == 5
    with pytest.raises(claimstore.NotFound):
        client.remove_citation(claim.id, first.source_id)
    with pytest.raises(claimstore.Aborted):
        client.add_citation(claim.id, url="https://example.com/stale", etag=claim.etag)

    revisions = list(client.list_claim_revisions(claim.id))
    assert [list(r.changed_fields.paths) for r in revisions[1:]] == [["citations"]] * 4
    assert [r.reason for r in revisions[1:]] == ["found the original", "", "", "not about this"]


def test_add_citation_needs_one_source(client: claimstore.Client) -> None:
    claim = create(client, "Cite what")
    with pytest.raises(ValueError, match="source"):
        client.add_citation(claim.id)
    with pytest.raises(ValueError, match="source"):
        client.add_citation(claim.id, source_id="src_x", url="https://example.com/both")
    assert client.get_claim(claim.id).revision == 1


# list_claim_revisions and get_claim(revision=)


def test_revisions_in_order_with_actor_reason_and_fields(
    server: ClaimServer, alice: claimstore.Client
) -> None:
    claim = create(alice, "As first reported")
    alice.update_claim(claim.id, text="As corrected", topics=["peace plan"], reason="transcript")
    alice.delete_claim(claim.id, reason="fabricated", note="never said")
    bob_config = claimstore.ClientConfig(target=server.target, actor="bob@newsroom (desk 2)")
    with claimstore.Client(config=bob_config) as bob:
        bob.undelete_claim(claim.id, reason="it was said after all")
    anonymous = claimstore.Client(server.target)
    with anonymous:
        anonymous.update_claim(claim.id, language="en-GB")

    revisions = list(alice.list_claim_revisions(claim.id))

    assert [r.revision for r in revisions] == [1, 2, 3, 4, 5]
    assert [r.change_type for r in revisions] == [
        claim_revision_pb2.CHANGE_TYPE_CREATED,
        claim_revision_pb2.CHANGE_TYPE_UPDATED,
        claim_revision_pb2.CHANGE_TYPE_DELETED,
        claim_revision_pb2.CHANGE_TYPE_UNDELETED,
        claim_revision_pb2.CHANGE_TYPE_UPDATED,
    ]
    assert [r.actor for r in revisions] == ["alice", "alice", "alice", "bob@newsroom (desk 2)", ""]
    assert [r.reason for r in revisions] == [
        "",
        "transcript",
        "never said",
        "it was said after all",
        "",
    ]
    assert sorted(revisions[1].changed_fields.paths) == ["text", "topics"]
    assert list(revisions[4].changed_fields.paths) == ["language"]
    assert [r.claim.revision for r in revisions] == [1, 2, 3, 4, 5]
    assert [r.claim.text for r in revisions] == ["As first reported"] + ["As corrected"] * 4
    assert revisions[2].claim.deletion.reason == claim_pb2.DELETION_REASON_FABRICATED
    times = [r.change_time.ToDatetime() for r in revisions]
    assert times == sorted(times)
    assert len({r.claim.etag for r in revisions}) == 5

    paged = alice.list_claim_revisions(claim.id, page_size=2)
    assert [len(page) for page in paged.pages()] == [2, 2, 1]
    assert [r.revision for r in paged] == [1, 2, 3, 4, 5]


def test_get_claim_at_a_revision(client: claimstore.Client) -> None:
    claim = create(client, "Version one")
    client.update_claim(claim.id, text="Version two")
    first = client.get_claim(claim.id, revision=1)
    assert first.text == "Version one"
    assert first.revision == 1
    assert first.etag == claim.etag
    assert client.get_claim(claim.id, revision=2).text == "Version two"
    assert client.get_claim(claim.id).text == "Version two"
    with pytest.raises(claimstore.NotFound):
        client.get_claim(claim.id, revision=3)


def test_revisions_of_an_unknown_claim(client: claimstore.Client) -> None:
    with pytest.raises(claimstore.NotFound):
        list(client.list_claim_revisions(UNKNOWN_CLAIM_ID))


def test_actor_must_be_printable_ascii_of_at_most_200_characters() -> None:
    assert claimstore.ClientConfig(actor="a" * 200).actor == "a" * 200
    with pytest.raises(ValueError, match="actor"):
        claimstore.ClientConfig(actor="a" * 201)
    with pytest.raises(ValueError, match="actor"):
        claimstore.ClientConfig(actor="Jean-Noël")
    with pytest.raises(ValueError, match="actor"):
        claimstore.ClientConfig(actor="tab\there")


def test_actor_goes_with_the_configured_metadata() -> None:
    config = claimstore.ClientConfig(metadata=(("authorization", "Bearer x"),), actor="alice")
    assert config.call_metadata() == (
        ("authorization", "Bearer x"),
        ("claimstore-actor", "alice"),
    )
    assert claimstore.ClientConfig().call_metadata() == ()
    with pytest.raises(ValueError, match="actor"):
        claimstore.ClientConfig(metadata=(("claimstore-actor", "bob"),), actor="alice")


# watch_claims


def take(watch: claimstore.ClaimWatch, count: int, seconds: float = 30) -> list[str]:
    """The next ``count`` events of ``watch`` as "change claim_id" strings; closes the watch
    if they take longer than ``seconds``, so that a missing event fails instead of hanging."""
    watchdog = threading.Timer(seconds, watch.close)
    watchdog.start()
    try:
        return [describe(next(watch)) for _ in range(count)]
    except StopIteration:
        pytest.fail(f"fewer than {count} events within {seconds} s")
    finally:
        watchdog.cancel()


def describe(event: claimstore.ClaimEvent) -> str:
    change = claim_revision_pb2.ChangeType.Name(event.revision.change_type)
    return f"{change.removeprefix('CHANGE_TYPE_').lower()} {event.revision.claim.id}"


def test_watch_yields_each_change_made_after_it_starts(alice: claimstore.Client) -> None:
    before = create(alice, "Made before the watch")
    with alice.watch_claims(view="full") as watch:
        start = watch.cursor
        assert start
        claim = create(alice, "Made while watched")
        alice.update_claim(claim.id, text="Edited while watched", reason="typo")
        alice.delete_claim(claim.id, reason="duplicate")
        alice.undelete_claim(claim.id)
        alice.update_claim(before.id, channel="")

        events = []
        for _ in range(5):
            events.append(next(watch))
            assert watch.cursor == events[-1].cursor

    assert [describe(e) for e in events] == [
        f"created {claim.id}",
        f"updated {claim.id}",
        f"deleted {claim.id}",
        f"undeleted {claim.id}",
        f"updated {before.id}",
    ]
    assert len({e.cursor for e in events} | {start}) == 6
    assert [e.revision.revision for e in events] == [1, 2, 3, 4, 2]
    assert {e.revision.actor for e in events} == {"alice"}
    assert events[1].revision.reason == "typo"
    assert events[1].revision.claim.text == "Edited while watched"
    assert events[0].revision.claim.speaker.display_name == "Dmitry Peskov"  # the full view
    with pytest.raises(StopIteration):
        next(watch)  # closed by the with block


def test_watch_filter(client: claimstore.Client) -> None:
    with client.watch_claims(speaker="Lavrov", topics=["sanctions"]) as watch:
        create(client, "Not by Lavrov")
        by_lavrov = create(client, "By Lavrov", speaker="Sergei Lavrov")
        assert take(watch, 1) == [f"created {by_lavrov.id}"]
        assert not watch.resumed


def test_watch_from_a_cursor_gets_what_happened_in_between(client: claimstore.Client) -> None:
    with client.watch_claims() as first:
        seen = create(client, "Seen by the first watch")
        assert take(first, 1) == [f"created {seen.id}"]
        cursor = first.cursor
    missed = [create(client, f"Made while nobody watched {n}") for n in range(3)]
    client.update_claim(seen.id, text="Edited while nobody watched")

    with client.watch_claims(after_cursor=cursor) as second:
        assert take(second, 4) == [f"created {c.id}" for c in missed] + [f"updated {seen.id}"]


def test_watch_from_a_foreign_cursor_is_invalid(client: claimstore.Client) -> None:
    with pytest.raises(claimstore.InvalidArgument) as raised:
        client.watch_claims(after_cursor="not a cursor")
    assert "after_cursor" in raised.value.field_violations


def test_close_from_another_thread_ends_the_iteration(client: claimstore.Client) -> None:
    watch = client.watch_claims()
    threading.Timer(0.3, watch.close).start()
    started = time.monotonic()
    assert list(watch) == []
    assert time.monotonic() - started < 10
    watch.close()  # closing again is harmless


def test_watch_on_an_unreachable_server_raises_unavailable(stopped_target: str) -> None:
    with claimstore.Client(stopped_target) as client, pytest.raises(claimstore.Unavailable):
        client.watch_claims()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_watch_resumes_after_the_server_restarts(tmp_path: Path, stop: signal.Signals) -> None:
    """A real server process is stopped and started again on the same port over the same
    database; the watch waits for it and yields every change exactly once, in order."""
    db_path = tmp_path / "claims.db"
    port = free_port()
    target = f"127.0.0.1:{port}"
    log = tmp_path / "server.log"
    process = launch_server(db_path, port, log)
    received: queue.Queue[claimstore.ClaimEvent | BaseException] = queue.Queue()

    def receive() -> None:
        try:
            for event in watch:
                received.put(event)
        except BaseException as error:  # handed to the test thread, which raises it
            received.put(error)

    def next_ids(count: int) -> list[str]:
        ids = []
        for _ in range(count):
            item = received.get(timeout=60)
            if isinstance(item, BaseException):
                raise item
            ids.append(item.revision.claim.id)
        return ids

    try:
        with claimstore.Client(target) as client, client.watch_claims() as watch:
            reader = threading.Thread(target=receive, daemon=True)
            reader.start()
            before = [create(client, f"Before the restart {n}").id for n in range(3)]
            assert next_ids(3) == before

            process.send_signal(stop)
            process.wait(timeout=30)
            process = launch_server(db_path, port, log)
            with claimstore.Client(target) as writer:
                after = [create(writer, f"After the restart {n}").id for n in range(3)]

            assert next_ids(3) == after
            assert watch.resumed >= 1
            time.sleep(0.5)  # a duplicate, if any, would have come by now
        reader.join(timeout=10)
        assert not reader.is_alive()
        assert received.empty(), "every event exactly once"
    finally:
        process.kill()
        process.wait()
