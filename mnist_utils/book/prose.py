"""The notebooks' prose: markdown templates filled with the values the code published.

Code cells compute and publish named values (``display.facts``); markdown cells
say what they mean, with Jinja2 placeholders, conditions and the filters below.
This module renders the executed notebooks into the copies people read, one per
language, with figures and tables numbered and ``[@fig:label]`` references
resolved. It never executes code, so an edit to a sentence, a template or a
translation costs a re-render, not a re-run. The notebooks do not import it, so
editing it re-runs nothing.

- **Facts.** Each ``display.facts`` output holds its values as JSON under
  :data:`FACTS_MIME`; a notebook's templates see all of its facts, and ``profile``.
- **Captions.** A markdown cell ``Figure: text {#fig:label}`` or ``Table: text
  {#tab:label}`` captions the figure or table its notebook displayed with that
  label (pandoc-crossref's spelling), or the markdown table in the cell just before
  it. The renderer numbers it.
- **Translations.** ``notebooks/zh/NN_name.yaml`` holds the Chinese of each
  markdown cell, keyed by the cell's id, with a hash of the English it translates
  (``en``): when the English changes, the translation is flagged as out of date.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from mnist_utils import evaluation, i18n
from mnist_utils.book.errors import ProseError
from mnist_utils.book.translations import (
    english_hash,
    load_translations,
    translations_path,
)
from mnist_utils.display import FACTS_MIME

SECTIONS = Path(__file__).parent / "templates" / "sections"
# A caption cell: "Figure: text {#fig:label}" or "Table: text {#tab:label}".
CAPTION = re.compile(
    r"^\s*(?P<word>Figure|Table):\s*(?P<text>.*?)\s*\{#(?P<kind>fig|tab):(?P<label>[A-Za-z0-9_.-]+)\}\s*$", re.S
)
KINDS = {"fig": "figure", "tab": "table"}
# A markdown table's delimiter row (| --- | :-: |; a bar at least, unlike a rule), which a table caption
# cell may follow.
TABLE_RULE = re.compile(r"^(?=[^\n]*\|)\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$", re.M)
# A cross-reference in prose: [@fig:label] or [@tab:label] (pandoc-crossref's spelling).
REFERENCE = re.compile(r"\[@(fig|tab):([A-Za-z0-9_.-]+)\]")
# The words the renderer writes itself, in each language.
WORDS = {
    "en": {"figure": "Figure", "table": "Table", "caption_sep": ". ", "and": " and ", "comma": ", "},
    "zh": {"figure": "图", "table": "表", "caption_sep": "\u3000", "and": "和", "comma": "、"},
}
# How the notebooks' configuration names read in prose (the ``name`` filter).
NAMES = {
    "en": {
        "relu": "ReLU",
        "gelu": "GELU",
        "tanh": "tanh",
        "sigmoid": "sigmoid",
        "sgd": "SGD",
        "nesterov": "SGD with Nesterov momentum",
        "rmsprop": "RMSprop",
        "adam": "Adam",
    },
    "zh": {
        "relu": "ReLU",
        "gelu": "GELU",
        "tanh": "tanh",
        "sigmoid": "sigmoid",
        "sgd": "SGD",
        "nesterov": "带 Nesterov 动量的 SGD",
        "rmsprop": "RMSprop",
        "adam": "Adam",
    },
}


# --- the template engine ---------------------------------------------------------

# What a filter prints for a value that could not be computed (published as None, e.g. a NaN).
MISSING = "–"


def _tolerant(fn):
    """The filter ``fn``, printing :data:`MISSING` for None instead of failing the build."""

    @functools.wraps(fn)
    def filtered(x, *args, **kwargs):
        return MISSING if x is None else fn(x, *args, **kwargs)

    return filtered


def _mean_std(x):
    """(mean, std or None) of ``{"mean", "std"}``, a list of values, or one number."""
    if isinstance(x, dict):
        return x["mean"], x.get("std")
    if isinstance(x, (list, tuple)):
        return evaluation.mean_std(x)
    return x, None


@_tolerant
def pct(x, digits: int = 2) -> str:
    """A fraction (or the mean of ``{"mean", "std"}``) in percent: '97.81 %'."""
    return evaluation.format_pct(_mean_std(x)[0], digits=digits)


@_tolerant
def pm(x, digits: int = 2) -> str:
    """Mean ± standard deviation in percent, '97.81 ± 0.09 %' ('97.81 %' when there is no std)."""
    return evaluation.format_pct(*_mean_std(x), digits=digits)


@_tolerant
def points(x, digits: int = 2) -> str:
    """A difference of fractions in percentage points, unsigned: '0.12'."""
    return f"{100 * x:.{digits}f}"


@_tolerant
def signed(x, digits: int = 2) -> str:
    """A number with its sign: '+0.12', '-0.30'."""
    return f"{x:+.{digits}f}"


@_tolerant
def num(x, digits: int = 2) -> str:
    """A number with fixed decimals: '0.75'."""
    return f"{x:.{digits}f}"


@_tolerant
def thousands(x) -> str:
    """A whole number with thousands separators: '54,000'."""
    return f"{round(x):,}"


@_tolerant
def pvalue(p) -> str:
    """A p-value as a paper prints it: '0.012', '< 0.001'."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@functools.cache
def environment(language: str = "en"):
    """The Jinja2 environment of ``language`` (made once): strict about names, sandboxed, with the
    filters pct, pm, points, signed, num, thousands, pvalue, plural, and_list, name, tr, oneline and
    cell (a markdown table cell)."""
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    words = WORDS[language]
    # "{#" opens a caption's label ({#fig:x}), so Jinja comments are spelled {## ... ##}.
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        comment_start_string="{##",
        comment_end_string="##}",
        loader=FileSystemLoader(str(SECTIONS)),
    )

    def plural(n, singular: str, many: str | None = None) -> str:
        if language == "zh":
            return f"{n} 个{singular}"
        return f"{n} {singular if n == 1 else many or singular + 's'}"

    def and_list(items) -> str:
        items = [str(i) for i in items]
        if len(items) < 2:
            return "".join(items)
        return words["comma"].join(items[:-1]) + words["and"] + items[-1]

    numbers = dict(
        pct=pct,
        pm=pm,
        points=points,
        signed=signed,
        num=num,
        thousands=thousands,
        pvalue=pvalue,
        plural=plural,
        and_list=and_list,
    )
    env.filters.update(
        numbers,
        name=lambda key: NAMES[language].get(key, key),
        tr=lambda text: i18n.translate(str(text), language),
        oneline=lambda text: re.sub(r"\s*\n\s*", " ", str(text)).strip(),
        cell=lambda value: str(value).replace("|", "\\|").replace("\n", " "),
    )
    # The number filters also as functions, {{ pm(x) }}: inside a markdown table a "|" would split the cell
    # in the source notebook's view.
    env.globals.update(numbers, significant=evaluation.SIGNIFICANT)
    # Sentences several notebooks write (templates/sections/macros.<language>.md) are callable everywhere.
    from jinja2.runtime import Macro

    module = env.get_template(f"macros.{language}.md").module
    env.globals.update({k: v for k, v in vars(module).items() if isinstance(v, Macro)})
    return env


def names_used(template: str) -> set[str]:
    """The top-level names a template reads (what some cell must publish)."""
    from jinja2 import meta

    return meta.find_undeclared_variables(environment().parse(template))


def render_text(template: str, values: dict, language: str = "en", where: str = "") -> str:
    """Render one template; a missing name or a syntax error raises ProseError naming ``where``."""
    from jinja2 import TemplateError, UndefinedError

    try:
        return environment(language).from_string(template).render(**values)
    except UndefinedError as e:
        missing = re.search(r"'([^']+)' is undefined", str(e))
        what = (
            f"uses the name {missing.group(1)!r}, which no code cell published (display.facts(...) "
            f"publishes names for the templates)"
            if missing
            else str(e)
        )
        raise ProseError(f"{where}: {what}.") from None
    except TemplateError as e:
        raise ProseError(f"{where}: {type(e).__name__}: {e}") from None


def section(name: str, values: dict, language: str) -> str:
    """Render ``templates/sections/<name>.<language>.md`` (the report's own sections)."""
    path = SECTIONS / f"{name}.{language}.md"
    return render_text(
        path.read_text(encoding="utf-8"), values, language, where=f"templates/sections/{path.name}"
    ).strip()


# --- rendering executed notebooks --------------------------------------------------


def facts(nb) -> dict:
    """Every value the notebook's code cells published, later cells winning."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if FACTS_MIME in out.get("data", {}):  # nbformat keeps a +json bundle as a mapping
                values.update(out["data"][FACTS_MIME])
    return values


def unrendered(nb):
    """A copy of a (possibly rendered) notebook with its templates back in place and the
    cells the renderer added removed."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("mnist_report", {})
        if meta.get("generated"):
            continue
        if cell.cell_type == "markdown" and "template" in meta:
            cell.source = meta["template"]
            cell.metadata.pop("mnist_report")
        cells.append(cell)
    nb.cells = cells
    return nb


@dataclass
class Rendered:
    """The notebooks of one language, rendered, and what the build should warn about."""

    notebooks: dict[str, object] = field(default_factory=dict)  # stem -> nbformat node
    problems: list[str] = field(default_factory=list)


def render(
    notebooks: dict[str, object],
    sources: dict[str, Path],
    profiles: dict[str, str],
    language: str,
    overrides: dict[str, dict] | None = None,
) -> Rendered:
    """Render executed notebooks (stem -> notebook, in report order) in ``language``.

    Args:
        sources: stem -> the source notebook, beside which its translations lie.
        profiles: stem -> the profile it ran with (a reduced profile adds a note);
            ``overrides``: stem -> the parameters ``-p`` set for its run (they add one too).

    Raises:
        ProseError: a template that does not render, a label used twice, a caption
            with nothing to caption, or a reference to no label.
    """
    result = Rendered()
    counts, names, errors = {"figure": 0, "table": 0}, {}, []
    for stem, executed in notebooks.items():
        nb = unrendered(executed)
        values = {**facts(nb), "profile": profiles.get(stem, "full")}
        translations = load_translations(sources[stem], language) if language != "en" else {}
        labelled = {
            meta["label"]: meta["kind"]
            for cell in nb.cells
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
            if (meta := out.get("metadata", {}).get("mnist_report", {})).get("label")
        }
        cells = []
        for cell in nb.cells:
            where = f"{stem}.ipynb, cell {cell.get('id', '?')}"
            if cell.cell_type == "code" and language != "en":
                result.problems += _localize_outputs(cell, language, where)
            if cell.cell_type != "markdown":
                cells.append(cell)
                continue
            # Rendered first, then read: a caption may be conditional ({% if ... %}Figure: ...{% endif %}).
            english = render_text(cell.source, values, "en", where)
            caption = CAPTION.match(english)
            text = caption["text"] if caption else english
            if language != "en" and english.strip():
                text = _translated(
                    text,
                    bool(caption),
                    translations.get(cell.get("id")),
                    cell.source,
                    values,
                    where,
                    translations_path(sources[stem], language).name,
                    language,
                    result.problems,
                )
            new = copy.deepcopy(cell)
            new.source = text  # empty when the template chose to say nothing; the report drops it
            new.metadata["mnist_report"] = {"template": cell.source}
            if (
                caption
                and caption["kind"] == "tab"
                and caption["label"] not in labelled
                and cells
                and cells[-1].cell_type == "markdown"
                and TABLE_RULE.search(cells[-1].source)
            ):
                # A table written in markdown (a template's rows) is captioned by the cell after it.
                labelled[caption["label"]] = "table"
                cells[-1].metadata["mnist_report"]["table_label"] = caption["label"]
            if caption:
                _number(new, caption, labelled, counts, names, language, where, errors)
            cells.append(new)
        captioned = {c.metadata["mnist_report"].get("label") for c in cells if c.cell_type == "markdown"}
        errors += [
            f"{stem}.ipynb: the {kind} labelled {label!r} has no caption cell (add a markdown cell "
            f"`{kind.title()}: ... {{#{'fig' if kind == 'figure' else 'tab'}:{label}}}` after it)"
            for label, kind in labelled.items()
            if label not in captioned
        ]
        note = profile_note(values["profile"], language, (overrides or {}).get(stem))
        if note is not None:  # after the notebook's opening cell
            first = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), -1)
            cells.insert(first + 1, note)
        nb.cells = cells
        # Which edition this copy is: plain nbconvert sets a Chinese one in CJK fonts (templates/mnist_notebook).
        nb.metadata.setdefault("mnist_study", {})["language"] = language
        result.notebooks[stem] = nb
    for stem, nb in result.notebooks.items():
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = _resolve(cell.source, names, errors, f"{stem}.ipynb, cell {cell.get('id', '?')}")
    if errors:
        raise ProseError("The notebooks' prose does not render:\n  - " + "\n  - ".join(dict.fromkeys(errors)))
    return result


def _number(
    cell, caption, labelled: dict, counts: dict, names: dict, language: str, where: str, errors: list[str]
) -> None:
    """Make a rendered caption cell read "**Figure N.** text" and record its number and label."""
    words = WORDS[language]
    kind, label = KINDS[caption["kind"]], caption["label"]
    key = f"{caption['kind']}:{label}"
    if key in names:
        errors.append(f"{where}: label {key!r} is used twice")
    if labelled.get(label) != kind:
        errors.append(f"{where}: caption of {kind} {label!r}, but no code cell displayed a {kind} with that label")
    counts[kind] += 1
    names[key] = name = f"{words[kind]} {counts[kind]}"
    text = cell.source.strip()
    cell.metadata["mnist_report"].update(
        kind=kind, label=label, number=counts[kind], caption=text, prefix=f"{name}{words['caption_sep']}"
    )
    cell.source = (f"**{name}.** " if language == "en" else f"**{name}**{words['caption_sep']}") + text


def _translated(
    english: str,
    is_caption: bool,
    entry: dict | None,
    template: str,
    values: dict,
    where: str,
    file: str,
    language: str,
    problems: list[str],
) -> str:
    """A cell rendered in ``language`` from its translation, else its English (noting in ``problems``
    what is missing or out of date). A caption's translation may be its text alone."""
    if entry is None:
        if i18n.untranslated(english):
            problems.append(f"{where}: no {language} translation in {file}; shown in English")
        return english
    if not entry["en"]:  # a new entry (mnist-study new's title, or one written by hand without `en:`)
        problems.append(
            f"{where}: the {language} translation is not accepted yet (it records no English); after "
            f"translating it, `mnist-study translations --accept {file[:2]}` records it"
        )
    elif entry["en"] != english_hash(template):
        problems.append(
            f"{where}: the {language} translation is out of date (its English changed); "
            f"`mnist-study translations` shows it"
        )
    text = render_text(entry["text"], values, language, f"{where} ({language})")
    if is_caption:
        inner = CAPTION.match(text)
        text = inner["text"] if inner else text.strip()
    return text


def _resolve(text: str, names: dict[str, str], errors: list[str], where: str) -> str:
    """Replace [@fig:label] / [@tab:label] with "Figure N" / "Table N"."""

    def one(m):
        key = f"{m.group(1)}:{m.group(2)}"
        if key not in names:
            errors.append(f"{where}: [@{key}] refers to no captioned {KINDS[m.group(1)]}")
        return names.get(key, m.group(0))

    return REFERENCE.sub(one, text)


def profile_note(profile: str, language: str, overrides: dict | None = None):
    """The cell that warns the reader of a reduced profile's numbers or of parameters changed with
    ``-p`` (None for the full study as declared)."""
    from nbformat.v4 import new_markdown_cell

    if profile == "full" and not overrides:
        return None
    text = section("profile_note", {"profile": profile, "overrides": overrides or {}}, language)
    return new_markdown_cell(text, id=f"profile-note-{language}", metadata={"mnist_report": {"generated": True}})


def _localize_outputs(cell, language: str, where: str) -> list[str]:
    """Swap a code cell's outputs for their ``language`` edition, in place; return what has none."""
    problems = []
    for out in cell.get("outputs", []):
        if out.output_type not in ("display_data", "execute_result"):
            continue
        meta = out.get("metadata", {}).get("mnist_report", {})
        edition = meta.get(language)
        if edition is None:
            text = out.data.get("text/markdown") or out.data.get("text/html") or ""
            if i18n.untranslated(re.sub(r"<[^>]+>|\$[^$]*\$|`[^`]*`", " ", text)):
                problems.append(f"{where}: output without a {language} edition: {text[:60]!r}")
            continue
        out.data = edition["data"]
        meta.pop(language)
        problems += [f"{where}: label left in English: {t!r}" for t in edition.get("untranslated", [])]
        problems += [f"{where}: {m}" for m in edition.get("missing_glyphs", [])]
    return problems


# --- checks on the source notebooks ---------------------------------------------------


def published_names(nb) -> set[str]:
    """The names a source notebook's code publishes: the keywords of its ``display.facts`` calls."""
    import ast

    found = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "facts"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "display"
            ):
                found |= {k.arg for k in node.keywords if k.arg}
    return found


def check_source(path: Path, languages=("zh",)) -> list[str]:
    """Problems of a source notebook's prose that need no execution: templates that do not
    parse, names no code publishes, translations that use other names or references than
    their English, are out of date, missing, or keyed by no cell."""
    import nbformat
    from jinja2 import TemplateSyntaxError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    known = published_names(nb) | {"profile"} | set(environment().globals)
    problems, used = [], {}
    for cell in (c for c in nb.cells if c.cell_type == "markdown"):
        where = f"{path.name}, cell {cell.get('id')}"
        try:
            used[cell.get("id")] = names = names_used(cell.source)
        except TemplateSyntaxError as e:
            problems.append(f"{where}: template syntax error: {e}")
            continue
        problems += [f"{where}: uses {n!r}, which no display.facts call publishes" for n in sorted(names - known)]
    sources = {c.get("id"): c.source for c in nb.cells if c.cell_type == "markdown"}
    for language in languages:
        translations = load_translations(path, language)
        for cell_id, names in used.items():
            where, english = f"{path.name}, cell {cell_id}", sources[cell_id]
            entry = translations.get(cell_id)
            if entry is None:
                # Words inside the template's markup are names, not English to translate.
                if i18n.untranslated(re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", CAPTION.sub(lambda m: m["text"], english))):
                    problems.append(f"{where}: no {language} translation")
                continue
            if entry["en"] != english_hash(english):
                problems.append(f"{where}: the {language} translation is out of date")
            try:
                theirs = names_used(entry["text"])
            except TemplateSyntaxError as e:
                problems.append(f"{where}: {language} template syntax error: {e}")
                continue
            if theirs != names:
                problems.append(
                    f"{where}: the {language} translation uses {sorted(theirs)}, the English {sorted(names)}"
                )
            if sorted(REFERENCE.findall(entry["text"])) != sorted(REFERENCE.findall(english)):
                problems.append(f"{where}: the {language} translation cites other figures or tables than the English")
        problems += [
            f"{path.name}: {language} translation of {key!r}, which is no markdown cell"
            for key in translations
            if key not in sources
        ]
    return problems
