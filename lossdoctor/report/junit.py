"""JUnit XML, the test report every CI system shows natively.

One <testsuite> per run, one <testcase> per rule per run: it fails (<failure>) when the
rule fired at/above the --fail-on gate, passes otherwise (a finding below the gate is
kept as <system-out>), and an ignored rule is <skipped>. A run that could not be read is
one testcase with <error>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TextIO

from ..findings import Diagnosis, Finding
from ..engine.template import format_step
from .options import DEFAULT_OPTIONS, RenderOptions

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(findings: list[Finding]) -> str:
    parts = []
    for f in findings:
        where = ", ".join(x for x in (f.metric, f"step {format_step(f.step)}" if f.step is not None
                                      else None) if x)
        parts.append(f"{f.severity.label.upper()} {f.rule}: {f.title} ({where})\n{f.message}\n"
                     + "".join(f"  - {r}\n" for r in f.remedies))
    return clean("\n".join(parts))


def _rule_ids(diag: Diagnosis, options: RenderOptions) -> list[str]:
    """The rules that ran and those ignored (from the options), plus any other that fired."""
    ids = list(options.rules) + sorted(options.ignored - set(options.rules))
    for f in diag.findings:
        if f.rule not in ids:
            ids.append(f.rule)
    return ids


def clean(text: str) -> str:
    """XML 1.0 cannot hold control characters (a metric name may): replace them."""
    return _CONTROL.sub("\ufffd", text)


def _suite(diag: Diagnosis, options: RenderOptions) -> ET.Element:
    path = clean(options.rel(diag.path))
    suite = ET.Element("testsuite", name=path)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if diag.error:
        case = ET.SubElement(suite, "testcase", classname=path, name="read")
        ET.SubElement(case, "error", type=diag.error.kind, message=clean(diag.error.message))
        counts.update(tests=1, errors=1)
    for rid in [] if diag.error else _rule_ids(diag, options):
        case = ET.SubElement(suite, "testcase", classname=path, name=rid)
        counts["tests"] += 1
        mine = [f for f in diag.findings if f.rule == rid]
        if rid in options.ignored:
            ET.SubElement(case, "skipped", message="ignored by configuration")
            counts["skipped"] += 1
        elif any(options.gate(f) for f in mine):
            fail = ET.SubElement(case, "failure", type=max(f.severity for f in mine).label,
                                 message=clean(f"{rid}: {mine[0].title}: {mine[0].message}"))
            fail.text = _text(mine)
            counts["failures"] += 1
        elif mine:
            ET.SubElement(case, "system-out").text = _text(mine)
    suite.attrib.update({k: str(v) for k, v in counts.items()})
    return suite


def render_junit(diagnoses: list[Diagnosis], out: TextIO,
                 options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """The XML document: <testsuites> holding one <testsuite> per run."""
    root = ET.Element("testsuites", name="lossdoctor")
    suites = [_suite(d, options) for d in diagnoses]
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, 0)) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode") + "\n")
