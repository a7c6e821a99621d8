"""A plain (non-editable) install carries the rules inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent


def test_plain_install_finds_its_rules_from_another_directory(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(REPO)], check=True, capture_output=True)
    assert (target / "lossdoctor" / "rulebook" / "overfitting.yaml").is_file()
    assert (target / "lossdoctor" / "data" / "knowledge.yaml").is_file()  # lossdoctor explain
    assert (target / "lossdoctor" / "data" / "report.schema.json").is_file()  # the JSON schema
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = tmp_path / "elsewhere"
    where.mkdir()
    probe = ("import lossdoctor, lossdoctor.engine as r; "
             "print(lossdoctor.__file__); print(r.default_rule_dir()); print(len(r.default_rules()))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=where, env=env, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    assert out[0].startswith(str(target)) and out[1].startswith(str(target))
    assert int(out[2]) >= 13
    run = subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose",
                          str(REPO / "examples" / "diverged"), "--format", "json"],
                         cwd=where, env=env, capture_output=True, text=True)
    assert run.returncode == 1 and '"divergence"' in run.stdout
    run = subprocess.run([sys.executable, "-m", "lossdoctor", "explain", "P19"], cwd=where, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("P19 — ")
