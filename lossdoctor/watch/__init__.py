"""Judging runs while they are written: `lossdoctor watch` and the framework callbacks.

`tracker` says which findings are new and which resolved since the last judgement (both
use it); `session` follows the runs under a path and re-judges them every interval;
`events` are what it reports, rendered as text or JSON lines; `hook` runs `--exec`.
"""
