"""Paths that name another place than this machine's disk (`s3://bucket/runs`, `gs://...`).

They are not read yet; saying so plainly beats `s3:/bucket/run1: no such file or directory`,
which is what a local path lookup makes of them.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str | Path) -> bool:
    """True for `scheme://...` (a Path has already squashed '//' to '/', so check the text given)."""
    return bool(_URL.match(str(path)))


def remote_problem(url: str | Path) -> str:
    """What to say about a URL: remote stores are not read by this version."""
    scheme = str(url).split("://", 1)[0].lower()
    return (f"{scheme}:// paths are not supported yet; copy the runs to a local folder first "
            "(e.g. `aws s3 sync` or `gsutil rsync`) and point lossdoctor there")


def check_local(path: str | Path) -> None:
    """Raise a clear InputError for a URL."""
    if is_url(path):
        raise InputError(path, remote_problem(path))
