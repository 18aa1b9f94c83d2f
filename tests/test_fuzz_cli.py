"""Fuzzing the ``auterity-lab`` command line: exit 0, 1 with a one-line error, or 2 (usage).

Every leaf command of the typer app is found by walking its command tree (a command added
later is fuzzed too) and gets a parametrised Hypothesis test whose id is the command. An example
starts from arguments that work on a tiny demo (``--data``, ``--tenant``, dates, required
arguments) and replaces or adds options with hostile text: random strings, SQL-ish strings,
broken and far-future dates, extreme numbers, unknown enum values and tenants, unknown options.
The contract, checked through typer's ``CliRunner``:

* the exit code is 0, 1 (our error: one ``Error: <ErrorClass>: ...`` line, no traceback) or 2
  (a usage error from the argument parser);
* no other exception escapes (``result.exception`` is a ``SystemExit`` or nothing);
* a failing command leaves the data directory byte-identical.

Commands that block or need an outside service are listed in :data:`SKIPPED` with the reason
(their arguments are parsed by the same typer machinery; their libraries are fuzzed directly).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from auterity_lab.cli import app
from auterity_lab.synth import generate_demo
from tests.corpus import DATEISH, SQLISH, corpus_summary, diff_snapshots, snapshot, tally

__all__ = ["corpus_summary"]
pytestmark = pytest.mark.slow

SKIPPED = {
    "serve": "blocks serving HTTP (tested in tests/test_serve*.py)",
    "live watch": "blocks streaming events",
    "live install-triggers": "needs a Postgres source",
    "extract": "needs a Postgres source (corrupted sources: tests/test_corrupt_sources.py)",
    "seed-postgres": "needs a Postgres source",
    "demo": "writes a new demo data directory (its sizes are validated by generate_demo)",
    "precompute": "computes every tab of every tenant (tested in tests/test_precompute.py)",
    "report run": "executes a notebook kernel (tens of seconds)",
    "report due": "executes the due notebooks",
}
VALID = {
    "--tenant": "acme",
    "--start": "2026-10-18",
    "--end": "2026-11-01",
    "--step": "signup",
    "--on": "2026-10-20",
    "--as-of": "2026-11-01",
    "--today": "2026-11-01",
}
ARGUMENTS = {
    "name": "daily_user_analytics",
    "text": "call me at +1 555 0100",
    "insight": "no-such-insight",
    "rule_id": "no-such-rule",
    "key": "prompt-v2-rollout",
    "users": "u1",
}
EXAMPLES = int(os.environ.get("FUZZ_CLI_EXAMPLES", 3))  # raise for a deeper run


def _commands() -> dict[str, Any]:
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)
        if subs:
            for n, c in subs.items():
                yield from walk(c, [*path, n])
        else:
            yield " ".join(path), cmd

    return dict(walk(typer.main.get_command(app), []))


COMMANDS = _commands()


def _baseline(path: str, cmd: Any, data: Path) -> list[str]:
    args = path.split()
    for p in cmd.params:
        if p.param_type_name == "argument":
            args.append(ARGUMENTS.get(p.name, "x"))
    for p in cmd.params:
        if p.param_type_name != "option":
            continue
        flag = p.opts[0]
        if flag in ("--data", "--data-dir"):
            args += [flag, str(data)]
        elif flag == "--dry-run":
            args.append(flag)  # privacy enforce, alerts check: never rewrite the data
        elif flag in VALID and (p.required or flag in ("--start", "--end", "--tenant")):
            args += [flag, VALID[flag]]
        elif p.required:
            args += [flag, "x"]
    return args


def _hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([s for s in SQLISH if "\x00" not in s]),
        st.sampled_from([str(d) for d in DATEISH]),
        st.sampled_from(["0", "-1", "2147483648", "9" * 40, "1e309", "nan", "-inf", "1.5"]),
        st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=20),
    )


def _mutations(cmd: Any) -> st.SearchStrategy[list[tuple[str, str]]]:
    flags = [
        p.opts[0]
        for p in cmd.params
        if p.param_type_name == "option" and p.opts[0] not in ("--data", "--data-dir", "--out")
    ] + ["--no-such-option", "--out"]
    one = st.tuples(st.sampled_from(flags), _hostile_text())
    return st.lists(one, min_size=1, max_size=3)


def _marks(path: str) -> list[pytest.MarkDecorator]:
    if path in SKIPPED:
        return [pytest.mark.skip(reason=SKIPPED[path])]
    return []


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("cli")
    d = base / "data"
    generate_demo(d, tenants=2, days=30, scale=0.01, seed=3)
    with contextlib.chdir(base):  # relative --out paths land here, never in the repository
        yield d
    shutil.rmtree(base / "out", ignore_errors=True)


@pytest.mark.usefixtures("corpus_summary")
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p, marks=_marks(p))
        for p in sorted(COMMANDS)
    ],
)
def test_cli_exits_cleanly_on_hostile_arguments(path: str, cli_dir: Path) -> None:
    cmd = COMMANDS[path]
    runner = CliRunner()
    env = {k: None for k in os.environ if k.startswith("AUTERITY_LAB_")}
    base = _baseline(path, cmd, cli_dir)
    # with good arguments the command works (or refuses with our error: e.g. an unknown insight)
    good = runner.invoke(app, base, env=env)
    assert good.exit_code in (0, 1) and _clean(good), _report(base, good)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutation=_mutations(cmd))
    def fuzz(mutation: list[tuple[str, str]]) -> None:
        args = list(base)
        for flag, value in mutation:
            if flag == "--out":
                value = "out/" + value.replace("/", "_").replace("\\", "_").strip(".") or "o"
            args += [flag, value]
        before = snapshot(cli_dir)
        result = runner.invoke(app, args, env=env)
        tally("fuzz: CLI invocations")
        assert result.exit_code in (0, 1, 2), _report(args, result)
        assert _clean(result), _report(args, result)
        if result.exit_code != 0:
            tally(f"fuzz: CLI invocations refused (exit {result.exit_code})")
            changed = diff_snapshots(before, snapshot(cli_dir))
            assert not changed, f"{args} failed but changed {changed[:5]}"

    fuzz()
    tally("fuzz: CLI commands")


def _clean(result: Any) -> bool:
    """No exception other than the exit, and an exit 1 says which of our errors it was."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return False
    return result.exit_code != 1 or "Error" in result.output


def _report(args: list[str], result: Any) -> str:
    exc = result.exception
    where = ""
    if exc is not None and exc.__traceback__ is not None:
        tb = exc.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
    return (
        f"auterity-lab {' '.join(args)!r} -> exit {result.exit_code}, "
        f"{type(exc).__name__ if exc else ''}: {str(exc)[:200]}{where}\n{result.output[-500:]}"
    )


def test_the_command_tree_is_enumerated() -> None:
    assert {"query", "business retention", "ml compare", "workflow sla", "insights list",
            "alerts check", "report list", "unified", "health"} <= set(COMMANDS)
    assert set(SKIPPED) <= set(COMMANDS)
