"""A test suite's results as JUnit XML, the report format CI systems (GitHub, GitLab, Jenkins, Azure) read.

Layout: `testsuites` > one `testsuite` named `lockgate` > one `testcase` per unit test (classname: its file) and
per check (classname: `checks.<schema.table>`). A failure carries its one-line message as the `message`
attribute and the row diff as text; an error likewise; a skipped case a `skipped` element; a warned check
passes with its warning in `system-out`.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from lockgate.services.testing import CaseResult, CaseStatus, SuiteResult

__all__ = ["render_junit"]

SUITE_NAME = "lockgate"


def render_junit(result: SuiteResult, *, timestamp: dt.datetime | None = None) -> str:
    """The JUnit XML document (UTF-8 text with its declaration) of ``result``."""
    counts = {
        "tests": str(len(result.cases)),
        "failures": str(result.count(CaseStatus.failed)),
        "errors": str(result.count(CaseStatus.error)),
        "skipped": str(result.count(CaseStatus.skipped)),
        "time": f"{result.seconds:.3f}",
    }
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts})
    when = (timestamp or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts, "timestamp": when})
    for case in result.cases:
        _add_case(suite, case)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _add_case(suite: ET.Element, case: CaseResult) -> None:
    element = ET.SubElement(
        suite, "testcase", {"classname": case.group, "name": case.name, "time": f"{case.seconds:.3f}"}
    )
    if case.location is not None:
        element.set("file", case.location.file)
        if case.location.line is not None:
            element.set("line", str(case.location.line))
    if case.status == CaseStatus.failed:
        _child(element, "failure", case, "AssertionError" if case.kind == "test" else "CheckFailed")
    elif case.status == CaseStatus.error:
        _child(element, "error", case, "Error")
    elif case.status == CaseStatus.skipped:
        ET.SubElement(element, "skipped", {"message": _clean(case.message)})
    elif case.status == CaseStatus.warned:
        ET.SubElement(element, "system-out").text = _clean(f"warning: {case.message}\n{case.detail}".rstrip())


def _child(element: ET.Element, tag: str, case: CaseResult, kind: str) -> None:
    child = ET.SubElement(element, tag, {"message": _clean(case.message), "type": kind})
    child.text = _clean(case.detail or case.message)


def _clean(text: str) -> str:
    """``text`` without the control characters XML 1.0 cannot hold (notebook output may have some)."""
    return "".join(char for char in text if char in "\t\n\r" or ord(char) >= 0x20)
