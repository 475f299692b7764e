"""The interface every storage backend implements.

All SQL lives behind it: the servicer only ever calls these methods, so a
PostgreSQL backend can replace the SQLite one without touching the servicer.
"""

from collections.abc import Callable, Sequence
from typing import Protocol

from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.claim_revision_pb2 import ClaimRevision
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from ._model import (
    ChangeNote,
    ChangePage,
    ClaimCursor,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    ClaimReviser,
    DeletionDraft,
    ImportOutcome,
    Page,
    SearchCursor,
    SearchHit,
    SearchQuery,
    SourceDraft,
    SourceReviser,
    SpeakerDraft,
    SpeakerReviser,
    Workload,
)


def _nothing() -> None:
    return None


def _never() -> bool:
    return False


class Snapshot(Protocol):
    """The store as it was when the snapshot was opened, for reads in several parts that
    must agree with each other (an export's pages). Whatever is committed after it opened
    stays out of its reads, until :meth:`close` releases it."""

    def close(self) -> None:
        """Ends the snapshot; closing it twice, or after its store closed, does nothing."""
        ...


class ClaimStore(Protocol):
    """Keeps speakers, sources and claims.

    Methods raise only :class:`~claimstore_server.store.StoreError` subclasses.
    Each write happens in one transaction: it is stored whole or not at all.
    Every write to a claim records a revision in the same transaction; the
    revisions in the order they were committed are the change log.
    """

    @property
    def change_log_id(self) -> str:
        """Identifies this database's change log, so that a cursor from another one is told
        apart."""
        ...

    def use_thread_for(self, workload: Workload) -> None:
        """Declares what the calling thread will do from now on (``Workload.POINT`` until
        it says otherwise), so that the backend may suit the thread's connection to it."""
        ...

    def create_speaker(self, draft: SpeakerDraft) -> Speaker:
        """Stores a new speaker; a wikidata_id already in use is AlreadyExistsError."""
        ...

    def get_speaker(self, speaker_id: str) -> Speaker:
        """Returns the speaker, or raises NotFoundError."""
        ...

    def update_speaker(self, speaker_id: str, revise: SpeakerReviser, etag: str) -> Speaker:
        """Stores the speaker as ``revise`` makes it of the stored one, and returns it.

        Raises NotFoundError, StaleEtagError when ``etag`` (if given) is no longer the
        speaker's, or AlreadyExistsError for a wikidata_id another speaker holds. A revision
        that changes nothing writes nothing. The speaker's claims are found by its new names.
        """
        ...

    def list_speakers(self, *, after_id: str, limit: int, name_prefix: str = "") -> Page[Speaker]:
        """Returns up to ``limit`` speakers with ids greater than ``after_id``, by id.

        With ``name_prefix`` (folded), only speakers with a word of a name or alias that
        starts with it.
        """
        ...

    def create_source(self, draft: SourceDraft) -> Source:
        """Stores a new source; a url already in use is AlreadyExistsError."""
        ...

    def get_source(self, source_id: str) -> Source:
        """Returns the source, or raises NotFoundError."""
        ...

    def update_source(self, source_id: str, revise: SourceReviser, etag: str) -> Source:
        """Stores the source as ``revise`` makes it of the stored one, and returns it.

        Raises NotFoundError, StaleEtagError when ``etag`` (if given) is no longer the
        source's, or AlreadyExistsError for a url another source holds. A revision that
        changes nothing writes nothing.
        """
        ...

    def list_sources(self, *, after_id: str, limit: int) -> Page[Source]:
        """Returns up to ``limit`` sources with ids greater than ``after_id``, by id."""
        ...

    def create_claim(self, draft: ClaimDraft, *, actor: str = "") -> Claim:
        """Stores a claim with its citations, resolving inline speaker and sources.

        A draft whose request_id was stored before returns the claim stored then
        and writes nothing; if that earlier request differs (another
        fingerprint), it raises AlreadyExistsError, as it does when a claim with
        the same speaker, stated_at and folded text is stored.
        """
        ...

    def import_claims(
        self,
        drafts: Sequence[ClaimDraft],
        *,
        actor: str = "",
        abandoned: Callable[[], bool] = _never,
        left_to_sqlite: Callable[[], None] = _nothing,
    ) -> list[ImportOutcome]:
        """Stores a batch of claims in one transaction, each whole or not at all.

        Returns one outcome per draft, in order: created, already there (a known
        request_id, or the same content), or the StoreError that kept it out.
        When ``abandoned()`` is true once the batch is written, just before it
        would commit, the transaction is rolled back and AbandonedError raised:
        an import cancelled meanwhile keeps only what it was answered.

        ``left_to_sqlite()`` is called, from the calling thread, once what is left
        of the batch is the database's own work (index updates, the commit), which
        holds no Python lock: Python work that the caller runs on another thread
        from then on runs beside the import instead of slowing it down.
        """
        ...

    def get_claim(self, claim_id: str, *, full: bool = True, revision: int = 0) -> Claim:
        """Returns the claim, deleted or not, or raises NotFoundError.

        With ``full``, the claim carries its speaker and each citation its source.
        With ``revision``, the claim as it was at that revision.
        """
        ...

    def update_claim(
        self,
        claim_id: str,
        revise: ClaimReviser,
        note: ChangeNote,
        *,
        unique_citations: bool = False,
    ) -> Claim:
        """Rewrites a live claim as the draft ``revise`` makes of it says (its new content,
        whole), as a new revision of type UPDATED; returns it in the full view.

        Raises NotFoundError, StaleEtagError (see ChangeNote), FailedPreconditionError for a
        deleted claim, the errors of create_claim for what the draft names, what ``revise``
        raises, and, with ``unique_citations``, AlreadyExistsError for a source cited twice in
        one role.
        """
        ...

    def delete_claim(self, claim_id: str, deletion: DeletionDraft, note: ChangeNote) -> Claim:
        """Marks a live claim deleted, as a new revision; FailedPreconditionError if it is
        deleted already."""
        ...

    def undelete_claim(self, claim_id: str, note: ChangeNote) -> Claim:
        """Brings a deleted claim back, as a new revision; FailedPreconditionError if it is not
        deleted."""
        ...

    def list_claim_revisions(
        self,
        claim_id: str,
        *,
        after_revision: int,
        limit: int,
        full: bool = False,
        max_bytes: int | None = None,
    ) -> Page[ClaimRevision]:
        """Returns up to ``limit`` revisions of the claim after ``after_revision``, oldest
        first, and no more than fit in ``max_bytes`` as stored (but always one);
        NotFoundError for an unknown claim."""
        ...

    def change_log_head(self) -> int:
        """The position of the last change committed (0 when there is none)."""
        ...

    def read_changes(
        self,
        after_seq: int,
        query: ClaimQuery,
        *,
        limit: int,
        full: bool = False,
        max_bytes: int | None = None,
    ) -> ChangePage:
        """Returns up to ``limit`` changes after position ``after_seq``, in commit order, of
        claims that match ``query`` now (deleted or not), and no more than fit in
        ``max_bytes`` as stored (but always one)."""
        ...

    def list_claims(
        self,
        query: ClaimQuery,
        *,
        order: ClaimOrder,
        after: ClaimCursor | None,
        limit: int,
        full: bool = False,
        into: RepeatedCompositeFieldContainer[Claim] | None = None,
        snapshot: Snapshot | None = None,
    ) -> Page[Claim]:
        """Returns up to ``limit`` claims matching ``query`` that sort after ``after``.

        With ``full``, each claim carries its speaker and each citation its source.
        With ``into`` (a response's repeated field), the claims are added to it, and the
        page's items are those same messages: a page is never copied into its response.
        With ``snapshot`` (from :meth:`open_snapshot`), the claims are read as they were
        when it opened.
        """
        ...

    def open_snapshot(self) -> Snapshot:
        """Opens a :class:`Snapshot` of the store as it is now. It holds the database's
        state (and, in SQLite, keeps the write-ahead log from starting over) until it is
        closed, so the caller closes it as soon as its reads are done."""
        ...

    def search_claims(
        self,
        search: SearchQuery,
        query: ClaimQuery,
        *,
        after: SearchCursor | None,
        limit: int,
        full: bool = False,
        snippet_markers: tuple[str, str] = ("[", "]"),
    ) -> Page[SearchHit]:
        """Returns up to ``limit`` claims matching ``search`` and ``query``, best first,
        that rank after ``after``; a match in the text ranks above a match elsewhere."""
        ...

    def close(self) -> None:
        """Releases the database; the store cannot be used afterwards."""
        ...
