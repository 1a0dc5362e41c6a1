"""Notebook output that reads well both in the HTML and in the LaTeX PDF.

A pandas DataFrame shows as monospaced text in nbconvert's PDF, so tables are
published with an HTML and a LaTeX representation side by side, and each
exporter picks its own.
"""

from __future__ import annotations


def table(df, caption: str | None = None, index: bool = False, float_format: str = "{:.4g}"):
    """Display a DataFrame as a captioned table in HTML and LaTeX."""
    from IPython.display import display

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
            raw=True)


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
