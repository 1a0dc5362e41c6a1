"""The report's two formats, made by nbconvert from the merged notebook: one self-contained HTML file
(JupyterLab's look, MathJax inlined, no network) and a PDF through pandoc and XeLaTeX, whose builds
settle in one xelatex run and convert only the markdown an edit touched."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mnist_utils import artifacts, data
from mnist_utils.book import cache
from mnist_utils.book.errors import ReportError

TEMPLATES = Path(__file__).parent / "templates"
# Where Debian's fonts-noto-cjk puts the CJK fonts the Chinese PDF is set in (templates/mnist_latex).
CJK_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
CJK_FONT_FILES = (
    "NotoSerifCJK-Regular.ttc",
    "NotoSerifCJK-Bold.ttc",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJK-Bold.ttc",
)
MATHJAX_PACKAGE = "mathjax@3.2.2"
MATHJAX_FILE = "es5/tex-svg.js"
MATHJAX_SHA256 = "d4295dc33744836935c1399feece5159577b34c5c8ffb9f1c6324cd82e03a882"
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Drop ANSI escapes and control characters; keep what a carriage return left visible."""
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return CONTROL.sub("", "\n".join(lines))


def _preprocessors(drop_tag: str):
    from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

    class CleanOutputs(Preprocessor):
        """Drop stderr and empty code cells; strip control characters from stdout."""

        def preprocess(self, nb, resources):
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                kept = []
                for out in cell.get("outputs", []):
                    if out.output_type == "stream":
                        if out.name == "stderr":
                            continue
                        out.text = clean_text(out.text)
                        if not out.text.strip():
                            continue
                    kept.append(out)
                cell.outputs = kept
            nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.outputs]
            return nb, resources

    return [TagRemovePreprocessor(remove_cell_tags={drop_tag}), CleanOutputs()]


def _exporter(cls, template: str, drop_tag: str, **kwargs):
    # The body shows what the code produced; the code itself, when asked for, is in an appendix.
    exporter = cls(
        template_name=template,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        **kwargs,
    )
    for pre in _preprocessors(drop_tag):
        exporter.register_preprocessor(pre, enabled=True)
    return exporter


def mathjax_source(cache: Path | None = None) -> str:
    """MathJax 3's single-file SVG build, fetched once with `npm pack` and verified.

    Inlined into the HTML so the report renders its math with no network.
    """
    cache = cache or data.cache_dir().parent / "vendor"
    target = cache / MATHJAX_PACKAGE.replace("@", "-") / "tex-svg.js"
    if not target.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise ReportError(
                f"The HTML report inlines {MATHJAX_PACKAGE}, fetched with npm, which is "
                f"not installed. Install it (Debian/Ubuntu: apt-get install nodejs npm)."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            proc = subprocess.run(
                [npm, "pack", MATHJAX_PACKAGE, "--silent"], cwd=tmp, capture_output=True, text=True, timeout=300
            )
            if proc.returncode != 0:
                raise ReportError(f"`npm pack {MATHJAX_PACKAGE}` failed: {proc.stderr.strip()[-500:]}")
            with tarfile.open(next(Path(tmp).glob("*.tgz"))) as tar:
                src = tar.extractfile(f"package/{MATHJAX_FILE}")
                staged = Path(tmp) / "tex-svg.js"
                staged.write_bytes(src.read())
            actual = data.file_digest(staged, "sha256")
            if actual != MATHJAX_SHA256:
                raise ReportError(f"{MATHJAX_PACKAGE}/{MATHJAX_FILE}: expected SHA-256 {MATHJAX_SHA256}, got {actual}.")
            staged.replace(target)
    if data.file_digest(target, "sha256") != MATHJAX_SHA256:
        raise ReportError(f"{target} failed its SHA-256 check; delete it and build the report again.")
    return target.read_text(encoding="utf-8")


def build_html(nb) -> str:
    """The report as one self-contained HTML page."""
    from nbconvert import HTMLExporter

    exporter = _exporter(
        HTMLExporter,
        "mnist_html",
        "latex-only",
        embed_images=True,
        language_code=nb.metadata.get("language_code", "en"),
    )
    body, _ = exporter.from_notebook_node(nb, resources={"mathjax_js": mathjax_source()})
    return body


def _converging_pdf_exporter(previous: Path | None = None):
    """nbconvert's PDF exporter, running xelatex only until its cross-reference files settle.

    ``previous``: a folder keeping the cross-reference files of the last successful build
    (read before the first run, written after the last), so an unchanged layout settles
    after one run instead of two or three.
    """
    from nbconvert import PDFExporter
    from nbconvert.exporters.pdf import LatexFailed

    suffixes = (".aux", ".toc", ".out")

    class ConvergingPDFExporter(PDFExporter):
        """Reruns xelatex, as latexmk does, only while the .aux and .toc files it writes
        still change (at most ``latex_count`` times)."""

        def run_latex(self, filename, raise_on_failure=LatexFailed):
            tex = Path(filename)

            def log_error(command, out):
                self.log.critical("%s failed: %s\n%s", command[0], command, out)

            def state():
                return [
                    tex.with_suffix(s).read_bytes() if tex.with_suffix(s).is_file() else None for s in (".aux", ".toc")
                ]

            def converge(seeded: bool) -> bool:
                # A fixed point: the files a run wrote are those it read.
                current = state() if seeded else None
                for _ in range(self.latex_count):
                    if not self.run_command(self.latex_command, filename, 1, log_error, raise_on_failure):
                        return False
                    current, before = state(), current
                    if current == before:
                        break
                return True

            seeded = previous is not None and all((previous / f"report{s}").is_file() for s in suffixes)
            if seeded:
                for s in suffixes:
                    shutil.copyfile(previous / f"report{s}", tex.with_suffix(s))
                try:
                    done = converge(True)
                except LatexFailed:
                    done = False
                if not done:  # the kept files may not fit this document at all: start clean
                    for s in suffixes:
                        tex.with_suffix(s).unlink(missing_ok=True)
                    seeded = False
            if not seeded and not converge(False):
                return False
            if previous is not None:
                previous.mkdir(parents=True, exist_ok=True)
                for s in suffixes:
                    if tex.with_suffix(s).is_file():
                        artifacts.write_bytes(previous / f"report{s}", tex.with_suffix(s).read_bytes())
            return True

    return ConvergingPDFExporter


class PandocCache:
    """nbconvert's ``convert_pandoc`` filter, remembering what pandoc made of each text.

    The LaTeX template sends every markdown cell through pandoc twice, one process
    each (about 170 in all, 3.5 s of a 10 s build); after a text edit all but one
    give what they gave last time. Kept in ``path`` (JSON), keyed by pandoc's version,
    the formats, the extra arguments and the text; :meth:`save` keeps only what
    this build asked for, so the file holds one report's conversions at most.
    """

    def __init__(self, path: Path | None):
        from nbconvert.utils.pandoc import get_pandoc_version

        self.path, self.version, self.used = path, str(get_pandoc_version()), {}
        try:
            self.known = json.loads(path.read_text(encoding="utf-8")) if path else {}
        except (OSError, ValueError):
            self.known = {}  # missing or damaged: convert everything again

    def convert(self, source, from_format, to_format, extra_args=None):
        """``nbconvert.filters.convert_pandoc``, from the cache where it can."""
        from nbconvert.filters import convert_pandoc

        key = cache.digest([self.version, from_format, to_format, list(extra_args or []), source])
        if key not in self.known:
            self.known[key] = convert_pandoc(source, from_format, to_format, extra_args=extra_args)
        self.used[key] = self.known[key]
        return self.used[key]

    def save(self) -> None:
        if self.path is not None:
            artifacts.save_json(self.path, self.used)


def build_pdf(nb, failed_dir: Path, previous: Path | None = None) -> bytes:
    """The report as PDF, through nbconvert's LaTeX exporter and xelatex (``previous``: see
    :func:`_converging_pdf_exporter`; it also keeps :class:`PandocCache`'s conversions)."""
    from nbconvert.exporters.pdf import LatexFailed

    missing = [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        raise ReportError(
            f"The PDF needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
            f"installed. `make report` installs them; by hand (Debian/Ubuntu): apt-get install "
            f"texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc"
        )
    if nb.metadata.get("mnist_report", {}).get("cjk"):
        fonts = [f for f in CJK_FONT_FILES if not (CJK_FONT_DIR / f).is_file()]
        xecjk = subprocess.run(["kpsewhich", "xeCJK.sty"], capture_output=True, text=True).stdout.strip()
        if fonts or not xecjk:
            raise ReportError(
                "Chinese text in the PDF (the Chinese edition, or the code appendix) needs the Noto CJK fonts in "
                f"{CJK_FONT_DIR} and LaTeX's xeCJK package"
                f"{' (missing: ' + ', '.join(fonts) + ')' if fonts else ''}. `make setup` installs them; by hand "
                "(Debian/Ubuntu): apt-get install fonts-noto-cjk texlive-lang-cjk"
            )
    pandoc = PandocCache(previous / "pandoc.json" if previous is not None else None)
    exporter = _exporter(
        _converging_pdf_exporter(previous), "mnist_latex", "html-only", filters={"convert_pandoc": pandoc.convert}
    )
    try:
        pdf, _ = exporter.from_notebook_node(nb)
    except LatexFailed as e:
        failed_dir.mkdir(parents=True, exist_ok=True)
        language = nb.metadata.get("language_code", "en")  # editions may build side by side
        log = failed_dir / f"mnist_report{'' if language == 'en' else '_' + language}.latex.log"
        log.write_text(e.output or "", encoding="utf-8")
        raise ReportError(
            f"xelatex failed to build the PDF; its output is in {log}. The previous report files are unchanged."
        ) from None
    pandoc.save()
    return pdf
