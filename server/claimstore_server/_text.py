"""Text normalization shared by validation and the store.

Names, aliases, topics and publishers are matched ignoring case and accents:
"Jean-Noel Barrot" finds "Jean-Noël Barrot". Both sides of every comparison go
through :func:`fold`, so the rule lives in one place.
"""

import functools
import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_ASCII_NON_WORD_TO_SPACE = bytes(
    code if chr(code).isalnum() else ord(" ") for code in range(128)
) + bytes(range(128, 256))
"""A byte table turning every ASCII character that ``_NON_WORD`` matches (all but letters and
digits) into a space."""


def fold(text: str) -> str:
    """Returns ``text`` without accents or case, punctuation turned into single spaces.

    >>> fold("  Jean-Noël  BARROT ")
    'jean noel barrot'
    """
    if text.isascii():
        # No accents to strip, and ASCII case-folds as it lower-cases: the common case, fast.
        # Runs of separators become one space, as _NON_WORD.sub would make them; as bytes,
        # the translation is a table lookup a character.
        spaced = text.encode().lower().translate(_ASCII_NON_WORD_TO_SPACE)
        return b" ".join(spaced.split()).decode()
    decomposed = unicodedata.normalize("NFKD", text)
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", without_marks.casefold()).strip()


fold_name = functools.lru_cache(maxsize=16_384)(fold)
"""``fold`` remembering its recent answers: for names, aliases, topics and publishers (at most a
few hundred characters each), which recur from claim to claim; long texts go to ``fold``."""


_SCHEME_AND_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)(.*)", re.DOTALL)


@functools.lru_cache(maxsize=4_096)
def canonical_url(url: str) -> str:
    """``url`` with its scheme and host in lower case, which is how they compare (RFC 3986):
    "HTTPS://Example.ORG/a" is "https://example.org/a". Everything else (user, path, query,
    fragment, an empty "?" or "#") is kept as given, as it may tell documents apart.

    >>> canonical_url("HTTPS://User@News.Example.COM:8080/Story?Q#F")
    'https://User@news.example.com:8080/Story?Q#F'
    """
    parts = _SCHEME_AND_AUTHORITY.fullmatch(url)
    if parts is None:
        return url
    scheme, authority, rest = parts.groups()
    userinfo, at, host = authority.rpartition("@")
    return f"{scheme.lower()}{userinfo}{at}{host.lower()}{rest}"


def words(text: str) -> tuple[str, ...]:
    """Returns the folded words of ``text``, in order, without repeats."""
    return tuple(dict.fromkeys(fold(text).split()))
