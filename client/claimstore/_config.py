"""Client configuration as documented dataclasses."""

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

import grpc

SERVICE_NAME: Final = "claimstore.v1.ClaimService"

# Calls that are safe to repeat: reads, and CreateClaim, which always carries a
# request_id (the client makes one when the caller gives none). CreateSpeaker
# and CreateSource have no request_id, so gRPC retries them only when the
# request never reached the server (its transparent retries). WatchClaims is
# retried only until its first response: gRPC never retries a stream after that,
# and ClaimWatch resumes it from its cursor instead.
RETRIED_METHODS: Final = (
    "CreateClaim",
    "GetClaim",
    "ListClaims",
    "SearchClaims",
    "GetSpeaker",
    "ListSpeakers",
    "GetSource",
    "ListSources",
    "ListClaimRevisions",
    "WatchClaims",
)

ACTOR_METADATA_KEY: Final = "claimstore-actor"
MAX_ACTOR_LENGTH: Final = 200


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """gRPC's own retry policy for UNAVAILABLE, passed to the channel as service config.

    Attributes:
        max_attempts: Tries in all, the first one included (gRPC caps it at 5); 1 is
            no retries, as ``retry=None`` is.
        initial_backoff: Seconds before the first retry, randomized by gRPC; at least
            0.001, as gRPC counts milliseconds.
        max_backoff: The longest wait between tries, in seconds (at least 0.001).
        backoff_multiplier: How much the wait grows after each try.
        retryable_status_codes: The status codes worth another try, by name
            ("UNAVAILABLE"), as a tuple.

    A value gRPC would refuse is a ValueError (TypeError for a wrong type) here: gRPC
    would refuse the whole service config, and every call would fail.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    backoff_multiplier: float = 2.0
    retryable_status_codes: tuple[str, ...] = ("UNAVAILABLE",)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts: expected an int, not {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: {self.max_attempts!r} is not 1 or more")
        for name in ("initial_backoff", "max_backoff"):
            _duration(getattr(self, name), name)
        multiplier = self.backoff_multiplier
        if isinstance(multiplier, bool) or not isinstance(multiplier, int | float):
            raise TypeError(f"backoff_multiplier: expected a number, not {multiplier!r}")
        if not 0 < multiplier < math.inf:
            raise ValueError(f"backoff_multiplier: {multiplier!r} is not a number above 0")
        if isinstance(self.retryable_status_codes, str) or not self.retryable_status_codes:
            raise TypeError(
                "retryable_status_codes: expected a tuple of status code names, such as"
                f" ('UNAVAILABLE',), not {self.retryable_status_codes!r}"
            )
        names = {code.name for code in grpc.StatusCode if code is not grpc.StatusCode.OK}
        for code in self.retryable_status_codes:
            if code not in names:
                raise ValueError(
                    f"retryable_status_codes: {code!r} is not one of {', '.join(sorted(names))}"
                )

    @property
    def retries(self) -> bool:
        """Whether this policy tries a call more than once."""
        return self.max_attempts > 1

    def service_config(self) -> dict[str, Any]:
        """Returns the gRPC service config that applies this policy to the retried methods."""
        return {
            "methodConfig": [
                {
                    "name": [{"service": SERVICE_NAME, "method": m} for m in RETRIED_METHODS],
                    "retryPolicy": {
                        "maxAttempts": self.max_attempts,
                        "initialBackoff": _duration(self.initial_backoff, "initial_backoff"),
                        "maxBackoff": _duration(self.max_backoff, "max_backoff"),
                        "backoffMultiplier": self.backoff_multiplier,
                        "retryableStatusCodes": list(self.retryable_status_codes),
                    },
                }
            ]
        }


def _duration(seconds: float, field: str) -> str:
    """``seconds`` as the service config writes a duration, to the millisecond ("0.1s"): gRPC
    keeps no finer time, and reads neither "0.30000000000000004s" nor "1e-05s" as one. At
    least a millisecond and finite, or ValueError."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"{field}: expected a number of seconds, not {seconds!r}")
    if not 0.001 <= seconds < math.inf:
        raise ValueError(f"{field}: {seconds!r} is not a millisecond or more (and finite)")
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


_METADATA_KEY: Final = re.compile(r"[0-9a-z_.-]+")


def _printable_ascii(value: str) -> bool:
    """Whether ``value`` is what gRPC takes as a text metadata value: printable ASCII."""
    return all(" " <= char <= "~" for char in value)


def _check_metadata(metadata: tuple[tuple[str, str], ...]) -> None:
    """Raises ValueError for metadata gRPC would refuse at every call (as INTERNAL "Invalid
    metadata", which reads as a server bug): a key that is not lower-case letters, digits,
    "-", "_" and ".", or a text value other than printable ASCII. The value of a "-bin" key
    is bytes, which gRPC checks itself."""
    for item in metadata:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise TypeError(f"metadata: expected (key, value) pairs, not {item!r}")
        key, value = item
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            hint = f" (gRPC keys are lower case: {key.lower()!r})" if isinstance(key, str) else ""
            raise ValueError(
                f"metadata: {key!r} is not a key of lower-case letters, digits, '-', '_' and"
                f" '.'{hint}"
            )
        if key.endswith("-bin"):
            continue
        if not isinstance(value, str):
            raise TypeError(f"metadata: the value of {key!r} is not a string")
        if not _printable_ascii(value):
            raise ValueError(
                f"metadata: the value of {key!r} has characters other than printable ASCII"
            )


_TARGET_PORT: Final = re.compile(r"(?:dns:(?:///)?|ipv4:|ipv6:)?[^/]*:(\d+)")


def check_target(target: str) -> None:
    """Raises ValueError, saying why, for a server address no call could reach: empty, a
    port outside 1 to 65535 (gRPC would take 99999 modulo 65536, as 34463), or a URL
    (gRPC reads "http://host:port" as a host named "http")."""
    if not target.strip():
        raise ValueError("the server address is empty: give one such as localhost:50051")
    port = _TARGET_PORT.fullmatch(target.strip())
    if port and not 0 < int(port[1]) < 65536:
        raise ValueError(f"{target!r} has no port {port[1]}: ports run from 1 to 65535")
    if "://" in target and not target.startswith(("dns://", "unix://")):
        raise ValueError(f"{target!r} is a URL: give host:port, such as localhost:50051")


MAX_TIMEOUT = 1_000_000_000
"""The longest deadline in seconds: gRPC keeps a deadline as nanoseconds since 1970 in 64 bits,
which end in 2262, and one past that has passed already (the call fails at once with
DEADLINE_EXCEEDED)."""


def check_timeout(seconds: float, field: str = "timeout") -> None:
    """Raises ValueError unless ``seconds`` is a deadline a call can meet: above 0 and at most
    :data:`MAX_TIMEOUT`; TypeError for what is not a number."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"{field}: expected a number of seconds, not {seconds!r}")
    if not 0 < seconds < math.inf:
        raise ValueError(f"{field}: {seconds!r} is not a number of seconds above 0")
    if seconds > MAX_TIMEOUT:
        raise ValueError(
            f"{field}: {seconds!r} is more than {MAX_TIMEOUT:,} seconds (about 31 years)"
        )


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """How a client reaches the server.

    Attributes:
        target: The server's address, such as "localhost:50051" (any gRPC target).
        timeout: The default deadline of each call, in seconds; every method also
            takes ``timeout=`` for that call alone. Above 0 and at most
            :data:`MAX_TIMEOUT`: anything else is a ValueError, as no call could
            meet it.
        retry: The retry policy for UNAVAILABLE, or None for no retries.
        credentials: Channel credentials for TLS; None for a plaintext channel.
        metadata: Metadata sent with every call, such as an authorization header:
            (("authorization", "Bearer ..."),), keys in lower case as gRPC has them.
            A key or a value gRPC would refuse is a ValueError here.
        max_message_bytes: The largest message sent or received.
        actor: Who makes the changes, such as "alice" or "factcheck-bot/2": sent
            with every call as the "claimstore-actor" metadata, and recorded by
            the server as the actor of each revision a write makes. Empty (the
            default) sends nothing. At most 200 printable ASCII characters, as
            gRPC metadata allows no others; anything else is a ValueError here
            rather than an obscure failure of every call.
    """

    target: str = "localhost:50051"
    timeout: float = 10.0
    retry: RetryPolicy | None = field(default_factory=RetryPolicy)
    credentials: grpc.ChannelCredentials | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    max_message_bytes: int = 4 * 1024 * 1024
    actor: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.target, str):
            raise TypeError(
                f"target: expected a string such as 'localhost:50051', not {self.target!r}"
            )
        try:
            check_target(self.target)
        except ValueError as error:
            raise ValueError(f"target: {error}") from None
        check_timeout(self.timeout)
        size = self.max_message_bytes
        if isinstance(size, bool) or not isinstance(size, int):
            # gRPC ignores an option of the wrong type: the limit would stay 4 MiB unsaid.
            raise TypeError(f"max_message_bytes: expected an int (-1: no limit), not {size!r}")
        _check_metadata(self.metadata)
        # Each of these was an AttributeError (or a len() TypeError) when the client was made.
        if self.retry is not None and not isinstance(self.retry, RetryPolicy):
            raise TypeError(f"retry: expected a RetryPolicy or None, not {self.retry!r}")
        if self.credentials is not None and not isinstance(
            self.credentials, grpc.ChannelCredentials
        ):
            raise TypeError(
                "credentials: expected grpc.ChannelCredentials (grpc.ssl_channel_credentials())"
                f" or None, not {self.credentials!r}"
            )
        if not isinstance(self.actor, str):
            raise TypeError(f"actor: expected a string, not {self.actor!r}")
        if len(self.actor) > MAX_ACTOR_LENGTH:
            raise ValueError(f"actor: at most {MAX_ACTOR_LENGTH} characters")
        if not _printable_ascii(self.actor):
            raise ValueError(f"actor: {self.actor!r} has characters other than printable ASCII")
        if self.actor and any(key == ACTOR_METADATA_KEY for key, _ in self.metadata):
            # The server refuses a call that names its actor twice.
            raise ValueError(f"give the actor as actor=, not also as {ACTOR_METADATA_KEY} metadata")

    def call_metadata(self) -> tuple[tuple[str, str], ...]:
        """Returns the metadata sent with every call: ``metadata``, then the actor if set."""
        if not self.actor:
            return self.metadata
        return (*self.metadata, (ACTOR_METADATA_KEY, self.actor))

    def channel_options(self) -> list[tuple[str, Any]]:
        """Returns the options for the gRPC channel this configuration describes."""
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
        ]
        if self.retry is not None and self.retry.retries:
            options.append(("grpc.enable_retries", 1))
            options.append(("grpc.service_config", json.dumps(self.retry.service_config())))
        else:
            options.append(("grpc.enable_retries", 0))
        return options
