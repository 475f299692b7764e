"""Claims over time through the raw stub: UpdateClaim with masks and etags, soft delete and
undelete, citations added and removed, and the revisions every write records.

Each refused request is checked for its exact status and for leaving the claim as it was.
"""

import functools
import threading
from collections.abc import Callable

import grpc
import pytest
from claimstore.v1 import claim_filter_pb2, claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore.v1.claim_revision_pb2 import (
    CHANGE_TYPE_CREATED,
    CHANGE_TYPE_DELETED,
    CHANGE_TYPE_UNDELETED,
    CHANGE_TYPE_UPDATED,
)
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from claimstore_server import _pagination
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from helpers import call_error, invalid_fields, not_found_field

NOV_20 = 1_763_596_800  # 2025-11-20T00:00:00Z
UNKNOWN_CLAIM_ID = "clm_01JD3M0X8Y9Z0000000000000A"
UNKNOWN_SOURCE_ID = "src_01JD3M0X8Y9Z0000000000000A"
ACTOR = (("claimstore-actor", "desk:alice"),)

Create = Callable[..., claim_pb2.Claim]


@pytest.fixture
def create(stub: ClaimServiceStub) -> Create:
    """Creates a claim by Dmitry Peskov cited by one Reuters report; keyword arguments
    override the claim's fields."""

    def make(**fields: object) -> claim_pb2.Claim:
        claim = claim_pb2.Claim(
            text="Consultations are not currently under way",
            attribution=claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
            speaker=speaker_pb2.Speaker(display_name="Dmitry Peskov", aliases=["Peskov"]),
            stated_at=Timestamp(seconds=NOV_20),
            stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
            channel="briefing",
            language="en",
            topics=["peace plan"],
            citations=[
                claim_pb2.Citation(
                    source=source_pb2.Source(url="https://reuters.example/1", publisher="Reuters")
                )
            ],
        )
        for name, value in fields.items():
            claim.ClearField(name)  # type: ignore[arg-type]
            if isinstance(value, list):
                getattr(claim, name).extend(value)
            elif isinstance(value, grpc.Call | bytes):
                raise TypeError(name)
            elif hasattr(value, "DESCRIPTOR"):
                getattr(claim, name).CopyFrom(value)
            else:
                setattr(claim, name, value)
        return stub.CreateClaim(claim_service_pb2.CreateClaimRequest(claim=claim), metadata=ACTOR)

    return make


def update(
    stub: ClaimServiceStub, claim: claim_pb2.Claim, paths: list[str], reason: str = ""
) -> claim_pb2.Claim:
    return stub.UpdateClaim(
        claim_service_pb2.UpdateClaimRequest(
            claim=claim, update_mask=FieldMask(paths=paths), reason=reason
        ),
        metadata=ACTOR,
    )


def revisions(stub: ClaimServiceStub, claim_id: str) -> list[int]:
    response = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(claim_id=claim_id)
    )
    return [revision.revision for revision in response.revisions]


def get(stub: ClaimServiceStub, claim_id: str, revision: int = 0) -> claim_pb2.Claim:
    return stub.GetClaim(claim_service_pb2.GetClaimRequest(id=claim_id, revision=revision))


def listed_ids(stub: ClaimServiceStub, show_deleted: bool = False) -> set[str]:
    response = stub.ListClaims(claim_service_pb2.ListClaimsRequest(show_deleted=show_deleted))
    return {claim.id for claim in response.claims}


def delete(
    stub: ClaimServiceStub,
    claim_id: str,
    reason: claim_pb2.DeletionReason.ValueType = claim_pb2.DELETION_REASON_RETRACTED,
    note: str = "",
    etag: str = "",
) -> claim_pb2.Claim:
    return stub.DeleteClaim(
        claim_service_pb2.DeleteClaimRequest(
            id=claim_id, deletion=claim_pb2.Deletion(reason=reason, note=note), etag=etag
        ),
        metadata=ACTOR,
    )


# UpdateClaim


def test_an_update_changes_only_the_named_fields(stub: ClaimServiceStub, create: Create) -> None:
    original = create()
    updated = update(
        stub,
        claim_pb2.Claim(id=original.id, text="Consultations are under way", channel="ignored"),
        ["text"],
        reason="quote corrected from the transcript",
    )
    assert updated.text == "Consultations are under way"
    assert updated.channel == original.channel == "briefing"
    assert (updated.revision, original.revision) == (2, 1)
    assert updated.etag
    assert updated.etag != original.etag
    assert updated.create_time == original.create_time
    assert updated.update_time.ToMicroseconds() > original.update_time.ToMicroseconds()
    for unchanged in ("speaker_id", "stated_at", "attribution", "topics", "language"):
        assert getattr(updated, unchanged) == getattr(original, unchanged), unchanged
    assert [c.source_id for c in updated.citations] == [c.source_id for c in original.citations]
    assert get(stub, original.id) == updated


def test_an_empty_mask_means_the_fields_the_claim_sets(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    updated = update(stub, claim_pb2.Claim(id=original.id, channel="call with U.S. envoy"), [])
    assert updated.channel == "call with U.S. envoy"
    assert updated.text == original.text
    last = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(claim_id=original.id)
    ).revisions[-1]
    assert list(last.changed_fields.paths) == ["channel"]


def test_a_star_mask_replaces_every_field(stub: ClaimServiceStub, create: Create) -> None:
    original = create()
    replacement = claim_pb2.Claim(
        id=original.id,
        text="The plan is a basis for talks",
        attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
        speaker_id=original.speaker_id,
        stated_at=Timestamp(seconds=NOV_20 + 86_400),
        stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
    )
    updated = update(stub, replacement, ["*"])
    assert updated.text == "The plan is a basis for talks"
    assert updated.attribution == claim_pb2.ATTRIBUTION_PARAPHRASE
    assert (updated.channel, updated.language, list(updated.topics)) == ("", "", [])
    assert list(updated.citations) == []


def test_an_update_that_changes_nothing_records_no_revision(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    same_text = claim_pb2.Claim(id=original.id, text=f"  {original.text} ")
    assert update(stub, same_text, ["text"]) == original
    as_gotten = get(stub, original.id)
    as_gotten.ClearField("speaker")  # the full view's; the claim names it by speaker_id
    for citation in as_gotten.citations:
        citation.ClearField("source")
    assert update(stub, as_gotten, ["*"]) == original
    assert revisions(stub, original.id) == [1]
    # A change after them is revision 2, as if they had not been asked for.
    changed = update(stub, claim_pb2.Claim(id=original.id, channel="interview"), ["channel"])
    assert (changed.revision, revisions(stub, original.id)) == (2, [1, 2])


def test_a_speaker_given_inline_re_attributes_the_claim(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    updated = update(
        stub,
        claim_pb2.Claim(
            id=original.id,
            speaker=speaker_pb2.Speaker(
                display_name="Yuri Ushakov", kind=speaker_pb2.SPEAKER_KIND_PERSON
            ),
        ),
        ["speaker"],
    )
    assert updated.speaker_id != original.speaker_id
    assert updated.speaker.display_name == "Yuri Ushakov"
    by_speaker = stub.ListClaims(
        claim_service_pb2.ListClaimsRequest(filter=claim_filter_pb2.ClaimFilter(speaker="Ushakov"))
    )
    assert [claim.id for claim in by_speaker.claims] == [original.id]
    by_old = stub.ListClaims(
        claim_service_pb2.ListClaimsRequest(filter=claim_filter_pb2.ClaimFilter(speaker="Peskov"))
    )
    assert list(by_old.claims) == []


def last_changed_fields(stub: ClaimServiceStub, claim_id: str) -> list[str]:
    response = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(claim_id=claim_id, page_size=1000)
    )
    return list(response.revisions[-1].changed_fields.paths)


def test_a_revision_records_the_fields_that_changed_not_every_field_named(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    as_gotten = get(stub, original.id)
    as_gotten.ClearField("speaker")
    for citation in as_gotten.citations:
        citation.ClearField("source")
    as_gotten.text = "Consultations are not under way"
    update(stub, as_gotten, ["*"])  # every field named, the text alone changed
    assert last_changed_fields(stub, original.id) == ["text"]

    update(stub, claim_pb2.Claim(id=original.id, text="Talks are off", channel="briefing"), [])
    assert last_changed_fields(stub, original.id) == ["text"]  # the channel was "briefing"

    # A coarser precision moves stated_at to the start of the month: both changed.
    month = claim_pb2.Claim(id=original.id, stated_at_precision=claim_pb2.DATE_PRECISION_MONTH)
    update(stub, month, ["stated_at_precision"])
    assert last_changed_fields(stub, original.id) == ["stated_at", "stated_at_precision"]

    inline = claim_pb2.Claim(id=original.id, speaker=speaker_pb2.Speaker(display_name="Ushakov"))
    update(stub, inline, ["speaker", "channel", "language"])
    assert last_changed_fields(stub, original.id) == ["speaker", "channel", "language"]


def test_an_updated_text_is_searchable_at_once(stub: ClaimServiceStub, create: Create) -> None:
    original = create()
    update(stub, claim_pb2.Claim(id=original.id, text="Capitulation is not on the table"), ["text"])

    def found(query: str) -> list[str]:
        response = stub.SearchClaims(claim_service_pb2.SearchClaimsRequest(query=query))
        return [result.claim.id for result in response.results]

    assert found("capitulation") == [original.id]
    assert found("consultations") == []


def test_a_stale_etag_is_aborted_and_changes_nothing(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    update(stub, claim_pb2.Claim(id=original.id, channel="first edit"), ["channel"])
    error = call_error(
        lambda: update(
            stub,
            claim_pb2.Claim(id=original.id, channel="second edit", etag=original.etag),
            ["channel"],
        )
    )
    assert error.code() == grpc.StatusCode.ABORTED
    assert "etag" in (error.details() or "")
    status = rpc_status.from_call(error)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    assert info.reason == "ETAG_MISMATCH"
    current = get(stub, original.id)
    assert info.metadata["current_etag"] == current.etag
    assert (current.channel, current.revision) == ("first edit", 2)
    assert revisions(stub, original.id) == [1, 2]


def test_concurrent_updates_with_one_etag_let_exactly_one_win(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def edit(number: int) -> None:
        start.wait()
        try:
            update(
                stub,
                claim_pb2.Claim(id=original.id, channel=f"edit {number}", etag=original.etag),
                ["channel"],
            )
            outcome = "ok"
        except grpc.RpcError as error:
            outcome = error.code().name
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=edit, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ABORTED"] * 7 + ["ok"]
    assert revisions(stub, original.id) == [1, 2]


@pytest.mark.parametrize(
    ("paths", "claim_fields"),
    [
        (["no_such_field"], {}),
        (["create_time"], {}),
        (["etag"], {}),
        (["id"], {}),
        (["delete_time"], {}),
        (["speaker.display_name"], {}),
        (["speaker", "speaker_id"], {}),
        (["*", "text"], {}),
        ([], {}),  # an empty mask and nothing set: nothing to change
    ],
)
def test_a_bad_mask_is_invalid_and_changes_nothing(
    stub: ClaimServiceStub, create: Create, paths: list[str], claim_fields: dict[str, object]
) -> None:
    original = create()
    fields = invalid_fields(
        lambda: update(stub, claim_pb2.Claim(id=original.id, **claim_fields), paths)  # type: ignore[arg-type]
    )
    assert fields == {"update_mask"}
    assert get(stub, original.id) == original


@pytest.mark.parametrize(
    ("claim", "paths", "field"),
    [
        (claim_pb2.Claim(text="   "), ["text"], "claim.text"),
        (claim_pb2.Claim(), ["attribution"], "claim.attribution"),
        (claim_pb2.Claim(), ["stated_at"], "claim.stated_at"),
        (claim_pb2.Claim(), ["speaker_id"], "claim.speaker_id"),
        (claim_pb2.Claim(language="not a tag!"), ["language"], "claim.language"),
        (claim_pb2.Claim(topics=["ok", "  "]), ["topics"], "claim.topics[1]"),
        (
            claim_pb2.Claim(citations=[claim_pb2.Citation(source_id="nope")]),
            ["citations"],
            "claim.citations[0].source_id",
        ),
    ],
)
def test_bad_new_values_name_their_field_and_change_nothing(
    stub: ClaimServiceStub, create: Create, claim: claim_pb2.Claim, paths: list[str], field: str
) -> None:
    original = create()
    claim.id = original.id
    assert invalid_fields(lambda: update(stub, claim, paths)) == {field}
    assert get(stub, original.id) == original


def test_updating_an_unknown_or_malformed_id(stub: ClaimServiceStub) -> None:
    unknown = claim_pb2.Claim(id=UNKNOWN_CLAIM_ID, text="x")
    assert not_found_field(lambda: update(stub, unknown, ["text"])) == "claim.id"
    error = call_error(lambda: update(stub, unknown, ["text"]))
    assert UNKNOWN_CLAIM_ID in (error.details() or "")
    assert invalid_fields(lambda: update(stub, claim_pb2.Claim(id="bad", text="x"), ["text"])) == {
        "claim.id"
    }


def test_an_update_to_another_claims_content_is_already_exists(
    stub: ClaimServiceStub, create: Create
) -> None:
    first = create()
    second = create(text="Another statement entirely")
    error = call_error(
        lambda: update(stub, claim_pb2.Claim(id=second.id, text=first.text), ["text"])
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert get(stub, second.id) == second


def test_an_unknown_source_in_new_citations_is_not_found(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    kept = [claim_pb2.Citation(source_id=c.source_id, role=c.role) for c in original.citations]
    cited = [*kept, claim_pb2.Citation(source_id=UNKNOWN_SOURCE_ID)]
    revised = claim_pb2.Claim(id=original.id, citations=cited)
    field = not_found_field(lambda: update(stub, revised, ["citations"]))
    assert field == f"claim.citations[{len(cited) - 1}].source_id"
    assert get(stub, original.id) == original


# DeleteClaim and UndeleteClaim


def test_retract_then_undelete(stub: ClaimServiceStub, create: Create) -> None:
    kept = create(text="A claim that stays")
    original = create()
    deleted = delete(stub, original.id, note="the outlet withdrew its report")
    assert deleted.HasField("delete_time")
    assert deleted.deletion.reason == claim_pb2.DELETION_REASON_RETRACTED
    assert deleted.deletion.note == "the outlet withdrew its report"
    assert deleted.revision == 2
    assert deleted.text == original.text, "a deleted claim keeps its data"
    assert get(stub, original.id) == deleted
    assert listed_ids(stub) == {kept.id}
    assert listed_ids(stub, show_deleted=True) == {kept.id, original.id}
    speaker = stub.GetSpeaker(claim_service_pb2.GetSpeakerRequest(id=original.speaker_id))
    assert speaker.claim_count == 1, "a deleted claim leaves its speaker's count"

    def searched(show_deleted: bool) -> list[str]:
        response = stub.SearchClaims(
            claim_service_pb2.SearchClaimsRequest(query="consultations", show_deleted=show_deleted)
        )
        return [result.claim.id for result in response.results]

    assert searched(False) == []
    assert searched(True) == [original.id]

    def exported(show_deleted: bool) -> set[str]:
        return {
            claim.id
            for response in stub.ExportClaims(
                claim_service_pb2.ExportClaimsRequest(show_deleted=show_deleted)
            )
            for claim in response.claims
        }

    assert exported(False) == {kept.id}
    assert exported(True) == {kept.id, original.id}

    restored = stub.UndeleteClaim(
        claim_service_pb2.UndeleteClaimRequest(
            id=original.id, etag=deleted.etag, reason="retraction was itself withdrawn"
        )
    )
    assert not restored.HasField("delete_time")
    assert not restored.HasField("deletion")
    assert restored.revision == 3
    assert listed_ids(stub) == {kept.id, original.id}
    assert searched(False) == [original.id]


def test_undeleting_a_live_claim_already_exists_and_deleting_twice_is_not_found(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    error = call_error(
        lambda: stub.UndeleteClaim(claim_service_pb2.UndeleteClaimRequest(id=original.id))
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS  # AIP-164
    assert "the claim is not deleted" in (error.details() or "")
    assert revisions(stub, original.id) == [1]
    deleted = delete(stub, original.id)
    error = call_error(lambda: delete(stub, original.id))
    assert error.code() == grpc.StatusCode.NOT_FOUND  # AIP-164, with no allow_missing
    assert error.details() == f"id: claim {original.id!r} is already deleted"
    status = rpc_status.from_call(error)
    assert status is not None
    resource = error_details_pb2.ResourceInfo()
    assert any(detail.Unpack(resource) for detail in status.details)
    assert resource.resource_name == original.id
    for change in (
        lambda: update(stub, claim_pb2.Claim(id=original.id, text="new words"), ["text"]),
        lambda: stub.AddCitation(
            claim_service_pb2.AddCitationRequest(
                claim_id=original.id,
                citation=claim_pb2.Citation(source=source_pb2.Source(url="https://ap.example/")),
            )
        ),
    ):
        assert call_error(change).code() == grpc.StatusCode.FAILED_PRECONDITION
    assert get(stub, original.id) == deleted
    assert revisions(stub, original.id) == [1, 2]


@pytest.mark.parametrize(
    ("deletion", "field"),
    [
        (claim_pb2.Deletion(), "deletion.reason"),
        (claim_pb2.Deletion(reason=99), "deletion.reason"),  # type: ignore[arg-type]
        (claim_pb2.Deletion(reason=claim_pb2.DELETION_REASON_OTHER), "deletion.note"),
        (
            claim_pb2.Deletion(reason=claim_pb2.DELETION_REASON_DUPLICATE, note="x" * 1001),
            "deletion.note",
        ),
    ],
)
def test_a_deletion_without_a_good_reason_is_invalid(
    stub: ClaimServiceStub, create: Create, deletion: claim_pb2.Deletion, field: str
) -> None:
    original = create()
    request = claim_service_pb2.DeleteClaimRequest(id=original.id, deletion=deletion)
    assert invalid_fields(lambda: stub.DeleteClaim(request)) == {field}
    assert get(stub, original.id) == original


def test_a_stale_etag_on_delete_is_aborted(stub: ClaimServiceStub, create: Create) -> None:
    original = create()
    update(stub, claim_pb2.Claim(id=original.id, channel="edited"), ["channel"])
    error = call_error(lambda: delete(stub, original.id, etag=original.etag))
    assert error.code() == grpc.StatusCode.ABORTED
    assert original.id in listed_ids(stub)


# AddCitation and RemoveCitation


def test_add_and_remove_a_citation(stub: ClaimServiceStub, create: Create) -> None:
    original = create()
    ap = source_pb2.Source(url="https://ap.example/2", publisher="Associated Press")
    added = stub.AddCitation(
        claim_service_pb2.AddCitationRequest(
            claim_id=original.id,
            citation=claim_pb2.Citation(source=ap, excerpt="Peskov said…"),
            etag=original.etag,
            reason="AP reports it too",
        )
    )
    assert added.revision == 2
    assert [c.source.publisher for c in added.citations] == ["Reuters", "Associated Press"]
    by_publisher = stub.ListClaims(
        claim_service_pb2.ListClaimsRequest(
            filter=claim_filter_pb2.ClaimFilter(publisher="associated press")
        )
    )
    assert [claim.id for claim in by_publisher.claims] == [original.id]

    again = call_error(
        lambda: stub.AddCitation(
            claim_service_pb2.AddCitationRequest(
                claim_id=original.id, citation=claim_pb2.Citation(source=ap)
            )
        )
    )
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS

    ap_id = added.citations[1].source_id
    removed = stub.RemoveCitation(
        claim_service_pb2.RemoveCitationRequest(
            claim_id=original.id, source_id=ap_id, etag=added.etag
        )
    )
    assert removed.revision == 3
    assert [c.source_id for c in removed.citations] == [original.citations[0].source_id]
    missing = call_error(
        lambda: stub.RemoveCitation(
            claim_service_pb2.RemoveCitationRequest(claim_id=original.id, source_id=ap_id)
        )
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert revisions(stub, original.id) == [1, 2, 3]


def filtered_ids(stub: ClaimServiceStub, **fields: object) -> list[str]:
    response = stub.ListClaims(
        claim_service_pb2.ListClaimsRequest(filter=claim_filter_pb2.ClaimFilter(**fields))  # type: ignore[arg-type]
    )
    return [claim.id for claim in response.claims]


def test_an_update_moves_the_claim_between_topic_and_source_filters(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create(topics=["peace plan", "Sanctions"])
    reuters_id = original.citations[0].source_id
    assert filtered_ids(stub, topics=["peace plan"]) == [original.id]
    assert filtered_ids(stub, source_id=reuters_id) == [original.id]
    changed = claim_pb2.Claim(
        id=original.id,
        topics=["sanctions", "ceasefire"],
        citations=[
            claim_pb2.Citation(source=source_pb2.Source(url="https://ap.example/9", publisher="AP"))
        ],
    )
    updated = update(stub, changed, ["topics", "citations"])
    assert list(updated.topics) == ["sanctions", "ceasefire"]
    assert filtered_ids(stub, topics=["peace plan"]) == []
    assert filtered_ids(stub, topics=["Sanctions"]) == [original.id]
    assert filtered_ids(stub, topics=["ceasefire"]) == [original.id]
    assert filtered_ids(stub, source_id=reuters_id) == []
    assert filtered_ids(stub, publisher="reuters") == []
    assert filtered_ids(stub, publisher="ap") == [original.id]
    assert filtered_ids(stub, source_id=updated.citations[0].source_id) == [original.id]


def test_a_source_cited_in_two_roles_stays_linked_until_both_go(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    reuters = original.citations[0]
    both = stub.AddCitation(
        claim_service_pb2.AddCitationRequest(
            claim_id=original.id,
            citation=claim_pb2.Citation(
                source_id=reuters.source_id, role=claim_pb2.CITATION_ROLE_ORIGIN
            ),
        )
    )
    assert [c.source_id for c in both.citations] == [reuters.source_id] * 2
    assert filtered_ids(stub, source_id=reuters.source_id) == [original.id]
    one = stub.RemoveCitation(
        claim_service_pb2.RemoveCitationRequest(
            claim_id=original.id, source_id=reuters.source_id, role=claim_pb2.CITATION_ROLE_ORIGIN
        )
    )
    assert [c.role for c in one.citations] == [claim_pb2.CITATION_ROLE_REPORT]
    assert filtered_ids(stub, source_id=reuters.source_id) == [original.id]
    assert filtered_ids(stub, publisher="reuters") == [original.id]
    stub.RemoveCitation(
        claim_service_pb2.RemoveCitationRequest(claim_id=original.id, source_id=reuters.source_id)
    )
    assert filtered_ids(stub, source_id=reuters.source_id) == []
    assert filtered_ids(stub, publisher="reuters") == []


def test_citation_changes_reject_bad_input(stub: ClaimServiceStub, create: Create) -> None:
    original = create()
    assert invalid_fields(
        lambda: stub.AddCitation(claim_service_pb2.AddCitationRequest(claim_id=original.id))
    ) == {"citation"}
    assert invalid_fields(
        lambda: stub.AddCitation(
            claim_service_pb2.AddCitationRequest(
                claim_id=original.id, citation=claim_pb2.Citation(source_id="nope")
            )
        )
    ) == {"citation.source_id"}
    unknown_source = claim_pb2.Citation(source_id=UNKNOWN_SOURCE_ID)
    assert (
        not_found_field(
            lambda: stub.AddCitation(
                claim_service_pb2.AddCitationRequest(claim_id=original.id, citation=unknown_source)
            )
        )
        == "citation.source_id"
    )
    known_source = claim_pb2.Citation(source_id=original.citations[0].source_id)
    for call in (
        lambda: stub.AddCitation(
            claim_service_pb2.AddCitationRequest(claim_id=UNKNOWN_CLAIM_ID, citation=known_source)
        ),
        lambda: stub.RemoveCitation(
            claim_service_pb2.RemoveCitationRequest(
                claim_id=UNKNOWN_CLAIM_ID, source_id=known_source.source_id
            )
        ),
    ):
        assert not_found_field(call) == "claim_id"
    assert invalid_fields(
        lambda: stub.RemoveCitation(
            claim_service_pb2.RemoveCitationRequest(claim_id=original.id, source_id="")
        )
    ) == {"source_id"}
    assert get(stub, original.id) == original


# Revisions


def test_revisions_are_complete_and_ordered_after_a_mix_of_writes(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    update(stub, claim_pb2.Claim(id=original.id, text="Talks are under way"), ["text"], "fixed")
    stub.AddCitation(
        claim_service_pb2.AddCitationRequest(
            claim_id=original.id,
            citation=claim_pb2.Citation(source=source_pb2.Source(url="https://ap.example/3")),
        )
    )
    delete(stub, original.id, claim_pb2.DELETION_REASON_FABRICATED, note="no such briefing")
    stub.UndeleteClaim(claim_service_pb2.UndeleteClaimRequest(id=original.id, reason="it was"))
    update(stub, claim_pb2.Claim(id=original.id, channel="TASS"), ["channel"])

    response = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(claim_id=original.id)
    )
    listed = list(response.revisions)
    assert [r.revision for r in listed] == [1, 2, 3, 4, 5, 6]
    assert [r.change_type for r in listed] == [
        CHANGE_TYPE_CREATED,
        CHANGE_TYPE_UPDATED,
        CHANGE_TYPE_UPDATED,
        CHANGE_TYPE_DELETED,
        CHANGE_TYPE_UNDELETED,
        CHANGE_TYPE_UPDATED,
    ]
    assert [list(r.changed_fields.paths) for r in listed] == [
        [],
        ["text"],
        ["citations"],
        [],
        [],
        ["channel"],
    ]
    assert [r.reason for r in listed] == ["", "fixed", "", "no such briefing", "it was", ""]
    assert {r.actor for r in listed} == {"desk:alice", ""}
    assert listed[0].actor == "desk:alice"
    assert [r.claim.revision for r in listed] == [1, 2, 3, 4, 5, 6]
    assert listed[0].claim.text == original.text
    assert listed[1].claim.text == "Talks are under way"
    assert listed[3].claim.HasField("delete_time")
    times = [r.change_time.ToMicroseconds() for r in listed]
    assert times == sorted(times)
    # Each revision can be fetched, and the last is the claim as it is now.
    assert get(stub, original.id, revision=1).text == original.text
    assert get(stub, original.id, revision=1).etag == original.etag
    current = stub.GetClaim(
        claim_service_pb2.GetClaimRequest(id=original.id, view=claim_service_pb2.CLAIM_VIEW_BASIC)
    )
    assert listed[-1].claim == current
    # Paging.
    first = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(claim_id=original.id, page_size=4)
    )
    rest = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(
            claim_id=original.id, page_size=4, page_token=first.next_page_token
        )
    )
    assert [r.revision for r in [*first.revisions, *rest.revisions]] == [1, 2, 3, 4, 5, 6]
    assert rest.next_page_token == ""


def test_revisions_in_the_full_view_carry_speaker_and_sources(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    (revision,) = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(
            claim_id=original.id, view=claim_service_pb2.CLAIM_VIEW_FULL
        )
    ).revisions
    assert revision.claim.speaker.display_name == "Dmitry Peskov"
    assert revision.claim.citations[0].source.publisher == "Reuters"
    full = get(stub, original.id, revision=1)
    assert full.speaker.display_name == "Dmitry Peskov"


def test_revision_errors(stub: ClaimServiceStub, create: Create) -> None:
    original = create()
    missing = call_error(lambda: get(stub, original.id, revision=2))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert "revision" in (missing.details() or "")
    assert invalid_fields(lambda: get(stub, original.id, revision=-1)) == {"revision"}
    assert (
        not_found_field(
            lambda: stub.ListClaimRevisions(
                claim_service_pb2.ListClaimRevisionsRequest(claim_id=UNKNOWN_CLAIM_ID)
            )
        )
        == "claim_id"
    )
    digest = _pagination.query_digest("revisions", original.id, False)
    forged = [
        "junk",
        # Tokens of this very query, with positions it never issues: one past SQLite's
        # integers, JSON's true (which Python takes for 1), a revision given as text.
        _pagination.encode_token([2**63], digest),
        _pagination.encode_token([True], digest),
        _pagination.encode_token(["1"], digest),
    ]
    for token in forged:
        request = claim_service_pb2.ListClaimRevisionsRequest(
            claim_id=original.id, page_token=token
        )
        assert invalid_fields(functools.partial(stub.ListClaimRevisions, request)) == {"page_token"}


def test_imported_claims_record_their_creation_with_the_actor(stub: ClaimServiceStub) -> None:
    request = claim_service_pb2.CreateClaimRequest(
        claim=claim_pb2.Claim(
            text="Imported words",
            attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
            speaker=speaker_pb2.Speaker(display_name="Marco Rubio"),
            stated_at=Timestamp(seconds=NOV_20),
        )
    )
    (response,) = stub.ImportClaims(
        iter([claim_service_pb2.ImportClaimsRequest(claims=[request])]),
        metadata=(("claimstore-actor", "nightly import"),),
    )
    claim_id = response.results[0].claim_id
    (revision,) = stub.ListClaimRevisions(
        claim_service_pb2.ListClaimRevisionsRequest(claim_id=claim_id)
    ).revisions
    assert (revision.change_type, revision.actor) == (CHANGE_TYPE_CREATED, "nightly import")


@pytest.mark.parametrize("actors", [["x" * 201], ["desk:alice", "desk:bob"]])
def test_a_bad_actor_is_invalid_and_stores_nothing(
    stub: ClaimServiceStub, actors: list[str]
) -> None:
    request = claim_service_pb2.CreateClaimRequest(
        claim=claim_pb2.Claim(
            text="Words",
            attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
            speaker=speaker_pb2.Speaker(display_name="Marco Rubio"),
            stated_at=Timestamp(seconds=NOV_20),
        )
    )
    fields = invalid_fields(
        lambda: stub.CreateClaim(
            request, metadata=tuple(("claimstore-actor", actor) for actor in actors)
        )
    )
    assert fields == {"metadata claimstore-actor"}
    assert list(stub.ListClaims(claim_service_pb2.ListClaimsRequest()).claims) == []


def test_concurrent_updates_without_an_etag_all_land(
    stub: ClaimServiceStub, create: Create
) -> None:
    original = create()
    errors: list[grpc.RpcError] = []
    start = threading.Barrier(8)

    def edit(number: int) -> None:
        start.wait()
        try:
            update(stub, claim_pb2.Claim(id=original.id, channel=f"edit {number}"), ["channel"])
        except grpc.RpcError as error:
            errors.append(error)

    threads = [threading.Thread(target=edit, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert revisions(stub, original.id) == list(range(1, 10))


@pytest.mark.parametrize(
    "view", [claim_service_pb2.CLAIM_VIEW_BASIC, claim_service_pb2.CLAIM_VIEW_FULL]
)
def test_a_long_history_of_a_large_claim_pages_whole(
    stub: ClaimServiceStub, create: Create, view: claim_service_pb2.ClaimView.ValueType
) -> None:
    # Some 220 KB a revision: 30 of them do not fit in one response.
    citations = [
        claim_pb2.Citation(
            source=source_pb2.Source(url=f"https://news.example/{index}"), excerpt="e" * 2_000
        )
        for index in range(100)
    ]
    claim = create(text="Long " * 1_999 + "end", citations=citations)
    for number in range(29):
        update(stub, claim_pb2.Claim(id=claim.id, channel=f"channel {number}"), ["channel"])
    pages, token = [], ""
    while True:
        response = stub.ListClaimRevisions(
            claim_service_pb2.ListClaimRevisionsRequest(
                claim_id=claim.id, page_size=1000, page_token=token, view=view
            )
        )
        pages.append([revision.revision for revision in response.revisions])
        token = response.next_page_token
        if not token:
            break
    assert len(pages) > 1
    assert [number for page in pages for number in page] == list(range(1, 31))
