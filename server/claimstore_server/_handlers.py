"""Registers a servicer with request parsing that answers malformed bytes properly.

The generated ``add_*Servicer_to_server`` parses requests with
``Message.FromString``; when a client sends bytes that are not a valid message
(say, a string field holding invalid UTF-8), grpcio answers INTERNAL
("Exception deserializing request!"). Here a request that cannot be parsed is
answered INVALID_ARGUMENT naming the request type, like any other bad input.
"""

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_status import rpc_status

from ._status import status_for
from ._validation import FieldViolation, ValidationError


class _Unparsable:
    """Stands for a request message that could not be parsed."""

    def __init__(self, type_name: str, error: Exception) -> None:
        self.error = ValidationError(
            [FieldViolation("request", f"is not a valid {type_name} message: {error}")]
        )


def _parser(message_class: type[Message]) -> Callable[[bytes], Message | _Unparsable]:
    type_name = message_class.DESCRIPTOR.full_name

    def parse(data: bytes) -> Message | _Unparsable:
        try:
            return message_class.FromString(data)
        except (DecodeError, ValueError, RuntimeError) as error:
            return _Unparsable(type_name, error)

    return parse


Context = grpc.aio.ServicerContext[Any, Any]


async def _abort_unparsable(context: Context, request: _Unparsable) -> None:
    await context.abort_with_status(rpc_status.to_status(status_for(request.error)))


async def _checked(requests: AsyncIterator[Message | _Unparsable]) -> AsyncIterator[Message]:
    async for request in requests:
        if isinstance(request, _Unparsable):
            # The servicer's error handling reports it like any other bad input.
            raise request.error
        yield request


def _unary_unary(behavior: Callable[..., Any]) -> Callable[..., Any]:
    async def handle(request: Message | _Unparsable, context: Context) -> Any:
        if isinstance(request, _Unparsable):
            await _abort_unparsable(context, request)
        return await behavior(request, context)

    return handle


def _unary_stream(behavior: Callable[..., Any]) -> Callable[..., Any]:
    async def handle(request: Message | _Unparsable, context: Context) -> AsyncIterator[Any]:
        if isinstance(request, _Unparsable):
            await _abort_unparsable(context, request)
        async for response in behavior(request, context):
            yield response

    return handle


def _stream_unary(behavior: Callable[..., Any]) -> Callable[..., Any]:
    async def handle(requests: AsyncIterator[Message | _Unparsable], context: Context) -> Any:
        return await behavior(_checked(requests), context)

    return handle


def _stream_stream(behavior: Callable[..., Any]) -> Callable[..., Any]:
    async def handle(
        requests: AsyncIterator[Message | _Unparsable], context: Context
    ) -> AsyncIterator[Any]:
        async for response in behavior(_checked(requests), context):
            yield response

    return handle


def _method_handler(
    servicer: object, method: MethodDescriptor
) -> "grpc.RpcMethodHandler[Any, Any]":
    behavior = getattr(servicer, method.name)
    parse = _parser(message_factory.GetMessageClass(method.input_type))
    serialize = message_factory.GetMessageClass(method.output_type).SerializeToString
    if method.client_streaming and method.server_streaming:
        return grpc.stream_stream_rpc_method_handler(
            _stream_stream(behavior), request_deserializer=parse, response_serializer=serialize
        )
    if method.client_streaming:
        return grpc.stream_unary_rpc_method_handler(
            _stream_unary(behavior), request_deserializer=parse, response_serializer=serialize
        )
    if method.server_streaming:
        return grpc.unary_stream_rpc_method_handler(
            _unary_stream(behavior), request_deserializer=parse, response_serializer=serialize
        )
    return grpc.unary_unary_rpc_method_handler(
        _unary_unary(behavior), request_deserializer=parse, response_serializer=serialize
    )


def add_servicer(server: grpc.aio.Server, servicer: object, service: ServiceDescriptor) -> None:
    """Serves every method of ``service`` from the same-named methods of ``servicer``."""
    handlers = {method.name: _method_handler(servicer, method) for method in service.methods}
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)
