"""The development set regenerated with every scenario's seed moved: fresh runs of the same
recipes, for measuring how a change carries over to trainings nobody looked at.

    python benchmarks/reseed.py ../shared/devset/gen_devset.py 7 /tmp/reseed/s7 \
        --python /tmp/devset/venv/bin/python
    .venv/bin/python benchmarks/score.py /tmp/reseed/s7 --accept-from ../shared/devset/labels.yaml

The generator is copied into OUT and run there (its runs/, labels.yaml and README.md land in
OUT; the original is not touched), with each scenario's seed plus OFFSET. The generator trains
with torch, Lightning, Keras and MLflow: `--python` is an interpreter that has them (its own
README says how to make one). Labels are the generator's automatic ones, checked against
the logged numbers; the shipped set's hand review is not in them (`--accept-from` adds its
accepted readings when scoring).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Where the generator stores a scenario's seed: every run's seed passes through here.
SEED_LINE = "acceptable=list(acceptable), seed=seed)"
MOVED = 'acceptable=list(acceptable), seed=seed + int(os.environ.get("SEED_OFFSET", "0")))'


def prepare(generator: Path, out: Path) -> Path:
    """A copy of the generator in OUT whose seeds move by $SEED_OFFSET."""
    text = generator.read_text()
    if text.count(SEED_LINE) != 1:
        raise SystemExit(f"reseed: {generator}: expected one `{SEED_LINE}` (where the generator "
                         "stores a scenario's seed); the generator changed, update SEED_LINE")
    out.mkdir(parents=True, exist_ok=True)
    for old in ("runs", "facts"):
        shutil.rmtree(out / old, ignore_errors=True)
    copy = out / generator.name
    copy.write_text(text.replace(SEED_LINE, MOVED))
    return copy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("generator", type=Path, help="the development set's gen_devset.py")
    ap.add_argument("offset", type=int, help="added to every scenario's seed")
    ap.add_argument("out", type=Path, help="folder for the copy, its runs/ and labels.yaml")
    ap.add_argument("--python", default=sys.executable, help="an interpreter with the generator's frameworks")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    if not args.generator.is_file():
        raise SystemExit(f"reseed: {args.generator}: no such file")
    copy = prepare(args.generator, args.out)
    env = {**os.environ, "SEED_OFFSET": str(args.offset), "DEVSET_FACTS": str(args.out / "facts"),
           "OMP_NUM_THREADS": "1"}
    log = args.out / "gen.log"
    with log.open("w") as fh:
        rc = subprocess.run([args.python, copy.name, "--jobs", str(args.jobs)], cwd=args.out, env=env,
                            stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc != 0 or not (args.out / "labels.yaml").is_file():
        print(f"reseed: the generator failed (exit {rc}); see {log}", file=sys.stderr)
        return 1
    print(f"{args.out}: runs/ and labels.yaml with every seed +{args.offset} (log: {log})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
