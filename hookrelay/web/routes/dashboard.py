"""The operator's dashboard: ``GET /dashboard``, server-rendered HTML behind the admin token.

Pages: the overview (counts by state, the oldest commit not yet delivered, deliveries a minute
over the last hour, dead letters of the last day, each repository's and target's health); the
delivery list with filters (state, repository, story id, commit id prefix) and paging; one
delivery (its body exactly as posted, every attempt with Tracker's answer, its story ids).
Actions: retry one, retry every dead one (or one repository's), discard a dead letter; each a
POST that retries with today's settings (``hookrelay.redelivery``) and redirects back.

Access. Closed (403) unless ``HOOKRELAY_ADMIN_TOKEN`` is set. Without a session, every page is
the login form (401), which asks for the admin token once and sets a session cookie:
``HttpOnly``, ``SameSite=Strict``, ``Path=/dashboard``, ``Secure`` when served over https,
valid for 12 hours. The session is ``issued.nonce.mac`` with an HMAC keyed by the admin token,
so changing the token ends every session; nothing is kept on the server.
``Authorization: Bearer <token>`` works too (for scripts). CSRF: a POST made with the session
cookie must carry the form field ``csrf``, an HMAC of the session's nonce (the login form
carries a double-submit cookie of its own); a POST made with a bearer header needs none, since
a browser never adds that header across sites. Pages are sent with a strict
``Content-Security-Policy`` (no inline script, no other origin) and ``X-Frame-Options: DENY``.
Tokens are shown only as fingerprints.

Refresh: ``dashboard.js`` reloads the page's ``<main>`` from the same URL every 10 seconds
(so filters stay), and only while the page is visible and no form field has focus.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

import jinja2
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.queue.store import MAX_ROW_ID, DeliveryFilter, State
from hookrelay.redelivery import retry_deliveries
from hookrelay.web.body import read_limited_body
from hookrelay.web.deps import ContextDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "hookrelay_session"
LOGIN_COOKIE = "hookrelay_login"
NOTICE_COOKIE = "hookrelay_notice"
SESSION_SECONDS = 12 * 3600
PAGE_SIZE = 50
_FORM_LIMIT = 16 * 1024
_COOKIE_PATH = "/dashboard"
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_STATIC = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}


# --- templates ----------------------------------------------------------------------------------


@cache
def _templates() -> jinja2.Environment:
    """The Jinja2 environment (autoescaped), built on the first page served."""

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("hookrelay.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["utc"] = _utc
    environment.filters["age"] = _age
    return environment


def _utc(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _age(seconds: float | None, now: float) -> str:
    """How long ago, in the largest unit that reads well: 42 s, 7 min, 3 h, 2 d."""
    if seconds is None:
        return "—"
    elapsed = max(0.0, now - seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if elapsed >= size:
            return f"{int(elapsed // size)} {unit}"
    return f"{int(elapsed)} s"


def _page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    session: Session | None = getattr(request.state, "dashboard_session", None)
    notice = request.cookies.get(NOTICE_COOKIE, "")
    html = (
        _templates()
        .get_template(name)
        .render(
            csrf="" if session is None else session.csrf,
            signed_in=session is not None,
            notice=notice[:500],
            **values,
        )
    )
    response = HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path=_COOKIE_PATH)
    return response


def _set_cookie(
    response: Response, request: Request, name: str, value: str, *, max_age: int
) -> None:
    """Set one of the dashboard's cookies: its path only, no script, no other site, and
    https-only when the dashboard is reached over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("/dashboard/static/{name}")
async def static_file(name: str) -> Response:
    """The dashboard's stylesheet and script, served by hookrelay itself (no other origin)."""
    media_type = _STATIC.get(name)
    if media_type is None:
        return Response("no such file", status_code=404, media_type="text/plain")
    return Response(
        _static_bytes(name),
        media_type=media_type,
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@cache
def _static_bytes(name: str) -> bytes:
    return resources.files("hookrelay.web").joinpath("static", name).read_bytes()


# --- access -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    """Who is signed in: by cookie (needs CSRF on POST) or by bearer header (does not)."""

    nonce: str
    csrf: str
    by_cookie: bool


def _key(admin_token: str) -> bytes:
    return hashlib.sha256(b"hookrelay dashboard session\0" + admin_token.encode("utf-8")).digest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _new_session_cookie(key: bytes, now: float) -> str:
    issued_nonce = f"{int(now)}.{secrets.token_urlsafe(16)}"
    return f"{issued_nonce}.{_mac(key, issued_nonce)}"


def _session_from_cookie(key: bytes, cookie: str, now: float) -> Session | None:
    issued, _, rest = cookie.partition(".")
    nonce, _, mac = rest.partition(".")
    if not issued.isdigit() or not nonce or not mac:
        return None
    if not hmac.compare_digest(mac, _mac(key, f"{issued}.{nonce}")):
        return None
    if not 0 <= now - int(issued) <= SESSION_SECONDS:
        return None
    return Session(nonce=nonce, csrf=_mac(key, f"csrf {nonce}"), by_cookie=True)


def _admin_token(settings: Any) -> str | None:
    token = settings.admin_token
    return token.get_secret_value() if token is not None and token.get_secret_value() else None


class _Closed(Exception):
    """The dashboard is off: no admin token is configured."""


class _SignIn(Exception):
    """No valid session: answer with the login form."""


class _Forbidden(Exception):
    """A POST with a session cookie but without its CSRF token."""


def _authenticate(request: Request, settings: Any, now: float) -> Session:
    admin = _admin_token(settings)
    if admin is None:
        raise _Closed
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given.strip():
        if hmac.compare_digest(given.strip().encode("utf-8"), admin.encode("utf-8")):
            return Session(nonce="", csrf="", by_cookie=False)
        raise _SignIn
    session = _session_from_cookie(_key(admin), request.cookies.get(SESSION_COOKIE, ""), now)
    if session is None:
        raise _SignIn
    return session


async def _signed_in(request: Request, context: ContextDep) -> Session:
    """The request's session; the login form (401), or 403 when the dashboard is off, if none."""
    session = _authenticate(request, context.settings, context.clock())
    request.state.dashboard_session = session
    return session


SessionDep = Annotated[Session, Depends(_signed_in)]


def closed_page() -> HTMLResponse:
    """The answer while ``HOOKRELAY_ADMIN_TOKEN`` is unset."""
    html = _templates().get_template("closed.html").render(signed_in=False, notice="", csrf="")
    return HTMLResponse(html, status_code=403, headers=_SECURITY_HEADERS)


def login_page(
    request: Request, *, message: str = "", status: int = 401, then: str | None = None
) -> HTMLResponse:
    """The login form, with a fresh double-submit token against login CSRF; after signing in,
    the browser goes to ``then`` (by default the page it asked for)."""
    login_csrf = secrets.token_urlsafe(16)
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if then is not None:
        target = then
    elif request.method != "GET":
        target = "/dashboard"
    if not _is_dashboard_path(target):
        target = "/dashboard"
    response = _page(
        request, "login.html", status, message=message, next=target, login_csrf=login_csrf
    )
    _set_cookie(response, request, LOGIN_COOKIE, login_csrf, max_age=3600)
    return response


def install(app: Any) -> None:
    """Answer the dashboard's access exceptions (app-wide handlers, as FastAPI wants them)."""

    async def closed(request: Request, exc: Exception) -> Response:
        return closed_page()

    async def sign_in(request: Request, exc: Exception) -> Response:
        return login_page(request)

    async def refused(request: Request, exc: Exception) -> Response:
        return Response(
            "refused: the form's CSRF token is missing or wrong; reload the page and try again",
            status_code=403,
            media_type="text/plain",
        )

    app.add_exception_handler(_Closed, closed)
    app.add_exception_handler(_SignIn, sign_in)
    app.add_exception_handler(_Forbidden, refused)


def _is_dashboard_path(path: str) -> bool:
    return (path == "/dashboard" or path.startswith(("/dashboard/", "/dashboard?"))) and (
        "//" not in path and "\\" not in path
    )


async def _form(request: Request) -> dict[str, str]:
    body = await read_limited_body(request, _FORM_LIMIT)
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _check_csrf(session: Session, form: dict[str, str]) -> None:
    if session.by_cookie and not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        raise _Forbidden


def _back(request: Request, to: str, notice: str) -> RedirectResponse:
    target = to if _is_dashboard_path(to) else "/dashboard"
    response = RedirectResponse(target, status_code=303)
    _set_cookie(response, request, NOTICE_COOKIE, notice[:500], max_age=60)
    return response


# --- pages --------------------------------------------------------------------------------------


@router.get("/")
async def root() -> RedirectResponse:
    """The dashboard is hookrelay's front page."""
    return RedirectResponse("/dashboard", status_code=307)


@router.post("/dashboard/login")
async def login(request: Request, context: ContextDep) -> Response:
    """Check the admin token once; on success, set the session cookie and go where asked."""
    admin = _admin_token(context.settings)
    if admin is None:
        return closed_page()
    form = await _form(request)
    target = form.get("next", "/dashboard")
    expected_csrf = request.cookies.get(LOGIN_COOKIE, "")
    if not expected_csrf or not hmac.compare_digest(form.get("login_csrf", ""), expected_csrf):
        return login_page(
            request, message="The form expired; sign in again.", status=403, then=target
        )
    if not hmac.compare_digest(form.get("token", "").strip().encode("utf-8"), admin.encode()):
        return login_page(request, message="That is not the admin token.", then=target)
    response = RedirectResponse(
        target if _is_dashboard_path(target) else "/dashboard", status_code=303
    )
    _set_cookie(
        response,
        request,
        SESSION_COOKIE,
        _new_session_cookie(_key(admin), time.time()),
        max_age=SESSION_SECONDS,
    )
    response.delete_cookie(LOGIN_COOKIE, path=_COOKIE_PATH)
    return response


@router.post("/dashboard/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """End the session (the cookie is dropped)."""
    _check_csrf(session, await _form(request))
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=_COOKIE_PATH)
    return response


@router.get("/dashboard")
async def overview(request: Request, session: SessionDep, context: ContextDep) -> Response:
    """Counts, the oldest commit waiting, the last hour's rate, and each repository's health."""
    now = context.clock()
    summary = await run_in_threadpool(context.store.overview, now=now)
    inbox = await run_in_threadpool(context.store.inbox_count)
    peak = max(summary.delivered_per_minute) or 1
    return _page(
        request,
        "overview.html",
        now=now,
        overview=summary,
        inbox=inbox,
        states=list(State),
        peak=peak,
        dead=summary.counts[State.DEAD],
        last_hour=sum(summary.delivered_per_minute),
        default_fingerprint=(
            token_fingerprint(context.routing.default.token)
            if context.routing.default.token
            else ""
        ),
    )


@router.get("/dashboard/deliveries")
async def delivery_list(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    *,
    state: str = "",
    repository: Annotated[str, Query(max_length=300)] = "",
    story: Annotated[str, Query(max_length=30)] = "",
    commit: Annotated[str, Query(max_length=255)] = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = PAGE_SIZE,
) -> Response:
    """Deliveries, newest first, filtered by state, repository, story id and commit prefix."""
    problems = []
    chosen_state = None
    if state:
        try:
            chosen_state = State(state)
        except ValueError:
            problems.append(f"no state {state!r}")
    story_id = None
    if story.strip():
        digits = story.strip().lstrip("#")
        if digits.isdigit() and len(digits) <= 20:
            story_id = int(digits)
        else:
            problems.append(f"story id {story!r} is not a number")
    where = DeliveryFilter(
        state=chosen_state,
        repository=repository.strip(),
        story_id=story_id,
        commit_prefix=commit.strip(),
    )
    rows = (
        []
        if problems
        else await run_in_threadpool(context.store.find, where, limit=limit + 1, before_id=before)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    filters = {
        "state": state,
        "repository": repository,
        "story": story,
        "commit": commit,
    }
    kept = {name: value for name, value in filters.items() if value}
    if limit != PAGE_SIZE:
        kept["limit"] = str(limit)
    older = f"/dashboard/deliveries?{urlencode({**kept, 'before': rows[-1].id})}" if more else ""
    newest = f"/dashboard/deliveries?{urlencode(kept)}" if before is not None else ""
    here = f"/dashboard/deliveries?{urlencode({**kept, **({'before': before} if before else {})})}"
    return _page(
        request,
        "deliveries.html",
        status=400 if problems else 200,
        now=context.clock(),
        rows=rows,
        filters=filters,
        states=list(State),
        problems=problems,
        older=older,
        newest=newest,
        here=here,
    )


@router.get("/dashboard/deliveries/{delivery_id}")
async def delivery_page(
    request: Request, session: SessionDep, context: ContextDep, delivery_id: DeliveryId
) -> Response:
    """One delivery: every field but the token, its body as posted, and every attempt."""
    delivery = await run_in_threadpool(context.store.get, delivery_id)
    if delivery is None:
        return _page(
            request, "missing.html", 404, what=f"No delivery {delivery_id}.", now=context.clock()
        )
    attempts = await run_in_threadpool(context.store.attempts, delivery_id)
    return _page(
        request,
        "delivery.html",
        now=context.clock(),
        d=delivery,
        attempts=attempts,
        body=delivery.body.decode("utf-8", errors="replace"),
        here=f"/dashboard/deliveries/{delivery.id}",
    )


@router.get("/dashboard/deliveries/{delivery_id}/body")
async def delivery_body(
    session: SessionDep, context: ContextDep, delivery_id: DeliveryId
) -> Response:
    """The body exactly as hookrelay posts it, byte for byte."""
    delivery = await run_in_threadpool(context.store.get, delivery_id)
    if delivery is None:
        return Response(f"no delivery {delivery_id}", status_code=404, media_type="text/plain")
    return Response(
        delivery.body,
        media_type="application/octet-stream",
        headers={
            **_SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="delivery-{delivery.id}.body"',
        },
    )


# --- actions ------------------------------------------------------------------------------------


@router.post("/dashboard/deliveries/{delivery_id}/retry")
async def retry_one(
    request: Request, session: SessionDep, context: ContextDep, delivery_id: DeliveryId
) -> Response:
    """Retry one delivery with today's settings; back to where the button was."""
    form = await _form(request)
    _check_csrf(session, form)
    (report,) = await run_in_threadpool(
        retry_deliveries, context.store, context.routing, [delivery_id], now=context.clock()
    )
    return _back(request, form.get("back", f"/dashboard/deliveries/{delivery_id}"), report.line())


@router.post("/dashboard/retry-dead")
async def retry_dead(request: Request, session: SessionDep, context: ContextDep) -> Response:
    """Retry every dead delivery, or one repository's, with today's settings."""
    form = await _form(request)
    _check_csrf(session, form)
    repository = form.get("repository", "").strip() or None
    ids = await run_in_threadpool(context.store.dead_ids, repository=repository)
    reports = await run_in_threadpool(
        retry_deliveries, context.store, context.routing, ids, now=context.clock()
    )
    retried = sum(r.retried for r in reports)
    which = f" of {repository}" if repository else ""
    notice = f"{retried} of {len(reports)} dead deliveries{which} are due again"
    if reports:
        notice += f"; {reports[0].explanation}" if len(reports) == 1 else ""
    return _back(request, form.get("back", "/dashboard"), notice)


@router.post("/dashboard/deliveries/{delivery_id}/discard")
async def discard(
    request: Request, session: SessionDep, context: ContextDep, delivery_id: DeliveryId
) -> Response:
    """Forget a dead letter (and its attempts) for good."""
    form = await _form(request)
    _check_csrf(session, form)
    done = await run_in_threadpool(context.store.discard, delivery_id)
    notice = (
        f"delivery {delivery_id} was discarded"
        if done
        else f"delivery {delivery_id} was not discarded: only a dead delivery can be"
    )
    back = form.get("back", "/dashboard/deliveries?state=dead")
    if done and back.startswith(f"/dashboard/deliveries/{delivery_id}"):
        back = "/dashboard/deliveries?state=dead"
    return _back(request, back, notice)
