"""The ``credence`` command.

Errors a user can cause (a bad argument, a bad setting, a missing file, a service that does not
answer) print one line to stderr and exit 2; a traceback means a bug in Credence.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from typer._click import exceptions as click_exc  # typer >= 0.20 vendors click

from config.settings import Settings, SettingsError, load
from credence.errors import UserError

__all__ = ["app", "main", "UserError"]


def _settings_help() -> str:
    rows = []
    for name, f in Settings.model_fields.items():
        default = f.default_factory() if f.default_factory else f.default  # type: ignore[call-arg]
        rows.append(f"CREDENCE_{name.upper()}={default!s}  {f.description or ''}")
    return "Settings (environment, with defaults):\n\n" + "\n\n".join(rows)


app = typer.Typer(
    name="credence",
    help="Credence: live detection of credit manipulation for SME credit scores.",
    epilog=_settings_help(),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
stack_app = typer.Typer(help="Run a local Kafka broker and Redis without Docker.",
                        no_args_is_help=True)
topics_app = typer.Typer(help="Manage the contract's Kafka topics.", no_args_is_help=True)
users_app = typer.Typer(help="Manage the Kafka principals (SCRAM users and ACLs) and their "
                        "credential files under CREDENCE_HOME/credentials.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(users_app, name="users")


def settings(principal: str = "admin") -> Settings:
    """The settings, with the credentials of CREDENCE_KAFKA_USERNAME (else of ``principal``)."""
    return load(principal)


# ----------------------------------------------------------------------------- stack


@stack_app.command("up")
def stack_up(timeout: Annotated[float, typer.Option(help="seconds to wait for each service")]
             = 120.0) -> None:
    """Start Kafka and Redis (idempotent) and wait until both answer."""
    from credence.stack import Stack, StackError

    try:
        Stack(settings()).up(timeout=timeout, echo=typer.echo)
    except StackError as e:
        raise UserError(str(e)) from None


@stack_app.command("down")
def stack_down() -> None:
    """Stop the processes `stack up` started."""
    from credence.stack import Stack

    Stack(settings()).down(echo=typer.echo)


@stack_app.command("restart")
def stack_restart(
    service: Annotated[str, typer.Argument(help="kafka or redis")],
    kill: Annotated[bool, typer.Option("--kill", help="SIGKILL it (a crash), not SIGTERM")]
    = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for it to answer")] = 120.0,
) -> None:
    """Stop one service of the stack (or SIGKILL it) and start it again; its data stays.
    Idempotent: a service that does not run is just started."""
    from credence.stack import SERVICES, Stack, StackError

    if service not in SERVICES:
        raise UserError(f"unknown service {service!r} (kafka or redis)")
    try:
        Stack(settings()).restart(service, kill=kill, timeout=timeout, echo=typer.echo)
    except StackError as e:
        raise UserError(str(e)) from None


@stack_app.command("status")
def stack_status() -> None:
    """Show whether Kafka and Redis of the stack run; exit 1 if one does not."""
    from credence.stack import Stack

    rows = Stack(settings()).status()
    for r in rows:
        typer.echo(r.line())
    if not all(r.running for r in rows):
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- topics


@topics_app.command("create")
def topics_create(
    partitions: Annotated[int | None, typer.Option(min=1, help="partitions per topic "
                                                   "(default: CREDENCE_PARTITIONS)")] = None,
) -> None:
    """Create the contract's topics (with CREDENCE_TOPIC_PREFIX); existing ones are left alone."""
    from config.topics import TopicError, create_topics

    try:
        for name, state in create_topics(settings(), partitions).items():
            typer.echo(f"{state:<8} {name}")
    except TopicError as e:
        raise UserError(str(e)) from None


# ----------------------------------------------------------------------------- users


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name (lower-case letters, digits, _ or -)")],
    role: Annotated[str | None, typer.Option(help="worker, platform, agency, inspector or "
                                             "lender (default: the name, if it is a role)")]
    = None,
) -> None:
    """Create a principal (or re-apply an existing one's ACLs) and write its credential file.

    The password is CREDENCE_USER_PASSWORD if set (never an argument: argv is visible to every
    local user), else the one in its credential file, else a new random one."""
    import os

    from credence.security import ROLES, SecurityError, add_user

    role = role or (name if name in ROLES else None)
    if role is None:
        raise UserError(f"--role is needed for {name!r}: one of "
                        f"{', '.join(r for r in ROLES if r != 'admin')}")
    s = settings()
    try:
        path = add_user(s, name, role, s, password=os.environ.get("CREDENCE_USER_PASSWORD"))
    except SecurityError as e:
        raise UserError(str(e)) from None
    typer.echo(f"{name} ({role}): credentials in {path}")


@users_app.command("list")
def users_list() -> None:
    """List the principals: role, SCRAM credential on the broker, credential file (a removed
    principal keeps a retired credential on the broker and has no file)."""
    from config import credentials
    from credence.security import SecurityError, scram_users

    s = settings()
    try:
        on_broker = set(scram_users(s))
    except SecurityError as e:
        raise UserError(str(e)) from None
    for name in sorted(on_broker | set(credentials.names(s.home))):
        role = credentials.role_of(s.home, name) or "?"
        kafka = "scram" if name in on_broker else "no-scram"
        where = credentials.credentials_dir(s.home) / f"{name}.env"
        typer.echo(f"{name:<12} {role:<10} {kafka:<9} {where if where.exists() else '(no file)'}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="user name")]) -> None:
    """End a principal: its SCRAM login (its credential becomes one of an unknown password),
    its ACLs and its credential file."""
    from credence.security import SecurityError, remove_user

    s = settings()
    try:
        remove_user(s, name, s.home)
    except SecurityError as e:
        raise UserError(str(e)) from None
    typer.echo(f"removed {name}")


# ----------------------------------------------------------------------------- worker


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    role: Annotated[str, typer.Option(help="all: both stages; ingest or detect: one stage "
                                      "(scale ingest over cores, keep detection apart)")] = "all",
) -> None:
    """Run a stream worker: feature ingest on its share of the input partitions, and the
    detection stage when it holds the sequenced partition. Start as many as you like."""
    if loglevel.lower() not in ("debug", "info", "warning", "error"):
        raise UserError(f"--loglevel must be debug, info, warning or error, not {loglevel!r}")
    if role not in ("all", "ingest", "detect"):
        raise UserError(f"--role must be all, ingest or detect, not {role!r}")
    import redis

    from config.topics import TopicError
    from credence.store.redis import EvictionPolicyError
    from streams.app import run_worker

    s = settings("worker")
    try:
        run_worker(s, loglevel.lower(), role)  # type: ignore[arg-type]
    except (TopicError, EvictionPolicyError) as e:
        raise UserError(str(e)) from None
    except redis.RedisError as e:
        raise UserError(f"Redis at {s.redis}: {e}") from None


# ----------------------------------------------------------------------------- replay


@app.command()
def replay(
    files: Annotated[list[str], typer.Argument(help="JSON-lines event files; '-' is stdin")],
    out: Annotated[Path, typer.Option("--out", help="directory for the outputs")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no summary line")] = False,
) -> None:
    """Run detection and scoring in-process on event files (no Kafka, no Redis).

    Writes alerts.jsonl, blacklist.jsonl, scores.jsonl, suspicion.jsonl and dead-letters.jsonl
    to OUT: what the streaming path would publish for the same events in the same order.
    """
    from credence.replay import Replay

    stats = Replay(settings()).run(files, out)
    if not quiet:
        typer.echo(f"{stats.lines} lines, {stats.events} events, {stats.dead_letters} dead "
                   f"letters, {stats.late} late; {stats.alerts} alerts, {stats.blacklist} "
                   f"blacklist entries, {stats.scores} scores in {stats.seconds:.2f} s "
                   f"({stats.events_per_s:,.0f} events/s) -> {out}", err=True)


# ----------------------------------------------------------------------------- watch


def _line(topic: str, d: dict) -> str:
    if topic == "alerts":
        return (f"ALERT  {d['ts']}  {d['severity']:<6} {d['detector']:<17} seller {d['seller_id']}"
                f"  score {d['score']:.2f}  {d['summary']}")
    if topic == "blacklist":
        return (f"LIST   {d['ts']}  {d['action']:<6} {d['entity_type']:<7} {d['entity_id']}  "
                f"by {d['by']}: {d['reason']}")
    from credence.scoring import reason_text

    prev = "new" if d["previous"] is None else f"from {d['previous']}"
    # A code alone means nothing to a reader: its words go with it.
    why = "; ".join(f"{r['code']} {r.get('text') or reason_text(r['code'])}"
                    for r in d["reasons"])
    return f"SCORE  {d['ts']}  seller {d['seller_id']}  {d['score']} ({prev})  {why}"


@app.command()
def watch(
    topics: Annotated[list[str] | None, typer.Argument(
        help="alerts, blacklist, credit-scores (default: all three)")] = None,
    from_beginning: Annotated[bool, typer.Option(help="read each topic from its start")] = False,
    for_: Annotated[float | None, typer.Option("--for", min=0, help="stop after this many "
                                               "seconds")] = None,
    json_: Annotated[bool, typer.Option("--json", help="print the raw JSON values")] = False,
) -> None:
    """Print outputs as they arrive, with a plain Kafka consumer (what an inspector runs)."""
    import time
    import uuid

    import orjson

    from config.kafka import consumer

    names = topics or ["alerts", "blacklist", "credit-scores"]
    for t in names:
        if t not in ("alerts", "blacklist", "credit-scores"):
            raise UserError(f"unknown output topic {t!r} (alerts, blacklist, credit-scores)")
    s = settings()
    # A group named after the principal: readers may use groups prefixed by their own name.
    c = consumer(s, group=f"{s.kafka_username or 'credence'}-watch-{uuid.uuid4().hex[:8]}",
                 **{"auto.offset.reset": "earliest" if from_beginning else "latest"})
    by_name = {s.topic(t): t for t in names}
    c.subscribe(list(by_name))
    deadline = None if for_ is None else time.monotonic() + for_
    try:
        while deadline is None or time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            if json_:
                typer.echo(m.value().decode())
            else:
                typer.echo(_line(by_name[m.topic()], orjson.loads(m.value())))
    except KeyboardInterrupt:
        pass
    finally:
        c.close()


# ----------------------------------------------------------------------------- score


@app.command()
def score(seller: Annotated[str, typer.Argument(help="seller id")],
          json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Print a seller's credit score, components, reasons and recent history (from Redis)."""
    import orjson
    import redis

    from credence.scoring import reason_text
    from credence.store.keys import score_history, view
    from credence.store.redis import connect

    s = settings()
    r = connect(s, decode=False, socket_timeout=5)
    try:
        cur = r.hget(view(s.key_prefix, "score"), seller)
        hist = r.lrange(score_history(s.key_prefix, seller), 0, -1)
        susp = r.hget(view(s.key_prefix, "susp"), seller)
        listed = r.hget(view(s.key_prefix, "blacklist"), seller)
    except redis.RedisError as e:
        raise UserError(f"Redis at {s.redis} does not answer: {e}") from None
    if cur is None:
        raise UserError(f"no score for seller {seller!r} (is a worker running on these topics?)")
    d = orjson.loads(cur)
    if json_:
        typer.echo(orjson.dumps({"score": d, "history": [orjson.loads(h) for h in hist],
                                 "suspicion": orjson.loads(susp) if susp else None,
                                 "blacklist": orjson.loads(listed) if listed else None}))
        return
    typer.echo(f"seller {seller}: {d['score']} (previous {d['previous']}) as of {d['ts']}")
    typer.echo("components:")
    for k, v in d["components"].items():
        typer.echo(f"  {k:<18} {v:+7.1f}")
    typer.echo("reasons:")
    for rr in d["reasons"]:
        typer.echo(f"  {rr['code']}  {rr.get('text') or reason_text(rr['code'])}")
    if susp:
        sd = orjson.loads(susp)
        typer.echo(f"suspicion: {sd['score']:.2f} {sd['detectors']}")
    if listed:
        ld = orjson.loads(listed)
        typer.echo(f"blacklist: {ld['action']} by {ld['by']} at {ld['ts']}: {ld['reason']}")
    typer.echo("history (newest first):")
    for h in hist:
        hd = orjson.loads(h)
        typer.echo(f"  {hd['ts']}  {hd['score']}")


# ----------------------------------------------------------------------------- eval


@app.command("eval")
def eval_(
    files: Annotated[list[Path] | None, typer.Argument(
        help="EVENTS TRUTH: an events.jsonl and its truth.json (default: simulate)")] = None,
    scenario: Annotated[list[str] | None, typer.Option(
        help="simulated background(s): synthetic, bitcoin-alpha (repeatable)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="simulation seed (with --worlds: the "
                                      "first of N consecutive seeds)")] = 7,
    scale: Annotated[float, typer.Option(min=0.01, max=20, help="simulation scale")] = 1.0,
    worlds: Annotated[int | None, typer.Option(min=1, max=1000, help="evaluate N drawn worlds "
                                               "and report the mean and the worst")] = None,
    world: Annotated[str, typer.Option(help="drawn: the seed draws the whole world; classic: "
                                       "the fixed classic scenario")] = "drawn",
    jobs: Annotated[int, typer.Option(min=1, max=64, help="worlds evaluated in parallel")] = 2,
    keep: Annotated[bool, typer.Option(help="with --worlds: keep each world's events and "
                                       "replay outputs under OUT")] = False,
    out: Annotated[Path, typer.Option(help="directory for the report(s)")] = Path("reports"),
) -> None:
    """Replay events with known truth and report detection quality and score behaviour.

    Prints per pattern and family: seller and account precision/recall/F1 of the final
    blacklist, account ROC AUC and average precision of the final suspicion, hours to first
    alert; victims, hard negatives and honest entities ever listed; writes
    OUT/<scenario>/report.md with PR-curve and time-to-detect plots. With --worlds N, draws N
    worlds from seeds SEED..SEED+N-1 and prints the mean and the worst world
    (OUT/worlds-<scenario>.md and .json).
    """
    from credence.evaluation import evaluate, write_report

    backgrounds = scenario or ["synthetic"]
    for name in backgrounds:
        if name not in ("synthetic", "bitcoin-alpha"):
            raise UserError(f"unknown scenario {name!r} (synthetic or bitcoin-alpha)")
    if world not in ("drawn", "classic"):
        raise UserError(f"--world is drawn or classic, not {world!r}")
    if worlds is not None:
        if files:
            raise UserError("--worlds simulates its worlds: drop EVENTS TRUTH")
        from credence.worlds import aggregate, dump, run_worlds, table

        for name in backgrounds:
            results = run_worlds(range(seed, seed + worlds), scale=scale, background=name,
                                 jobs=jobs, keep=out / f"worlds-{name}" if keep else None,
                                 echo=lambda m: typer.echo(m, err=True))
            agg = aggregate(results)
            text = table(agg, name)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"worlds-{name}.md").write_text(text + "\n")
            dump(results, agg, out / f"worlds-{name}.json")
            typer.echo(text)
            typer.echo(f"\nreport: {out / f'worlds-{name}.md'}\n")
        return
    runs: list[tuple[str, Path, Path]] = []
    if files:
        if len(files) != 2:
            raise UserError("give EVENTS and TRUTH files, or none (then a scenario is simulated)")
        for f in files:
            if not f.is_file():
                raise UserError(f"no such file: {f}")
        runs.append(("files", files[0], files[1]))
    else:
        from producers.scenario import Scenario
        from producers.simulator import simulate, write

        for name in backgrounds:
            sc = (Scenario.drawn(seed, scale=scale, background=name)  # type: ignore[arg-type]
                  if world == "drawn"
                  else Scenario(seed=seed, scale=scale, background=name))  # type: ignore[arg-type]
            sim = simulate(sc)
            ev, tr = write(sim, out / name / "input")
            runs.append((name, ev, tr))
    for name, ev, tr in runs:
        report = evaluate(settings(), ev, tr, scenario=name)
        md = write_report(report, out / name)
        typer.echo(md.read_text().split("![PR curves]")[0].rstrip())
        typer.echo(f"\nreport: {md}\n")


# ----------------------------------------------------------------------------- bench


@app.command()
def bench(
    scale: Annotated[float, typer.Option(min=0.01, max=5, help="simulated scenario scale")] = 0.2,
    rate: Annotated[float, typer.Option(min=1, help="events/s for the latency run")] = 5000.0,
    seconds: Annotated[float, typer.Option(min=1, help="length of the latency run")] = 20.0,
    split: Annotated[bool, typer.Option("--split/--single", help="one ingest and one detect "
                                        "process, or one worker running both")] = True,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Measure worker throughput and latency, raw consume rate, replay rate and Redis memory on
    the running broker and Redis (isolated topics and keys, removed afterwards)."""
    import orjson

    from config.topics import TopicError
    from credence.bench import as_dict, run_bench

    try:
        res = run_bench(settings(), scale=scale, rate=rate, latency_seconds=seconds, split=split,
                        echo=lambda m: typer.echo(m, err=True))
    except TopicError as e:
        raise UserError(str(e)) from None
    typer.echo(orjson.dumps(as_dict(res)).decode() if json_ else res.table())


# ----------------------------------------------------------------------------- chaos


@app.command()
def chaos(
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", "-s", help="kills, broker-restart, redis-restart, rebalances, maxmemory, "
        "kafka-unreachable, redis-unreachable (repeatable; default: all)")] = None,
    events: Annotated[int, typer.Option(min=100, max=20_000_000, help="input lines of the kill "
                                        "run (a simulated marketplace)")] = 1_000_000,
    other_events: Annotated[int, typer.Option(min=100, max=20_000_000, help="input lines of "
                                              "every other scenario")] = 50_000,
    kills: Annotated[int, typer.Option(min=1, max=1000, help="SIGKILLs in the kill run")] = 20,
    unreachable: Annotated[float, typer.Option(min=1, max=3600, help="seconds Kafka or Redis "
                                               "stays unreachable")] = 30.0,
    seed: Annotated[int, typer.Option(min=0, help="simulation and fault-timing seed")] = 11,
    out: Annotated[Path, typer.Option(help="directory for logs, inputs and results.json")]
    = Path("reports/chaos"),
) -> None:
    """Fault suite: real workers under real faults (SIGKILLs, broker and Redis crashes,
    rebalances, a full Redis, Kafka or Redis unreachable), each run compared with `credence
    replay` of the same input by output id. Prints the figures; exits 1 if anything was lost,
    duplicated or different. Needs the running stack (`credence stack up`); works in topics and
    keys of its own, removed afterwards."""
    import orjson

    from credence.chaos import SCENARIOS, reference, simulated_events, table
    from credence.chaos import scenario as run
    from credence.stack import Stack

    names = scenario or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            raise UserError(f"unknown scenario {n!r} ({', '.join(SCENARIOS)})")
    s = settings()
    if not all(st.running for st in Stack(s).status()):
        raise UserError("the stack does not run: `credence stack up` first (same CREDENCE_HOME, "
                        "CREDENCE_KAFKA and CREDENCE_REDIS)")
    out.mkdir(parents=True, exist_ok=True)
    import signal

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the arena then kills its workers and removes its topics

    signal.signal(signal.SIGTERM, _interrupt)
    inputs: dict[int, list[bytes]] = {}
    refs = {}
    results = []
    for n in names:
        count = events if n == "kills" else other_events
        if count not in inputs:
            typer.echo(f"simulating {count:,} events (seed {seed}) and replaying them", err=True)
            inputs[count] = simulated_events(count, seed)
            refs[count] = reference(s, inputs[count], out / f"reference-{count}")
        r = run(n, s, inputs[count], out, kills=kills, unreachable_seconds=unreachable,
                seed=seed, echo=lambda m: typer.echo(m, err=True), ref=refs[count])
        results.append(r)
        typer.echo(f"{n}: {'ok' if r.ok else 'FAILED'} in {r.seconds:.0f} s; "
                   + "; ".join(r.notes[:4]), err=True)
        (out / "results.json").write_bytes(orjson.dumps([x.as_dict() for x in results],
                                                        option=orjson.OPT_INDENT_2))
    typer.echo(table(results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- packages

def _register_packages() -> None:
    # Each package owns its commands; imports inside the commands keep `credence --help` fast.
    from credence.workbench.cli import register as register_workbench
    from producers.cli import register as register_producers

    register_producers(app)
    register_workbench(app)


_register_packages()


# ----------------------------------------------------------------------------- entry point


def _fail(msg: str, code: int = 2) -> None:
    print(f"credence: error: {msg}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        load()  # a bad setting is reported before any command runs
        # Without standalone mode click returns a command's exit status instead of exiting.
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except SettingsError as e:
        _fail(str(e))
    except UserError as e:
        _fail(str(e))
    except click_exc.NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx else e.format_message())
        sys.exit(0)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except click_exc.ClickException as e:
        # Usage errors: one line plus the hint click would give.
        hint = f" (see '{e.ctx.command_path} --help')" if getattr(e, "ctx", None) else ""
        _fail(f"{e.format_message()}{hint}", e.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    except FileNotFoundError as e:
        _fail(f"no such file: {e.filename}")
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
