"""CreateSource, GetSource and ListSources."""

from collections.abc import Callable

import claimstore
import grpc
import pytest
from claimstore.v1 import claim_service_pb2, source_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import Counts, call_error, invalid_fields, stamp

UNKNOWN_SOURCE_ID = "src_01JD3M0X8Y9Z0000000000000A"


def create(stub: ClaimServiceStub, **fields: object) -> source_pb2.Source:
    request = claim_service_pb2.CreateSourceRequest(source=source_pb2.Source(**fields))  # type: ignore[arg-type]
    return stub.CreateSource(request)


def test_create_then_get_returns_every_field(client: claimstore.Client) -> None:
    created = client.create_source(
        url="https://www.reuters.com/world/europe/kremlin-2025-11-20/",
        publisher="Reuters",
        title="Kremlin says no talks under way",
        kind="news_article",
        published_at="2025-11-20T09:15:00+00:00",
    )
    assert created.id.startswith("src_")
    assert created.url == "https://www.reuters.com/world/europe/kremlin-2025-11-20/"
    assert created.publisher == "Reuters"
    assert created.title == "Kremlin says no talks under way"
    assert created.kind == source_pb2.SOURCE_KIND_NEWS_ARTICLE
    assert created.published_at == stamp("2025-11-20T09:15:00+00:00")
    assert created.create_time.seconds > 0
    assert created.update_time == created.create_time
    assert client.get_source(created.id) == created


def test_defaults(stub: ClaimServiceStub) -> None:
    created = create(stub, publisher="Reuters")
    assert created.kind == source_pb2.SOURCE_KIND_OTHER
    assert created.url == ""
    assert not created.HasField("published_at")
    assert created.id.startswith("src_")


@pytest.mark.parametrize(
    "kind", [value.name for value in source_pb2.SourceKind.DESCRIPTOR.values if value.number]
)
def test_every_kind_is_kept(client: claimstore.Client, kind: str) -> None:
    created = client.create_source(publisher="Reuters", kind=kind)
    assert source_pb2.SourceKind.Name(client.get_source(created.id).kind) == kind


def test_sources_without_url_do_not_collide(client: claimstore.Client) -> None:
    first = client.create_source(publisher="AP")
    second = client.create_source(publisher="AP")
    assert first.id != second.id


def test_url_is_unique_and_the_original_is_unchanged(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    url = "https://apnews.com/article/123"
    original = client.create_source(url=url, publisher="AP", title="Original")
    with pytest.raises(claimstore.AlreadyExists) as raised:
        client.create_source(url=f"  {url} ", publisher="Someone else", title="Replacement")
    assert "source.url" in raised.value.message
    assert original.id in raised.value.message
    assert counts()["sources"] == 1
    assert client.get_source(original.id) == original


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/path?q=1#frag",
        "https://例え.jp/パス",
        "https://example.com/Case/Of/The?Path=Kept#Too",
        "https://example.com/" + "a" * (2048 - len("https://example.com/")),
    ],
)
def test_good_urls_are_kept(client: claimstore.Client, url: str) -> None:
    assert client.get_source(client.create_source(url=url).id).url == url


def test_the_scheme_and_host_of_a_url_compare_in_lower_case(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    stored = client.create_source(url="HTTPS://News.EXAMPLE.com/Story")
    assert stored.url == "https://news.example.com/Story"
    with pytest.raises(claimstore.AlreadyExists):
        client.create_source(url="https://news.example.COM/Story")
    assert counts()["sources"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://x"}, "source.url"),
        ({"url": "not a url"}, "source.url"),
        ({"url": "example.com/a"}, "source.url"),
        ({"url": "http://"}, "source.url"),
        ({"url": "https:///path"}, "source.url"),
        ({"url": "javascript:alert(1)"}, "source.url"),
        ({"url": "http://exa mple.com/"}, "source.url"),
        ({"url": "http://[::1/"}, "source.url"),
        ({"url": "https://example.com/\x00"}, "source.url"),
        ({"url": "https://example.com/" + "a" * 2048}, "source.url"),
        ({"publisher": "p" * 201}, "source.publisher"),
        ({"publisher": "Bad\x07"}, "source.publisher"),
        ({"title": "t" * 501}, "source.title"),
        ({"kind": 99}, "source.kind"),
        ({"kind": -1}, "source.kind"),
        ({"published_at": Timestamp(seconds=253_402_300_800)}, "source.published_at"),
        ({"published_at": Timestamp(seconds=0, nanos=-1)}, "source.published_at"),
        ({"kind": source_pb2.SOURCE_KIND_NEWS_ARTICLE}, "source"),
        ({"url": " ", "title": " ", "publisher": " "}, "source"),
    ],
)
def test_bad_source_is_invalid_argument(
    stub: ClaimServiceStub,
    counts: Callable[[], Counts],
    fields: dict[str, object],
    field: str,
) -> None:
    assert field in invalid_fields(lambda: create(stub, **fields))
    assert counts()["sources"] == 0


def test_missing_source_is_invalid_argument(stub: ClaimServiceStub) -> None:
    assert invalid_fields(lambda: stub.CreateSource(claim_service_pb2.CreateSourceRequest())) == {
        "source"
    }


@pytest.mark.parametrize(
    ("source_id", "code"),
    [
        (UNKNOWN_SOURCE_ID, grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("nope", grpc.StatusCode.INVALID_ARGUMENT),
        ("spk_01JD3M0X8Y9Z0000000000000A", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_get_source_errors(stub: ClaimServiceStub, source_id: str, code: grpc.StatusCode) -> None:
    error = call_error(lambda: stub.GetSource(claim_service_pb2.GetSourceRequest(id=source_id)))
    assert error.code() == code
    assert "id" in (error.details() or "")


@pytest.mark.parametrize("page_size", [1, 3, 10, 0])
def test_list_sources_pages_in_creation_order(
    client: claimstore.Client, stub: ClaimServiceStub, page_size: int
) -> None:
    created = [client.create_source(url=f"https://example.com/{i}").id for i in range(10)]
    listed: list[str] = []
    token = ""
    while True:
        response = stub.ListSources(
            claim_service_pb2.ListSourcesRequest(page_size=page_size, page_token=token)
        )
        assert len(response.sources) <= (page_size or 50)
        listed.extend(source.id for source in response.sources)
        token = response.next_page_token
        if not token:
            break
    assert listed == created
    assert [s.id for s in client.list_sources(page_size=page_size)] == created


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"page_token": "garbage"}, "page_token"),
    ],
)
def test_list_sources_bad_request(
    stub: ClaimServiceStub, request_fields: dict[str, object], field: str
) -> None:
    request = claim_service_pb2.ListSourcesRequest(**request_fields)  # type: ignore[arg-type]
    assert invalid_fields(lambda: stub.ListSources(request)) == {field}
