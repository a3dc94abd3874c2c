"""Did-you-mean suggestions and readable lists of choices for error messages.

Every "unknown name" message in lockgate (keys, activity types, pipelines, environments) goes through
:func:`did_you_mean` so suggestions behave the same everywhere. Pure: no I/O, no state.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_CUTOFF = 0.6


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` was most likely meant to be, if any is close enough.

    A candidate equal to ``name`` ignoring case wins; otherwise the closest candidate by
    :func:`difflib.get_close_matches` (compared case-insensitively, cutoff 0.6).

    Args:
        name: What the user wrote.
        candidates: The valid names, in the order to prefer on ties.

    Returns:
        The suggested candidate as spelled in ``candidates``, or ``None`` when ``name`` is itself a
        candidate, is empty, or nothing is close enough.
    """
    choices = list(dict.fromkeys(str(candidate) for candidate in candidates))
    if not name or name in choices:
        return None
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(choice.lower(), choice)
    wanted = name.lower()
    if wanted in by_lower:
        return by_lower[wanted]
    matches = difflib.get_close_matches(wanted, list(by_lower), n=1, cutoff=_CUTOFF)
    return by_lower[matches[0]] if matches else None


def format_choices(candidates: Iterable[str], *, quote: bool = False, limit: int = 12) -> str:
    """Join choices for prose: ``"a"``, ``"a or b"``, ``"a, b or c"``; long lists end ``"... and N more"``.

    Args:
        candidates: The choices, in display order.
        quote: Wrap each choice in single quotes (``"'a', 'b' or 'c'"``).
        limit: How many choices to name at most, so a hint stays one screen.

    Returns:
        The joined text; an empty string when there are no choices.
    """
    items = [f"'{candidate}'" if quote else str(candidate) for candidate in candidates]
    if len(items) > limit:
        return f"{', '.join(items[:limit])} ... and {len(items) - limit} more"
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"
