"""Lazy pagers: iterate over every item of a listing, one page fetched at a time."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")

FetchPage = Callable[[str], tuple[list[Item], str]]
"""Fetches the page for a page token ("" for the first); returns its items and the next token."""

FetchPageAsync = Callable[[str], Awaitable[tuple[list[Item], str]]]
""":data:`FetchPage` for asyncio: a coroutine function."""


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


class AsyncPager(Generic[Item]):
    """:class:`Pager` for asyncio: ``async for item in pager``, each page awaited when it is
    reached.

    Nothing is fetched until iteration starts. Iterating twice fetches again.
    """

    def __init__(self, fetch_page: FetchPageAsync[Item]) -> None:
        self._fetch_page = fetch_page

    async def __aiter__(self) -> AsyncIterator[Item]:
        async for page in self.pages():
            for item in page:
                yield item

    async def pages(self) -> AsyncIterator[list[Item]]:
        """Yields the listing page by page."""
        token = ""
        while True:
            items, token = await self._fetch_page(token)
            yield items
            if not token:
                return
