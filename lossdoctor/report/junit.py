"""JUnit XML, the test report every CI system shows natively.

One <testsuite> per run, one <testcase> per rule per run. The report says what was found,
whatever the exit gate: a rule that fired at warning or error is a <failure>, an info
finding passes with its text in <system-out>, an ignored rule is <skipped>, and a run that
could not be read is one testcase with <error>. `--fail-on` decides only the exit code, so
`--fail-on never` in a CI recipe still shows a NaN run as failed.

`time`: the run's measured diagnosis time on its <testsuite>; the rules are judged
together, so each <testcase> carries an equal share of it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TextIO

from ..findings import Diagnosis, Finding, Severity
from . import escape, phrases
from .options import DEFAULT_OPTIONS, RenderOptions


def _text(findings: list[Finding], verbosity: int = 0) -> str:
    parts = []
    for f in findings:
        v = phrases.finding_view(f, escape.xml, verbosity)
        parts.append(f"{f.severity.label.upper()} {v.rule}: {v.title} ({v.where})\n{v.message}\n"
                     + "".join(f"  - {r}\n" for r in v.remedies)
                     + (f"  {phrases.hidden_remedies(v.hidden)}\n" if v.hidden else "") + f"({v.more})\n")
    return "\n".join(parts)


def _rule_ids(diag: Diagnosis, options: RenderOptions) -> list[str]:
    """The rules that ran and those ignored (from the options), plus any other that fired."""
    ids = list(options.rules) + sorted(options.ignored - set(options.rules))
    for f in diag.findings:
        if f.rule not in ids:
            ids.append(f.rule)
    return ids


def clean(text: str) -> str:
    """XML 1.0 cannot hold control characters or lone surrogates (a metric name may)."""
    return escape.xml(text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _case(suite: ET.Element, path: str, rid: str, mine: list[Finding], options: RenderOptions,
          counts: dict[str, int]) -> None:
    case = ET.SubElement(suite, "testcase", classname=path, name=clean(rid))
    counts["tests"] += 1
    failing = [f for f in mine if f.severity >= Severity.WARNING]
    if rid in options.ignored and not mine:
        ET.SubElement(case, "skipped", message="ignored by configuration")
        counts["skipped"] += 1
    elif failing:
        worst = max(failing, key=lambda f: f.severity)
        gate = "fails" if any(options.gate(f) for f in mine) else "below"
        fail = ET.SubElement(case, "failure", type=worst.severity.label,
                             message=clean(f"{rid}: {worst.title}: {worst.message} "
                                           f"({gate} the --fail-on {options.gate_label} gate)"))
        fail.text = _text(mine, options.verbosity)
        counts["failures"] += 1
    elif mine:
        ET.SubElement(case, "system-out").text = _text(mine, options.verbosity)


def _suite(diag: Diagnosis, options: RenderOptions) -> ET.Element:
    path = clean(options.rel(diag.path))
    suite = ET.Element("testsuite", name=path)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if diag.error:
        case = ET.SubElement(suite, "testcase", classname=path, name="read")
        ET.SubElement(case, "error", type=diag.error.kind, message=clean(diag.error.message))
        counts.update(tests=1, errors=1)
    for rid in [] if diag.error else _rule_ids(diag, options):
        _case(suite, path, rid, [f for f in diag.findings if f.rule == rid], options, counts)
    total = diag.seconds or 0.0
    for case in suite:
        case.set("time", _seconds(total / max(1, counts["tests"])))
    suite.attrib.update({k: str(v) for k, v in counts.items()})
    suite.set("time", _seconds(total))
    return suite


def render_junit(diagnoses: list[Diagnosis], out: TextIO,
                 options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """The XML document: <testsuites> holding one <testsuite> per run."""
    root = ET.Element("testsuites", name="lossdoctor")
    suites = [_suite(d, options) for d in diagnoses]
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, 0)) for s in suites)))
    root.set("time", _seconds(sum(float(s.get("time", 0)) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode") + "\n")
