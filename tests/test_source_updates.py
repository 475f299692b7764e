"""UpdateSource: the fields its mask names, the claims citing it showing the change, urls
that stay unique, etags, and bad input that changes nothing."""

from pathlib import Path

import claimstore
import pytest
from claimstore.v1 import claim_service_pb2, source_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from claimstore_server.store import sqlite3
from google.protobuf.field_mask_pb2 import FieldMask
from helpers import invalid_fields, not_found_field

UNKNOWN_SOURCE_ID = "src_01JD3M0X8Y9Z0000000000000A"


@pytest.fixture
def report(client: claimstore.Client) -> source_pb2.Source:
    """A Reuters report, cited by one claim."""
    claim = client.create_claim(
        "Consultations are not under way",
        speaker="Dmitry Peskov",
        attribution="direct_quote",
        stated_at="2025-11-20",
        citations=[{"url": "https://www.reuters.com/world/a", "publisher": "Reuter"}],
    )
    return client.get_source(claim.citations[0].source_id)


def update(
    stub: ClaimServiceStub, source: source_pb2.Source, paths: list[str]
) -> source_pb2.Source:
    request = claim_service_pb2.UpdateSourceRequest(
        source=source, update_mask=FieldMask(paths=paths)
    )
    return stub.UpdateSource(request)


def test_an_update_changes_only_the_fields_given_and_shows_in_the_claims(
    client: claimstore.Client, report: source_pb2.Source
) -> None:
    updated = client.update_source(
        report.id, publisher="Reuters", title="Kremlin says", published_at="2025-11-20"
    )
    assert (updated.publisher, updated.title, updated.url) == (
        "Reuters",
        "Kremlin says",
        report.url,
    )
    assert updated.published_at.ToJsonString() == "2025-11-20T00:00:00Z"
    assert updated.create_time == report.create_time
    assert updated.etag != report.etag
    assert client.get_source(report.id) == updated
    (claim,) = client.list_claims(view="full")
    assert claim.citations[0].source == updated
    assert [c.id for c in client.list_claims(publisher="reuters")] == [claim.id]
    assert list(client.list_claims(publisher="reuter")) == []
    cleared = client.update_source(report.id, published_at=None)
    assert not cleared.HasField("published_at")


def test_a_url_stays_unique_and_compares_in_lower_case(
    client: claimstore.Client, report: source_pb2.Source
) -> None:
    other = client.create_source(url="https://apnews.com/article/b", publisher="AP")
    with pytest.raises(claimstore.AlreadyExists) as raised:
        client.update_source(report.id, url="HTTPS://APNEWS.com/article/b")
    assert other.id in raised.value.message
    assert client.get_source(report.id) == report
    moved = client.update_source(report.id, url="HTTPS://WWW.Reuters.com/world/b")
    assert moved.url == "https://www.reuters.com/world/b"
    # An inline source of the new url is matched to it.
    claim = client.create_claim(
        "Talks will go on",
        speaker="Dmitry Peskov",
        attribution="reported",
        stated_at="2025-11-21",
        citations=[{"url": "https://www.reuters.com/world/b"}],
    )
    assert claim.citations[0].source_id == report.id


def test_a_stale_etag_is_aborted_and_changes_nothing(
    client: claimstore.Client, report: source_pb2.Source
) -> None:
    client.update_source(report.id, title="first", etag=report.etag)
    current = client.get_source(report.id)
    with pytest.raises(claimstore.Aborted):
        client.update_source(report.id, title="second", etag=report.etag)
    assert client.get_source(report.id) == current


def test_an_update_that_changes_nothing_leaves_the_source_as_it_was(
    client: claimstore.Client, report: source_pb2.Source
) -> None:
    assert client.update_source(report.id, publisher="Reuter", url=report.url) == report


@pytest.mark.parametrize(
    ("source", "paths", "field"),
    [
        (source_pb2.Source(), ["url", "publisher"], "source"),
        (source_pb2.Source(title="x"), ["create_time"], "update_mask"),
        (source_pb2.Source(title="x"), ["headline"], "update_mask"),
        (source_pb2.Source(url="ftp://x"), ["url"], "source.url"),
        (source_pb2.Source(kind=99), ["kind"], "source.kind"),  # type: ignore[arg-type]
        (source_pb2.Source(publisher="p" * 201), ["publisher"], "source.publisher"),
    ],
)
def test_bad_input_names_its_field_and_changes_nothing(
    stub: ClaimServiceStub,
    client: claimstore.Client,
    report: source_pb2.Source,
    source: source_pb2.Source,
    paths: list[str],
    field: str,
) -> None:
    source.id = report.id
    assert invalid_fields(lambda: update(stub, source, paths)) == {field}
    assert client.get_source(report.id) == report


def test_an_unknown_or_malformed_id(stub: ClaimServiceStub) -> None:
    unknown = source_pb2.Source(id=UNKNOWN_SOURCE_ID, title="x")
    assert not_found_field(lambda: update(stub, unknown, ["title"])) == "source.id"
    malformed = source_pb2.Source(id="spk_01JD3M0X8Y9Z0000000000000A", title="x")
    assert invalid_fields(lambda: update(stub, malformed, ["title"])) == {"source.id"}


def test_a_url_stored_in_an_older_form_is_kept_by_a_change_to_another_field(
    client: claimstore.Client, report: source_pb2.Source, db_path: Path
) -> None:
    # A url as an older version stored it, whose lower-case form another source holds.
    older = client.create_source(url="https://www.reuters.com/world/b", publisher="Reuters")
    with sqlite3.connect(db_path) as database:
        (body,) = database.execute("SELECT body FROM sources WHERE id = ?", (older.id,))
        stored = source_pb2.Source.FromString(body[0])
        stored.url = report.url.upper().replace("/WORLD/A", "/world/a")
        database.execute(
            "UPDATE sources SET url = ?, body = ? WHERE id = ?",
            (stored.url, stored.SerializeToString(), older.id),
        )
    database.close()
    changed = client.update_source(older.id, title="Kremlin says")
    assert (changed.title, changed.url) == ("Kremlin says", stored.url)
    with pytest.raises(claimstore.AlreadyExists):
        client.update_source(older.id, url=stored.url)


def test_the_client_refuses_none_for_a_field_it_would_clear(
    client: claimstore.Client, report: source_pb2.Source
) -> None:
    with pytest.raises(TypeError, match="title: expected a string"):
        client.update_source(report.id, title=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="kind: expected an enum name or number"):
        client.update_source(report.id, kind=None)  # type: ignore[arg-type]
