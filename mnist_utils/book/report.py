"""Merge the executed notebooks into one report; export it as HTML and PDF with nbconvert.

The merged notebook gets a title page, a table of contents and a
reproducibility appendix built from ``report/artifacts/run.json``. Outputs
are cleaned on the way (stderr dropped, terminal control characters removed)
and each file is written atomically, so a failed build keeps the last report.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import sys
from pathlib import Path

from mnist_utils import artifacts, i18n
from mnist_utils.book import cache, summary
from mnist_utils.book.environment import KERNELSPEC
from mnist_utils.book.errors import ReportError
from mnist_utils.book.formats import CJK_FONT_DIR, TEMPLATES, build_html, build_pdf
from mnist_utils.book.lock import report_lock
from mnist_utils.book.notebooks import Layout, default_layout
from mnist_utils.book.record import disagreements, last_profile

# What the last build was made from, next to the report, so an unchanged report is not rebuilt.
BUILD_RECORD = ".report-inputs.json"
SETTINGS = {  # key -> (type, default)
    "title": (str, "Handwritten Digit Recognition on MNIST"),
    "subtitle": (str, ""),
    "author": (str, ""),
    "student_id": (str, ""),
    "major_class": (str, ""),
    "institution": (str, ""),
    "course": (str, ""),
    "date": (str, ""),
    "language": (str, "en"),
    "include_code": (bool, False),
}
# Settings whose value may differ by language: a string, or a mapping {en: ..., zh: ...}.
LOCALIZED = ("title", "subtitle", "author", "major_class", "institution", "course")
# The cover page's rows, as a course paper lists them: setting -> label.
COVER_FIELDS = {
    "en": {
        "author": "Name",
        "student_id": "Student ID",
        "major_class": "Major and class",
        "course": "Course",
        "institution": "Institution",
        "date": "Date",
    },
    "zh": {
        "author": "学生姓名",
        "student_id": "学号",
        "major_class": "专业班级",
        "course": "课程",
        "institution": "学院",
        "date": "完成日期",
    },
}
# The contents' heading in each language.
CONTENTS = {"en": "Contents", "zh": "目录"}
# Cells the report never shows: papermill's parameter cells (the appendix lists the values).
HIDDEN_TAGS = {"parameters", "injected-parameters"}


def load_settings(path: Path, language: str | None = None) -> dict:
    """Read the report settings YAML; unknown keys and wrong types are errors.

    ``language`` overrides the file's. A setting in ``LOCALIZED`` may be given per
    language (``title: {en: ..., zh: ...}``); the report's language picks its value,
    falling back to English.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ReportError(f"Report settings file {path} does not exist.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ReportError(f"Report settings {path} are not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ReportError(f"Report settings {path} must be a mapping of key: value lines.")
    if isinstance(raw.get("date"), dt.date):  # YAML reads an unquoted 2026-11-22 as a date
        raw["date"] = raw["date"].isoformat()
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise ReportError(f"Report settings {path}: unknown key(s) {unknown}; known: {sorted(SETTINGS)}.")
    if language is not None:
        raw["language"] = language
    chosen = raw.get("language") or SETTINGS["language"][1]
    if chosen not in i18n.LANGUAGES:
        raise ReportError(
            f"Report settings {path}: 'language' must be one of {', '.join(i18n.LANGUAGES)}, got {chosen!r}."
        )
    settings = {}
    for key, (kind, default) in SETTINGS.items():
        value = raw.get(key, default)
        if key in LOCALIZED and isinstance(value, dict):
            bad = sorted(set(value) - set(i18n.LANGUAGES))
            if bad:
                raise ReportError(
                    f"Report settings {path}: {key!r} has value(s) for unknown language(s) "
                    f"{bad}; known: {', '.join(i18n.LANGUAGES)}."
                )
            value = value.get(chosen, value.get("en"))
        value = default if value is None else value
        if kind is str and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # an unquoted student ID or class number reads as an integer
        if not isinstance(value, kind):
            raise ReportError(f"Report settings {path}: {key!r} must be {kind.__name__}, got {value!r}.")
        settings[key] = value
    settings["date"] = settings["date"] or dt.date.today().isoformat()
    return settings


def cover_fields(settings: dict) -> list[tuple[str, str]]:
    """The cover page's (label, value) rows for the settings that are filled in."""
    return [(label, settings[key]) for key, label in COVER_FIELDS[settings["language"]].items() if settings[key]]


def report_paths(layout: Layout, language: str) -> tuple[Path, Path]:
    """The HTML and PDF of the report in ``language`` (the English one keeps the plain names)."""
    stem = "mnist_report" if language == "en" else f"mnist_report_{language}"
    return layout.report / f"{stem}.html", layout.report / f"{stem}.pdf"


def headings(cells) -> list[tuple[int, str]]:
    """(level, text) of the level-1 and level-2 markdown headings, outside code fences."""
    found, fenced = [], False
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            m = None if fenced else re.match(r"^(#{1,2})\s+(.+?)\s*#*$", line)
            if m:
                found.append((len(m.group(1)), m.group(2)))
    return found


def _anchor(text: str) -> str:
    from nbconvert.filters.strings import _convert_header_id

    return _convert_header_id(text)


def _title_html(s: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>" for label, value in cover_fields(s)
    )
    sub = f'<div class="subtitle">{html.escape(s["subtitle"])}</div>' if s["subtitle"] else ""
    return f'<div class="report-title"><h1>{html.escape(s["title"])}</h1>{sub}<table class="cover">{rows}</table></div>'


def _toc_html(found: list[tuple[int, str]], language: str = "en") -> str:
    """A numbered contents list matching LaTeX's section numbers."""
    items, section, sub = [], 0, 0
    for level, text in found:
        if level == 1:
            section, sub = section + 1, 0
            number = str(section)
        else:
            sub += 1
            number = f"{section}.{sub}"
        indent = "" if level == 1 else ' style="margin-left:1.5rem"'
        items.append(f'<li{indent}><a href="#{_anchor(text)}">{number}&nbsp; {html.escape(text)}</a></li>')
    return f'<nav class="report-toc"><h2>{CONTENTS[language]}</h2><ul>{"".join(items)}</ul></nav>'


def appendix(record: dict, executed: list[Path], language: str = "en") -> str:
    """Markdown of the reproducibility appendix (``templates/sections/appendix.<language>.md``),
    from the run record."""
    from mnist_utils.book import prose

    env = record.get("environment", {})
    runs = record.get("notebooks", {})
    shown = [p.stem for p in executed if p.stem in runs]
    values = {
        "profiles": sorted({runs[n]["profile"] for n in shown}),
        "jobs": max((runs[n].get("jobs", 1) for n in shown), default=1),
        "commit": env.get("git_commit"),
        "dirty": env.get("git_dirty"),
        "python": env.get("python", "?"),
        "platform": env.get("platform", "?"),
        "cpu": env.get("cpu", "?"),
        "cpu_count": env.get("cpu_count", "?"),
        "gpus": env.get("gpus") or [],
        "packages": env.get("packages", {}),
        "data": record.get("data", {}),
        "parameters": [
            (n, k, json.dumps(v), k in runs[n].get("overrides", {}))
            for n in shown
            for k, v in runs[n]["parameters"].items()
        ],
        "runs": [
            (
                n,
                runs[n]["profile"],
                runs[n].get("cores", "?"),
                runs[n]["seconds"],
                runs[n]["finished"].replace("+00:00", "").replace("T", " "),
            )
            for n in shown
        ],
    }
    return prose.section("appendix", values, language)


def code_appendix(executed: list[Path], language: str = "en") -> str:
    """Markdown of the code appendix: every notebook's code cells, in order (the parameter
    values papermill injected are in the reproducibility appendix instead)."""
    import nbformat

    parts = [
        "# 附录：代码" if language == "zh" else "# Appendix: code",
        "每个笔记本的代码单元，按运行顺序排列；`mnist_utils` 包的源代码随项目一起提供。"
        if language == "zh"
        else "Each notebook's code cells in the order they ran; the `mnist_utils` package they import "
        "comes with the project.",
    ]
    for path in executed:
        cells = nbformat.read(path, as_version=4).cells
        code = [
            c.source.strip()
            for c in cells
            if c.cell_type == "code"
            and c.source.strip()
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
        ]
        parts.append(f"## {path.stem}")
        parts += [f"```python\n{source}\n```" for source in code]
    return "\n\n".join(parts)


# The study's own notebooks, which the introduction describes one by one; any other is a part added to it.
STUDY = ("01", "02", "03", "04", "05", "06", "07")
QUESTION = re.compile(r"^\*\*(?:Question\.|问题。)\*\*\s*(.+?)(?:\n\s*\n|\Z)", re.M | re.S)
TAKEAWAYS = re.compile(r"^\*\*(?:Takeaways\.|要点。)\*\*\s*(.+)", re.S)


def added_part(stem: str, cells) -> dict:
    """A notebook added to the study (``mnist-study new``), as the introduction and the conclusions
    name it: its number, its title, its question and its takeaways, from its rendered cells."""
    text = [c.source.strip() for c in cells if c.cell_type == "markdown"]
    title = next((t.splitlines()[0][2:] for t in text if t.startswith("# ")), stem)
    question = next((m.group(1) for t in text if (m := QUESTION.search(t))), "")
    takeaways = next((m.group(1) for t in reversed(text) if (m := TAKEAWAYS.match(t))), "")
    return {"number": stem[:2], "title": title, "question": " ".join(question.split()), "takeaways": takeaways}


def introduction(language: str, parts: int = len(STUDY), added: list[dict] = ()) -> str:
    """The report's introduction (background, aims, how the parts fit together), as markdown
    (``templates/sections``): fixed text, counting the ``parts`` and naming the ``added`` ones."""
    from mnist_utils.book import prose

    return prose.section("introduction", {"parts": parts, "added": list(added)}, language)


def attach_captions(cells) -> list:
    """Put each caption cell's caption (rendered by ``prose``) on the figure or table it
    captions, where the HTML and LaTeX templates set it, and drop the cell."""
    from mnist_utils import display

    outputs = {
        meta["label"]: out
        for cell in cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if (meta := out.get("metadata", {}).get("mnist_report", {})).get("label")
    }
    # Tables written in markdown: the templates set their caption above them (markdowncell blocks).
    tables = {
        meta["table_label"]: cell
        for cell in cells
        if cell.cell_type == "markdown"
        if (meta := cell.get("metadata", {}).get("mnist_report", {})).get("table_label")
    }
    kept = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("mnist_report", {})
        if cell.cell_type != "markdown" or "kind" not in meta:
            kept.append(cell)
            continue
        if meta["kind"] == "table" and meta["label"] in tables:
            tables[meta["label"]].metadata["mnist_report"].update(
                caption=meta["caption"], prefix=meta["prefix"], number=meta["number"]
            )
            continue
        out = outputs[meta["label"]]  # prose.render checked that it is there
        out.metadata["mnist_report"].update(caption=meta["caption"], prefix=meta["prefix"], number=meta["number"])
        if meta["kind"] == "table":
            out.data["text/html"] = (
                f"<figure><figcaption><b>{html.escape(meta['prefix'])}</b>"
                f"{html.escape(meta['caption'])}</figcaption>{out.data['text/html']}</figure>"
            )
            inner = out.data["text/latex"].removeprefix(display.LATEX_TABLE[0]).removesuffix(display.LATEX_TABLE[1])
            out.data["text/latex"] = (
                f"\\begin{{table}}[H]\\centering\\small\n\\caption{{{_tex(meta['caption'])}}}\n{inner}\\end{{table}}"
            )
    return kept


def _tex(text: str) -> str:
    """Escape the LaTeX special characters that can occur in captions."""
    for a, b in (("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(a, b)
    return text


def merge(executed: list[Path], settings: dict, record: dict, metrics: dict | None = None):
    """One notebook in the settings' language: cover, abstract, contents, every executed
    notebook in order (as rendered in that language), conclusions, references and the appendix.

    Args:
        metrics: each notebook's metrics.json (``summary.load``).
    """
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    from mnist_utils.book import prose

    body, added = [], []
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        if path.stem[:2] not in STUDY:
            added.append(added_part(path.stem, nb.cells))
        for i, cell in enumerate(nb.cells):
            if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
                continue
            cell["id"] = f"{path.stem[:2]}-{i:03d}"
            if cell.cell_type == "code":  # the values published for the prose are in the prose now
                cell.outputs = [o for o in cell.outputs if prose.FACTS_MIME not in o.get("data", {})]
            elif cell.cell_type == "markdown" and not cell.source.strip():
                continue  # a template that chose to say nothing this run
            body.append(cell)
    body = attach_captions(body)
    language = settings["language"]
    body.insert(0, new_markdown_cell(introduction(language, len(executed), added), id="introduction"))
    metrics = metrics or {}
    body.append(new_markdown_cell(summary.conclusions(metrics, record, language, added), id="conclusions"))
    body.append(new_markdown_cell(summary.references(language), id="references"))
    body.append(new_markdown_cell(appendix(record, executed, language), id="appendix"))
    if settings["include_code"]:
        body.append(new_markdown_cell(code_appendix(executed, language), id="code"))
    abstract = summary.abstract(metrics, record, language, added)
    # The PDF sets the cover, abstract and contents in its title block (templates/mnist_latex).
    front = [
        new_markdown_cell(_title_html(settings), id="title", metadata={"tags": ["html-only"]}),
        new_markdown_cell(abstract, id="abstract", metadata={"tags": ["html-only"]}),
        new_markdown_cell(_toc_html(headings(body), language), id="toc", metadata={"tags": ["html-only"]}),
    ]
    meta = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        "title": settings["title"],
        "mnist_report": {
            **settings,
            "cover": cover_fields(settings),
            "abstract": abstract,
            # Chinese text: the Chinese edition (or, in the code appendix, any Chinese in the code).
            "cjk": language == "zh" or settings["include_code"],
            "cjk_font_dir": f"{CJK_FONT_DIR}/",
        },
        "language_code": language,  # the HTML's lang attribute (nbconvert takes ISO 639-1 codes only)
    }
    if settings["author"]:
        meta["authors"] = [{"name": settings["author"]}]
    return new_notebook(cells=front + body, metadata=meta)


def _warn_untranslated(problems: list[str], language: str, warn) -> None:
    if problems:
        warn(
            f"warning: {len(problems)} item(s) of the report have no up-to-date {language} edition and show in "
            f"English, out of date or with missing glyphs:\n  - "
            + "\n  - ".join(problems[:20])
            + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        )


def builder_digest(book: Path = Path(__file__).parent) -> str:
    """Digest of the code that builds the report: every module of the book wing (this one, the
    prose renderer, the summary, the formats, ...) and the science modules they import."""
    files = sorted(book.glob("*.py"))
    imported = cache.modules_digest("\n".join(p.read_text(encoding="utf-8") for p in files))
    return cache.digest([{p.name: cache.file_digest(p) for p in files}, imported])


def build_inputs(layout: Layout, settings: dict, executed: list[Path], metrics: dict) -> dict[str, str]:
    """Digests of everything the report is made from: settings, executed notebooks, the
    run record, this builder's code and templates, and the converter's version."""
    from importlib import metadata

    return {
        "settings": cache.digest(settings),
        "notebooks": cache.digest({p.name: cache.file_digest(p) for p in executed}),
        "run_record": cache.file_digest(layout.run_record) if layout.run_record.is_file() else "",
        "metrics": cache.digest(metrics),
        "builder": builder_digest(),
        "templates": cache.tree_digest(TEMPLATES),
        "nbconvert": metadata.version("nbconvert"),
    }


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(
    layout: Layout,
    settings_path: Path,
    include_code: bool | None = None,
    force: bool = False,
    language: str | None = None,
    warn=_to_stderr,
) -> tuple[list[Path], bool]:
    """Build the report's HTML and PDF from the executed notebooks: ``report/mnist_report.html``
    and ``.pdf`` in English, ``mnist_report_zh.*`` in Chinese (``report_paths``).

    Skipped when both files exist and nothing they are made from changed since they
    were built (``build_inputs``), unless ``force``. ``language`` overrides the settings';
    ``warn`` receives what has no edition in that language.

    Returns:
        The report's paths, and whether they were built (False: already up to date).
    """
    command = "mnist-study report" + (f" --language {language}" if language else "")
    with report_lock(layout.report, command, warn):
        return _build(layout, settings_path, include_code, force, language, warn)


def build_editions(
    layout: Layout, settings_path: Path, include_code: bool | None = None, force: bool = False
) -> list[tuple[list[Path], bool]]:
    """:func:`build` for every edition (``i18n.LANGUAGES``), side by side in separate processes.

    Each edition spends most of its time in single-threaded work (pandoc, xelatex,
    nbconvert's templates), so on two cores both editions take about as long as one.
    One edition failing does not stop the other; the first error is raised once
    both have finished. Returns :func:`build`'s answer per language, in order.
    """
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    with report_lock(layout.report, "mnist-study report --language all"):
        workers = min(len(i18n.LANGUAGES), os.cpu_count() or 1)
        if workers < 2:
            return [_build(layout, settings_path, include_code, force, lang, _to_stderr) for lang in i18n.LANGUAGES]
        # fork: the children start with this process's imports instead of importing again.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [
                pool.submit(_build, layout, settings_path, include_code, force, lang, _to_stderr)
                for lang in i18n.LANGUAGES
            ]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        return [f.result() for f in futures]


def _build(
    layout: Layout, settings_path: Path, include_code: bool | None, force: bool, language: str | None, warn
) -> tuple[list[Path], bool]:
    """:func:`build`'s work, once it holds the report folder's lock."""
    from mnist_utils.book import pipeline

    settings = load_settings(settings_path, language)
    if include_code is not None:
        settings["include_code"] = include_code
    language = settings["language"]
    record = json.loads(layout.run_record.read_text(encoding="utf-8")) if layout.run_record.is_file() else {}
    # The run record says what is in the report, not whatever lies in executed/.
    stems = list(record.get("notebooks", {}))
    missing = [stem for stem in stems if not (layout.executed / f"{stem}.ipynb").is_file()]
    if not stems or missing:
        raise ReportError(
            f"No executed {', '.join(missing) or 'notebooks'} in {layout.executed}. Run `mnist-study run` first."
        )
    problems = disagreements(layout, record)
    where = "" if layout.report == default_layout().report else f" --report-dir {layout.report}"
    if problems:
        raise ReportError(
            "The report would contradict itself, so it was not built (the report files are unchanged):\n  - "
            + "\n  - ".join(problems)
            + f"\nBring them up to date with `mnist-study run --profile "
            f"{last_profile(record)}{where}` (it re-runs only what is out of date), then build the report again."
        )
    # A translation or template edited since the run is picked up here; nothing executes.
    problems = pipeline.render(layout, (language,))
    executed = [layout.rendered(language) / f"{stem}.ipynb" for stem in stems]
    html_path, pdf_path = report_paths(layout, language)
    metrics = {stem: m for stem, m in summary.load(layout.artifacts).items() if stem in stems}
    stamp = layout.report / (BUILD_RECORD if language == "en" else BUILD_RECORD.replace(".json", f".{language}.json"))
    inputs = build_inputs(layout, settings, executed, metrics)
    _warn_untranslated(problems, language, warn)  # built or not, the edition still lacks them

    def current() -> dict:  # what was built from what, to compare with the stamp
        return {"inputs": inputs, "html": cache.file_digest(html_path), "pdf": cache.file_digest(pdf_path)}

    if not force and html_path.is_file() and pdf_path.is_file():
        try:
            previous = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if previous == current():
            return [html_path, pdf_path], False
    nb = merge(executed, settings, record, metrics)
    page = build_html(nb)
    pdf = build_pdf(nb, layout.failed, layout.report / ".latex" / language)  # the exporters work on copies
    stamp.unlink(missing_ok=True)  # a crash between the two writes must not leave a valid stamp
    artifacts.write_text(html_path, page)
    with artifacts.atomic_path(pdf_path) as tmp:
        tmp.write_bytes(pdf)
    artifacts.save_json(stamp, current())
    return [html_path, pdf_path], True
