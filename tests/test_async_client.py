"""AsyncClient against a real server: the same calls as Client, awaited, with the same
requests, errors and results. Each test runs its own event loop (``asyncio.run``)."""

import asyncio
import contextlib
import inspect
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import claimstore
import grpc
import pytest
from claimstore.v1 import claim_pb2, claim_revision_pb2, claim_service_pb2
from claimstore_server import ClaimServer
from helpers import free_port, launch_server

CREATED = claim_service_pb2.IMPORT_OUTCOME_CREATED
ALREADY_EXISTS = claim_service_pb2.IMPORT_OUTCOME_ALREADY_EXISTS
FAILED = claim_service_pb2.IMPORT_OUTCOME_FAILED


def run(target: str, scenario: Callable[[claimstore.AsyncClient], Awaitable[Any]]) -> Any:
    """Runs ``scenario`` with an AsyncClient of ``target`` in a new event loop."""

    async def main() -> Any:
        async with claimstore.AsyncClient(target) as client:
            return await scenario(client)

    return asyncio.run(main())


async def create(
    client: claimstore.AsyncClient, text: str, speaker: str = "Dmitry Peskov"
) -> claim_pb2.Claim:
    return await client.create_claim(
        text,
        speaker=speaker,
        attribution="direct_quote",
        stated_at="2025-11-20",
        topics=["peace plan"],
        citations=[{"url": f"https://example.com/{abs(hash(text))}", "publisher": "Reuters"}],
    )


def request(text: str, speaker: str = "Dmitry Peskov") -> claimstore.CreateClaimRequest:
    claim = claim_pb2.Claim(
        text=text,
        attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
        stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
    )
    claim.speaker.display_name = speaker
    claim.stated_at.FromJsonString("2025-11-20T00:00:00Z")
    return claimstore.CreateClaimRequest(claim=claim)


async def collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_client_method_has_its_asyncio_twin_taking_the_same_arguments() -> None:
    blocking, asynchronous = (
        public_methods(claimstore.Client),
        public_methods(claimstore.AsyncClient),
    )
    assert sorted(blocking) == sorted(asynchronous)
    widened = {("import_claims", "requests")}  # it also reads asynchronous iterables
    for name, signature in blocking.items():
        twin = asynchronous[name].parameters
        assert list(signature.parameters) == list(twin), name
        for parameter in signature.parameters.values():
            other = twin[parameter.name]
            assert (parameter.kind, parameter.default) == (other.kind, other.default), name
            if (name, parameter.name) not in widened:
                assert parameter.annotation == other.annotation, (name, parameter.name)
        calls = not name.startswith(("list_", "search_", "import_", "export_"))
        assert inspect.iscoroutinefunction(getattr(claimstore.AsyncClient, name)) == calls, name


def test_a_claim_is_created_read_changed_deleted_and_restored(server: ClaimServer) -> None:
    async def scenario(client: claimstore.AsyncClient) -> None:
        claim = await create(client, "Consultations are not under way")
        assert claim.id.startswith("clm_")
        got = await client.get_claim(claim.id)
        assert got.speaker.display_name == "Dmitry Peskov"
        assert got.citations[0].source.publisher == "Reuters"

        changed = await client.update_claim(
            claim.id, channel="remarks to reporters", etag=got.etag, reason="from the video"
        )
        assert changed.channel == "remarks to reporters"
        with pytest.raises(claimstore.Aborted):
            await client.update_claim(claim.id, channel="a stale etag", etag=got.etag)

        cited = await client.add_citation(
            claim.id, url="https://t.me/example/1", publisher="Telegram", role="origin"
        )
        assert len(cited.citations) == 2
        origin = next(
            c.source_id for c in cited.citations if c.role == claim_pb2.CITATION_ROLE_ORIGIN
        )
        uncited = await client.remove_citation(claim.id, origin)
        assert len(uncited.citations) == 1

        deleted = await client.delete_claim(claim.id, reason="duplicate")
        assert deleted.HasField("delete_time")
        restored = await client.undelete_claim(claim.id, reason="not a duplicate")
        assert not restored.HasField("delete_time")

        revisions = await collect(aiter(client.list_claim_revisions(claim.id, page_size=2)))
        assert [r.change_type for r in revisions] == [
            claim_revision_pb2.CHANGE_TYPE_CREATED,
            claim_revision_pb2.CHANGE_TYPE_UPDATED,
            claim_revision_pb2.CHANGE_TYPE_UPDATED,
            claim_revision_pb2.CHANGE_TYPE_UPDATED,
            claim_revision_pb2.CHANGE_TYPE_DELETED,
            claim_revision_pb2.CHANGE_TYPE_UNDELETED,
        ]
        first = await client.get_claim(claim.id, revision=1)
        assert first.channel == ""

    run(server.target, scenario)


def test_listings_follow_their_page_tokens(server: ClaimServer) -> None:
    async def scenario(client: claimstore.AsyncClient) -> None:
        made = [(await create(client, f"Statement number {n}")).id for n in range(5)]
        await create(client, "Something else entirely", speaker="Marco Rubio")

        pager = client.list_claims(speaker="Peskov", page_size=2)
        assert sorted([c.id async for c in pager]) == sorted(made)
        assert [len(page) async for page in pager.pages()] == [2, 2, 1]

        found = [r.claim.id async for r in client.search_claims("number", page_size=2)]
        assert sorted(found) == sorted(made)

        speakers = [s async for s in client.list_speakers(page_size=1)]
        assert [s.display_name for s in speakers] == ["Dmitry Peskov", "Marco Rubio"]
        assert [s.display_name async for s in client.list_speakers(name_prefix="rub")] == [
            "Marco Rubio"
        ]
        speaker = await client.get_speaker(speakers[0].id)
        assert speaker.display_name == "Dmitry Peskov"

        sources = [s async for s in client.list_sources(page_size=4)]
        assert len(sources) == 6
        assert (await client.get_source(sources[0].id)).publisher == "Reuters"
        assert await client.create_speaker("Kaja Kallas", title="EU foreign policy chief")
        assert await client.create_source(url="https://example.org/a", publisher="AP")

    run(server.target, scenario)


def test_speakers_and_sources_are_updated(server: ClaimServer) -> None:
    async def scenario(client: claimstore.AsyncClient) -> None:
        claim = await create(client, "Consultations are not under way")
        speaker = await client.update_speaker(claim.speaker_id, title="Kremlin spokesman")
        assert speaker.title == "Kremlin spokesman"
        with pytest.raises(claimstore.Aborted):
            await client.update_speaker(claim.speaker_id, title="x", etag="stale")
        source_id = claim.citations[0].source_id
        source = await client.update_source(source_id, title="Kremlin says", etag=None)
        assert (await client.get_source(source_id)) == source
        assert source.title == "Kremlin says"

    run(server.target, scenario)


def test_errors_are_the_clients_exceptions_raised_from_the_rpc_error(server: ClaimServer) -> None:
    async def scenario(client: claimstore.AsyncClient) -> None:
        with pytest.raises(claimstore.NotFound) as missing:
            await client.get_claim("clm_00000000000000000000000000")
        assert missing.value.code is grpc.StatusCode.NOT_FOUND
        assert missing.value.resource_name == "clm_00000000000000000000000000"
        assert isinstance(missing.value.__cause__, grpc.aio.AioRpcError)

        with pytest.raises(claimstore.InvalidArgument) as invalid:
            await client.create_claim("", attribution="paraphrase", stated_at="2025-11-20")
        assert "claim.text" in invalid.value.field_violations

        claim = await create(client, "Said once")
        with pytest.raises(claimstore.AlreadyExists) as taken:
            await create(client, "Said once")
        assert taken.value.resource_name == claim.id

    run(server.target, scenario)


def test_bad_python_values_fail_before_any_call(stopped_target: str) -> None:
    """Nothing listens at the target: a ValueError shows the call was never made."""

    async def scenario(client: claimstore.AsyncClient) -> None:
        with pytest.raises(ValueError, match="view"):
            client.list_claims(view="sideways")
        with pytest.raises(ValueError, match="attributions"):
            client.export_claims(attributions=["rumour"])
        with pytest.raises(ValueError, match="batch_size"):
            client.import_claims([], batch_size=0)
        with pytest.raises(ValueError, match="timeout"):
            await client.get_claim("clm_x", timeout=0)
        with pytest.raises(ValueError, match="since"):
            await client.watch_claims(since="yesterday")

    run(stopped_target, scenario)


def test_a_client_made_outside_a_loop_serves_the_loop_of_its_first_call(
    server: ClaimServer,
) -> None:
    client = claimstore.AsyncClient(server.target)

    async def count_speakers() -> int:
        await create(client, "Said once")
        return len([speaker async for speaker in client.list_speakers()])

    assert asyncio.run(count_speakers()) == 1
    with pytest.raises(RuntimeError, match="make one AsyncClient in each event loop"):
        asyncio.run(count_speakers())

    async def never_used() -> None:
        async with claimstore.AsyncClient(server.target):
            pass  # closing a client that never called opens nothing

    asyncio.run(never_used())


def test_a_closed_client_refuses_calls_as_a_closed_client_does(server: ClaimServer) -> None:
    # A call after close had opened a new channel, which nothing closed.
    claim_id = "clm_01JD3M0X8Y9Z0000000000000A"

    async def scenario() -> None:
        async with claimstore.AsyncClient(server.target) as client:
            with pytest.raises(claimstore.NotFound):
                await client.get_claim(claim_id)
        with pytest.raises(ValueError, match="closed"):
            await client.get_claim(claim_id)
        with pytest.raises(ValueError, match="closed"):
            await collect(client.export_claims())
        await client.close()  # twice is harmless

    asyncio.run(scenario())
    with claimstore.Client(server.target) as blocking:
        pass
    with pytest.raises(ValueError, match="closed"):
        blocking.get_claim(claim_id)


def test_a_stopped_server_is_unavailable(stopped_target: str) -> None:
    async def scenario() -> None:
        config = claimstore.ClientConfig(target=stopped_target, retry=None, timeout=5)
        async with claimstore.AsyncClient(config=config) as client:
            with pytest.raises(claimstore.Unavailable):
                await client.get_claim("clm_00000000000000000000000000")
            with pytest.raises(claimstore.Unavailable):
                await collect(client.export_claims())

    asyncio.run(scenario())


def test_import_reads_plain_and_asynchronous_iterables(server: ClaimServer) -> None:
    requests = [request(f"Imported claim {n}") for n in range(7)]

    async def arrive_one_by_one() -> AsyncIterator[claimstore.CreateClaimRequest]:
        for item in requests:
            await asyncio.sleep(0)
            yield item

    async def scenario(client: claimstore.AsyncClient) -> None:
        first = await collect(client.import_claims(arrive_one_by_one(), batch_size=3))
        assert [(r.index, r.outcome) for r in first] == [(n, CREATED) for n in range(7)]
        again = await collect(client.import_claims(requests, batch_size=2))
        assert [r.outcome for r in again] == [ALREADY_EXISTS] * 7
        assert [r.claim_id for r in again] == [r.claim_id for r in first]

        bad = [request("A good one"), request(""), request("Another good one")]
        results = await collect(client.import_claims(bad))
        assert [r.outcome for r in results] == [CREATED, FAILED, CREATED]
        assert results[1].error.field_violations[0].field == "claim.text"

        exported = await collect(client.export_claims(speaker="Peskov"))
        assert len(exported) == 9
        assert all(c.speaker.display_name == "Dmitry Peskov" for c in exported)

    run(server.target, scenario)


def test_a_claim_too_large_to_send_ends_the_import_after_the_ones_before(
    server: ClaimServer,
) -> None:
    huge = request("x" * 3_000_000)

    async def scenario(client: claimstore.AsyncClient) -> list[int]:
        seen: list[int] = []

        async def read_all() -> None:
            async for result in client.import_claims([request("Small"), huge, request("Next")]):
                seen.append(result.outcome)

        with pytest.raises(ValueError, match="more than a batch takes"):
            await read_all()
        return seen

    assert run(server.target, scenario) == [CREATED]
    with claimstore.Client(server.target) as client:
        assert [c.text for c in client.list_claims()] == ["Small"]


def test_closing_an_import_early_keeps_the_batches_answered(server: ClaimServer) -> None:
    async def endless() -> AsyncIterator[claimstore.CreateClaimRequest]:
        number = 0
        while True:
            yield request(f"Claim {number}")
            number += 1
            await asyncio.sleep(0)

    async def scenario(client: claimstore.AsyncClient) -> int:
        answered = 0
        async with contextlib.aclosing(client.import_claims(endless(), batch_size=10)) as results:
            async for result in results:
                assert result.outcome == CREATED
                answered += 1
                if answered == 25:
                    break
        return answered

    answered = run(server.target, scenario)
    with claimstore.Client(server.target) as client:
        stored = sum(1 for _ in client.list_claims())
    # Whole batches of 10 are stored or not; the three answered batches are kept.
    assert answered == 25
    assert stored >= 30
    assert stored % 10 == 0


def test_watch_yields_each_change_and_stops_when_closed(server: ClaimServer) -> None:
    async def scenario(client: claimstore.AsyncClient) -> None:
        async with await client.watch_claims(speaker="Peskov", view="full") as watch:
            start = watch.cursor
            assert start
            claim = await create(client, "Made while watched")
            await create(client, "Someone else's", speaker="Marco Rubio")
            await client.update_claim(claim.id, channel="briefing")
            events = [await asyncio.wait_for(anext(watch), 30) for _ in range(2)]
            assert [e.revision.change_type for e in events] == [
                claim_revision_pb2.CHANGE_TYPE_CREATED,
                claim_revision_pb2.CHANGE_TYPE_UPDATED,
            ]
            assert events[1].revision.claim.channel == "briefing"
            assert watch.cursor == events[1].cursor

            # A read given up by its timeout cancels gRPC's call; the next one calls again.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(watch), 0.3)
            later = await create(client, "Made after a read timed out")
            event = await asyncio.wait_for(anext(watch), 30)
            assert event.revision.claim.id == later.id
            assert watch.resumed == 1

            async def close_soon() -> None:
                await asyncio.sleep(0.2)
                watch.close()

            closer = asyncio.create_task(close_soon())
            assert await asyncio.wait_for(collect(watch), 30) == []
            await closer

        async with await client.watch_claims(after_cursor=start) as replay:
            again = [await asyncio.wait_for(anext(replay), 30) for _ in range(4)]
        assert [e.revision.claim.text for e in again] == [
            "Made while watched",
            "Someone else's",
            "Made while watched",
            "Made after a read timed out",
        ]

    run(server.target, scenario)


def test_a_watch_from_a_foreign_cursor_is_invalid(server: ClaimServer) -> None:
    async def scenario(client: claimstore.AsyncClient) -> None:
        with pytest.raises(claimstore.InvalidArgument) as invalid:
            await client.watch_claims(after_cursor="not-a-cursor")
        assert "after_cursor" in invalid.value.field_violations

    run(server.target, scenario)


def test_watch_resumes_after_the_server_restarts(tmp_path: Path) -> None:
    """A real server process is killed and started again on the same port over the same
    database; the watch waits for it and yields every change exactly once, in order."""
    db_path = tmp_path / "claims.db"
    port = free_port()
    target = f"127.0.0.1:{port}"
    log = tmp_path / "server.log"
    process = launch_server(db_path, port, log)

    async def scenario(client: claimstore.AsyncClient) -> int:
        nonlocal process
        async with await client.watch_claims() as watch:
            before = [(await create(client, f"Before the restart {n}")).id for n in range(3)]
            got = [(await asyncio.wait_for(anext(watch), 60)).revision.claim.id for _ in range(3)]
            assert got == before

            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            process = launch_server(db_path, port, log)
            with claimstore.Client(target) as writer:  # the watch waits meanwhile
                after = [
                    writer.create_claim(
                        f"After the restart {n}",
                        speaker="Dmitry Peskov",
                        attribution="paraphrase",
                        stated_at="2025-11-21",
                    ).id
                    for n in range(3)
                ]
            got = [(await asyncio.wait_for(anext(watch), 60)).revision.claim.id for _ in range(3)]
            assert got == after
            with pytest.raises(TimeoutError):  # every event exactly once
                await asyncio.wait_for(anext(watch), 0.5)
            return watch.resumed

    try:
        assert run(target, scenario) >= 1
    finally:
        process.kill()
        process.wait()
