"""Parses what users type in a search box into a :class:`~claimstore_server.store.SearchQuery`.

The syntax is the one search boxes taught everyone: plain words must all match,
"exact phrases" go in double quotes, a word ending in * is a prefix, OR between
two terms matches either, and -word leaves out what has that word. Everything
else is text, kept as typed: the index's own tokenizer folds and splits each term
exactly as it did the claims (case, accents, word endings, punctuation), so a
word as written always finds itself, and nothing typed reaches the database as
an operator. A query that says nothing to look for, or cannot be read, is a
:class:`ValidationError` naming ``query``.
"""

import re
from dataclasses import dataclass
from typing import Final

from ._text import fold
from ._validation import FieldViolation, ValidationError
from .store import SearchQuery, SearchTerm

MAX_QUERY_LENGTH: Final = 1_000
MAX_TERMS: Final = 32

# A token: an optional "-", then a "quoted phrase" or a run of non-space characters.
_TOKEN: Final = re.compile(r'(-?)(?:"([^"]*)"|([^\s"]+))(\*?)')
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class _Token:
    term: SearchTerm | None  # None: the token held no word (only punctuation)
    excluded: bool = False
    is_or: bool = False


def _has_word(text: str) -> bool:
    return any(character.isalnum() for character in text)


def _invalid(description: str, field: str) -> ValidationError:
    return ValidationError([FieldViolation(field, description)])


def _tokens(text: str, field: str) -> list[_Token]:
    if text.count('"') % 2:
        raise _invalid('has a " with no closing "', field)
    tokens = []
    for match in _TOKEN.finditer(text):
        minus, phrase, bare, star = match.groups()
        if bare == "OR" and not minus:
            tokens.append(_Token(None, is_or=True))
            continue
        raw = phrase if phrase is not None else bare
        if bare is not None and bare.endswith("*"):
            raw, star = bare.rstrip("*"), "*"
        found = tuple(raw.split())
        # A term with no letter or digit holds nothing the tokenizer would index.
        term = SearchTerm(found, prefix=bool(star)) if _has_word(raw) else None
        tokens.append(_Token(term, excluded=bool(minus)))
    return tokens


def search_key(search: SearchQuery) -> tuple[object, ...]:
    """What identifies a parsed query for its page tokens: its terms with case and accents
    folded, as the index ignores them ("ORCHARD" pages on with a token of "orchard")."""

    def term_key(term: SearchTerm) -> tuple[tuple[str, ...], bool]:
        return tuple(fold(word) for word in term.words), term.prefix

    return (
        tuple(tuple(term_key(term) for term in group) for group in search.required),
        tuple(term_key(term) for term in search.excluded),
    )


def parse_search_query(text: str, field: str = "query") -> SearchQuery:
    """Returns the parsed query; raises ValidationError saying what is wrong with it."""
    if len(text) > MAX_QUERY_LENGTH:
        raise _invalid(f"must be at most {MAX_QUERY_LENGTH:,} characters, not {len(text):,}", field)
    text = _CONTROL.sub(" ", text)
    tokens = _tokens(text, field)
    groups: list[list[SearchTerm]] = []
    excluded: list[SearchTerm] = []
    joining = False  # the previous token was OR
    for position, token in enumerate(tokens):
        if token.is_or:
            if joining or not groups or position == len(tokens) - 1:
                raise _invalid("OR needs a term to look for on each side", field)
            joining = True
            continue
        if token.term is None:
            if joining:
                raise _invalid("OR needs a term to look for on each side", field)
            continue
        if token.excluded:
            if joining:
                raise _invalid("OR cannot join a -excluded term", field)
            excluded.append(token.term)
        elif joining:
            groups[-1].append(token.term)
        else:
            groups.append([token.term])
        joining = False
    if not groups:
        problem = "only excludes words" if excluded else "has no words to look for"
        raise _invalid(f"{problem}: give at least one word, phrase or prefix to find", field)
    if sum(len(group) for group in groups) + len(excluded) > MAX_TERMS:
        raise _invalid(f"must have at most {MAX_TERMS} terms", field)
    return SearchQuery(tuple(tuple(group) for group in groups), tuple(excluded))
