"""The knowledge base shipped in the package (lossdoctor/data/knowledge.yaml): entries P1-P30
that the rules' remedies cite, each a symptom, its likely causes and what to try."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

ENTRY_ID = re.compile(r"P(\d+)\Z", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One knowledge-base entry."""

    id: str
    group: str  # the section's title
    title: str
    seen: str
    why: tuple[str, ...]
    remedies: tuple[str, ...]


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """Every entry by id, in P-number order."""
    text = resources.files("lossdoctor").joinpath("data/knowledge.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    groups = doc["groups"]
    out = {key: Entry(key, groups[e["group"]], e["title"], e["seen"], tuple(e["why"]), tuple(e["try"]))
           for key, e in doc["entries"].items()}
    return dict(sorted(out.items(), key=lambda kv: int(kv[0][1:])))


def lookup(key: str) -> Entry | None:
    """The entry for `P19` (also `p19`, `19`), or None."""
    m = ENTRY_ID.match(key.strip()) or re.fullmatch(r"(\d+)", key.strip())
    return entries().get(f"P{int(m.group(1))}") if m else None
