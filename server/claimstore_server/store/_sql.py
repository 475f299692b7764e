"""Small helpers for writing SQL text, shared by the SQLite store and its batched writer."""


def placeholders(count: int) -> str:
    """Returns ``count`` bound-parameter markers for an ``IN (…)`` list: "?, ?, ?"."""
    return ", ".join("?" * count)


def escape_like(text: str) -> str:
    """Escapes ``text`` for a LIKE pattern with ``ESCAPE '\\'``: % and _ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
