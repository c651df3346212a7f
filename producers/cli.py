"""CLI commands of the producers package, registered on the `credence` app by credence/cli.py.

``credence simulate`` writes a scenario to files or publishes it to Kafka; ``credence produce``
publishes any contract JSONL file. Imports stay inside the commands so `credence --help` is fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import typer

from credence.errors import UserError

__all__ = ["register", "BackgroundChoice"]


class BackgroundChoice(StrEnum):
    synthetic = "synthetic"
    bitcoin_alpha = "bitcoin-alpha"


def _settings():
    from config.settings import load

    return load()


def simulate(
    out: Annotated[Path | None, typer.Option(
        "--out", help="write DIR/events.jsonl and DIR/truth.json (default: publish to Kafka)",
        file_okay=False)] = None,
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 7,
    scale: Annotated[float, typer.Option(min=0.001, max=20, help="multiplies population "
                                         "sizes and pattern counts")] = 1.0,
    background: Annotated[BackgroundChoice, typer.Option(
        help="honest traffic: a synthetic marketplace or the Bitcoin-Alpha ratings")]
    = BackgroundChoice.synthetic,
    inject: Annotated[bool, typer.Option("--inject/--no-inject",
                                         help="inject patterns and hard negatives")] = True,
    world: Annotated[str, typer.Option(
        help="drawn: the seed draws the whole world (market shape, fields sent, counts, "
             "adversaries); classic: the fixed classic scenario")] = "drawn",
    settings_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="NAME=VALUE",
        help="scenario setting, repeatable: wash_ring.count=3, review_farm.intensity=2, "
             "flash_sale.count=0, days=14, buyers=20000, inject_start=2013-06-01T00:00:00Z "
             "(counts are at scale 1.0 and scaled like the population)")] = None,
    dataset: Annotated[Path | None, typer.Option(
        help="Bitcoin-Alpha directory (default: $CREDENCE_DATASETS/bitcoin-alpha or "
             "../shared/datasets/bitcoin-alpha)")] = None,
    rate: Annotated[float | None, typer.Option(min=0.001, help="Kafka: events per second")]
    = None,
    speedup: Annotated[float | None, typer.Option(
        min=0.001, help="Kafka: replay event time this many times faster than real time")]
    = None,
    live: Annotated[bool, typer.Option(help="Kafka: start the simulated period now "
                                       "(for demos)")] = False,
    truth: Annotated[Path | None, typer.Option(
        help="Kafka: also write the truth here", dir_okay=False)] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="progress line on stderr")] = True,
) -> None:
    """Simulate a marketplace with injected manipulation and write or publish it."""
    from credence.contract import TOPIC_OF_TYPE, iso
    from producers.publisher import Pacer, PublishError, publish
    from producers.scenario import Scenario, ScenarioError
    from producers.simulator import simulate as run
    from producers.simulator import write
    from producers.truth import write_truth

    if rate is not None and speedup is not None:
        raise UserError("give --rate or --speedup, not both")
    if out is not None and (rate is not None or speedup is not None or live):
        raise UserError("--rate, --speedup and --live pace Kafka output; drop them with --out")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    if world not in ("drawn", "classic"):
        raise UserError(f"--world is drawn or classic, not {world!r}")
    updates: dict[str, object] = {"inject": inject}
    if live:
        import time

        # Whole seconds keep the file's timestamps readable.
        updates["start"] = iso(int(time.time()) * 1000)
    try:
        if world == "drawn":
            base = Scenario.drawn(seed, scale=scale, background=background.value)  # type: ignore[arg-type]
            scenario = base.model_copy(update=updates).with_settings(list(settings_ or []))
        else:
            scenario = Scenario(seed=seed, scale=scale, background=background.value,  # type: ignore[arg-type]
                                **updates).with_settings(list(settings_ or []))  # type: ignore[arg-type]
    except (ScenarioError, ValueError) as e:
        raise UserError(f"bad scenario: {str(e).splitlines()[0]}") from None
    if live and scenario.background == "bitcoin-alpha":
        raise UserError("--live does not apply to the bitcoin-alpha background (its times "
                          "come from the data); drop --live")
    if scenario.background == "bitcoin-alpha":
        from producers.bitcoin_alpha import dataset_dir

        d = dataset_dir(dataset)
        for f in ("ratings.csv", "labels.csv"):
            if not (d / f).is_file():
                raise UserError(f"no such file: {d / f}")
    try:
        sim = run(scenario, dataset=dataset)
    except ValueError as e:  # ScenarioError too: a scenario that cannot be built as asked
        raise UserError(f"bad scenario: {str(e).splitlines()[0]}") from None
    counts = sim.truth.counts
    made = (f"{counts['events']:,} events ({counts['orders']:,} orders, "
            f"{counts['refunds']:,} refunds, {counts['reviews']:,} reviews, "
            f"{counts['records']:,} records; {counts['sellers']:,} sellers, "
            f"{counts['accounts']:,} accounts) generated in {sim.seconds:.1f} s")
    if out is not None:
        events_path, truth_path = write(sim, out)
        typer.echo(f"wrote {events_path} and {truth_path}: {made}")
        return
    if truth is not None:
        truth.parent.mkdir(parents=True, exist_ok=True)
        write_truth(sim.truth, truth)
    ev = sim.events
    stream = ((TOPIC_OF_TYPE[t], k, v, ts)
              for t, k, v, ts in zip(ev.types, ev.keys, ev.lines, ev.ts, strict=True))
    typer.echo(made, err=True)
    try:
        stats = publish(_settings(), stream, total=len(ev.lines),  # type: ignore[arg-type]
                        pacer=Pacer(rate, speedup), progress=progress, label="simulate")
    except PublishError as e:
        raise UserError(str(e)) from None
    typer.echo(stats.summary())
    if stats.failed:
        raise typer.Exit(1)


def _lines(files: list[str]) -> Iterator[tuple[str, int, bytes]]:
    for name in files:
        fh: IO[bytes]
        if name == "-":
            fh, label = sys.stdin.buffer, "<stdin>"
        else:
            fh, label = open(name, "rb"), name  # closed below
        try:
            for n, raw in enumerate(fh, 1):
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    yield label, n, line
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()


def produce(
    files: Annotated[list[str], typer.Argument(help="contract JSONL files; - for stdin",
                                               metavar="FILE...")],
    rate: Annotated[float | None, typer.Option(min=0.001, help="events per second "
                                               "(default: as fast as possible)")] = None,
    validate: Annotated[bool, typer.Option(
        "--validate/--no-validate",
        help="skip lines that are not valid contract events (--no-validate sends every JSON "
             "object with a routable type as it is)")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="progress line on stderr")] = True,
) -> None:
    """Publish contract events from JSONL files to their topics, keyed per the contract."""
    from producers.publisher import Pacer, Publisher, PublishError, RouteError, route

    for name in files:
        if name != "-" and not Path(name).is_file():
            raise UserError(f"no such file: {name}")
    try:
        pub = Publisher(_settings(), pacer=Pacer(rate), progress=progress, label="produce")
    except PublishError as e:
        raise UserError(str(e)) from None
    skipped = 0
    for label, n, line in _lines(files):
        try:
            topic, key, ts = route(line, validate=validate)
        except RouteError as e:
            skipped += 1
            print(f"{label}:{n}: {e}", file=sys.stderr)
            continue
        pub.send(topic, key, line, ts)
    stats = pub.close()
    stats.skipped = skipped
    typer.echo(stats.summary())
    if stats.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the producers' commands (simulate, produce) to ``app``."""
    app.command("simulate")(simulate)
    app.command("produce")(produce)
