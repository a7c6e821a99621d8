"""Calls to an object store that may fail for a while: retried with jittered exponential
back-off, and turned into typed errors when they go on failing.

Two layers retry a store's requests. The library's own comes first, configured the
library's usual way: botocore retries each S3 request (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`
in the environment or `~/.aws/config`), s3fs retries a call that got 503 SlowDown
(`S3FileSystem.retries`, 5), gcsfs retries 429/5xx. On top of that, `with_retries` runs a
whole call again a few times (`Backoff`: 4 attempts, full jitter over 0.5 s x 2^k, at most
8 s), so a throttled prefix gets a minute to recover. When it still fails, the call raises
`StoreUnavailable` (kind `unavailable`): the run's row says so, and `--resume` runs it
again. A failure that waiting cannot cure (no such key, access denied, no credentials) is
an `InputError` at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import InputError

T = TypeVar("T")


class StoreUnavailable(InputError):
    """The store kept failing (throttled, 5xx, timeouts) after every retry."""

    kind = "unavailable"


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait before a call is given up."""

    attempts: int = 4
    base: float = 0.5  # seconds; the k-th wait is uniform in [0, min(cap, base * 2**k)]
    cap: float = 8.0

    def wait(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.cap, self.base * 2 ** attempt))


DEFAULT = Backoff()

# Words of the errors that waiting cures: throttling, server errors, dropped connections.
_TRANSIENT = ("slowdown", "slow down", "reduce your request rate", "throttl", "too many requests",
              "(429)", "(500)", "(502)", "(503)", "(504)", "internalerror", "internal error",
              "serviceunavailable", "service unavailable", "temporarily", "timed out", "timeout",
              "connection", "reset by peer", "broken pipe", "incomplete read")
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, ValueError)


def is_transient(exc: BaseException) -> bool:
    """True for an error that may go away when asked again later."""
    if isinstance(exc, _PERMANENT):
        return False
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in _TRANSIENT)


def with_retries(call: Callable[[], T], where: str, policy: Backoff | None = None) -> T:
    """`call()`, again after a jittered wait while it fails transiently; typed errors after."""
    policy = policy or DEFAULT
    for attempt in range(policy.attempts):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - every library has its own error types
            if not is_transient(exc):
                raise InputError(where, describe(exc)) from None
            if attempt + 1 == policy.attempts:
                raise StoreUnavailable(where, f"the store kept failing ({describe(exc)}) after "
                                              f"{policy.attempts} attempts") from None
            time.sleep(policy.wait(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def describe(exc: BaseException) -> str:
    """One short line for an error of a store library."""
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, PermissionError):
        return "access denied (check the credentials the store's library finds)"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)  # no "[Errno 16]"
    text = " ".join(text.split()) or type(exc).__name__
    if type(exc).__name__ == "NoCredentialsError":
        text = "no credentials found (set them as for the store's own tools: AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)"
    return text if len(text) <= 200 else text[:197] + "..."
