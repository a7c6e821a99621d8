"""Shared test helpers: the corpus location, synthetic logs, one diagnosis per log."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # tests/synthetic.py

CORPUS = HERE / "data" / "corpus" / "runs"


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the synthetic logs of this session."""
    return tmp_path_factory.mktemp("synthetic")


@pytest.fixture(autouse=True)
def _every_json_output_matches_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON document lossdoctor writes in a test is validated against the shipped
    schema (lossdoctor/data/report.schema.json) before it is written."""
    from lossdoctor.report import json_out

    validate = _schema_validator()
    real = json_out.dump

    def checked(doc, out):  # type: ignore[no-untyped-def]
        validate(doc)
        real(doc, out)
    monkeypatch.setattr(json_out, "dump", checked)


def _schema_validator():  # type: ignore[no-untyped-def]
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("lossdoctor").joinpath("data/report.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)

    def validate(doc):  # type: ignore[no-untyped-def]
        # the document as a reader gets it: through json (so tuples are lists, keys strings)
        validator.validate(json.loads(json.dumps(doc, allow_nan=False)))
    return validate
