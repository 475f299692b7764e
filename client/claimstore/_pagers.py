"""Lazy pagers: iterate over every item of a listing, one page fetched at a time."""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")

FetchPage = Callable[[str], tuple[list[Item], str]]
"""Fetches the page for a page token ("" for the first); returns its items and the next token."""


class Pager(Generic[Item]):
    """Iterates over the items of a listing, fetching each page only when it is reached.

    Nothing is fetched until iteration starts. Iterating twice fetches again.
    """

    def __init__(self, fetch_page: FetchPage[Item]) -> None:
        self._fetch_page = fetch_page

    def __iter__(self) -> Iterator[Item]:
        for page in self.pages():
            yield from page

    def pages(self) -> Iterator[list[Item]]:
        """Yields the listing page by page."""
        token = ""
        while True:
            items, token = self._fetch_page(token)
            yield items
            if not token:
                return
