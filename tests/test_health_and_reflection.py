"""The standard services next to ClaimService: grpc.health.v1 and server reflection."""

import threading
import time

import claimstore
import grpc
import pytest
from claimstore_server import ClaimServer
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

CLAIM_SERVICE = "claimstore.v1.ClaimService"


@pytest.mark.parametrize("service", ["", CLAIM_SERVICE])
def test_health_is_serving(channel: grpc.Channel, service: str) -> None:
    response = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_health_of_an_unknown_service_is_not_found(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("service", ["", CLAIM_SERVICE])
def test_health_after_stop_is_not_serving_or_unavailable(
    server: ClaimServer, channel: grpc.Channel, service: str
) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service=service)
    assert health.Check(request, timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    server.stop(0)
    outcome: object
    try:
        outcome = health.Check(request, timeout=5).status
    except grpc.RpcError as error:
        outcome = error.code()
    assert outcome in (health_pb2.HealthCheckResponse.NOT_SERVING, grpc.StatusCode.UNAVAILABLE)


def test_health_lists_every_service(channel: grpc.Channel) -> None:
    response = health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=5)
    assert {name: status.status for name, status in response.statuses.items()} == {
        "": health_pb2.HealthCheckResponse.SERVING,
        CLAIM_SERVICE: health_pb2.HealthCheckResponse.SERVING,
    }


@pytest.mark.parametrize("service", ["", CLAIM_SERVICE])
def test_a_health_watch_sees_not_serving_and_does_not_hold_up_the_stop(
    server: ClaimServer, channel: grpc.Channel, service: str
) -> None:
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=service), timeout=60
    )
    statuses = [next(watch).status]
    ended: list[grpc.StatusCode] = []

    def read_on() -> None:
        try:
            statuses.extend(response.status for response in watch)
        except grpc.RpcError as error:
            ended.append(error.code())

    reader = threading.Thread(target=read_on)
    reader.start()
    started = time.monotonic()
    server.stop(30)  # a grace far longer than the stop may take
    took = time.monotonic() - started
    reader.join(timeout=10)
    assert took < 5
    assert statuses == [
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    ]
    assert ended == [grpc.StatusCode.UNAVAILABLE]


def test_a_health_watch_of_an_unknown_service_says_so(channel: grpc.Channel) -> None:
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5
    )
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    watch.cancel()


def test_stop_twice_is_harmless(server: ClaimServer) -> None:
    server.stop(0)
    server.stop(0)
    with (
        claimstore.Client(server.target) as client,
        pytest.raises(claimstore.Unavailable),
    ):
        client.get_claim("clm_01JD3M0X8Y9Z0000000000000A")


def test_reflection_lists_the_services(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = list(
        stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
    )
    assert len(responses) == 1
    names = {service.name for service in responses[0].list_services_response.service}
    assert names == {
        CLAIM_SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }


def test_reflection_rebuilds_the_claim_service(channel: grpc.Channel) -> None:
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName(CLAIM_SERVICE)
    assert {method.name for method in service.methods} == {
        "CreateClaim",
        "GetClaim",
        "UpdateClaim",
        "DeleteClaim",
        "UndeleteClaim",
        "AddCitation",
        "RemoveCitation",
        "ListClaimRevisions",
        "WatchClaims",
        "ListClaims",
        "SearchClaims",
        "ImportClaims",
        "ExportClaims",
        "CreateSpeaker",
        "GetSpeaker",
        "UpdateSpeaker",
        "ListSpeakers",
        "CreateSource",
        "GetSource",
        "UpdateSource",
        "ListSources",
    }
    list_claims = service.FindMethodByName("ListClaims")
    assert list_claims.input_type.full_name == "claimstore.v1.ListClaimsRequest"
    assert list_claims.output_type.full_name == "claimstore.v1.ListClaimsResponse"
    claim_filter = list_claims.input_type.fields_by_name["filter"].message_type
    assert claim_filter is not None
    assert claim_filter.full_name == "claimstore.v1.ClaimFilter"
    assert "speaker_ids" in claim_filter.fields_by_name
    claim = pool.FindMessageTypeByName("claimstore.v1.Claim")
    stated_at = claim.fields_by_name["stated_at"].message_type
    assert stated_at is not None
    assert stated_at.full_name == "google.protobuf.Timestamp"
