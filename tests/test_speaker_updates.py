"""UpdateSpeaker: the fields its mask names, the speaker's claims found by its new names,
etags, and bad input that changes nothing."""

import claimstore
import pytest
from claimstore.v1 import claim_service_pb2, speaker_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from google.protobuf.field_mask_pb2 import FieldMask
from helpers import invalid_fields, not_found_field

UNKNOWN_SPEAKER_ID = "spk_01JD3M0X8Y9Z0000000000000A"


@pytest.fixture
def peskov(client: claimstore.Client) -> speaker_pb2.Speaker:
    """Dmitry Peskov, who made one claim."""
    claim = client.create_claim(
        "Consultations are not under way",
        speaker=speaker_pb2.Speaker(display_name="Dmitry Peskov", aliases=["Peskov"]),
        attribution="direct_quote",
        stated_at="2025-11-20",
    )
    return client.get_speaker(claim.speaker_id)


def update(
    stub: ClaimServiceStub, speaker: speaker_pb2.Speaker, paths: list[str]
) -> speaker_pb2.Speaker:
    request = claim_service_pb2.UpdateSpeakerRequest(
        speaker=speaker, update_mask=FieldMask(paths=paths)
    )
    return stub.UpdateSpeaker(request)


def test_an_update_changes_only_the_fields_given(
    client: claimstore.Client, peskov: speaker_pb2.Speaker
) -> None:
    updated = client.update_speaker(
        peskov.id, title="Kremlin spokesman", aliases=["Peskov", "Dmitri Peskov"]
    )
    assert (updated.title, list(updated.aliases)) == (
        "Kremlin spokesman",
        ["Peskov", "Dmitri Peskov"],
    )
    assert (updated.display_name, updated.kind) == (peskov.display_name, peskov.kind)
    assert updated.create_time == peskov.create_time
    assert updated.update_time.ToMicroseconds() > peskov.update_time.ToMicroseconds()
    assert updated.etag != peskov.etag
    assert updated.claim_count == 1
    assert client.get_speaker(peskov.id) == updated


def test_the_speakers_claims_are_found_by_its_new_names_and_not_its_old_ones(
    client: claimstore.Client, peskov: speaker_pb2.Speaker
) -> None:
    (claim,) = client.list_claims()
    client.update_speaker(peskov.id, display_name="D. S. Peskov", aliases=["Kremlin spokesman"])
    assert [r.claim.id for r in client.search_claims("spokesman")] == [claim.id]
    assert [c.id for c in client.list_claims(speaker="kremlin")] == [claim.id]
    assert list(client.search_claims("Dmitry")) == []
    assert list(client.list_claims(speaker="dmitry")) == []
    assert [s.id for s in client.list_speakers(name_prefix="kreml")] == [peskov.id]
    # An inline speaker of a new name is matched to it, as a claim's would be to any speaker.
    later = client.create_claim(
        "Talks will go on",
        speaker="Kremlin Spokesman",
        attribution="reported",
        stated_at="2025-11-21",
    )
    assert later.speaker_id == peskov.id
    # The claim itself did not change: it keeps its revision and etag.
    assert client.get_claim(claim.id, view="basic") == claim


def test_an_empty_mask_means_the_fields_set_and_a_star_every_field(
    stub: ClaimServiceStub, client: claimstore.Client, peskov: speaker_pb2.Speaker
) -> None:
    titled = update(stub, speaker_pb2.Speaker(id=peskov.id, title="spokesman"), [])
    assert (titled.title, list(titled.aliases)) == ("spokesman", ["Peskov"])
    replaced = update(stub, speaker_pb2.Speaker(id=peskov.id, display_name="D. Peskov"), ["*"])
    assert (replaced.display_name, replaced.title, list(replaced.aliases)) == ("D. Peskov", "", [])
    assert replaced.kind == speaker_pb2.SPEAKER_KIND_PERSON


def test_an_update_that_changes_nothing_leaves_the_speaker_as_it_was(
    client: claimstore.Client, peskov: speaker_pb2.Speaker
) -> None:
    same = client.update_speaker(peskov.id, display_name="Dmitry Peskov", aliases=["Peskov"])
    assert same == peskov


def test_a_stale_etag_is_aborted_and_changes_nothing(
    client: claimstore.Client, peskov: speaker_pb2.Speaker
) -> None:
    client.update_speaker(peskov.id, title="spokesman", etag=peskov.etag)
    current = client.get_speaker(peskov.id)
    with pytest.raises(claimstore.Aborted):
        client.update_speaker(peskov.id, title="press secretary", etag=peskov.etag)
    assert client.get_speaker(peskov.id) == current


def test_a_wikidata_id_of_another_speaker_already_exists(
    client: claimstore.Client, peskov: speaker_pb2.Speaker
) -> None:
    other = client.create_speaker("Sergei Lavrov", wikidata_id="Q178640")
    with pytest.raises(claimstore.AlreadyExists) as raised:
        client.update_speaker(peskov.id, wikidata_id="Q178640")
    assert other.id in raised.value.message
    assert "speaker.wikidata_id" in raised.value.message
    assert client.get_speaker(peskov.id) == peskov
    assert client.update_speaker(other.id, wikidata_id="Q178640") == other


@pytest.mark.parametrize(
    ("speaker", "paths", "field"),
    [
        (speaker_pb2.Speaker(title="x"), ["claim_count"], "update_mask"),
        (speaker_pb2.Speaker(title="x"), ["etag"], "update_mask"),
        (speaker_pb2.Speaker(title="x"), ["name"], "update_mask"),
        (speaker_pb2.Speaker(title="x"), ["*", "title"], "update_mask"),
        (speaker_pb2.Speaker(), [], "update_mask"),
        (speaker_pb2.Speaker(display_name=" "), ["display_name"], "speaker.display_name"),
        (speaker_pb2.Speaker(aliases=["ok", "\x9b"]), ["aliases"], "speaker.aliases[1]"),
        (speaker_pb2.Speaker(kind=99), ["kind"], "speaker.kind"),  # type: ignore[arg-type]
        (speaker_pb2.Speaker(wikidata_id="42"), ["wikidata_id"], "speaker.wikidata_id"),
    ],
)
def test_bad_input_names_its_field_and_changes_nothing(
    stub: ClaimServiceStub,
    client: claimstore.Client,
    peskov: speaker_pb2.Speaker,
    speaker: speaker_pb2.Speaker,
    paths: list[str],
    field: str,
) -> None:
    speaker.id = peskov.id
    assert invalid_fields(lambda: update(stub, speaker, paths)) == {field}
    assert client.get_speaker(peskov.id) == peskov


def test_an_unknown_or_malformed_id(stub: ClaimServiceStub) -> None:
    unknown = speaker_pb2.Speaker(id=UNKNOWN_SPEAKER_ID, title="x")
    assert not_found_field(lambda: update(stub, unknown, ["title"])) == "speaker.id"
    malformed = speaker_pb2.Speaker(id="src_01JD3M0X8Y9Z0000000000000A", title="x")
    assert invalid_fields(lambda: update(stub, malformed, ["title"])) == {"speaker.id"}


def test_the_client_refuses_an_update_of_nothing(
    client: claimstore.Client, peskov: speaker_pb2.Speaker
) -> None:
    with pytest.raises(ValueError, match="nothing to update"):
        client.update_speaker(peskov.id)
    with pytest.raises(TypeError, match="aliases"):
        client.update_speaker(peskov.id, aliases="Peskov")
    with pytest.raises(TypeError, match="display_name: expected a string"):
        client.update_speaker(peskov.id, display_name=None)  # type: ignore[arg-type]
