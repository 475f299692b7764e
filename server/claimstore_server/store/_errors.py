"""Errors the store raises, whatever the backend.

The servicer maps each one to a gRPC status in one place
(``claimstore_server._status``); backends translate their own driver errors
into these, so no driver exception reaches the servicer.

    StoreError
    ├── NotFoundError          a referenced resource does not exist
    ├── AlreadyExistsError     a unique key is taken
    ├── AmbiguousError         an inline speaker matches several speakers
    ├── StaleEtagError         the resource changed since the version the caller had
    ├── FailedPreconditionError the resource is not in a state the change can apply to
    ├── UnavailableError       the database is busy or unreachable: retry later
    ├── DatabaseFileError      the file cannot be opened as a database
    ├── DataLossError          the file is damaged: part of it cannot be read
    └── SchemaError            the database file was written by a newer claimstore
"""

from dataclasses import dataclass


class StoreError(Exception):
    """Base class of every error the store raises."""


@dataclass
class NotFoundError(StoreError):
    """The resource ``resource_id`` of ``resource_type``, named by ``field``, does not exist,
    or (as ``reason`` says) no longer exists for the change asked of it."""

    resource_type: str
    resource_id: str
    field: str
    reason: str = "not found"

    def __str__(self) -> str:
        return f"{self.field}: {self.resource_type} {self.resource_id!r} {self.reason}"


@dataclass
class AlreadyExistsError(StoreError):
    """A ``resource_type`` already holds ``value`` in the unique ``field``."""

    resource_type: str
    field: str
    value: str
    existing_id: str = ""
    reason: str = ""

    def __str__(self) -> str:
        message = self.reason or f"a {self.resource_type} with this value already exists"
        suffix = f" ({self.existing_id})" if self.existing_id else ""
        return f"{self.field}: {message}{suffix}"


@dataclass
class AmbiguousError(StoreError):
    """The value in ``field`` matches several ``candidates``; the caller must pick one by id."""

    field: str
    value: str
    candidates: tuple[str, ...]

    def __str__(self) -> str:
        listed = ", ".join(self.candidates)
        return f"{self.field}: {self.value!r} matches several speakers ({listed}); give an id"


@dataclass
class StaleEtagError(StoreError):
    """``resource_id`` is no longer at the version the caller had (its etag or revision)."""

    resource_type: str
    resource_id: str
    current_etag: str

    def __str__(self) -> str:
        return (
            f"etag: the {self.resource_type} {self.resource_id!r} has changed since; it is now at"
            f" etag {self.current_etag!r}. Read it again and reapply the change"
        )


@dataclass
class FailedPreconditionError(StoreError):
    """``resource_id`` is in a state that refuses the change (such as deleted); ``reason`` says
    what and ``state`` is a short code for it, such as "DELETED"."""

    resource_type: str
    resource_id: str
    state: str
    reason: str

    def __str__(self) -> str:
        return f"{self.resource_type} {self.resource_id!r}: {self.reason}"


class UnavailableError(StoreError):
    """The database cannot serve the request now (busy, locked or gone); retrying may work."""


class AbandonedError(StoreError):
    """The caller gave up on a write before it committed: it was rolled back, nothing stored."""


class DatabaseFileError(StoreError):
    """The store cannot open its file as a database: no such directory, no permission, a
    file that is not one, or one that another process kept locked past the busy timeout.
    Raised when a store opens, before it serves anything; and by a write once its path no
    longer names the file it opened (moved, removed or replaced while it serves), which
    SQLite would go on writing to unseen."""


class DataLossError(StoreError):
    """The database file is damaged (SQLite finds it malformed): what the request needs cannot
    be read from it, and nothing was changed. Retrying does not help; the file must be checked
    and restored from a backup."""


class SchemaError(StoreError):
    """The database cannot be used by this version of claimstore."""
