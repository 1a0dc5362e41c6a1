"""Markdown templates filled with published values: filters, captions, references, translations."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mnist_utils.book import prose, translations


def test_filters_format_numbers_as_the_report_prints_them():
    values = {"ours": {"mean": 0.99512, "std": 0.00041, "n": 3}, "one": {"mean": 0.9, "std": None}, "p": 0.0004}
    text = prose.render_text(
        "{{ ours | pm }} / {{ one | pm }} / {{ ours | pct(1) }} / {{ 0.0123 | points }} / "
        "{{ 0.5 | signed }} / {{ 54000 | thousands }} / {{ p | pvalue }} / {{ 0.012 | pvalue }} / "
        "{{ 3 | plural('seed') }} / {{ 1 | plural('seed') }} / {{ ['a', 'b', 'c'] | and_list }} / "
        "{{ 'nesterov' | name }} / {{ 'our CNN' | tr }}",
        values,
    )
    assert text == (
        "99.51 ± 0.04 % / 90.00 % / 99.5 % / 1.23 / +0.50 / 54,000 / < 0.001 / 0.012 / 3 seeds / 1 seed / "
        "a, b and c / SGD with Nesterov momentum / our CNN"
    )
    zh = prose.render_text(
        "{{ ['a', 'b', 'c'] | and_list }} / {{ 'nesterov' | name }} / {{ 'our CNN' | tr }}", {}, "zh"
    )
    assert zh == "a、b和c / 带 Nesterov 动量的 SGD / 我们的 CNN"
    assert prose.pm([0.5, 0.7]) == "60.00 ± 14.14 %"
    assert prose.render_text("{{ x | num }} {{ x | pct }}", {"x": None}) == "– –"  # a NaN published as None


def _executed(markdown: list[str], facts: dict, labels=("a",), ids=None):
    """An executed notebook: a code cell that published ``facts`` and displayed a figure per label,
    followed by markdown cells."""
    outputs = [new_output("display_data", data={prose.FACTS_MIME: facts, "text/plain": "..."})]
    outputs += [
        new_output(
            "display_data",
            data={"image/png": "iVBORw0KGgo="},
            metadata={"mnist_report": {"kind": "figure", "label": label, "zh": {"data": {"image/png": "WkgK"}}}},
        )
        for label in labels
    ]
    cells = [new_markdown_cell("# Title", id="title"), new_code_cell("x = 1", outputs=outputs, id="code")]
    cells += [
        new_markdown_cell(text, id=(ids or [f"m{i}" for i in range(len(markdown))])[i])
        for i, text in enumerate(markdown)
    ]
    return new_notebook(cells=cells)


def _render(nb, tmp_path, language="en", profile="full", name="01_x"):
    source = tmp_path / f"{name}.ipynb"
    return prose.render({name: nb}, {name: source}, {name: profile}, language)


def test_templates_number_captions_and_resolve_references(tmp_path):
    nb = _executed(
        [
            "As [@fig:a] shows, we reach **{{ acc | pct }}** in {{ n | plural('seed') }}.",
            "Figure: Accuracy over {{ n }} seeds {#fig:a}",
        ],
        {"acc": 0.98, "n": 3},
    )
    result = _render(nb, tmp_path)
    cells = result.notebooks["01_x"].cells
    assert cells[2].source == "As Figure 1 shows, we reach **98.00 %** in 3 seeds."
    assert cells[3].source == "**Figure 1.** Accuracy over 3 seeds"
    assert cells[3].metadata["mnist_report"]["caption"] == "Accuracy over 3 seeds"
    assert result.problems == []
    # Rendering a rendered notebook again gives the same notebook: the templates are kept.
    again = _render(result.notebooks["01_x"], tmp_path)
    assert nbformat.writes(again.notebooks["01_x"]) == nbformat.writes(result.notebooks["01_x"])


def test_a_missing_name_names_the_notebook_the_cell_and_the_name(tmp_path):
    nb = _executed(["We reach {{ accuracy | pct }}.", "Figure: x {#fig:a}"], {"acc": 0.98})
    with pytest.raises(prose.ProseError, match=r"01_x.ipynb, cell m0: uses the name 'accuracy', which no code cell"):
        _render(nb, tmp_path)


@pytest.mark.parametrize(
    "markdown, labels, message",
    [
        (["See [@fig:nope].", "Figure: x {#fig:a}"], ("a",), "[@fig:nope] refers to no captioned figure"),
        (["Figure: x {#fig:a}", "Figure: y {#fig:a}"], ("a",), "label 'fig:a' is used twice"),
        (["Figure: x {#fig:b}"], ("a",), "caption of figure 'b', but no code cell displayed a figure with that label"),
        ([], ("a",), "the figure labelled 'a' has no caption cell"),
    ],
)
def test_caption_and_reference_mistakes_are_errors(tmp_path, markdown, labels, message):
    with pytest.raises(prose.ProseError) as err:
        _render(_executed(markdown, {}, labels), tmp_path)
    assert message in str(err.value)


def test_chinese_comes_from_the_translation_file_and_stale_entries_are_flagged(tmp_path):
    english = ["We reach **{{ acc | pct }}**.", "Figure: Accuracy {#fig:a}", "A sentence nobody translated."]
    nb = _executed(english, {"acc": 0.98})
    entries = {
        "title": {"en": "", "text": "# 标题"},  # never accepted (as mnist-study new leaves a title): shown, and flagged
        "m0": {"en": translations.english_hash("We reached it."), "text": "我们达到 **{{ acc | pct }}**。"},
        "m1": {"en": translations.english_hash(english[1]), "text": "准确率"},
    }
    path = translations.translations_path(tmp_path / "01_x.ipynb", "zh")
    path.parent.mkdir()
    path.write_text(translations.dump_translations(entries, "zh", "01_x.ipynb"), encoding="utf-8")
    assert translations.load_translations(tmp_path / "01_x.ipynb", "zh") == entries
    result = _render(nb, tmp_path, "zh", profile="smoke")
    cells = result.notebooks["01_x"].cells
    assert [c.source for c in cells if c.cell_type == "markdown"][:2] == [
        "# 标题",
        prose.section("profile_note", {"profile": "smoke", "overrides": {}}, "zh"),
    ]
    assert "我们达到 **98.00 %**。" in [c.source for c in cells]
    assert "**图 1**\u3000准确率" in [c.source for c in cells]
    assert cells[2].outputs[1].data == {"image/png": "WkgK"}  # the Chinese figure
    assert any("cell m0: the zh translation is out of date" in p for p in result.problems)
    assert any("cell m2: no zh translation" in p for p in result.problems)
    assert (
        "01_x.ipynb, cell title: the zh translation is not accepted yet (it records no English); after "
        "translating it, `mnist-study translations --accept 01` records it"
    ) in result.problems
    assert len(result.problems) == 3


def test_check_source_finds_unpublished_names_and_mismatched_translations(tmp_path):
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title", id="title"),
            new_code_cell("display.facts(acc=acc, n=3)", id="code"),
            new_markdown_cell("We reach {{ acc | pct }} with {{ nn }}.", id="m0"),
            new_markdown_cell("Over {{ n }} seeds, see [@fig:a].", id="m1"),
        ]
    )
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    entries = {
        "title": {"en": translations.english_hash("# Title"), "text": "# 标题"},
        "m1": {"en": translations.english_hash("Over {{ n }} seeds."), "text": "{{ seeds }} 个种子。"},
        "gone": {"en": "0", "text": "旧的"},
    }
    path.parent.joinpath("zh").mkdir()
    translations.translations_path(path, "zh").write_text(translations.dump_translations(entries, "zh", path.name))
    problems = prose.check_source(path)
    assert problems == [
        "01_x.ipynb, cell m0: uses 'nn', which no display.facts call publishes",
        "01_x.ipynb, cell m0: no zh translation",
        "01_x.ipynb, cell m1: the zh translation is out of date",
        "01_x.ipynb, cell m1: the zh translation uses ['seeds'], the English ['n']",
        "01_x.ipynb, cell m1: the zh translation cites other figures or tables than the English",
        "01_x.ipynb: zh translation of 'gone', which is no markdown cell",
    ]


def test_the_study_s_notebooks_and_translations_agree():
    """Every template parses, uses only published names, and its Chinese is current and uses the
    same names and references (the smoke run renders them all, in test_e2e)."""
    from mnist_utils.book import pipeline

    problems = [p for nb in pipeline.discover(pipeline.default_layout().notebooks) for p in prose.check_source(nb)]
    assert problems == []


def test_a_conditional_caption_numbers_its_figure_only_when_it_was_drawn(tmp_path):
    template = "{% if drawn %}Figure: Candidates {#fig:a}{% endif %}"
    shown = _render(_executed([template, "See the figure."], {"drawn": True}), tmp_path)
    assert shown.notebooks["01_x"].cells[2].source == "**Figure 1.** Candidates"
    absent = _render(_executed([template, "See the figure."], {"drawn": False}, labels=()), tmp_path)
    cells = absent.notebooks["01_x"].cells
    assert cells[2].source == "" and cells[2].metadata["mnist_report"]["template"] == template  # kept, to re-render


def test_accepting_an_updated_translation_records_its_english(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# New title", id="title")])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    (tmp_path / "zh").mkdir()
    entries = {"title": {"en": translations.english_hash("# Old title"), "text": "# 新标题"}}
    translations.translations_path(path, "zh").write_text(translations.dump_translations(entries, "zh", path.name))
    assert translations.stale_translations(path, "zh") == {"title": ("# New title", "# 新标题")}
    assert translations.accept_translations(path, "zh") == ["title"]
    assert translations.stale_translations(path, "zh") == {} and prose.check_source(path) == []


def test_number_filters_are_also_functions_for_markdown_tables():
    """In a table row, {{ pm(x) }} keeps the source notebook's table intact where {{ x | pm }} would split a cell."""
    x = {"mean": 0.97811, "std": 0.00093, "n": 3}
    for language in ("en", "zh"):
        assert prose.render_text(
            "{{ pm(x) }} {{ num(y, 1) }} {{ and_list(z) }}", {"x": x, "y": 2.25, "z": [1, 2]}, language
        ) == prose.render_text(
            "{{ x | pm }} {{ y | num(1) }} {{ z | and_list }}", {"x": x, "y": 2.25, "z": [1, 2]}, language
        )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_profile_note_calls_only_the_smoke_profiles_numbers_not_results(language):
    """A longer profile (extended, record) is not a smoke run: its note names its file instead."""
    smoke = prose.section("profile_note", {"profile": "smoke", "overrides": {}}, language)
    extended = prose.section("profile_note", {"profile": "extended", "overrides": {}}, language)
    assert ("not results" if language == "en" else "不是研究结果") in smoke
    assert ("not results" if language == "en" else "不是研究结果") not in extended
    assert "`params/extended.yaml`" in extended and "`smoke`" in smoke
    assert prose.profile_note("full", language) is None


def test_a_markdown_table_is_captioned_and_numbered_by_the_cell_after_it(tmp_path):
    """07's claim tables are markdown (template rows): the caption cell after one numbers it among the
    displayed tables; a caption after prose, or an uncaptioned markdown table, numbers nothing."""
    table = "| claim | verdict |\n|:--|:--|\n| it holds | **{{ verdict }}** |"
    nb = _executed(
        ["See [@tab:claims].", table, "Table: The claims {#tab:claims}", "Figure: x {#fig:a}"],
        {"verdict": "reproduced"},
    )
    cells = _render(nb, tmp_path).notebooks["01_x"].cells
    assert cells[2].source == "See Table 1."
    assert cells[3].metadata["mnist_report"]["table_label"] == "claims"
    assert cells[4].source == "**Table 1.** The claims" and cells[4].metadata["mnist_report"]["number"] == 1
    with pytest.raises(prose.ProseError, match="caption of table 'claims', but no code cell displayed a table"):
        _render(
            _executed(["Some prose | with a bar.\n\n---", "Table: The claims {#tab:claims}", "Figure: x {#fig:a}"], {}),
            tmp_path,
        )
    plain = _render(_executed([table, "Figure: x {#fig:a}"], {"verdict": "no"}), tmp_path).notebooks["01_x"].cells
    assert "table_label" not in plain[2].metadata["mnist_report"]  # an uncaptioned table stays unnumbered
    assert plain[3].source == "**Figure 1.** x"


def test_every_rendered_copy_says_its_language(tmp_path):
    nb = _executed(["Figure: x {#fig:a}"], {})
    for language in ("en", "zh"):
        rendered = _render(nb, tmp_path, language).notebooks["01_x"]
        assert rendered.metadata["mnist_study"]["language"] == language


@pytest.mark.parametrize("language", ["en", "zh"])
def test_05s_spread_and_error_shift_macros_read_well_at_their_edges(language):
    def say(template, **values):
        return prose.render_text(template, values, language)

    wide, narrow, alone = {"std": 0.004}, {"std": 0.002}, {"std": None}
    larger, smaller, none = (
        say("{{ spread(a, b) }}", a=a, b=b) for a, b in ((wide, narrow), (narrow, wide), (wide, alone))
    )
    assert len({larger, smaller, none}) == 3
    assert ("0.40 against 0.20" in larger) if language == "en" else ("0.40 对 0.20" in larger)
    assert ("no spread" in none) if language == "en" else ("没有可比较的差异" in none)
    one = say("{{ error_shift(f, m) }}", f=[{"digit": 8, "per_seed": 2.0}], m=[])
    two = say("{{ error_shift(f, m) }}", f=[{"digit": 8, "per_seed": 2.0}, {"digit": 2, "per_seed": 1.5}], m=[0, 7])
    nothing = say("{{ error_shift(f, m) }}", f=[], m=[3])
    if language == "en":
        assert (
            one == "Augmentation removes the most errors on digit 8 (2.0 fewer per seed); it adds errors on no digit."
        )
        assert two.startswith("Augmentation removes the most errors on digits 8 (2.0 fewer per seed), 2 (1.5")
        assert two.endswith("it adds errors on 0, 7.") and nothing.startswith("Augmentation removes errors on no digit")
    else:
        assert one == "数据增强减少错误最多的数字是 8（每个种子少 2.0 个）；它增加错误的数字：无。"
        assert "8（每个种子少 2.0 个）、2（每个种子少 1.5 个）" in two and two.endswith("0、7。")
        assert nothing.startswith("数据增强没有减少任何数字的错误")


def test_a_new_translation_file_starts_without_hashes_and_accept_writes_them(tmp_path):
    """The README's recipe for a new notebook's Chinese: entries with `zh:` only, then --accept."""
    path = tmp_path / "08_mine.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# My experiment", id="title")]), path)
    (tmp_path / "zh").mkdir()
    translations.translations_path(path, "zh").write_text("title:\n  zh: |-\n    # 我的实验\n", encoding="utf-8")
    assert translations.stale_translations(path, "zh") == {"title": ("# My experiment", "# 我的实验")}
    assert translations.accept_translations(path, "zh") == ["title"]
    assert translations.load_translations(path, "zh")["title"] == {
        "en": translations.english_hash("# My experiment"),
        "text": "# 我的实验",
    }
    assert prose.check_source(path) == []


@pytest.mark.parametrize(
    "language, words",
    [("en", ("grows", "shrinks", "does not change steadily", ", ")), ("zh", ("增大", "减小", "没有稳定变化", "、"))],
)
def test_03s_bold_list_and_04s_trend_macros_at_their_edges(language, words):
    grows, shrinks, steady, comma = words
    say = lambda template, **values: prose.render_text(template, values, language)  # noqa: E731
    assert [say("{{ trend(r) }}", r=r) for r in (0.9, 0.5, -0.9, -0.5, 0.0, None)] == [
        grows,
        steady,
        shrinks,
        steady,
        steady,
        steady,
    ]  # 0.5 and -0.5 themselves are not steady enough
    assert say("{{ bold_list(xs) }}", xs=["relu"]) == "**relu**"
    assert say("{{ bold_list(xs) }}", xs=["relu", "gelu"]) == f"**relu**{comma}**gelu**"
    assert say("{{ bold_list(xs) }}", xs=[]) == ""


@pytest.mark.parametrize("language", ["en", "zh"])
def test_05s_ablation_data_and_bn_averages_macros_at_their_edges(language):
    """The ablation's data (a subset with its share, or all images) and its batch-norm momentum
    (a faster one than our CNN's, or the same), as notebook 05's cell-12 says them."""
    say = lambda template, **values: prose.render_text(template, values, language)  # noqa: E731
    subset = say("{{ ablation_data(True, 4000, 4000 / 54000) }}")
    whole = say("{{ ablation_data(False, 54000, 1.0) }}")
    faster = say("{{ bn_averages(320, 0.9, 0.99) }}")
    same = say("{{ bn_averages(320, 0.99, 0.99) }}")
    assert "4,000" in subset and "7 %" in subset and "54,000" in whole and "7 %" not in whole
    assert "320" in faster and "0.9" in faster and "0.99" in faster and "0.9 " not in same and "0.99" in same
    if language == "en":
        assert subset.startswith("both trained on a stratified subset of 4,000 training images")
        assert whole == "both trained on all 54,000 training images; the augmented arm is our CNN above."
        assert faster.startswith("In 320 steps, batch normalization's moving averages use a momentum of 0.9 instead")
        assert same == "In 320 steps, batch normalization's moving averages keep the momentum of 0.99."
        assert "\n" not in subset + faster  # one paragraph, whatever the source's line breaks
    else:
        assert whole == "两组都在全部 54,000 张训练图像上训练；加数据增强的一组就是上面我们的 CNN。"
        assert same == "在 320 步中，批归一化的滑动平均保持动量 0.99。"
        assert "使用动量 0.9 而不是 0.99" in faster


@pytest.mark.parametrize("language", ["en", "zh"])
def test_03s_and_04s_result_macros_take_every_branch(language):
    say = lambda template, **values: prose.render_text(template, values, language)  # noqa: E731
    en = language == "en"
    assert say("{{ budget_note(5, 5) }}") == ""
    longer = say("{{ budget_note(10, 5) }}")
    shorter = say("{{ budget_note(5, 10) }}")
    assert "10" in longer and ("baseline the longer" in longer if en else "基线的训练预算更长" in longer)
    assert "grid the longer" in shorter if en else "网格的训练预算更长" in shorter
    tally = {"pairs": 3, "better": 3, "won": 1, "lost": 0}
    claim = "{{ relu_adam_claim(is_claimed, scored, 'gelu + nesterov', best, claimed, t) }}"
    best, claimed = {"mean": 0.975, "std": 0.002}, {"mean": 0.97, "std": 0.001}
    holds = say(claim, is_claimed=True, scored=True, t=tally, best=best, claimed=claimed)
    fails = say(claim, is_claimed=False, scored=True, t=tally, best=best, claimed=claimed)
    absent = say(claim, is_claimed=False, scored=False, t=tally, best=best, claimed=claimed)
    assert ("**holds**" in holds) if en else ("**成立**" in holds)
    assert ("**does not hold**" in fails) if en else ("**不成立**" in fails)
    assert "gelu + nesterov" in fails and "3 of 3" in fails if en else "gelu + nesterov" in fails
    assert ("not part of this run's grid" in absent) if en else ("没有 ReLU + Adam" in absent)
    gaps = {"L2 0.01": 0.006, "dropout 0.5": 0.0108}
    study = ["L2 0.01", "dropout 0.5"]
    both = say("{{ gap_shrinkers(c, s, g) }}", c=study, s=study, g=gaps)
    one = say("{{ gap_shrinkers(c, s, g) }}", c=study[:1], s=study, g=gaps)
    none = say("{{ gap_shrinkers(c, s, g) }}", c=[], s=study, g=gaps)
    if en:
        assert both == "L2 0.01 and dropout 0.5 shrink that gap\n(L2 0.01: 0.60 points, dropout 0.5: 1.08 points)."
        assert one.startswith("L2 0.01 shrinks that gap") and none.startswith("neither of them shrink that gap")
    else:
        assert both == "L2 0.01和dropout 0.5缩小了这一差距\n（L2 0.01：0.60 个百分点，dropout 0.5：1.08 个百分点）。"
        assert one.startswith("L2 0.01缩小了") and none.startswith("两者都没有缩小这一差距")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_06s_and_07s_result_macros_take_every_branch(language):
    say = lambda template, **values: prose.render_text(template, values, language)  # noqa: E731
    en = language == "en"
    models_ = ["MLP", "CNN"]
    recall = say(
        "{{ accuracy_recall(m, a, r) }}", m=models_, a={"MLP": 0.98, "CNN": 0.994}, r={"MLP": 0.98, "CNN": 0.994}
    )
    assert recall.count("98.00 %") == 2 and recall.count("99.40 %") == 2 and ("; " if en else "；") in recall
    f1 = {n: {"weakest": 9, "weakest_f1": 0.97, "strongest": 1, "strongest_f1": 0.99} for n in models_}
    ends = say("{{ weakest_strongest(m, f) }}", m=models_, f=f1)
    assert ends.count("97.00 %") == 2 and "\n" not in ends
    rows = [
        {"model": "MLP", "temperature": 1.3, "ece_before": 0.5, "ece_after": 0.2},
        {"model": "CNN", "temperature": 0.9, "ece_before": 0.16, "ece_after": 0.1},
    ]
    moves = say("{{ calibration_moves(r) }}", r=rows)
    short = say("{{ confidences(r) }}", r=rows)
    if en:
        assert moves == (
            "The MLP is overconfident (T = 1.30 > 1); scaling moves its ECE from 0.500 % to 0.200 %. "
            "The CNN is underconfident (T = 0.90 < 1); scaling moves its ECE from 0.160 % to 0.100 %."
        )
        assert short == " The MLP is overconfident (T = 1.30). The CNN is underconfident (T = 0.90)."
    else:
        assert moves.startswith("MLP 过于自信（T = 1.30 > 1）；") and "CNN 不够自信（T = 0.90 < 1）" in moves
        assert short == "MLP 过于自信（T = 1.30）。CNN 不够自信（T = 0.90）。"
    same = say("{{ steadier_under(s) }}", s={"rotation": "CNN", "shift": "CNN"})
    split = say("{{ steadier_under(s) }}", s={"rotation": "CNN", "shift": "MLP"})
    assert ("both the largest rotation" in same) if en else ("都更稳健" in same)
    assert "MLP" in split and "MLP" not in same
    tally = {"not_reproduced": ["001.f1"], "impossible": [], "unverifiable": ["003.epoch_time"]}
    named = say("{{ claims_by_verdict(t) }}", t=tally)
    if en:
        assert named == " Not reproduced: paper 001's F1. Cannot be checked: paper 003's epoch time."
    else:
        assert named.startswith("未复现的是：") and "按原文不可能成立" not in named and "无法检验的是：" in named
    assert say("{{ claims_by_verdict(t) }}", t={"not_reproduced": [], "impossible": [], "unverifiable": []}) == ""


@pytest.mark.parametrize("language", ["en", "zh"])
def test_06s_test_digits_macro_says_all_or_how_many_of_how_many(language):
    say = lambda template, **values: prose.render_text(template, values, language)  # noqa: E731
    subset, whole = say("{{ test_digits(5000, 10000) }}"), say("{{ test_digits(10000, 10000) }}")
    assert "5,000" in subset and "10,000" in subset and ("evenly spaced" if language == "en" else "均匀间隔") in subset
    assert whole == ("all 10,000 test digits" if language == "en" else "全部 10,000 个测试数字")
