"""The rule engine: rule files -> frozen Rules -> findings over a run's subjects.

    rules/*.yaml --ruleset--> Rule (with its bound `when:` tree) --evaluate--> Finding

The one entry point is `evaluate_rules(run, roles, rules)`. Rules are data; the
predicates they are built from live in `predicates/` (one registry, derived from the
functions' signatures, with parameter kinds from `params`); `signals`, `medians` and
`subject` are what predicates compute with.
"""

from __future__ import annotations

from .conditions import All, Any, Call, Node, Not, walk
from .evaluate import evaluate_rules
from .index import RuleIndex
from .params import Param
from .predicates import PREDICATES, Predicate
from .rulefiles import (default_rule_dir, default_rules, load_rule_files, packaged_rule_files, rule_files_in,
                        rule_problems)
from .ruleset import Remedy, Rule, load_rule_file

__all__ = ["PREDICATES", "All", "Any", "Call", "Node", "Not", "Param", "Predicate", "Remedy", "Rule",
           "RuleIndex", "default_rule_dir", "default_rules", "evaluate_rules", "load_rule_file",
           "load_rule_files", "packaged_rule_files", "rule_files_in", "rule_problems", "walk"]
