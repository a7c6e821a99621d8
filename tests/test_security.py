"""A rule or config file can never run code, and a message template can never reach attributes.

- YAML is read with a safe loader: a `!!python/...` tag is a usage error (exit 2), via the CLI;
- the package source holds no eval/exec/unsafe YAML/pickle (rule conditions are data);
- every template `check_template` accepts renders with `render` from a dict of values only,
  never calling anything on them, and its width and precision stay within two digits;
- audit does not follow a symlink out of the roots it was given.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import lossdoctor
from lossdoctor.engine import template
from lossdoctor.cli import main
from lossdoctor.errors import ConfigError

PACKAGE = Path(lossdoctor.__file__).parent
LOG = "epoch,loss,val_loss\n" + "".join(f"{i},{2 / (i + 1)},{2.1 / (i + 1)}\n" for i in range(30))
EVIL_RULE = """id: evil
title: Evil
severity: warning
message: "{metric}"
remedies: ["no"]
when: !!python/object/apply:os.system ['touch {marker}']
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_python_tag_in_a_rule_file_is_exit_2_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    rule = tmp_path / "evil.yaml"
    rule.write_text(EVIL_RULE.replace("{marker}", str(marker)))
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    code, out, err = invoke("diagnose", "--rules", str(rule), str(log))
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith(f"lossdoctor: error: {rule}: ") and err.count("\n") == 1
    assert not marker.exists()


def test_python_tag_in_a_config_file_is_exit_2_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    config = tmp_path / "custom.yaml"
    config.write_text(f"fail-on: !!python/object/apply:os.system ['touch {marker}']\n")
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    code, out, err = invoke("diagnose", "--config", str(config), str(log))
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith("lossdoctor: error: ") and str(config.name) in err and err.count("\n") == 1
    assert not marker.exists()


FORBIDDEN = re.compile(r"\beval\(|\bexec\(|yaml\.load\((?!.*Loader=(_SAFE_LOADER|SafeLoader|yaml\.C?SafeLoader)\))|yaml\.unsafe_load|yaml\.Loader\b|\bpickle\b|\bmarshal\b"
                       r"|__import__\(|(?<![.\w])compile\(")


def test_the_package_never_evaluates_code() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20  # the scan really looks at the package
    hits = [f"{p.relative_to(PACKAGE)}:{n}: {line.strip()}" for p in sources
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if FORBIDDEN.search(line.split("#")[0])]
    assert hits == []


def test_the_yaml_loader_used_is_a_safe_one() -> None:
    """One loader (safeyaml) for config, rule and hparams files: libyaml's safe loader when
    present (speed), else the pure-Python one, with aliases and duplicate keys refused."""
    import yaml

    from lossdoctor import config, safeyaml
    from lossdoctor.engine import ruleset
    from lossdoctor.sources import hparams

    assert safeyaml.SafeLoader.__bases__[0] in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", None))
    assert issubclass(safeyaml.SafeLoader, yaml.constructor.SafeConstructor)
    assert config.load_yaml is ruleset.load_yaml is hparams.load_yaml is safeyaml.load_yaml


def test_the_scan_would_catch_an_eval() -> None:
    assert FORBIDDEN.search("yaml.load(text, Loader=yaml.Loader)") and FORBIDDEN.search("yaml.load(text)")
    assert not FORBIDDEN.search('yaml.load(p.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)')
    assert FORBIDDEN.search("x = eval(text)") and FORBIDDEN.search("yaml.load(f)")
    assert FORBIDDEN.search("code = compile(src, 'x', 'exec')") and not FORBIDDEN.search("re.compile(r'x')")
    assert not FORBIDDEN.search("yaml.safe_load(f)") and not FORBIDDEN.search("evaluate_rules(run)")


# ---- templates ----------------------------------------------------------------------

class Trap(float):
    """A value that fails the test if a template reaches any attribute but formatting."""

    def __getattribute__(self, name: str) -> object:
        if name not in ("__format__", "__class__", "is_integer", "__float__", "__abs__", "__lt__", "__ne__",
                        "__eq__", "__hash__", "__repr__", "__str__", "real"):
            raise AssertionError(f"template reached attribute {name!r}")
        return super().__getattribute__(name)


SPEC_TEXT = st.text(st.sampled_from(list("<>^=+- ,0123456789.eEfFgGd%sxrab!{}[]_:")), max_size=14)
FIELD_NAME = st.one_of(st.sampled_from(["x", "step", "best", "metric", "x.__class__", "x[0]", "x.real", "0", ""]),
                       st.text(st.sampled_from(list("ab_.[]0!")), max_size=6))
TEMPLATE = st.lists(st.tuples(st.text(st.sampled_from(list("ab {}:")), max_size=4), FIELD_NAME, SPEC_TEXT),
                    max_size=3).map(lambda parts: "".join(f"{lit}{{{name}:{spec}}}" if spec else f"{lit}{{{name}}}"
                                                          for lit, name, spec in parts))
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
                   st.sampled_from(["eval_loss", "x"]))
COUNT = {"accepted": 0, "rejected": 0}


@settings(max_examples=400, deadline=None)
@given(text=TEMPLATE, value=VALUES)
def test_accepted_templates_render_without_reaching_attributes(text: str, value: object) -> None:
    try:
        template.check_template(text, "rule t: message")
    except ConfigError:
        COUNT["rejected"] += 1
        return
    COUNT["accepted"] += 1
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names)
    values = {n: (Trap(value) if isinstance(value, float) else value) for n in names}
    out = template.render(text, values)
    assert len(out) < 2000  # width and precision are at most two digits each


@pytest.mark.parametrize("spec", ["{x:>99999999}", "{x:.99999999f}", "{x:999}", "{x:.100}", "{x:0>99999}",
                                  "{x:{y}}", "{x!s:>5}", "{x.__class__.__mro__}", "{x[__globals__]}"])
def test_huge_widths_and_tricks_are_rejected(spec: str) -> None:
    with pytest.raises(ConfigError):
        template.check_template(spec, "rule t: message")


def test_the_largest_accepted_width_and_precision_stay_small() -> None:
    template.check_template("{x:>99.99f}", "w")
    assert len(template.render("{x:>99.99f}", {"x": 1e300})) < 500


def test_a_numeric_spec_on_the_wrong_type_is_not_a_crash() -> None:
    """`{best:d}` passes the check; with a float (or a series name) it falls back to the plain form."""
    assert template.render("{best:d} {metric:.2f}", {"best": 0.25, "metric": "eval_loss"}) == "0.25 eval_loss"


# ---- audit and symlinks -----------------------------------------------------------

def test_audit_does_not_follow_a_symlink_out_of_its_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(LOG)
    root = tmp_path / "root"
    (root / "run1").mkdir(parents=True)
    (root / "run1" / "log.csv").write_text(LOG)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "escape.csv").symlink_to(outside / "secret.csv")
    code, out, err = invoke("audit", "--format", "json", "--fail-on", "never", "-j", "1", str(root))
    assert "Traceback" not in out + err
    assert "secret" not in out and "outside" not in out
    assert str(root / "run1" / "log.csv") in out
    code, out, err = invoke("audit", "--format", "json", "--fail-on", "never", "-j", "1", "--follow-symlinks", str(root))
    assert "secret" in out  # ... unless asked
