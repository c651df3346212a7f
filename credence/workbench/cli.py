"""The workbench's commands: ``credence inspect`` (serve), its users and lender tokens, and
``credence export`` (the daily file for the central credit registry)."""

from __future__ import annotations

import os
from datetime import date as Date
from pathlib import Path
from typing import Annotated

import typer

from credence.errors import UserError

__all__ = ["register"]

inspect_app = typer.Typer(
    help="The inspector workbench and lender API (web, 127.0.0.1:CREDENCE_INSPECT_PORT); "
         "with a subcommand, manage its users and lender tokens.",
    invoke_without_command=True)
users_app = typer.Typer(help="Workbench users (inspectors, supervisors): scrypt hashes in "
                        "CREDENCE_HOME/workbench/users.json.", no_args_is_help=True)
lenders_app = typer.Typer(help="Bearer tokens of the lender API (kept as SHA-256 digests in "
                          "CREDENCE_HOME/workbench/lenders.json).", no_args_is_help=True)
inspect_app.add_typer(users_app, name="users")
inspect_app.add_typer(lenders_app, name="lenders")


def _settings(principal: str = "inspector"):  # noqa: ANN202 - config.settings.Settings
    from config.settings import load

    return load(principal)


@inspect_app.callback()
def serve(ctx: typer.Context,
          host: Annotated[str | None, typer.Option(help="address to listen on (default "
                                                   "CREDENCE_INSPECT_HOST, 127.0.0.1)")] = None,
          port: Annotated[int | None, typer.Option(min=1, max=65535, help="port (default "
                                                   "CREDENCE_INSPECT_PORT, 8080)")] = None,
          ) -> None:
    """Serve the workbench and the lender API, fed from the topics as the inspector."""
    if ctx.invoked_subcommand is not None:
        return
    import redis
    from aiohttp import web

    from credence.workbench.app import Workbench, create_app
    from credence.workbench.feed import Feed

    s = _settings()
    s = s.model_copy(update={k: v for k, v in (("inspect_host", host), ("inspect_port", port))
                             if v is not None})
    wb = Workbench.from_settings(s)
    try:
        wb.model.r.ping()
    except redis.RedisError as e:
        raise UserError(f"Redis at {s.redis} does not answer: {e}") from None
    if not wb.users.list():
        typer.echo("no workbench user yet: add one with `credence inspect users add NAME`",
                   err=True)
    wb.feed = Feed(s, wb.model).start()
    typer.echo(f"workbench on http://{s.inspect_host}:{s.inspect_port}/ "
               f"(lender API under /api/v1/)", err=True)
    try:
        web.run_app(create_app(wb), host=s.inspect_host, port=s.inspect_port, print=None,
                    access_log=None)
    except OSError as e:
        raise UserError(f"cannot listen on {s.inspect_host}:{s.inspect_port}: "
                        f"{e.strerror or e}") from None
    finally:
        wb.feed.stop()


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name (lower-case letters, digits, _ or -)")],
    role: Annotated[str, typer.Option(help="inspector or supervisor")] = "inspector",
) -> None:
    """Add a user or set a user's password and role. The password is CREDENCE_INSPECT_PASSWORD
    if set (never an argument: argv is visible to every local user), else asked for."""
    from credence.workbench.auth import AuthError, UserStore

    password = os.environ.get("CREDENCE_INSPECT_PASSWORD")
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        UserStore(_settings().home).add(name, role, password)
    except AuthError as e:
        raise UserError(str(e)) from None
    typer.echo(f"{name} ({role})")


@users_app.command("list")
def users_list() -> None:
    """List the workbench's users and roles."""
    from credence.workbench.auth import UserStore

    for u in UserStore(_settings().home).list():
        typer.echo(f"{u.name:<20} {u.role}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="user name")]) -> None:
    """Remove a user (their sessions end at their next request)."""
    from credence.workbench.auth import AuthError, UserStore

    try:
        UserStore(_settings().home).remove(name)
    except AuthError as e:
        raise UserError(str(e)) from None
    typer.echo(f"removed {name}")


@lenders_app.command("add")
def lenders_add(name: Annotated[str, typer.Argument(help="lender name")]) -> None:
    """Make (or replace) a lender's bearer token and print it, once."""
    from credence.workbench.auth import AuthError, LenderTokens

    try:
        token = LenderTokens(_settings().home).add(name)
    except AuthError as e:
        raise UserError(str(e)) from None
    typer.echo(token)


@lenders_app.command("list")
def lenders_list() -> None:
    """List the lenders that have a token."""
    from credence.workbench.auth import LenderTokens

    for n in LenderTokens(_settings().home).names():
        typer.echo(n)


@lenders_app.command("remove")
def lenders_remove(name: Annotated[str, typer.Argument(help="lender name")]) -> None:
    """Revoke a lender's token."""
    from credence.workbench.auth import AuthError, LenderTokens

    try:
        LenderTokens(_settings().home).remove(name)
    except AuthError as e:
        raise UserError(str(e)) from None
    typer.echo(f"removed {name}")


def export(
    date: Annotated[str, typer.Option("--date", help="the day (UTC, YYYY-MM-DD) to export")],
    out: Annotated[Path, typer.Option(help="directory; the files go to OUT/DATE/")]
    = Path("registry"),
    catch_up: Annotated[bool, typer.Option(help="first read the topics into the read model "
                                           "(off: export what it already holds)")] = True,
) -> None:
    """Write a day's listing changes and score changes for the central credit registry:
    OUT/DATE/listings.jsonl, scores.jsonl and manifest.json (counts, SHA-256). The same day
    exported again gives the same bytes, and files already there are left alone."""
    import redis
    from confluent_kafka import KafkaException

    from credence.workbench.export import ExportError, write_day
    from credence.workbench.feed import Feed
    from credence.workbench.readmodel import ReadModel

    try:
        day = Date.fromisoformat(date)
    except ValueError:
        raise UserError(f"--date is YYYY-MM-DD, not {date!r}") from None
    s = _settings()
    try:
        model = ReadModel(s)
        if catch_up:
            feed = Feed(s, model)
            try:
                feed.drain(idle=2.0, timeout=600)
            finally:
                feed.stop()
        manifest, state = write_day(model, day, out)
    except redis.RedisError as e:
        raise UserError(f"Redis at {s.redis}: {e}") from None
    except KafkaException as e:
        raise UserError(f"Kafka at {s.kafka}: {e.args[0].str()}") from None
    except (ExportError, RuntimeError) as e:
        raise UserError(str(e)) from None
    typer.echo(f"{state}: {manifest}")


def register(app: typer.Typer) -> None:
    app.add_typer(inspect_app, name="inspect")
    app.command("export")(export)
