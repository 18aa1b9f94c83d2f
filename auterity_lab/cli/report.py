"""``report``: run notebooks as reports (papermill → executed notebook + HTML + run.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auterity_lab.cli._common import DataOpt, ParamOpt, console, data_dir, parse_params

report_app = typer.Typer(help="Run notebooks as reports.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


@report_app.command("list")
def list_() -> None:
    """List the reports and their parameters."""
    from auterity_lab.reports import list_reports, notebook_parameters

    for name in list_reports():
        params = notebook_parameters(name)
        typer.echo(f"{name}: " + ", ".join(f"{k}={v.get('default')}" for k, v in params.items()))


@report_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Report (notebook) name.")],
    param: ParamOpt = None,
    data: DataOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report runs.")] = Path("reports"),
) -> None:
    """Run a report: OUT/NAME/RUN-ID/ gets the executed notebook, HTML and run.json."""
    from auterity_lab.reports import notebook_parameters, run_report

    params = parse_params(param)
    if "data_dir" in notebook_parameters(name) and "data_dir" not in params:
        params["data_dir"] = str(data_dir(data).resolve())
    with console.status(f"running {name} ..."):
        result = run_report(name, params, out)
    console.print(f"[green]{name}: {result.status} in {result.duration_s:.1f} s → {result.html}")
