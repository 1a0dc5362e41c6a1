"""Notebook output that reads well both in the HTML and in the LaTeX PDF.

A pandas DataFrame shows as monospaced text in nbconvert's PDF, so tables are
published with an HTML and a LaTeX representation side by side, and each
exporter picks its own. Captioned figures and tables carry ``mnist_report``
output metadata (kind, label, caption); the report builder numbers them in
document order and replaces ``[@fig:label]`` / ``[@tab:label]`` in the prose
with "Figure N" / "Table N".
"""

from __future__ import annotations


def table(df, caption: str | None = None, index: bool = False, float_format: str = "{:.4g}",
          label: str | None = None):
    """Display a DataFrame as a captioned table in HTML and LaTeX; ``label`` lets prose cite it
    as ``[@tab:label]`` (a caption is then required)."""
    from IPython.display import display

    if label and not caption:
        raise ValueError(f"table {label!r}: a labelled table needs a caption")
    def styled(escape):
        styler = df.style.format(escape=escape).format(
            float_format, subset=df.select_dtypes("float").columns, escape=escape)
        styler = styler.format_index(escape=escape, axis=1)
        return styler if index else styler.hide(axis="index")

    html = styled("html").set_table_attributes('class="dataframe"').to_html()
    latex = styled("latex").to_latex(hrules=True, column_format="l" * (len(df.columns) + int(index)))
    # Shrink a table wider than the text block instead of letting it run off the page
    # (adjustbox is loaded by nbconvert's LaTeX template for figures anyway).
    latex = f"\\begin{{adjustbox}}{{max width=\\linewidth}}\n{latex}\\end{{adjustbox}}\n"
    if caption:
        html = f"<figure><figcaption><b>{caption}</b></figcaption>{html}</figure>"
        latex = (f"\\begin{{table}}[H]\\centering\\small\n\\caption{{{_tex(caption)}}}\n"
                 f"{latex}\\end{{table}}")
    else:
        latex = f"\\begin{{center}}\\small\n{latex}\\end{{center}}"
    display({"text/html": html, "text/latex": latex, "text/plain": df.to_string(index=index)},
            raw=True, metadata=_numbered("table", caption, label))


def figure(fig, caption: str, label: str | None = None, dpi: int = 150) -> None:
    """Display a matplotlib figure with a caption, numbered in the report; ``label`` lets
    prose cite it as ``[@fig:label]``. Closes the figure, so it is not shown twice."""
    import base64
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    display({"image/png": base64.b64encode(buffer.getvalue()).decode("ascii")}, raw=True,
            metadata=_numbered("figure", caption, label))
    # The caption again for readers of the notebook itself; the report shows its own.
    display(Markdown(f"*{caption}*"), metadata={"mnist_report": {"caption_of": label or caption}})


def _numbered(kind: str, caption: str | None, label: str | None) -> dict:
    """Output metadata the report builder numbers (only captioned items get a number)."""
    return {"mnist_report": {"kind": kind, "caption": caption, "label": label}} if caption else {}


def md(text: str) -> None:
    """Display markdown whose numbers were formatted from results."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def profile_note(profile: str) -> None:
    """Warn the reader when the numbers below come from a reduced profile, not the study."""
    if profile != "full":
        md(f"> **Note.** This notebook ran with the `{profile}` profile (fewer seeds, epochs or "
           f"images than the study), to check that it works. Its numbers are not results.")


def _tex(text: str) -> str:
    """Escape the LaTeX special characters that can occur in captions."""
    for a, b in (("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                 ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(a, b)
    return text
