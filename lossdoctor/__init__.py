"""lossdoctor: diagnose deep-learning training logs.

    import lossdoctor
    diag = lossdoctor.diagnose("lightning_logs/version_0")
    print(diag.verdict, [f.rule for f in diag.findings])

The public names are in `__all__`; they are loaded on first use, so `import lossdoctor`
stays cheap (the rule engine, numpy and pandas load when something is diagnosed).
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would double this module's cost

__version__ = "0.1.0"

# name -> module that defines it (imported on first access)
_PUBLIC = {
    "diagnose": "lossdoctor.api",
    "diagnose_all": "lossdoctor.api",
    "read": "lossdoctor.api",
    "load_settings": "lossdoctor.api",
    "Settings": "lossdoctor.diagnose",
    "Run": "lossdoctor.frame",
    "Series": "lossdoctor.frame",
    "Diagnosis": "lossdoctor.findings",
    "Finding": "lossdoctor.findings",
    "Severity": "lossdoctor.findings",
    "RunError": "lossdoctor.findings",
    "LossdoctorError": "lossdoctor.errors",
    "InputError": "lossdoctor.errors",
    "NothingToDiagnose": "lossdoctor.errors",
    "ManyRuns": "lossdoctor.errors",
    "ConfigError": "lossdoctor.errors",
    "MissingExtra": "lossdoctor.errors",
}

__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:
    from .api import diagnose, diagnose_all, load_settings, read
    from .diagnose import Settings
    from .errors import ConfigError, InputError, LossdoctorError, ManyRuns, MissingExtra, NothingToDiagnose
    from .findings import Diagnosis, Finding, RunError, Severity
    from .frame import Run, Series


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'lossdoctor' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    if name != "diagnose":  # `lossdoctor.diagnose` is also a module name: see diagnose._CallableModule
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
