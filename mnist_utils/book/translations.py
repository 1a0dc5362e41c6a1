"""The Chinese edition's text: ``notebooks/zh/NN_name.yaml`` holds the Chinese of each markdown cell of
``notebooks/NN_name.ipynb``, keyed by the cell's id, with a hash of the English it translates (``en``),
so that an edit to the English flags its translation as out of date until a translator updates it
and accepts it (``mnist-study translations --accept``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mnist_utils import artifacts
from mnist_utils.book.errors import ProseError


def english_hash(text: str) -> str:
    """What a translation records of the English it translates."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def translations_path(notebook: Path, language: str) -> Path:
    """``notebooks/<language>/NN_name.yaml``, the translation of ``notebooks/NN_name.ipynb``."""
    notebook = Path(notebook)
    return notebook.parent / language / f"{notebook.stem}.yaml"


def load_translations(notebook: Path, language: str) -> dict[str, dict]:
    """The translation entries of a notebook: cell id -> {"en": hash, "text": translation}."""
    import yaml

    path = translations_path(notebook, language)
    if not path.is_file():
        return {}
    try:
        # BaseLoader: every value a string, so a hash of digits stays what it was.
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
    except yaml.YAMLError as e:
        raise ProseError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ProseError(f"{path}: expected one entry per cell id (`cell-id:` then `en:` and `{language}:`).")
    bad = [k for k, v in raw.items() if not (isinstance(v, dict) and isinstance(v.get(language), str))]
    if bad:
        raise ProseError(f"{path}: entries {bad} need `en: <hash>` and `{language}: <text>`.")
    return {str(k): {"en": str(v.get("en", "")), "text": v[language]} for k, v in raw.items()}


def dump_translations(entries: dict[str, dict], language: str, notebook_name: str) -> str:
    """YAML text of translation entries (cell id -> {"en", "text"}), multi-line texts as blocks."""
    lines = [
        f"# {notebook_name} in {'Chinese' if language == 'zh' else language}: one entry per markdown cell, "
        "keyed by its id.",
        "# `en` is the hash of the English it translates: when the English changes, the build warns that",
        "# the entry is out of date. Update the text, then run `mnist-study translations --accept`.",
        "# Keep the {{ placeholders }} and [@fig:...] references; a caption's entry is its text only.",
    ]
    for key, entry in entries.items():
        text = entry["text"]
        # A block whose first line starts with a space needs its indentation stated.
        lines += [f"{key}:", f"  en: {json.dumps(entry['en'])}", f"  {language}: |{'2' if text[:1] == ' ' else ''}-"]
        lines += [f"    {line}" if line else "" for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def stale_translations(notebook: Path, language: str) -> dict[str, tuple[str, str]]:
    """The out-of-date entries of a notebook's translations: cell id -> (its English now, the translation)."""
    import nbformat

    english = {c.get("id"): c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown"}
    return {
        key: (english[key], entry["text"])
        for key, entry in load_translations(notebook, language).items()
        if key in english and entry["en"] != english_hash(english[key])
    }


def accept_translations(notebook: Path, language: str) -> list[str]:
    """Record the current English's hash in every out-of-date entry (its translator has updated
    it); returns their cell ids."""
    stale = stale_translations(notebook, language)
    if stale:
        entries = load_translations(notebook, language)
        for key, (english, _) in stale.items():
            entries[key]["en"] = english_hash(english)
        artifacts.write_text(
            translations_path(notebook, language), dump_translations(entries, language, Path(notebook).name)
        )
    return list(stale)
