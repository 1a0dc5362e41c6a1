"""Notebook parameters: their declared types and allowed values, checked by the runner before a run
and by the notebook itself right after its parameters cell.

A parameters cell declares each parameter on one line, with its allowed values in brackets at the
end of its comment, which papermill's ``--help-notebook`` shows as they are::

    epochs: int = 10  # passes over the training set [at least 1]
    seeds: list[int] = [0, 1, 2]  # one run per seed [non-empty; each at least 0]
    lr_schedule: str = "cosine"  # how the rate changes [one of cosine, constant]

Rules, separated by ``;``: ``at least x``, ``more than x``, ``at most x``, ``less than x``;
``non-empty``; ``length n`` or ``length at least n``; ``one of a, b``; ``keys a, b`` (exactly these)
or ``keys from a, b`` (some of them); and ``each <rule>`` for every item of a list or value of a
dict. They are words, not ``>=``: papermill skips a parameter line with more than one ``=``.
"""

from __future__ import annotations

import ast
import operator
import re

TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "tuple": (list, tuple),
}
RULE = re.compile(r"\[([^\[\]]*)\]\s*$")  # the bracketed rules at the end of a comment
COMPARISONS = {"at least": operator.ge, "more than": operator.gt, "at most": operator.le, "less than": operator.lt}
RULE_FORMS = re.compile(
    r"(each\s+)*(non-empty|length\s+(at least\s+)?\d+|one of\s.+|keys from\s.+|keys\s.+|"
    r"(at least|more than|at most|less than)\s+-?[0-9.]+(e-?\d+)?)"
)


class ParameterError(ValueError):
    """A notebook received a value its parameters cell does not allow; the message lists every one."""

    def _render_traceback_(self) -> list[str]:
        """What IPython (JupyterLab, papermill) shows instead of a traceback: the message is all
        a reader needs, and the stack behind it is the check cell's own."""
        return [f"{type(self).__name__}: {self}"]


class RuleError(ValueError):
    """A parameters cell states a rule this module does not know."""


def check_type(value, type_name: str) -> bool:
    """Whether ``value`` (from YAML) fits a declared annotation such as ``int`` or ``list[int]``."""
    base = type_name.split("[", 1)[0].strip()
    if base not in TYPES:
        return True  # unannotated or exotic: papermill cannot tell, neither can we
    if isinstance(value, bool) and base != "bool":
        return False
    return isinstance(value, TYPES[base])


def rules_of(comment: str) -> str:
    """The rules in a parameter's comment ('' if it states none)."""
    m = RULE.search(comment)
    return m.group(1).strip() if m else ""


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _broken(value, rule: str) -> str | None:
    """Why ``value`` breaks one rule, or None if it keeps it."""
    if rule.startswith("each "):
        items = list(value.values()) if isinstance(value, dict) else value
        if not isinstance(items, (list, tuple)):
            return "must be a list or mapping"
        for item in items:
            if (why := _broken(item, rule[5:])) is not None:
                return f"has {item!r}, which {why}"
        return None
    if rule == "non-empty":
        return None if len(value) else "must not be empty"
    if m := re.fullmatch(r"length\s+(at least\s+)?(\d+)", rule):
        size = len(value)
        ok = size >= int(m.group(2)) if m.group(1) else size == int(m.group(2))
        return None if ok else f"must have {'at least ' if m.group(1) else ''}{m.group(2)} items (has {size})"
    if rule.startswith("one of "):
        return None if str(value) in _words(rule[7:]) else f"must be one of {', '.join(_words(rule[7:]))}"
    if rule.startswith("keys from "):
        extra = sorted(set(value) - set(_words(rule[10:])))
        return f"has unknown keys {', '.join(extra)} (allowed: {', '.join(_words(rule[10:]))})" if extra else None
    if rule.startswith("keys "):
        wanted = _words(rule[5:])
        return None if sorted(value) == sorted(wanted) else f"must have exactly the keys {', '.join(wanted)}"
    if m := re.fullmatch(r"(at least|more than|at most|less than)\s+(-?[0-9.]+(?:e-?\d+)?)", rule):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if COMPARISONS[m.group(1)](value, float(m.group(2))) else f"must be {rule}"
    raise ValueError(f"unknown rule {rule!r}")


def problems(name: str, value, type_name: str, rules: str) -> list[str]:
    """What is wrong with ``name = value`` against its declared type and rules, as sentences."""
    if not check_type(value, type_name):
        hint = ""
        if isinstance(value, str) and type_name.split("[")[0] in ("list", "dict") and value.strip()[:1] in "[{":
            hint = (
                " (papermill's -p passes text; give lists and mappings as YAML: -y 'name: [0, 1]', "
                "or mnist-study run -p 'NN.name=[0, 1]')"
            )
        return [f"{name} = {value!r}: must be {type_name}, not {type(value).__name__}{hint}"]
    found = []
    for rule in filter(None, (r.strip() for r in rules.split(";"))):
        try:
            why = _broken(value, rule)
        except TypeError:
            why = f"does not fit the rule {rule}"
        if why is not None:
            found.append(f"{name} = {value!r}: {why}")
    return found


def declared(source: str) -> dict[str, dict]:
    """The parameters a parameters cell declares: name -> type, default, help, rules.

    Raises ValueError naming the first line that is not ``name: type = value  # comment``.
    """
    lines = source.splitlines()
    out = {}
    for stmt in ast.parse(source).body:
        line = lines[stmt.lineno - 1].strip()
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None):
            raise ValueError(f"line {stmt.lineno} is not `name: type = value  # comment`: {line}")
        try:
            default = ast.literal_eval(stmt.value)
        except ValueError:
            raise ValueError(f"parameter {stmt.target.id!r} has a default that is not a plain value: {line}") from None
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        rules = rules_of(comment)
        for rule in filter(None, (r.strip() for r in rules.split(";"))):
            if not RULE_FORMS.fullmatch(rule):
                raise RuleError(
                    f"parameter {stmt.target.id!r} states an unknown rule {rule!r}; the rules are "
                    f"at least x, more than x, at most x, less than x, non-empty, length n, length at least n, "
                    f"one of a, b, keys a, b, keys from a, b and each <rule>"
                )
        out[stmt.target.id] = {
            "type": ast.unparse(stmt.annotation),
            "default": default,
            "help": comment,
            "rules": rules,
        }
    return out


def check(namespace: dict) -> None:
    """Check the notebook's parameters as it received them, in the cell after its parameters cell.

    The declarations are read from the parameters cell as the kernel ran it (IPython's input
    history), so a run by papermill or in JupyterLab stops here, before any work, with the
    same messages as the runner's.

    Raises:
        ParameterError: every parameter whose value its declaration does not allow.
    """
    cell = None
    for source in reversed(namespace.get("In", [])):  # the latest parameters cell run
        try:
            found = declared(source)
        except RuleError:
            raise
        except (SyntaxError, ValueError):
            continue
        if found:
            cell = found
            break
    if cell is None:
        return  # not run in IPython, or no parameters cell run yet: nothing to check against
    wrong = [
        p
        for name, info in cell.items()
        if name in namespace
        for p in problems(name, namespace[name], info["type"], info["rules"])
    ]
    if wrong:
        raise ParameterError("Parameter values this notebook does not allow:\n  - " + "\n  - ".join(wrong))
