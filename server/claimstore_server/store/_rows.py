"""Turns stored rows into ``claimstore.v1`` messages: the one place that does.

Rows are mappings by column name (``sqlite3.Row`` here; a PostgreSQL backend's
dict rows fit too). Times are integers of microseconds since the Unix epoch.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from claimstore.v1.claim_pb2 import Citation, Claim
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker
from google.protobuf.timestamp_pb2 import Timestamp

Row = Mapping[str, Any]

SPEAKER_COLUMNS = (
    "id",
    "display_name",
    "kind",
    "title",
    "affiliation",
    "aliases",
    "wikidata_id",
    "create_time",
    "update_time",
)
SOURCE_COLUMNS = (
    "id",
    "url",
    "publisher",
    "title",
    "kind",
    "published_at",
    "create_time",
    "update_time",
)
CLAIM_COLUMNS = (
    "id",
    "text",
    "attribution",
    "speaker_id",
    "stated_at",
    "stated_at_precision",
    "channel",
    "language",
    "topics",
    "create_time",
    "update_time",
)


def timestamp(micros: int) -> Timestamp:
    """Returns the Timestamp for ``micros`` microseconds since the Unix epoch."""
    seconds, remainder = divmod(micros, 1_000_000)
    return Timestamp(seconds=seconds, nanos=remainder * 1000)


def speaker_from_row(row: Row, prefix: str = "") -> Speaker:
    """Builds a Speaker from the SPEAKER_COLUMNS of ``row``, each named ``prefix + column``."""
    return Speaker(
        id=row[prefix + "id"],
        display_name=row[prefix + "display_name"],
        kind=row[prefix + "kind"],
        title=row[prefix + "title"],
        affiliation=row[prefix + "affiliation"],
        aliases=json.loads(row[prefix + "aliases"]),
        wikidata_id=row[prefix + "wikidata_id"] or "",
        create_time=timestamp(row[prefix + "create_time"]),
        update_time=timestamp(row[prefix + "update_time"]),
    )


def source_from_row(row: Row, prefix: str = "") -> Source:
    """Builds a Source from the SOURCE_COLUMNS of ``row``, each named ``prefix + column``."""
    published_at = row[prefix + "published_at"]
    return Source(
        id=row[prefix + "id"],
        url=row[prefix + "url"] or "",
        publisher=row[prefix + "publisher"],
        title=row[prefix + "title"],
        kind=row[prefix + "kind"],
        published_at=None if published_at is None else timestamp(published_at),
        create_time=timestamp(row[prefix + "create_time"]),
        update_time=timestamp(row[prefix + "update_time"]),
    )


def citation_from_row(row: Row) -> Citation:
    """Builds a Citation from a citations row joined with its source's columns as ``src_*``."""
    return Citation(
        source_id=row["source_id"],
        role=row["role"],
        excerpt=row["excerpt"],
        source=source_from_row(row, "src_"),
    )


def claim_from_row(row: Row, citations: Iterable[Citation]) -> Claim:
    """Builds a Claim from the CLAIM_COLUMNS of ``row`` and its speaker's as ``spk_*``."""
    return Claim(
        id=row["id"],
        text=row["text"],
        attribution=row["attribution"],
        speaker_id=row["speaker_id"],
        speaker=speaker_from_row(row, "spk_"),
        stated_at=timestamp(row["stated_at"]),
        stated_at_precision=row["stated_at_precision"],
        channel=row["channel"],
        language=row["language"],
        topics=json.loads(row["topics"]),
        citations=citations,
        create_time=timestamp(row["create_time"]),
        update_time=timestamp(row["update_time"]),
    )
