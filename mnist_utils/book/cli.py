"""The mnist-study command: data, run, report, translations, params, kernel, predict, new."""

from __future__ import annotations

import argparse
import pathlib
import signal
import sys
import threading

from mnist_utils import data, i18n, progress
from mnist_utils.book import environment, notebooks, pipeline
from mnist_utils.book.errors import PipelineError


def _data(args) -> None:
    folder = data.fetch(timeout=args.timeout)
    mnist = data.load_mnist(folder, download=False)
    print(f"MNIST ready in {folder} from {mnist.source}:")
    for name, c in mnist.checksums.items():
        print(f"  {name}: {c['algorithm']} {c['value']} verified")


def _run(args) -> None:
    layout = notebooks.default_layout(args.report_dir)
    if args.notebooks or args.params:
        layout = notebooks.Layout(
            pathlib.Path(args.notebooks or layout.notebooks).resolve(),
            pathlib.Path(args.params or layout.params).resolve(),
            layout.report,
        )
    with progress.Monitor() as monitor:
        pipeline.run(
            args.profile, args.only, layout, force=args.force, jobs=args.jobs, monitor=monitor, overrides=args.set
        )
    print(f"Done. Executed notebooks: {layout.executed}  artifacts: {layout.artifacts}")


def _report(args) -> None:
    from mnist_utils.book import report

    layout = notebooks.default_layout(args.report_dir)
    settings = args.settings or layout.params / "report.yaml"
    if args.language == "all":
        editions = report.build_editions(layout, settings, include_code=args.include_code, force=args.force)
    else:
        editions = [
            report.build(layout, settings, include_code=args.include_code, force=args.force, language=args.language)
        ]
    for paths, built in editions:
        for path in paths:
            print(f"{'Wrote' if built else 'Up to date:'} {path}")


def _new(args) -> None:
    from mnist_utils.book import scaffold

    layout = notebooks.default_layout()
    for path in scaffold.new(args.name, args.question, layout):
        print(f"Wrote {path}")
    number = args.name[:2]
    print(
        f"Next: open notebooks/{args.name}.ipynb in JupyterLab and make it answer its question; "
        f"`mnist-study run --profile smoke --only {number}` runs it quickly, `make report` puts it in the report.\n"
        f"Translate its title in notebooks/zh/{args.name}.yaml, then `mnist-study translations --accept {number}`."
    )


def _translations(args) -> int:
    from mnist_utils.book import prose, translations

    layout = notebooks.default_layout()
    chosen = notebooks.select(notebooks.discover(layout.notebooks), args.notebooks)
    found = 0
    for path in chosen:
        if args.accept:
            for cell_id in translations.accept_translations(path, "zh"):
                print(f"{path.name}, cell {cell_id}: translation marked current")
        problems = prose.check_source(path)
        found += len(problems)
        for problem in problems:
            print(problem)
        for cell_id, (english, chinese) in translations.stale_translations(path, "zh").items():
            print(
                f"{path.name}, cell {cell_id}, out of date. Its English now:\n"
                + "\n".join(f"    {line}" for line in english.splitlines())
                + "\n  and its Chinese:\n"
                + "\n".join(f"    {line}" for line in chinese.splitlines())
            )
    print(
        f"{found} problem(s) in {len(chosen)} notebook(s)"
        if found
        else f"The prose of {len(chosen)} notebook(s) and its Chinese agree."
    )
    return 1 if found else 0


def _params(args) -> None:
    """Each notebook's parameters: type, default, help, and what the chosen profile sets."""
    layout = notebooks.default_layout()
    chosen = notebooks.select(notebooks.discover(layout.notebooks), args.notebooks)
    profile = notebooks.load_profile(layout.params, args.profile)
    for path in chosen:
        print(f"{path.stem}:")
        for name, info in notebooks.declared_parameters(path).items():
            if name in notebooks.RUNNER_PARAMETERS:
                continue
            print(f"  {name}: {info['type']} = {info['default']!r}  # {info['help']}")
            if name in profile.get(path.stem, {}):
                print(f"      {args.profile} profile: {profile[path.stem][name]!r}")


def _kernel(args) -> None:
    where = environment.install_kernel(user=args.user)
    print(f"Installed Jupyter kernel {environment.KERNEL_NAME!r} in {where}")


def _predict(args) -> int:
    import json

    from mnist_utils import predict

    try:
        model_path = args.model or predict.default_model(notebooks.default_layout(args.report_dir).artifacts)
        model = predict.load_model(model_path)
    except predict.ModelError as e:
        print(f"mnist-study predict: error: {e}", file=sys.stderr)
        return 1
    prepared, failed = {}, []
    for name in args.images:
        try:
            prepared[name] = predict.to_mnist(predict.load_image(name), source=name)
        except predict.ImageError as e:
            failed.append((name, str(e)))
            print(f"mnist-study predict: error: {e}", file=sys.stderr)
    results = predict.predict(model, prepared, top=args.top) if prepared else []
    saved = (
        {r.path: str(predict.save_preprocessed(r.image, args.save_preprocessed, r.path)) for r in results}
        if args.save_preprocessed
        else {}
    )
    if args.json:
        rows = [
            {
                "file": r.path,
                "top": [{"digit": d, "probability": round(p, 6)} for d, p in r.top],
                **({"preprocessed": saved[r.path]} if r.path in saved else {}),
            }
            for r in results
        ]
        rows += [{"file": name, "error": message} for name, message in failed]
        print(json.dumps({"model": str(model_path), "predictions": rows}, indent=2))
    else:
        for r in results:
            print(
                f"{r.path}: "
                + ", ".join(f"{d} ({100 * p:.1f} %)" for d, p in r.top)
                + (f"  [28x28 view: {saved[r.path]}]" if r.path in saved else "")
            )
    return 1 if failed else 0


def _top(text: str) -> int:
    """--top: a whole number of digits from 1 to 10."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give 1 to 10") from None
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError(f"{value} is outside 1-10: there are ten digits to list")
    return value


# One example per subcommand, shown at the end of its --help.
EXAMPLES = {
    None: "examples:\n  mnist-study run --profile smoke && mnist-study report   # the quick study and its report\n"
    "  mnist-study predict my_digit.png                          # classify your own handwriting\n"
    '  mnist-study new 08_batch_size "Does batch size matter?"     # start a notebook of your own\n'
    "  mnist-study COMMAND --help                                # more on one command",
    "data": "example:\n  MNIST_DATA_DIR=/data/mnist mnist-study data   # fetch and verify into another cache folder",
    "run": "examples:\n  mnist-study run --profile smoke        # every notebook, quickly (numbers are not results)\n"
    "  mnist-study run --only 05              # notebook 05 and those that read its artifacts\n"
    "  mnist-study run -p 02.epochs=3 -p '02.seeds=[0, 1]'   # this run only",
    "report": "examples:\n  mnist-study report                     # report/mnist_report.html and .pdf\n"
    "  mnist-study report --language zh       # the Chinese edition, mnist_report_zh.*",
    "translations": "examples:\n"
    "  mnist-study translations 04            # what is missing or out of date in 04's Chinese\n"
    "  mnist-study translations 04 --accept   # after updating it",
    "params": "examples:\n  mnist-study params 05 --profile smoke   # 05's parameters and the smoke profile's values",
    "kernel": "example:\n  mnist-study kernel --user              # for a JupyterLab outside this environment",
    "new": 'example:\n  mnist-study new 08_batch_size "Does batch 32 or 256 change the baseline\'s accuracy?"',
    "predict": "examples:\n  mnist-study predict seven.jpg two.png --top 1\n"
    "  mnist-study predict scans/*.png --json --save-preprocessed seen/",
}


def parser() -> argparse.ArgumentParser:
    def command(name: str, **kwargs):
        return sub.add_parser(
            name, epilog=EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs
        )

    p = argparse.ArgumentParser(
        prog="mnist-study",
        epilog=EXAMPLES[None],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The MNIST study: fetch the data, run the notebooks, build the report,\n"
        "check the Chinese, register the kernel, classify your own digits, start a notebook of your own.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    d = command("data", help="fetch, verify and cache MNIST")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds per download attempt")
    d.set_defaults(func=_data)

    r = command("run", help="execute the notebooks with a parameter profile")
    r.add_argument(
        "--profile", help="params/<PROFILE>.yaml (default: the one the report folder's last run used, else full)"
    )
    r.add_argument(
        "--only", nargs="+", metavar="NN", help="re-run these notebooks (e.g. 02) and those that read their artifacts"
    )
    r.add_argument("--force", action="store_true", help="re-run notebooks even if they are up to date")
    r.add_argument(
        "-p",
        dest="set",
        action="append",
        metavar="NN.PARAM=VALUE",
        help="change one parameter for this run only (repeatable; the value is YAML, e.g. -p 02.epochs=3)",
    )
    r.add_argument(
        "--jobs", type=int, metavar="N", help="notebooks to execute at once (default: the profile's jobs, else 1)"
    )
    r.add_argument("--report-dir", help="output folder (default: report/ in the project)")
    r.add_argument("--notebooks", help="folder of NN_*.ipynb notebooks (default: notebooks/ in the project)")
    r.add_argument("--params", help="folder of profiles, <PROFILE>.yaml (default: params/ in the project)")
    r.set_defaults(func=_run)

    b = command("report", help="build report/mnist_report.html and .pdf (mnist_report_zh.* in Chinese)")
    b.add_argument("--settings", help="report settings YAML (default: params/report.yaml)")
    b.add_argument(
        "--include-code",
        action="store_true",
        default=None,
        help="add an appendix with every notebook's code (overrides the settings file)",
    )
    b.add_argument("--report-dir", help="folder holding executed/ and artifacts/ (default: report/)")
    b.add_argument("--force", action="store_true", help="rebuild even if nothing it depends on changed")
    b.add_argument(
        "--language",
        choices=(*i18n.LANGUAGES, "all"),
        help="en or zh (overrides the settings file; zh writes mnist_report_zh.html and .pdf); "
        "all: every edition, side by side",
    )
    b.set_defaults(func=_report)

    t = command("translations", help="check the notebooks' templates and their Chinese (notebooks/zh/)")
    t.add_argument("notebooks", nargs="*", metavar="NN", help="notebook numbers or names (default: all)")
    t.add_argument(
        "--accept", action="store_true", help="mark out-of-date translations as current (after updating their Chinese)"
    )
    t.set_defaults(func=_translations)

    m = command("params", help="list each notebook's parameters and what a profile sets")
    m.add_argument("notebooks", nargs="*", metavar="NN", help="notebook numbers or names (default: all)")
    m.add_argument("--profile", default="full", help="params/<PROFILE>.yaml whose values to show (default: full)")
    m.set_defaults(func=_params)

    k = command("kernel", help="register the 'mnist-study' Jupyter kernel")
    k.add_argument("--user", action="store_true", help="install for this user, not this environment")
    k.set_defaults(func=_kernel)

    n = command("new", help="start a notebook of your own: a working skeleton, its Chinese and its smoke settings")
    n.add_argument("name", help="NN_name: a free two-digit number and a name, e.g. 08_batch_size")
    n.add_argument("question", help="the question the notebook answers, in quotes")
    n.set_defaults(func=_new)

    q = command("predict", help="classify photos or scans of one handwritten digit each")
    q.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files, one digit per image")
    q.add_argument("--model", help="a .keras model (default: the best CNN saved by notebook 05)")
    q.add_argument("--report-dir", help="folder holding artifacts/ (default: report/)")
    q.add_argument("--top", type=_top, default=3, help="how many digits to list per image, 1-10 (default: 3)")
    q.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    q.add_argument("--save-preprocessed", metavar="DIR", help="write the 28x28 view the model saw as PNG")
    q.set_defaults(func=_predict)
    return p


def _terminate(signum, frame):
    """SIGTERM stops a command as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # nbformat validates with jsonschema, which imports rfc3987_syntax, when installed (JupyterLab
    # brings it), for IRI format checks that notebook schemas never use. Building its grammar takes
    # about 1.4 s, a third of a run or report that finds nothing to do, so this command goes without.
    sys.modules.setdefault("rfc3987_syntax", None)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        code = args.func(args)
    except (data.DataError, PipelineError) as e:
        print(f"mnist-study {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"mnist-study {args.command}: interrupted; {e or 'earlier outputs are unchanged'}.", file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
