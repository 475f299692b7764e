"""The values that cross the store interface, independent of any database.

Drafts are validated, normalized inputs: the servicer builds them from requests
(see ``claimstore_server._validation``) and every backend stores them as they
are. Resources come back as the generated ``claimstore.v1`` messages, built by
``_rows``.

Every value here is immutable. The ones an import makes for each claim (a claim
draft, its citations, its outcome) are named tuples rather than frozen
dataclasses: a frozen dataclass sets each field through ``object.__setattr__``,
and a ClaimDraft took 3.4 µs to make that way against 1.3 µs as a tuple, hundreds
of thousands of times an import.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeAlias, TypeVar

from .._text import fold_name

if TYPE_CHECKING:
    from claimstore.v1.claim_pb2 import Claim
    from claimstore.v1.claim_revision_pb2 import ClaimRevision
    from claimstore.v1.source_pb2 import Source
    from claimstore.v1.speaker_pb2 import Speaker

T = TypeVar("T")


class Workload(Enum):
    """What a thread asks of the store, so that a backend can tune its connection for it."""

    POINT = "point"
    """Short index lookups and small pages (the event loop's calls): the default."""
    BULK = "bulk"
    """Imports and exports: many pages touched once, each piece taking milliseconds."""
    SEARCH = "search"
    """Full-text searches: long reads of the search index."""


@dataclass(frozen=True, slots=True)
class SpeakerDraft:
    """A speaker to create or to match, with its folded names.

    ``folded_names`` are what a speaker is matched by: its names folded, without
    repeats, sorted. They are worked out once, when the draft is made, because an
    import matches the same few speakers thousands of times (validation keeps the
    draft of each inline speaker it has seen).
    """

    display_name: str
    kind: int
    title: str = ""
    affiliation: str = ""
    aliases: tuple[str, ...] = ()
    wikidata_id: str = ""
    folded_names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = tuple(sorted({fold_name(name) for name in self.names}))
        object.__setattr__(self, "folded_names", folded)

    @property
    def names(self) -> tuple[str, ...]:
        """The display name followed by the aliases."""
        return (self.display_name, *self.aliases)


@dataclass(frozen=True, slots=True)
class SourceDraft:
    """A source to create or to match by url."""

    url: str = ""
    publisher: str = ""
    title: str = ""
    kind: int = 0
    published_at_us: int | None = None


class CitationDraft(NamedTuple):
    """A citation: exactly one of ``source_id`` and ``source`` is set."""

    role: int
    excerpt: str = ""
    source_id: str = ""
    source: SourceDraft | None = None


class ClaimDraft(NamedTuple):
    """A claim to create: exactly one of ``speaker_id`` and ``speaker`` is set.

    ``folded_text`` and ``folded_topics`` are ``text`` and ``topics`` folded (see
    ``claimstore_server._text``): what a claim's content is matched by and what its
    topics are found by. Validation works them out with the rest, so that the
    writer, which stores claims one at a time, need not.

    ``fingerprint`` identifies the request's content, so that a ``request_id``
    reused for a different claim can be told apart from a retry.
    """

    text: str
    attribution: int
    stated_at_us: int
    stated_at_precision: int
    folded_text: str
    folded_topics: tuple[str, ...]
    speaker_id: str = ""
    speaker: SpeakerDraft | None = None
    channel: str = ""
    language: str = ""
    topics: tuple[str, ...] = ()
    citations: tuple[CitationDraft, ...] = ()
    request_id: str = ""
    fingerprint: str = ""


class ImportOutcome(NamedTuple):
    """What became of one claim of an import: created, found, or failed with ``error``."""

    claim_id: str = ""
    created: bool = False
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class DeletionDraft:
    """Why a claim is deleted: a ``DeletionReason`` value and an optional note."""

    reason: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class ChangeNote:
    """What the revision a write records says besides the claim: who, why, what.

    ``etag`` is the one the client sent ("" for an unconditional change): a
    write to a claim that moved on since is refused with
    :class:`~claimstore_server.store.StaleEtagError`.
    """

    actor: str = ""
    reason: str = ""
    changed_fields: tuple[str, ...] = ()
    etag: str = ""


ClaimReviser: TypeAlias = Callable[["Claim"], ClaimDraft]
"""Turns the stored claim (basic view) into the whole of its next revision: what an update
asks for. The store calls it inside the write's transaction, so nothing changes the claim in
between; whatever it raises aborts the write."""

SpeakerReviser: TypeAlias = Callable[["Speaker"], "SpeakerDraft"]
"""Turns the stored speaker into the speaker an update asks for, inside the write's
transaction, as :data:`ClaimReviser` does a claim."""

SourceReviser: TypeAlias = Callable[["Source"], "SourceDraft"]
"""Turns the stored source into the source an update asks for, inside the write's
transaction, as :data:`ClaimReviser` does a claim."""


@dataclass(frozen=True, slots=True)
class ClaimQuery:
    """The normalized form of a ``ClaimFilter``: what every claim query runs on.

    Text values are folded (see ``claimstore_server._text.fold``); empty values
    and empty tuples do not filter.
    """

    speaker_ids: tuple[str, ...] = ()
    speaker_words: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    publisher: str = ""
    source_id: str = ""
    attributions: tuple[int, ...] = ()
    stated_since_us: int | None = None
    stated_before_us: int | None = None
    language: str = ""
    show_deleted: bool = False


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """Words to find in this order (a phrase when there are several), as typed: the store
    folds them as it folded what it indexed. With ``prefix``, the last word may be the start
    of a longer one."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed full-text query: every group of ``required`` must match (a group matches
    when any of its terms does), and no term of ``excluded`` may."""

    required: tuple[tuple[SearchTerm, ...], ...]
    excluded: tuple[SearchTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchCursor:
    """The position after which search results continue: the last result's score and id."""

    score: float
    claim_id: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the claim, how well it matches (higher is better), and a snippet."""

    claim: "Claim"
    score: float
    snippet: str


@dataclass(frozen=True, slots=True)
class ClaimOrder:
    """How a claim listing is ordered: by stated_at, then id, one direction."""

    descending: bool = True


@dataclass(frozen=True, slots=True)
class ClaimCursor:
    """The position after which a claim listing continues: the last claim's sort key."""

    stated_at_us: int
    claim_id: str


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One entry of the change log: its position (``seq``) and the revision it recorded."""

    seq: int
    revision: "ClaimRevision"


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Change log entries read after a position, and the position read up to.

    ``last_seq`` may lie past the last event: entries the filter left out were
    read too. ``has_more`` says the read stopped at its limit before the end of
    the log.
    """

    events: list[ChangeEvent]
    last_seq: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and whether more follow.

    ``encoded_bytes``, when known, is the size of the items in protobuf wire format, so that
    a caller fitting them in a message need not compute it again.
    """

    items: list[T] = field(default_factory=list)
    has_more: bool = False
    encoded_bytes: int | None = None
