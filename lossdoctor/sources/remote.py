"""Paths that name another place than this machine's disk (`s3://bucket/runs`, `gs://...`).

Told apart by their text: a Path has already squashed `s3://bucket` to `s3:/bucket`, so
check the string given. They are listed and read through fsspec (`store`, `staging`).
"""

from __future__ import annotations

import re
from pathlib import Path

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str | Path) -> bool:
    """True for `scheme://...`."""
    return bool(_URL.match(str(path)))
