"""A rule's `when:` tree, typed: `All` / `Any` / `Not` over predicate `Call`s.

A rule file's `when:` is parsed once, when the rule is loaded: parsing validates every
node and binds each `$param` to its value in the same walk, so evaluating a rule does no
parsing. A `Call` remembers which arguments came from `$params` (`refs`), so a project's
threshold overrides re-bind the tree (`bind`) and `rules show` can say where a value came
from. Everything else that needs the predicate calls of a rule walks the tree (`walk`).

Errors are located by key path: `rules/x.yaml: rule overfitting: when.all[1]: unknown
predicate 'val_rise'`. They are collected in a list (every problem of a tree, in order),
not raised: the loader raises the first, `rules check` can show them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Mapping, Union

from .predicates import PREDICATES, Evidence


@dataclass(frozen=True)
class All:
    """Holds when every child holds; the evidence is merged (the first child's value wins)."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Any:
    """Holds when a child holds; the evidence is the first such child's."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """Holds (with no evidence) when the child does not."""

    child: Node


@dataclass(frozen=True)
class Call:
    """A predicate call: its arguments as written, with `$params` bound to their values.

    `refs` maps an argument to the param it came from (`min_ratio: $val_min_ratio` gives
    {'min_ratio': 'val_min_ratio'}). The function, the full keyword arguments (defaults
    filled in) and the key the engine memoises the answer under are worked out here, once.
    """

    name: str
    args: Mapping[str, object]
    refs: Mapping[str, str] = field(default_factory=dict)
    fn: Callable[..., Evidence | None] = field(init=False, repr=False, compare=False)
    kwargs: Mapping[str, object] = field(init=False, repr=False, compare=False)
    key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pred = PREDICATES[self.name]
        kwargs = {k: p.default for k, p in pred.params.items() if not p.required}
        kwargs.update(self.args)
        object.__setattr__(self, "fn", pred.fn)
        object.__setattr__(self, "kwargs", kwargs)
        object.__setattr__(self, "key", (self.name, repr(sorted(kwargs.items()))))

    def bind(self, params: Mapping[str, object]) -> Call:
        """The same call with its `$param` arguments taken from `params`."""
        if not self.refs:
            return self
        return replace(self, args={k: params[self.refs[k]] if k in self.refs else v
                                   for k, v in self.args.items()})


Node = Union[All, Any, Not, Call]


def walk(node: Node) -> Iterator[Call]:
    """Every predicate call of a tree, in the order the rule file writes them."""
    if isinstance(node, Call):
        yield node
    elif isinstance(node, Not):
        yield from walk(node.child)
    else:
        for child in node.children:
            yield from walk(child)


def bind(node: Node, params: Mapping[str, object]) -> Node:
    """The tree with every `$param` argument re-bound to `params` (threshold overrides)."""
    if isinstance(node, Call):
        return node.bind(params)
    if isinstance(node, Not):
        return Not(bind(node.child, params))
    return type(node)(tuple(bind(child, params) for child in node.children))


def parse_when(raw: object, params: Mapping[str, object], where: str,
               problems: list[str]) -> Node | None:
    """Validate and bind a `when:` tree; None when it has a problem (added to `problems`).

    A node is `all: [...]`, `any: [...]`, `not: node`, `predicate: {param: value}` or a
    bare predicate name.
    """
    if isinstance(raw, str):
        raw = {raw: {}}
    if not isinstance(raw, dict) or len(raw) != 1:
        return _fail(problems, f"{where}: expected one of all/any/not or a predicate name")
    (key, arg), = raw.items()
    if key in ("all", "any"):
        if not isinstance(arg, list) or not arg:
            return _fail(problems, f"{where}.{key}: expected a non-empty list")
        children = [parse_when(c, params, f"{where}.{key}[{i}]", problems) for i, c in enumerate(arg)]
        if any(c is None for c in children):
            return None
        return (All if key == "all" else Any)(tuple(children))  # type: ignore[arg-type]
    if key == "not":
        child = parse_when(arg, params, f"{where}.not", problems)
        return None if child is None else Not(child)
    if key in PREDICATES:
        return _parse_call(key, arg, params, f"{where}.{key}", problems)
    return _fail(problems, f"{where}: unknown predicate '{key}'")


def _parse_call(name: str, args: object, params: Mapping[str, object], where: str,
                problems: list[str]) -> Call | None:
    """One predicate call: known parameters, `$params` declared, values of the right kind."""
    spec = PREDICATES[name].params
    args = {} if args is None else args
    if not isinstance(args, dict):
        return _fail(problems, f"{where}: expected a mapping of parameters")
    before = len(problems)
    bound, refs = {}, {}
    for key, value in args.items():
        if key not in spec:
            problems.append(f"{where}: unknown parameter '{key}' (allowed: {', '.join(spec) or 'none'})")
            continue
        if isinstance(value, str) and value.startswith("$"):
            if value[1:] not in params:
                problems.append(f"{where}.{key}: '{value}' is not declared under params")
                continue
            refs[key], value = value[1:], params[value[1:]]
        problem = spec[key].problem(value)
        if problem:
            problems.append(f"{where}.{key}: {problem}")
        bound[key] = value
    problems += [f"{where}: missing parameter '{k}'" for k, p in spec.items() if p.required and k not in args]
    return Call(name, bound, refs) if len(problems) == before else None


def _fail(problems: list[str], problem: str) -> None:
    problems.append(problem)
    return None
