"""Full-text search over the FTS5 index ``claims_search``, with a bound on its work.

bm25 scores every match before the best can be sorted out, and needs the number
of claims holding each term, which FTS5 counts anew for every statement: a
common word (hundreds of thousands of matches) took most of a second. So a
search first counts its matches up to a bound (``SEARCH_BOUND``, before the
filter, so that counting reads the index alone and stops at the bound):

* at most ``bound`` matches in all: every match that passes the filter is ranked
  by bm25 (a match in the text weighs most), best first, then by claim id. This
  is the exact ranking.
* more: the search is too broad for a ranking to tell its matches apart, and
  results come in two tiers, newest claim first within each (the most recently
  stored first, by seq): claims where every required term is in the claim's text
  (score ``TEXT_TIER_SCORE``), then the claims that match elsewhere too (their
  speaker, topics or channel; score ``OTHER_TIER_SCORE``). Each page reads only
  its own rows from the index, in rowid order (and those the filter leaves out),
  so a page costs about the same whatever the number of matches.

A prefix makes FTS5 merge the whole list of the words it starts before the
first row; a search with one counts the word typed before the * instead when
that word is a token of its own (its matches are some of the prefix's, so more
than the bound of them settles it), and the prefix's otherwise.

Both orders are total and deterministic, so paging with (score, claim id) neither
repeats nor skips a claim while the store does not change.
"""

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from .._text import fold
from ._driver import sqlite3
from ._model import SearchCursor, SearchQuery, SearchTerm
from ._schema import SEARCH_WEIGHTS
from ._sql import placeholders

SEARCH_BOUND: Final = 1_000
"""The most matches a search ranks by bm25; broader searches come in tiers, newest first.
Ranking 1,000 matches takes a few milliseconds; a bound tests can lower is a store option."""

TEXT_TIER_SCORE: Final = 2.0
"""The score of a broad search's results whose text holds every required term."""
OTHER_TIER_SCORE: Final = 1.0
"""The score of a broad search's other results (a term matched in the speaker, topics or
channel only). Lower than TEXT_TIER_SCORE, and both positive like bm25 scores."""

_TEXT_COLUMN: Final = "text"

_MATCH_START: Final = "\x02"
_MATCH_END: Final = "\x03"
"""What FTS5 puts around the matches of a snippet, replaced by the request's markers after:
control characters, which no text, name, topic or channel holds, so that a marker found in a
snippet is one FTS5 put there (a quote's own "[sic]" is not a match in brackets)."""

_MAX_STEM_CUT = 3
"""How many letters a prefix may run past the stem of the words it starts: "negotiat" is two
past "negoti", the stem of "negotiations" and "negotiating"."""


_TOKENIZER = "porter unicode61 remove_diacritics 2"
"""The index's tokenizer (see _schema), which :func:`_stem` runs on single words."""

_stemmer_lock = threading.Lock()
_stemmer: sqlite3.Connection | None = None


@functools.lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    """The token the index's tokenizer makes of one word, asked of FTS5 itself on a private
    in-memory database (a pure function of the word, so remembered)."""
    global _stemmer
    with _stemmer_lock:
        if _stemmer is None:
            _stemmer = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            _stemmer.execute(
                f"CREATE VIRTUAL TABLE words USING fts5(word, tokenize = '{_TOKENIZER}')"
            )
            _stemmer.execute("CREATE VIRTUAL TABLE tokens USING fts5vocab(words, 'row')")
        _stemmer.execute("DELETE FROM words")
        _stemmer.execute("INSERT INTO words (word) VALUES (?)", (word,))
        rows = _stemmer.execute("SELECT term FROM tokens").fetchall()
    return str(rows[0][0]) if len(rows) == 1 else ""


def _exact_stand_in(term: SearchTerm) -> SearchTerm | None:
    """The term without its *, when that finds only claims the prefix finds: a one-word
    prefix of plain ASCII letters and digits that the tokenizer keeps whole ("minist"), so
    that the word is itself one of the words the prefix starts. None otherwise."""
    if not term.prefix:
        return term
    if len(term.words) != 1:
        return None
    word = term.words[0].lower()
    if not (word.isascii() and word.isalnum()) or _stem(word) != word:
        return None
    return replace(term, prefix=False)


def narrower_expression(search: SearchQuery, stems: Mapping[str, str]) -> str | None:
    """An expression that is cheap to count and finds only claims ``search`` finds, for a
    search with prefixes (FTS5 merges the whole list of a prefix's words before returning
    any row); None when the search has no prefix or no such expression is known.

    Each required prefix becomes its word ("minist*" becomes "minist"); so when the
    narrower search has more than the bound of matches, so has the search.
    """
    has_prefix = any(t.prefix for group in search.required for t in group)
    if not has_prefix or any(t.prefix for t in search.excluded):
        return None
    groups: list[tuple[SearchTerm, ...]] = []
    for group in search.required:
        exact = [_exact_stand_in(term) for term in group]
        if any(term is None for term in exact):
            return None
        groups.append(tuple(term for term in exact if term is not None))
    return fts_expression(replace(search, required=tuple(groups)), stems)


@dataclass(frozen=True, slots=True)
class SearchRow:
    """One result row: the claim columns the caller selected, its score and its snippet."""

    row: sqlite3.Row
    score: float
    snippet: str


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_term(term: SearchTerm, stems: Mapping[str, str]) -> str:
    """One term in FTS5 syntax: its words as a quoted phrase (which FTS5 tokenizes as it did
    the claims), then * for a prefix, or'd with the stem the prefix runs past, if any."""
    phrase = _quoted(" ".join(term.words))
    if not term.prefix:
        return phrase
    stem = stems.get(fold(term.words[-1])) if len(term.words) == 1 else None
    return f"({phrase} * OR {_quoted(stem)})" if stem else f"{phrase} *"


def prefix_stems(connection: sqlite3.Connection, search: SearchQuery) -> dict[str, str]:
    """Maps each one-word prefix (folded) to the longest stem of the index it runs past.

    The index holds porter stems ("negoti"), which a prefix typed past the stem
    ("negotiat*") would not match on its own.
    """
    terms = [*(t for group in search.required for t in group), *search.excluded]
    words = {fold(t.words[0]) for t in terms if t.prefix and len(t.words) == 1}
    cuts = {
        word: [word[:-cut] for cut in range(1, _MAX_STEM_CUT + 1) if len(word) - cut >= 3]
        for word in words
        if word.isalnum()
    }
    candidates = sorted({stem for stems in cuts.values() for stem in stems})
    if not candidates:
        return {}
    known = {
        row[0]
        for row in connection.execute(
            f"SELECT term FROM claims_search_terms WHERE term IN ({placeholders(len(candidates))})",
            candidates,
        )
    }
    return {
        word: next(stem for stem in stems if stem in known)
        for word, stems in cuts.items()
        if any(stem in known for stem in stems)
    }


def _required_expression(search: SearchQuery, stems: Mapping[str, str]) -> str:
    groups = []
    for group in search.required:
        alternatives = " OR ".join(_fts_term(term, stems) for term in group)
        groups.append(f"({alternatives})" if len(group) > 1 else alternatives)
    return " AND ".join(groups)


def fts_expression(search: SearchQuery, stems: Mapping[str, str] | None = None) -> str:
    """Renders a parsed query in FTS5's query syntax. Every word is quoted, so nothing a
    user typed can act as an FTS5 operator or column filter."""
    stems = stems or {}
    expression = _required_expression(search, stems)
    if search.excluded:
        excluded = " OR ".join(_fts_term(term, stems) for term in search.excluded)
        expression = f"({expression}) NOT ({excluded})"
    return expression


def tier_expressions(search: SearchQuery, stems: Mapping[str, str] | None = None) -> list[str]:
    """The FTS5 expressions of a broad search's two tiers, text tier first: the query with
    every required term in the text, and the query with some required term elsewhere."""
    stems = stems or {}
    whole = fts_expression(search, stems)
    in_text = f"{{{_TEXT_COLUMN}}} : ({_required_expression(search, stems)})"
    # Without exclusions the text tier's expression implies the whole query: leaving the
    # whole query out spares FTS5 evaluating every term twice (twice the work of a prefix).
    text_tier = f"({in_text}) AND ({whole})" if search.excluded else in_text
    return [text_tier, f"({whole}) NOT ({in_text})"]


class Searcher:
    """Runs one search on one connection: the claim columns ``columns`` (selected ``FROM
    claims c`` followed by ``join``), and the conditions over ``c`` of the claim filter."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        columns: str,
        join: str,
        conditions: Sequence[str],
        params: Sequence[Any],
        markers: tuple[str, str],
    ) -> None:
        self._connection = connection
        self._columns = columns
        self._join = join
        self._conditions = list(conditions)
        self._params = list(params)
        self._markers = markers

    def search(
        self, search: SearchQuery, *, after: SearchCursor | None, limit: int, bound: int
    ) -> list[SearchRow]:
        """Up to ``limit + 1`` rows after ``after``, in the order the module describes."""
        stems = prefix_stems(self._connection, search)
        expression = fts_expression(search, stems)
        narrower = narrower_expression(search, stems)
        if narrower is not None and len(self._first_matches(narrower, bound + 1)) > bound:
            return self._tiered(tier_expressions(search, stems), after, limit)
        matches = self._first_matches(expression, bound + 1)
        if not matches:
            return []
        if len(matches) <= bound:
            return self._ranked(expression, matches[0], after, limit)
        return self._tiered(tier_expressions(search, stems), after, limit)

    def _where(self, expression: str, extra: Sequence[str] = ()) -> tuple[str, list[Any]]:
        conditions = ["claims_search MATCH ?", *self._conditions, *extra]
        return " AND ".join(conditions), [expression, *self._params]

    def _first_matches(self, expression: str, count: int) -> list[int]:
        """The seqs of up to ``count`` matches, oldest first, whatever the filter: the index
        stops reading there, whatever the number of matches. (Counting filtered matches would
        read claims too, as many as the filter leaves out; and reading oldest first is what
        FTS5 does fastest.)"""
        rows = self._connection.execute(
            "SELECT rowid FROM claims_search WHERE claims_search MATCH ? ORDER BY rowid LIMIT ?",
            (expression, count),
        ).fetchall()
        return [row[0] for row in rows]

    def _snippets(self) -> str:
        return "snippet(claims_search, 0, ?, ?, '…', 16), snippet(claims_search, -1, ?, ?, '…', 16)"

    def _rows(self, sql: str, params: Sequence[Any]) -> list[SearchRow]:
        markers = [_MATCH_START, _MATCH_END, _MATCH_START, _MATCH_END]
        rows = self._connection.execute(sql, [*markers, *params]).fetchall()
        start, end = self._markers
        # The text's snippet when the text matches (it holds a marker), else the best column's
        # (stripped: the speaker's column ends in a space when the speaker has no alias).
        return [
            SearchRow(
                row=row,
                score=row[-3],
                snippet=(row[-2] if _MATCH_START in row[-2] else row[-1].strip())
                .replace(_MATCH_START, start)
                .replace(_MATCH_END, end),
            )
            for row in rows
        ]

    def _ranked(
        self, expression: str, oldest: int, after: SearchCursor | None, limit: int
    ) -> list[SearchRow]:
        """Every match that passes the filter, ranked by bm25; ``oldest``, the seq of the
        oldest match, bounds what the index reads."""
        weights = ", ".join(str(weight) for weight in SEARCH_WEIGHTS)
        score = f"bm25(claims_search, {weights})"
        extra = ["claims_search.rowid >= ?"]
        extra_params: list[Any] = [oldest]
        if after is not None:
            # Scores are -bm25: a later result has a greater bm25, or the same and a greater id.
            # The page goes on from where the cursor's claim ranks now: bm25 weighs each term
            # by how many claims there are and hold it, so every score moves when a claim is
            # stored, and the token's score alone would skip (or repeat) the claims it moved
            # past. A claim no longer matching is placed by the token's score.
            (bm25,) = self._connection.execute(
                f"SELECT coalesce((SELECT {score} FROM claims_search"
                " WHERE claims_search MATCH ? AND claims_search.rowid ="
                " (SELECT seq FROM claims WHERE id = ?)), ?)",
                (expression, after.claim_id, -after.score),
            ).fetchone()
            extra.append(f"({score} > ? OR ({score} = ? AND c.id > ?))")
            extra_params.extend((bm25, bm25, after.claim_id))
        where, params = self._where(expression, extra)
        sql = (
            f"SELECT {self._columns}, -{score}, {self._snippets()}"
            f" FROM claims_search JOIN claims c ON c.seq = claims_search.rowid{self._join}"
            f" WHERE {where} ORDER BY {score}, c.id LIMIT ?"
        )
        return self._rows(sql, [*params, *extra_params, limit + 1])

    def _tiered(
        self, tiers: Sequence[str], after: SearchCursor | None, limit: int
    ) -> list[SearchRow]:
        """The text tier then the other tier, each newest first, from ``after`` on."""
        scores = (TEXT_TIER_SCORE, OTHER_TIER_SCORE)
        first, before = 0, None
        if after is not None:
            first = 0 if after.score >= TEXT_TIER_SCORE else 1
            row = self._connection.execute(
                "SELECT seq FROM claims WHERE id = ?", (after.claim_id,)
            ).fetchone()
            # A claim no longer stored: nothing is known to come after it in its tier.
            before = row[0] if row is not None else 0
        found: list[SearchRow] = []
        for tier in range(first, len(tiers)):
            extra = ["claims_search.rowid < ?"] if tier == first and before is not None else []
            where, params = self._where(tiers[tier], extra)
            sql = (
                f"SELECT {self._columns}, {scores[tier]!r}, {self._snippets()}"
                f" FROM claims_search JOIN claims c ON c.seq = claims_search.rowid{self._join}"
                f" WHERE {where} ORDER BY claims_search.rowid DESC LIMIT ?"
            )
            wanted = limit + 1 - len(found)
            bound_params = [before] if extra else []
            rows = self._rows(sql, [*params, *bound_params, wanted])
            found.extend(rows)
            if len(found) > limit:
                break
        return found
