"""What a notebook shows: named values for its prose, and tables and figures that read well
both in the HTML and in the LaTeX PDF.

Code computes, markdown tells: :func:`facts` publishes values, which the notebook's
markdown cells use as ``{{ name }}`` (rendered by ``prose``, which the notebooks do
not import). A pandas DataFrame shows as monospaced text in nbconvert's PDF, so
tables carry an HTML and a LaTeX representation side by side, and each exporter
picks its own. A labelled figure or table carries ``mnist_report`` output metadata
(kind, label); the markdown cell ``Figure: ... {#fig:label}`` after it captions it.

Figures and tables are published in English and Chinese at once: the English in the
output's data, the Chinese under ``mnist_report.zh`` in its metadata, which the
Chinese rendering swaps in (``i18n`` translates their labels).
"""

from __future__ import annotations

import re

from mnist_utils import i18n

# Where published values live in an output (``prose`` reads them; the notebooks do not import prose).
FACTS_MIME = "application/vnd.mnist-study.facts+json"


def facts(**values) -> None:
    """Publish named values for the notebook's markdown templates (``{{ name }}``).

    Values must be JSON-able: numbers, strings, booleans, None, and lists and dicts of
    them (numpy scalars and arrays are converted; NaN becomes None). The notebook shows
    them compactly, one line per name.
    """
    import json

    from IPython.display import display

    # Through JSON, so the notebook stores exactly what the templates will see (NaN -> None).
    plain = json.loads(json.dumps(values, default=_builtin), parse_constant=lambda _: None)
    text = "\n".join(_line(f"{name} = {_short(value)}") for name, value in plain.items())
    display({FACTS_MIME: plain, "text/plain": text}, raw=True)


def _builtin(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if hasattr(value, "to_dict"):  # pandas Series
        return value.to_dict()
    raise TypeError(
        f"display.facts: {type(value).__name__} is not a plain value; publish numbers, strings, lists or dicts"
    )


FACT_WIDTH = 100  # a published value's line in the notebook, at most (the templates get it whole)


def _line(text: str) -> str:
    """One line of at most :data:`FACT_WIDTH` characters, cut with "…"."""
    return text if len(text) <= FACT_WIDTH else text[: FACT_WIDTH - 1] + "…"


def _short(value, depth: int = 0) -> str:
    """A compact, readable rendering of a published value."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        if depth > 1:
            return "{…}"
        items = list(value.items())
        shown = ", ".join(f"{k}: {_short(v, depth + 1)}" for k, v in items[:8])
        return "{" + shown + (", …" if len(items) > 8 else "") + "}"
    if isinstance(value, list):
        shown = ", ".join(_short(v, depth + 1) for v in value[:6])
        return "[" + shown + (", …" if len(value) > 6 else "") + "]"
    return repr(value) if isinstance(value, str) else str(value)


def table(df, label: str | None = None, index: bool = False, float_format: str = "{:.4g}") -> None:
    """Display a DataFrame as a table in HTML and LaTeX. With a ``label``, it is numbered and
    captioned by the markdown cell ``Table: ... {#tab:label}`` that follows, and prose cites
    it as ``[@tab:label]``. Headers and text cells are translated by ``i18n``."""
    from IPython.display import display

    english = _table_bundle(df, index, float_format)
    translated, untranslated = _translated_frame(df)
    zh_meta = {"data": _table_bundle(translated, index, float_format)}
    if untranslated:
        zh_meta["untranslated"] = untranslated
    display(english, raw=True, metadata=_numbered("table", label, zh_meta))


def _table_bundle(df, index, float_format) -> dict:
    """The HTML, LaTeX and plain-text representations of a table (``report`` adds a caption)."""

    def styled(escape):
        styler = df.style.format(escape=escape).format(
            float_format, subset=df.select_dtypes("float").columns, escape=escape
        )
        styler = styler.format_index(escape=escape, axis=1)
        return styler if index else styler.hide(axis="index")

    html = styled("html").set_table_attributes('class="dataframe"').to_html()
    latex = _stacked_units(styled("latex").to_latex(hrules=True, column_format="l" * (len(df.columns) + int(index))))
    # Shrink a table wider than the text block instead of letting it run off the page
    # (adjustbox is loaded by nbconvert's LaTeX template for figures anyway).
    latex = f"\\begin{{adjustbox}}{{max width=\\linewidth}}\n{latex}\\end{{adjustbox}}\n"
    latex = f"{LATEX_TABLE[0]}{latex}{LATEX_TABLE[1]}"
    return {"text/html": html, "text/latex": latex, "text/plain": df.to_string(index=index)}


# An uncaptioned table in LaTeX; ``report`` swaps this frame for a captioned float.
LATEX_TABLE = ("\\begin{center}\\small\n", "\\end{center}")


def _stacked_units(latex: str) -> str:
    """Put the unit of each header of a LaTeX table, "name (unit)", on a line under its name.

    A header such as "inference (images/s)" is often the widest cell of its column, so a
    table of many columns gets narrower and is shrunk less to fit the page.
    """
    top, rule, rest = latex.partition("\\toprule\n")
    header, newline, body = rest.partition("\n")
    if not rule or not header.endswith(" \\\\"):
        return latex
    cells = [
        re.sub(r"^(.+?) (\(.+\))$", r"\\shortstack[l]{\1\\\\\2}", cell.strip())
        for cell in header.removesuffix(" \\\\").split(" & ")
    ]
    return top + rule + " & ".join(cells) + " \\\\" + newline + body


def _translated_frame(df):
    """A copy of ``df`` with its headers, index and text cells in Chinese, and the
    texts left with English words in them."""
    left = []

    def tr(value):
        if not isinstance(value, str):
            return value
        value = i18n.translate(value)
        if i18n.untranslated(value) and value not in left:
            left.append(value)
        return value

    out = df.copy()
    out.columns = [tr(c) for c in df.columns]
    out.index = out.index.map(tr)
    out.index.name = tr(df.index.name)
    for i in range(out.shape[1]):  # by position: translated headers may repeat
        out.iloc[:, i] = out.iloc[:, i].map(tr)
    return out, left


def figure(fig, label: str, dpi: int = 150) -> None:
    """Display a matplotlib figure, numbered and captioned by the markdown cell
    ``Figure: ... {#fig:label}`` that follows; prose cites it as ``[@fig:label]``.
    Closes the figure, so it is not shown twice."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    english = _png(fig, dpi)
    chinese, untranslated, missing = _chinese_png(fig, dpi)
    plt.close(fig)
    zh_meta = {"data": {"image/png": chinese}}
    if untranslated:
        zh_meta["untranslated"] = untranslated
    if missing:
        zh_meta["missing_glyphs"] = missing
    display({"image/png": english}, raw=True, metadata=_numbered("figure", label, zh_meta))


def _png(fig, dpi: int) -> str:
    """The figure as a base64 PNG (no software stamp, so equal figures give equal bytes)."""
    import base64
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _chinese_png(fig, dpi: int) -> tuple[str, list[str], list[str]]:
    """The figure with its labels in Chinese, as a base64 PNG; also the labels left in
    English and any font warnings (a missing glyph draws a box)."""
    import logging
    import warnings

    import matplotlib as mpl

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    messages: list[str] = (
        []
        if i18n.register_cjk_font()
        else [f"font {i18n.FIGURE_FONTS[-1]!r} is not installed (Debian: apt-get install fonts-noto-cjk)"]
    )
    handler = Collect(logging.WARNING)
    logger = logging.getLogger("matplotlib.font_manager")
    logger.addHandler(handler)
    fonts = {"font.family": i18n.FIGURE_FONTS}  # for texts created while drawing (new ticks)
    try:
        with mpl.rc_context(fonts), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            left = i18n.localize_figure(fig)
            png = _png(fig, dpi)
    finally:
        logger.removeHandler(handler)
    messages += [str(w.message) for w in caught]
    return png, left, sorted({m for m in messages if "glyph" in m.lower() or "font" in m.lower()})


def _numbered(kind: str, label: str | None, zh: dict) -> dict:
    """Output metadata: what the renderer numbers (labelled items only) and the Chinese edition."""
    if not label:
        return {"mnist_report": {"zh": zh}}
    return {"mnist_report": {"kind": kind, "label": label, "zh": zh}}
