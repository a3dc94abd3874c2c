"""Shape rules the linters do not check: no module over 800 lines (aim for under 400)."""

from __future__ import annotations

from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src" / "lockgate"
MAX_LINES = 800


MODULES = sorted(p for p in SOURCE.rglob("*.py") if "templates" not in p.relative_to(SOURCE).parts)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_module_is_not_too_long(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module.name} has {lines} lines; split it by concept"
