"""The workbench's web app (aiohttp, jinja2 pages): login, queue, case, decide, audit.

Every page but the login needs a session; every POST needs the session's CSRF token (the login
form its own signed one); cookies are HttpOnly and SameSite=Strict; pages carry a
Content-Security-Policy that allows only the app's own script and styles. The read model is a
synchronous Redis client, so handlers call it in a thread and the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from config.settings import Settings
from credence.contract import parse_ts
from credence.scoring import reason_text
from credence.workbench.auth import LenderTokens, Session, SessionStore, Signer, UserStore
from credence.workbench.decisions import DecisionError, DecisionSender, decision_events
from credence.workbench.plots import line_chart
from credence.workbench.readmodel import QueueFilter, ReadModel

__all__ = ["Workbench", "create_app", "WORKBENCH", "SESSION_COOKIE"]

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "credence_session"
LOGIN_COOKIE = "credence_login"
MAX_REASON = 2000
# The one place a public path is listed: everything else needs a session (pages) or a lender
# token (the API, which checks its own).
PUBLIC = ("/login", "/static/", "/api/", "/health", "/favicon.ico")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Workbench:
    """What the handlers share."""
    settings: Settings
    model: ReadModel
    users: UserStore
    lenders: LenderTokens
    sessions: SessionStore
    sender: DecisionSender
    signer: Signer  # session cookies
    login_signer: Signer  # the login form's CSRF token
    feed: Any = None  # credence.workbench.feed.Feed, when this process feeds the read model

    @classmethod
    def from_settings(cls, settings: Settings, model: ReadModel | None = None,
                      sender: DecisionSender | None = None) -> Workbench:
        from config.keys import load_key

        model = model if model is not None else ReadModel(settings)
        key = load_key(settings, "inspect")
        return cls(settings, model, UserStore(settings.home), LenderTokens(settings.home),
                   SessionStore(model.r, settings.inspect_prefix,
                                int(settings.inspect_session_hours * 3600)),
                   sender if sender is not None else DecisionSender(settings),
                   Signer(key, "session"), Signer(key, "login"))


WORKBENCH: web.AppKey[Workbench] = web.AppKey("workbench", Workbench)
JINJA: web.AppKey[jinja2.Environment] = web.AppKey("jinja", jinja2.Environment)


async def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def _wb(request: web.Request) -> Workbench:
    return request.app[WORKBENCH]


SESSION: web.RequestKey[Session | None] = web.RequestKey("session", object)  # type: ignore[arg-type]


def _session(request: web.Request) -> Session | None:
    return request.get(SESSION)


# ----------------------------------------------------------------------------- middleware


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        resp = await handler(request)
    except web.HTTPException as e:
        resp = e
    h = resp.headers
    h.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                 "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "no-store")
    if isinstance(resp, web.HTTPException):
        raise resp
    return resp


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session of the signed cookie; demand one off the public paths; check the CSRF
    token of every POST."""
    wb = _wb(request)
    sid = wb.signer.unsign(request.cookies.get(SESSION_COOKIE))
    session = await _run(wb.sessions.get, sid) if sid else None
    if session is not None and wb.users.get(session.user.name) is None:
        session = None  # a removed user's sessions end with it
    request[SESSION] = session
    public = request.path.startswith(PUBLIC)
    if not public and session is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther("/login?" + urlencode({"next": request.path_qs}))
        raise web.HTTPForbidden(text="login required")
    if request.method == "POST" and not request.path.startswith(("/login", "/api/")):
        form = await request.post()
        token = str(form.get("csrf") or request.headers.get("X-CSRF-Token") or "")
        if session is None or not secrets.compare_digest(token, session.csrf):
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
    return await handler(request)


# ----------------------------------------------------------------------------- rendering


def _template_env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["reason_text"] = reason_text
    env.filters["q"] = lambda s: quote(str(s), safe="")
    env.globals["is_list"] = lambda v: isinstance(v, list | tuple)
    env.globals["is_dict"] = lambda v: isinstance(v, dict)
    return env


def render(request: web.Request, name: str, status: int = 200, **ctx: Any) -> web.Response:
    s = _session(request)
    text = request.app[JINJA].get_template(name).render(
        user=s.user if s else None, csrf=s.csrf if s else "", path=request.path, **ctx)
    return web.Response(text=text, content_type="text/html", status=status)


def _safe_next(target: str | None) -> str:
    # Only a path of this site: "//evil.example" or "https://..." would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/queue"


# ----------------------------------------------------------------------------- login


async def login_page(request: web.Request) -> web.Response:
    wb = _wb(request)
    # One token per browser, kept while its cookie is valid: a second login page (another tab,
    # or a redirect of the browser's own requests) must not invalidate the first form.
    token = wb.login_signer.unsign(request.cookies.get(LOGIN_COOKIE)) or \
        secrets.token_urlsafe(24)
    resp = render(request, "login.html", login_csrf=token,
                  next=_safe_next(request.query.get("next")), error=None)
    _set_cookie(resp, wb, LOGIN_COOKIE, wb.login_signer.sign(token), max_age=3600)
    return resp


def _set_cookie(resp: web.StreamResponse, wb: Workbench, name: str, value: str,
                max_age: int) -> None:
    resp.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                    secure=wb.settings.inspect_cookie_secure)


async def login(request: web.Request) -> web.StreamResponse:
    wb = _wb(request)
    form = await request.post()
    expected = wb.login_signer.unsign(request.cookies.get(LOGIN_COOKIE))
    if not expected or not secrets.compare_digest(str(form.get("csrf", "")), expected):
        raise web.HTTPForbidden(text="missing or wrong CSRF token (reload the login page)")
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    user = await _run(wb.users.authenticate, name, password)
    nxt = _safe_next(str(form.get("next", "")))
    if user is None:
        resp = render(request, "login.html", status=401, login_csrf=expected, next=nxt,
                      error="Unknown user or wrong password.")
        return resp
    session = await _run(wb.sessions.create, user)
    resp = web.HTTPSeeOther(nxt)
    _set_cookie(resp, wb, SESSION_COOKIE, wb.signer.sign(session.sid),
                max_age=wb.sessions.ttl)
    resp.del_cookie(LOGIN_COOKIE, path="/")
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    wb = _wb(request)
    s = _session(request)
    if s is not None:
        await _run(wb.sessions.delete, s.sid)
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


# ----------------------------------------------------------------------------- queue


def _filter(request: web.Request) -> QueueFilter:
    q = request.query
    return QueueFilter(severity=q.get("severity", ""), detector=q.get("detector", ""),
                       listed=q.get("listed", ""), assignee=q.get("assignee", ""),
                       search=q.get("q", "").strip(), overdue=q.get("overdue") == "1")


async def queue_page(request: web.Request) -> web.Response:
    wb = _wb(request)
    f = _filter(request)
    rows, detectors, version = await asyncio.gather(_run(wb.model.queue, f),
                                                    _run(wb.model.detectors),
                                                    _run(wb.model.version))
    return render(request, "queue.html", rows=rows, f=f, detectors=detectors, version=version,
                  query=request.query_string, sla=wb.settings.inspect_sla_hours,
                  feed_error=getattr(wb.feed, "error", None))


async def queue_rows(request: web.Request) -> web.Response:
    """The queue's table body alone: the page's script swaps it in when the model changed."""
    wb = _wb(request)
    rows = await _run(wb.model.queue, _filter(request))
    resp = render(request, "queue_rows.html", rows=rows)
    resp.headers["X-Model-Version"] = str(await _run(wb.model.version))
    return resp


async def queue_version(request: web.Request) -> web.Response:
    return web.json_response({"version": await _run(_wb(request).model.version)})


async def _casework(wb: Workbench, row: dict[str, Any]) -> None:
    """Send an assignment or note to its topic (durable first), then show it at once; the feed
    applies it again when it reads it back, which changes nothing."""
    try:
        await _run(wb.sender.send_casework, row)
    except DecisionError as e:
        raise web.HTTPServiceUnavailable(text=str(e)) from None
    await _run(wb.model.apply_casework, row)


async def next_unassigned(request: web.Request) -> web.StreamResponse:
    """Take the most urgent case nobody has: assign it to me and open it."""
    wb = _wb(request)
    s = _session(request)
    assert s is not None  # noqa: S101 - the middleware let only sessions through
    entity = await _run(wb.model.next_unassigned)
    if entity is None:
        raise web.HTTPSeeOther("/queue?none=1")
    await _casework(wb, ReadModel.casework_row("assign", entity, s.user.name,
                                                 assignee=s.user.name))
    raise web.HTTPSeeOther(f"/case/{quote(entity, safe='')}")


# ----------------------------------------------------------------------------- case


def _series(case: dict[str, Any]) -> tuple[dict[str, list[tuple[int, float]]],
                                           dict[str, list[tuple[int, float]]]]:
    susp: dict[str, list[tuple[int, float]]] = {}
    for a in case["alerts"]:
        susp.setdefault(a["detector"], []).append((parse_ts(a["ts"]), float(a["score"])))
    score = {"credit score": [(parse_ts(x["ts"]), float(x["score"])) for x in case["scores"]]}
    return susp, score


async def case_page(request: web.Request) -> web.Response:
    wb = _wb(request)
    entity = request.match_info["entity"]
    case = await _run(wb.model.case, entity)
    if not case["alerts"] and not case["listing"] and not case["score"] and \
            not case["decisions"]:
        return render(request, "missing.html", status=404, entity=entity)
    susp, score = _series(case)
    charts = [line_chart(susp, y_min=0, y_max=1, title="Alert score per detector",
                         threshold=wb.settings.blacklist_threshold),
              line_chart(score, y_min=350, y_max=950, title="Credit score")]
    entity_type = "seller" if case["alerts"] or case["score"] else \
        (case["listing"] or {}).get("entity_type", "account")
    return render(request, "case.html", case=case, charts=charts, entity_type=entity_type,
                  sent=request.query.get("sent"), error=None, state=_state(case))


def _state(case: dict[str, Any]) -> str:
    """What changes on a case page when the worker has applied a decision: its listing, its
    decisions and its open alerts."""
    b = case["listing"] or {}
    return f"{b.get('ts')}|{b.get('action')}|{b.get('by')}|{len(case['decisions'])}|" \
        f"{len(case['open'])}"


async def case_state(request: web.Request) -> web.Response:
    """The page's script polls this after a decision and reloads when it changed."""
    wb = _wb(request)
    case = await _run(wb.model.case, request.match_info["entity"])
    return web.json_response({"state": _state(case)})


async def assign(request: web.Request) -> web.StreamResponse:
    wb = _wb(request)
    s = _session(request)
    assert s is not None  # noqa: S101
    entity = request.match_info["entity"]
    await _casework(wb, ReadModel.casework_row("assign", entity, s.user.name,
                                                 assignee=s.user.name))
    raise web.HTTPSeeOther(f"/case/{quote(entity, safe='')}")


async def add_note(request: web.Request) -> web.StreamResponse:
    wb = _wb(request)
    s = _session(request)
    assert s is not None  # noqa: S101
    entity = request.match_info["entity"]
    text = str((await request.post()).get("note", "")).strip()
    if not text or len(text) > MAX_REASON:
        raise web.HTTPBadRequest(text=f"a note is 1-{MAX_REASON} characters")
    await _casework(wb, ReadModel.casework_row("note", entity, s.user.name, note=text))
    raise web.HTTPSeeOther(f"/case/{quote(entity, safe='')}#notes")


async def decide(request: web.Request) -> web.StreamResponse:
    wb = _wb(request)
    s = _session(request)
    assert s is not None  # noqa: S101
    entity = request.match_info["entity"]
    form = await request.post()
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip()
    alert_ids = [str(x) for x in form.getall("alert_id", [])]
    entity_type = str(form.get("entity_type", "seller"))
    case = await _run(wb.model.case, entity)
    problem = None
    if action not in ("confirm", "dismiss", "lift"):
        problem = "Choose confirm, dismiss or lift."
    elif not reason:
        problem = "A reason is required."
    elif len(reason) > MAX_REASON:
        problem = f"A reason is at most {MAX_REASON} characters."
    elif entity_type not in ("seller", "account"):
        problem = "The entity is a seller or an account."
    elif set(alert_ids) - {a["alert_id"] for a in case["alerts"]}:
        problem = "An alert chosen is not one of this case's."
    if problem is None:
        try:
            # The inspector is the login, never a form field.
            events = decision_events(entity, entity_type, action, s.user.name, alert_ids,
                                     reason)
            await _run(wb.sender.send, events)
        except DecisionError as e:
            problem = str(e)
    if problem is not None:
        susp, score = _series(case)
        charts = [line_chart(susp, y_min=0, y_max=1, title="Alert score per detector"),
                  line_chart(score, y_min=350, y_max=950, title="Credit score")]
        return render(request, "case.html", status=400, case=case, charts=charts,
                      entity_type=entity_type, sent=None, error=problem, state=_state(case))
    raise web.HTTPSeeOther(f"/case/{quote(entity, safe='')}?sent={len(events)}")


# ----------------------------------------------------------------------------- audit

AUDIT_COLUMNS = ("ts", "kind", "entity_id", "entity_type", "action", "who", "alert",
                 "reason")


def _audit_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for r in rows:
        who = r.get("inspector") or r.get("by") or ""
        action = r.get("action") or ("assigned to " + r["assignee"] if r.get("assignee")
                                     else "")
        alert = r.get("alert_id") or ", ".join(r.get("alert_ids") or [])
        out.append({"ts": r["ts"], "kind": r["kind"], "entity_id": r["entity_id"],
                    "entity_type": r.get("entity_type") or "", "action": action,
                    "who": who, "alert": alert or "",
                    "reason": r.get("note") or r.get("reason") or ""})
    return out


async def audit_page(request: web.Request) -> web.Response:
    wb = _wb(request)
    q = request.query
    rows = await _run(wb.model.audit, q.get("inspector", "").strip(),
                      q.get("entity", "").strip(), q.get("kind", ""), 2000)
    return render(request, "audit.html", rows=_audit_rows(rows), q=q,
                  csv_query=request.query_string)


def _csv_cell(v: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise it.
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


async def audit_csv(request: web.Request) -> web.Response:
    wb = _wb(request)
    q = request.query
    rows = await _run(wb.model.audit, q.get("inspector", "").strip(),
                      q.get("entity", "").strip(), q.get("kind", ""))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(AUDIT_COLUMNS)
    for r in _audit_rows(rows):
        w.writerow([_csv_cell(r[c]) for c in AUDIT_COLUMNS])
    return web.Response(text=buf.getvalue(), content_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="credence-audit.csv"'})


# ----------------------------------------------------------------------------- policy


def _policy_rows(wb: Workbench, changes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    from credence.tuning import TUNABLE

    rows = []
    for name, (lo, hi, meaning) in TUNABLE.items():
        ch = changes.get(name)
        rows.append({"setting": name, "meaning": meaning, "lo": lo, "hi": hi,
                     "value": ch["value"] if ch else float(getattr(wb.settings, name)),
                     "by": ch["by"] if ch else None, "ts": ch["ts"] if ch else None,
                     "reason": (ch or {}).get("reason") or ""})
    return rows


async def policy_page(request: web.Request, error: str | None = None,
                      status: int = 200) -> web.Response:
    wb = _wb(request)
    changes = await _run(wb.model.policy)
    history = await _run(wb.model.audit, "", "", "policy", 200)
    return render(request, "policy.html", status=status, rows=_policy_rows(wb, changes),
                  history=_audit_rows(history), error=error,
                  sent=request.query.get("sent"))


async def change_policy(request: web.Request) -> web.StreamResponse:
    """A supervisor changes a setting: a policy event to the compacted policy topic, which
    every worker applies at its event time without a restart (credence.tuning)."""
    import time

    import orjson

    from credence.contract import InvalidEvent, iso
    from credence.tuning import parse_policy

    wb = _wb(request)
    s = _session(request)
    assert s is not None  # noqa: S101
    if not s.user.supervisor:
        raise web.HTTPForbidden(text="only a supervisor changes the policy")
    form = await request.post()
    reason = str(form.get("reason", "")).strip()
    try:
        value = float(str(form.get("value", "")))
    except ValueError:
        return await policy_page(request, "The value is a number.", 400)
    if not reason or len(reason) > MAX_REASON:
        return await policy_page(request, "A reason is required.", 400)
    change = {"type": "policy", "setting": str(form.get("setting", "")), "value": value,
              "by": s.user.name, "reason": reason, "ts": iso(int(time.time() * 1000))}
    try:
        parse_policy(orjson.dumps(change))
        await _run(wb.sender.send_policy, change)
    except InvalidEvent as e:
        return await policy_page(request, str(e), 400)
    except DecisionError as e:
        return await policy_page(request, str(e), 502)
    raise web.HTTPSeeOther("/policy?sent=1")


# ----------------------------------------------------------------------------- misc


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/queue")


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def health(request: web.Request) -> web.Response:
    wb = _wb(request)
    err = getattr(wb.feed, "error", None)
    return web.json_response({"ok": err is None, "feed_error": err,
                              "applied": getattr(wb.feed, "applied", None)},
                             status=200 if err is None else 503)


def create_app(wb: Workbench) -> web.Application:
    from credence.workbench.api import add_api_routes

    app = web.Application(middlewares=[security_headers, sessions],
                          client_max_size=256 * 1024)
    app[WORKBENCH] = wb
    app[JINJA] = _template_env()
    r = app.router
    r.add_get("/", index)
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/queue", queue_page)
    r.add_get("/queue/rows", queue_rows)
    r.add_get("/queue/version", queue_version)
    r.add_post("/next", next_unassigned)
    r.add_get("/case/{entity}", case_page)
    r.add_get("/case/{entity}/state", case_state)
    r.add_post("/case/{entity}/assign", assign)
    r.add_post("/case/{entity}/note", add_note)
    r.add_post("/case/{entity}/decide", decide)
    r.add_get("/audit", audit_page)
    r.add_get("/audit.csv", audit_csv)
    r.add_get("/policy", policy_page)
    r.add_post("/policy", change_policy)
    r.add_get("/health", health)
    r.add_get("/favicon.ico", favicon)
    r.add_static("/static/", HERE / "static")
    add_api_routes(app, wb.lenders, wb.model)
    return app
