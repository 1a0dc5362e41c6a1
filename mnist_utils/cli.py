"""The ``mnist-study`` command: data, run, report, kernel."""

from __future__ import annotations

import argparse
import sys

from mnist_utils import data, pipeline


def _data(args) -> None:
    folder = data.fetch(timeout=args.timeout)
    mnist = data.load_mnist(folder, download=False)
    print(f"MNIST ready in {folder} from {mnist.source}:")
    for name, c in mnist.checksums.items():
        print(f"  {name}: {c['algorithm']} {c['value']} verified")


def _run(args) -> None:
    layout = pipeline.default_layout(args.report_dir)
    record = pipeline.run(args.profile, args.only, layout)
    total = sum(record["notebooks"][nb]["seconds"] for nb in record["notebooks"])
    print(f"Done. Executed notebooks: {layout.executed}  artifacts: {layout.artifacts} "
          f"(notebook time on record: {total:.1f} s)")


def _report(args) -> None:
    from mnist_utils import report

    layout = pipeline.default_layout(args.report_dir)
    settings = args.settings or layout.params / "report.yaml"
    paths = report.build(layout, settings, include_code=args.include_code)
    for path in paths:
        print(f"Wrote {path}")


def _kernel(args) -> None:
    where = pipeline.install_kernel(user=args.user)
    print(f"Installed Jupyter kernel {pipeline.KERNEL_NAME!r} in {where}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mnist-study", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="fetch, verify and cache MNIST")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds per download attempt")
    d.set_defaults(func=_data)

    r = sub.add_parser("run", help="execute the notebooks with a parameter profile")
    r.add_argument("--profile", default="full", help="params/<PROFILE>.yaml (default: full)")
    r.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks, e.g. 02")
    r.add_argument("--report-dir", help="output folder (default: report/ in the project)")
    r.set_defaults(func=_run)

    b = sub.add_parser("report", help="build report/mnist_report.html and .pdf")
    b.add_argument("--settings", help="report settings YAML (default: params/report.yaml)")
    b.add_argument("--include-code", action="store_true", default=None,
                   help="show code cells (overrides the settings file)")
    b.add_argument("--report-dir", help="folder holding executed/ and artifacts/ (default: report/)")
    b.set_defaults(func=_report)

    k = sub.add_parser("kernel", help="register the 'mnist-study' Jupyter kernel")
    k.add_argument("--user", action="store_true", help="install for this user, not this environment")
    k.set_defaults(func=_kernel)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (data.DataError, pipeline.PipelineError) as e:
        print(f"mnist-study {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"mnist-study {args.command}: interrupted; earlier outputs are unchanged.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
