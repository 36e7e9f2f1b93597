"""The `ladder` command. Data goes to stdout, diagnostics to stderr, one plain line per error.

Exit codes: 0 ok, 1 runtime failure, 2 usage error or invalid scenario, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap

from .version import __version__
from .format.errors import BatchError, ScenarioError, UsageError, printable
from .format.words import plural


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ladder", description="Escalation Ladder: crises on the Korean Peninsula.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    play = sub.add_parser("play", help="play in the terminal (the default command)")
    play.add_argument("scenario", nargs="?", help="bundled name or path")
    who = play.add_mutually_exclusive_group()
    who.add_argument("--as", dest="players", metavar="ACTOR[,ACTOR]", type=_actors,
                     help="the actors people play (several: hot seat); straight to the board")
    who.add_argument("--watch", action="store_true", help="people play no actor: watch the bots")
    play.add_argument("--seed", type=_seed, help="the game's seed (default: random, shown)")
    _doctrine_arg(play)
    play.add_argument("--resume", metavar="FILE", help="continue a saved game")
    play.add_argument("--replay", metavar="DIR", help="step through a run of a batch (with --run)")
    play.add_argument("--run", type=_run, dest="run_index", help="the run of --replay's batch")
    play.add_argument("--saves", default="saves", metavar="DIR", help="where games and reports are saved (default saves/)")

    sub.add_parser("list", help="the bundled scenarios")
    sub.add_parser("schema", help="the JSON Schema of the scenario format, for editors")

    show = sub.add_parser("show", help="actors, the ladder with its options, doctrines")
    show.add_argument("scenario")
    view = show.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_true", help="the validated, normalised scenario (a variant's bases merged in)")
    view.add_argument("--origin", action="store_true", help="each value written, with the file and line that set it")

    val = sub.add_parser("validate", help="check scenario files; every problem located")
    val.add_argument("paths", nargs="+", metavar="PATH")

    new = sub.add_parser("new", help="write NAME.scenario.yaml: a commented skeleton, or a variant of a scenario")
    new.add_argument("name", metavar="NAME", help="the file to write, without .scenario.yaml (its folder must exist)")
    new.add_argument("--from", dest="base", metavar="SCENARIO",
                     help="write a variant extending this scenario (bundled name or path), its main values listed")

    lint = sub.add_parser("lint", help="warnings validation cannot give: moves never taken, unread variables...")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or bundled names")
    lint.add_argument("--strict", action="store_true", help="exit 1 if there is any warning")

    run = sub.add_parser("run", help="one game, headless")
    run.add_argument("scenario")
    run.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    run.add_argument("--run", type=_run, default=0, dest="run_index", help="run index within the seed (default 0)")
    _doctrine_arg(run)
    run.add_argument("--view", metavar="ACTOR", help="only what ACTOR saw (default: the umpire's view, everything)")
    run.add_argument("--json", action="store_true", help="the game as JSON")

    batch = sub.add_parser("batch", help="Monte Carlo: many games, statistics, files and a report")
    batch.add_argument("scenario", nargs="?", help="bundled name or path (not with --resume)")
    batch.add_argument("--runs", type=_positive, help="games to play")
    _batch_args(batch, "SCENARIO")
    _doctrine_arg(batch)
    batch.add_argument("--until-ci", type=_half_width, metavar="W", help="add runs until every outcome's 95%% interval is within +-W")
    batch.add_argument("--dask", metavar="ADDRESS", help="run the chunks on a Dask cluster ('local' starts one)")
    batch.add_argument("--resume", metavar="DIR", help="finish an interrupted batch")
    batch.add_argument("--csv", action="store_true", help="also write runs.csv")
    batch.add_argument("--events", action="store_true", help="also write every event of every run (events.parquet)")
    batch.add_argument("--trajectories", type=_names, metavar="VAR,...",
                       help="also write these variables' values at every turn of every run (trajectories.parquet)")
    batch.add_argument("--no-report", dest="report", action="store_false", help="write no report.html")
    batch.add_argument("--json", action="store_true", help="print summary.json instead of the table")

    compare = sub.add_parser("compare", help="variants over the same runs: probabilities and paired differences")
    compare.add_argument("variants", nargs="+", metavar="VARIANT",
                         help="a scenario, or a quoted \"SCENARIO --doctrine ACTOR=PRESET ...\"; the first is the reference")
    compare.add_argument("--runs", type=_positive, required=True, help="games per variant")
    _batch_args(compare, "compare")
    compare.add_argument("--json", action="store_true", help="print comparison.json instead of the table")

    sweep = sub.add_parser("sweep", help="a grid of scenario values, each a batch over the same runs")
    sweep.add_argument("scenario", help="bundled name or path")
    sweep.add_argument("--set", action="append", required=True, dest="sets", metavar="PATH=V1,V2,...",
                       help="a dotted path into the scenario and its values, e.g. mechanics.hazard.max=0.02,0.08 (repeatable: a grid)")
    sweep.add_argument("--runs", type=_positive, required=True, help="games per point")
    _batch_args(sweep, "sweep")
    sweep.add_argument("--json", action="store_true", help="print sweep.json instead of the table")

    explore = sub.add_parser("explore", help="which uncertain values drive an outcome: sensitivity indices and PRIM boxes")
    explore.add_argument("scenario", help="bundled name or path")
    explore.add_argument("--vary", action="append", default=[], metavar="PATH=LO:HI",
                         help="a number to vary over a range, e.g. mechanics.hazard.midpoint=60:90 (repeatable)")
    explore.add_argument("--lever", action="append", default=[], dest="levers", metavar="PATH=A,B,...",
                         help="a value to choose among, sampled alongside the ranges, e.g. actors.China.doctrine=engagement,shield")
    explore.add_argument("--method", required=True, choices=["sobol", "morris", "lhs"],
                         help="sobol: N base samples (a power of 2); morris: N trajectories; lhs: N points of a Latin hypercube")
    explore.add_argument("--points", type=_positive, required=True, metavar="N")
    explore.add_argument("--runs-per-point", type=_positive, required=True, metavar="R", help="games per design point")
    explore.add_argument("--outcome", default="war", help="the outcome analysed (default war)")
    _batch_args(explore, "explore")
    explore.add_argument("--json", action="store_true", help="print indices.json and prim.json instead of the summary")

    replay = sub.add_parser("replay", help="one run of a batch, told as `ladder run` tells it")
    replay.add_argument("folder", metavar="DIR")
    replay.add_argument("--run", type=_run, required=True, dest="run_index", help="run index within the batch")
    replay.add_argument("--view", metavar="ACTOR", help="only what ACTOR saw (default: the umpire's view, everything)")
    replay.add_argument("--json", action="store_true")

    cal = sub.add_parser("calibrate", help="the default game against the real year it represents")
    cal.add_argument("scenario")
    cal.add_argument("--runs", type=_positive, default=2000, help="games to play (default 2000)")
    cal.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    _doctrine_arg(cal)
    cal.add_argument("--json", action="store_true")

    bench = sub.add_parser("bench", help="measure the engine against a bare SimPy floor")
    bench.add_argument("scenario", nargs="?", default="korea-2019")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quick", action="store_true", help="smaller samples (a smoke test, noisier)")
    what = bench.add_mutually_exclusive_group()
    what.add_argument("--batch", action="store_true", help="batches instead: workers, Dask and memory (minutes)")
    what.add_argument("--play", action="store_true", help="the app's waits instead: a forecast (1,000 rollouts, 12 turns)")
    what.add_argument("--explore", action="store_true", help="an exploration of 1,000 points x 100 games (14 numbers varied per world) against a batch of 100,000")
    return p


# The engine's ranges (sim/rng.py: SEEDS, RUNS), here so that parsing needs no NumPy. A seed of
# 2**64 or more would be taken modulo 2**64 -- silently another seed's game; a run index is int64.
SEEDS = 1 << 64
RUNS = 1 << 63
COUNTS = 10**9  # the most games, workers or runs per chunk a flag asks for (sim.montecarlo.batch.MAX_RUNS)


def _whole(text: str, low: int, high: int, what: str) -> int:
    """A whole number from `low` to `high - 1`, or one clear line."""
    text = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {printable(text, 30)!r}")
    if len(text) > 40:  # far out of every range, and int() of thousands of digits is slow
        raise argparse.ArgumentTypeError(f"{what} {low} to {high - 1:,}, got a number of {len(text)} digits")
    value = int(text)
    if not low <= value < high:
        raise argparse.ArgumentTypeError(f"{what} {low} to {high - 1:,}, got {value:,}")
    return value


def _seed(text: str) -> int:
    """A seed: 0 to 2**64 - 1, the seeds the engine's random streams tell apart."""
    return _whole(text, 0, SEEDS, "expected a seed from")


def _run(text: str) -> int:
    """A run index: 0 to 2**63 - 1."""
    return _whole(text, 0, RUNS, "expected a run index from")


def _positive(text: str) -> int:
    """A count of games, workers or runs per chunk: 1 to 1,000,000,000 (a chunk, at most 100,000)."""
    return _whole(text, 1, COUNTS + 1, "expected a positive number,")


def _batch_args(p: argparse.ArgumentParser, name: str) -> None:
    """The flags every command made of batches shares."""
    p.add_argument("--seed", type=_seed, help="random seed, the same for every batch (default 0)")
    p.add_argument("--out", metavar="DIR", help=f"output folder, new or empty (default runs/{name}-SEED-TIME)")
    p.add_argument("--workers", type=_positive, help="local worker processes (default and most: all cores)")
    p.add_argument("--chunk", type=_positive, help="runs per chunk (default 5000, at most 100,000)")


def _half_width(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.01, got {text!r}") from None
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"expected a half-width between 0 and 0.5, got {value}")
    return value


def _actors(text: str) -> tuple[str, ...]:
    actors = tuple(a.strip() for a in text.split(",") if a.strip())
    if not actors:
        raise argparse.ArgumentTypeError("expected actors separated by commas, e.g. US,ROK")
    return actors


def _names(text: str) -> list[str]:
    names = [a.strip() for a in text.split(",") if a.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected variables separated by commas, e.g. tension,DPRK.economy")
    return names


def _doctrine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--doctrine", action="append", default=[], metavar="ACTOR=PRESET", help="override an actor's doctrine"
    )


def _emit(args, data: dict, lines) -> int:
    """Print a command's result: JSON with --json, else its readable lines."""
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print("\n".join(lines(data)))
    return 0


def cmd_list(args) -> int:
    from .format.catalog import bundled
    from .format.scenario import load

    for name, path in bundled().items():
        s = load(path).scenario
        print(f"{name:<12} {s.title}")
        print(textwrap.shorten(s.description, 80, initial_indent=" " * 13, placeholder="..."))
    return 0


def cmd_schema(args) -> int:
    from .format.model import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_show(args) -> int:
    from .authoring.show import describe, origins
    from .format.scenario import open_scenario

    loaded = open_scenario(args.scenario)
    if args.origin:
        print("\n".join(origins(loaded.document)))
        return 0
    return _emit(args, loaded.scenario.model_dump(mode="json", by_alias=True), lambda _: describe(loaded))


def cmd_validate(args) -> int:
    from .format.catalog import bundled, is_path
    from .format.scenario import load

    failed = False
    found = bundled()
    for path in args.paths:
        try:
            # a bundled name, as every other command takes; a path otherwise (even a missing one:
            # that is a located "no such file", like any other problem with the file)
            load(found[path] if path in found and not is_path(path) and not os.path.exists(path) else path)
            print(f"{printable(path)}: ok")
        except ScenarioError as exc:
            failed = True
            for problem in exc.problems:
                print(printable(problem), file=sys.stderr)
    return 2 if failed else 0


def cmd_new(args) -> int:
    import shlex

    from .authoring.skeleton import new_scenario

    path = shlex.quote(str(new_scenario(args.name, args.base)))
    print(f"wrote {path}; try it: ladder validate {path} && ladder play {path}")
    return 0


def cmd_lint(args) -> int:
    """Warnings on stdout (they are what lint produces), validation errors on stderr."""
    from .authoring.lint import lint
    from .format.catalog import resolve

    invalid = warned = False
    for spec, path in [(spec, resolve(spec)) for spec in args.paths]:
        try:
            warnings = lint(path)
        except ScenarioError as exc:
            invalid = True
            for problem in exc.problems:
                print(printable(problem), file=sys.stderr)
            continue
        warned = warned or bool(warnings)
        print("\n".join(map(str, warnings)) if warnings else f"{spec}: ok")
    return 2 if invalid else 1 if warned and args.strict else 0


def cmd_run(args) -> int:
    from .format.scenario import open_scenario, parse_doctrines

    loaded = open_scenario(args.scenario)
    chosen = parse_doctrines(args.doctrine, loaded.scenario)
    return _tell(loaded.scenario, loaded.name, args.seed, args.run_index, chosen, args.json, args.view)


def _tell(scenario, name: str, seed: int, run: int, chosen: dict, as_json: bool, view: str | None) -> int:
    """One game played and told, as the umpire saw it or as `view` did: the narrative, or JSON."""
    from .engine.rules import Rules
    from .engine.stepping import Engine
    from .format.scenario import check_actor
    from .play.narrative import game_record, narrate

    if view is not None:
        check_actor("--view", view, scenario)
    engine = Engine(Rules(scenario, name), seed=seed, runs=[run], doctrines=chosen).run()
    if as_json:
        json.dump(game_record(engine, name, view=view), sys.stdout, indent=1)
        print()
        return 0
    print(f"{scenario.title} -- seed {seed}, run {run}" + (f", as {view} saw it" if view else ""))
    doctrines_line = "Doctrines: " + ", ".join(f"{a} {d}" for a, d in engine.doctrine_names.items())
    print("\n".join(textwrap.wrap(doctrines_line, 80, subsequent_indent="  ")))
    print()
    print("\n".join(narrate(engine, view=view)))
    return 0


def cmd_batch(args) -> int:
    from .format.scenario import open_scenario, parse_doctrines
    from .montecarlo.backends import DaskBackend, LocalBackend
    from .montecarlo.batch import default_folder, run_batch
    from .montecarlo.chunks import Job, Plan, check_trajectories
    from .montecarlo.folder import Folder
    from .montecarlo.summary import table

    if args.resume:
        given = [flag for flag, value in (("SCENARIO", args.scenario), ("--runs", args.runs), ("--until-ci", args.until_ci),
                 ("--seed", args.seed), ("--doctrine", args.doctrine or None), ("--chunk", args.chunk), ("--out", args.out),
                 ("--events", args.events or None), ("--trajectories", args.trajectories))
                 if value is not None]
        if given:
            raise UsageError(f"--resume DIR takes no {', '.join(given)}: a batch resumes with the settings it was started with")
        _settle(args)
        folder = Folder(args.resume)
        with folder.locked():
            job, m = folder.job()
            plan = Plan(m["runs"], m["chunk"], args.workers, m["until_ci"])
            arguments = m["arguments"]
    else:
        if not args.scenario:
            raise UsageError("batch needs a SCENARIO (or --resume DIR)")
        if (args.runs is None) == (args.until_ci is None):
            raise UsageError("give either --runs N or --until-ci W")
        _settle(args)
        loaded = open_scenario(args.scenario)
        doctrines = parse_doctrines(args.doctrine, loaded.scenario)
        trajectories = check_trajectories(args.trajectories or [], loaded.scenario)
        variant = " ".join([loaded.name, *(f"--doctrine {a}={p}" for a, p in doctrines.items())])  # as `ladder compare` names it
        job = Job(loaded.scenario, loaded.name, args.seed, doctrines, variant, args.events, trajectories)
        folder = Folder(args.out or default_folder(loaded.name, args.seed))
        plan = Plan(args.runs, args.chunk, args.workers, args.until_ci)
        arguments = {k: v for k, v in vars(args).items() if k not in ("command", "json")}
    with folder.locked(create=not args.resume):
        if not args.resume:
            folder.claim()  # before a cluster is started for it
        backend = DaskBackend(args.dask, args.workers) if args.dask else LocalBackend(args.workers)
        try:
            result = run_batch(job, plan, folder, backend, arguments, csv=args.csv, resume=bool(args.resume), report=args.report)
        except KeyboardInterrupt:
            print(f"ladder: interrupted with {_kept(folder)}; finish: ladder batch --resume {folder.path}", file=sys.stderr)
            return 130
        except BatchError as exc:
            raise BatchError(f"{exc}; {_kept(folder)}, finish: ladder batch --resume {folder.path}") from None
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print("\n".join(table(result, folder.path, plan.until_ci)))
    return 0


def _kept(folder) -> str:
    try:
        return plural(folder.manifest()["runs_done"] or 0, "run", spec=",") + " kept"
    except (UsageError, ScenarioError):
        return "the finished runs kept"


def _settle(args) -> None:
    """The batch flags' defaults, filled in once it is known which were given: seed 0, chunks of
    5,000, a worker per core and no more (each keeps a core busy)."""
    cores = os.cpu_count() or 1
    if args.workers is not None and args.workers > cores:
        print(f"ladder: --workers {args.workers}: this machine has {cores} cores; using {cores}", file=sys.stderr)
    args.workers = min(args.workers or cores, cores)
    args.seed = args.seed or 0
    args.chunk = args.chunk or 5000


def cmd_compare(args) -> int:
    from pathlib import Path

    from .montecarlo.batch import default_folder
    from .montecarlo.compare import compare, compare_table

    _settle(args)
    out = Path(args.out or default_folder("compare", args.seed))
    arguments = {k: v for k, v in vars(args).items() if k not in ("command", "json")}
    try:
        result = compare(args.variants, args.runs, args.seed, out, args.workers, args.chunk, arguments)
    except KeyboardInterrupt:
        print(f"ladder: interrupted: partial results in {out}; run the comparison again with another --out", file=sys.stderr)
        return 130
    return _emit(args, result, lambda c: compare_table(c, out))


def cmd_sweep(args) -> int:
    from pathlib import Path

    from .montecarlo.batch import default_folder
    from .montecarlo.sweep import sweep, sweep_table

    _settle(args)
    out = Path(args.out or default_folder("sweep", args.seed))
    arguments = {k: v for k, v in vars(args).items() if k not in ("command", "json")}
    try:
        result = sweep(args.scenario, args.sets, args.runs, args.seed, out, args.workers, args.chunk, arguments)
    except KeyboardInterrupt:
        print(f"ladder: interrupted: partial results in {out}; run the sweep again with another --out", file=sys.stderr)
        return 130
    return _emit(args, result, lambda s: sweep_table(s, out))


def cmd_explore(args) -> int:
    from pathlib import Path

    from .format.scenario import open_scenario
    from .montecarlo.batch import default_folder
    from .montecarlo.explore import explore, explore_table, parse_vary
    from .montecarlo.sweep import parse_sets

    chunk = args.chunk  # unless given, a point's games are spread over the workers
    _settle(args)
    args.chunk = chunk
    varies, levers = parse_vary(args.vary), parse_sets(args.levers, "--lever")
    loaded = open_scenario(args.scenario)
    out = Path(args.out or default_folder("explore", args.seed))
    arguments = {k: v for k, v in vars(args).items() if k not in ("command", "json")}
    try:
        result = explore(loaded.scenario, loaded.name, str(loaded.path), varies, levers, args.method, args.points,
                         args.runs_per_point, args.seed, args.outcome, out, args.workers, args.chunk, arguments)
    except KeyboardInterrupt:
        print(f"ladder: interrupted: partial results in {out}; run the exploration again with another --out", file=sys.stderr)
        return 130
    if args.json:
        return _emit(args, {"indices": result["indices"], "prim": result["prim"]}, None)
    return _emit(args, result, lambda r: explore_table(r, out))


def cmd_replay(args) -> int:
    from .montecarlo.folder import Folder

    job = Folder(args.folder).replay(args.run_index)
    return _tell(job.scenario, job.name, job.seed, args.run_index, job.doctrines, args.json, args.view)


def cmd_calibrate(args) -> int:
    from .engine.rules import Rules
    from .format.scenario import open_scenario, parse_doctrines
    from .montecarlo.calibrate import calibrate, report

    loaded = open_scenario(args.scenario)
    if loaded.scenario.calibration is None:
        raise UsageError(f"{loaded.name} has no calibration section to compare with")
    chosen = parse_doctrines(args.doctrine, loaded.scenario)
    result = calibrate(Rules(loaded.scenario, loaded.name), args.runs, args.seed, chosen)
    return _emit(args, result, report)


def cmd_bench(args) -> int:
    from .bench import bench, bench_batch, bench_explore, bench_play, report, report_batch, report_explore, report_play

    if args.explore:
        return _emit(args, bench_explore(args.scenario, quick=args.quick), report_explore)
    if args.batch:
        return _emit(args, bench_batch(args.scenario, quick=args.quick), report_batch)
    if args.play:
        return _emit(args, bench_play(args.scenario, quick=args.quick), report_play)
    return _emit(args, bench(args.scenario, quick=args.quick), report)


def cmd_play(args) -> int:
    from tui.app import run_app

    if args.replay is not None and args.run_index is None:
        raise UsageError("--replay DIR needs --run I: the run of the batch to step through")
    if args.run_index is not None and args.replay is None:
        raise UsageError("--run goes with --replay DIR")
    if (args.resume or args.replay) and (args.scenario or args.players or args.watch):
        raise UsageError("--resume and --replay take the scenario and players from the file, not the command line")
    if (args.players or args.watch) and not args.scenario:
        raise UsageError("--as and --watch need a SCENARIO")
    return run_app(args)


COMMANDS = {
    "play": cmd_play,
    "list": cmd_list,
    "schema": cmd_schema,
    "show": cmd_show,
    "validate": cmd_validate,
    "new": cmd_new,
    "lint": cmd_lint,
    "run": cmd_run,
    "calibrate": cmd_calibrate,
    "batch": cmd_batch,
    "replay": cmd_replay,
    "compare": cmd_compare,
    "sweep": cmd_sweep,
    "explore": cmd_explore,
    "bench": cmd_bench,
}


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        command = args.command or "play"
        if command == "play" and not hasattr(args, "scenario"):
            args = _parser().parse_args(["play"])
        return COMMANDS[command](args)
    except BatchError as exc:
        print(f"ladder: error: {printable(exc)}", file=sys.stderr)
        return 1
    except ScenarioError as exc:
        for problem in exc.problems:
            print(printable(problem), file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"ladder: error: {printable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ladder: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # quiet exit when piped to `head`
        return 0
    except Exception as exc:  # a bug, not bad input: one line, the traceback on request
        if os.environ.get("LADDER_DEBUG"):
            raise
        print(f"ladder: internal error: {type(exc).__name__}: {printable(exc)} (set LADDER_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
