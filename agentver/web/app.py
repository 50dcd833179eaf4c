"""The Starlette application of ``agentver serve``: routes, errors, security headers.

Each request opens the repository afresh (``Workspace.open``: a few ``git rev-parse``
calls), so a commit made by the CLI in another terminal shows on the next reload; the
history and parse caches under ``.git/agentver/`` keep that cheap. Endpoints are plain
functions: Starlette runs them in its thread pool, and pointer writes are serialised by
the library's own lock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from agentver.agentfile import check_agent_id
from agentver.errors import AgentverError, CheckFailed, NotFound
from agentver.history import AgentHistory
from agentver.web import actions, ops, views
from agentver.web.render import STATIC, render
from agentver.web.security import Guard
from agentver.web.storeview import read_state
from agentver.workspace import Workspace

log = logging.getLogger("agentver.web")
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
MAX_FORM_BYTES = 16_384
DEFAULT_REFRESH_MS = 5_000

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


@dataclass(frozen=True)
class Config:
    root: Path
    store: str | None
    guard: Guard


class _Guarded:
    """ASGI middleware: refuse a foreign Host header; add security headers."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.guard.host_ok(headers.get("host")):
            response = Response("unexpected Host header\n", status_code=421)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(config: Config) -> ASGIApp:
    pages = _Pages(config)
    routes = [
        Route("/", pages.overview),
        Route("/agents/{agent}", pages.agent),
        Route("/agents/{agent}/v/{number:int}", pages.version),
        Route("/agents/{agent}/diff", pages.diff),
        Route("/agents/{agent}/canary", pages.canary),
        Route("/agents/{agent}/confirm", pages.confirm),
        Route("/agents/{agent}/actions", pages.act, methods=["POST"]),
        Route("/deployments", pages.deployments),
        Route("/canary", pages.canaries),
        Route("/evaluations", pages.evaluations),
        Route("/commits/{sha}", pages.commit),
        Route("/api/canary/{agent}", pages.canary_json),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(
        routes=routes, exception_handlers={AgentverError: pages.failure, Exception: pages.failure}
    )
    return _Guarded(app, config.guard)


def _refresh_ms(text: str | None) -> int:
    """The canary page's refresh interval: ``?refresh=MS`` within 0.5-60 s, else 5 s."""
    try:
        value = int(text or DEFAULT_REFRESH_MS)
    except ValueError:
        value = DEFAULT_REFRESH_MS
    return min(max(value, 500), 60_000)


class _Pages:
    def __init__(self, config: Config) -> None:
        self.config = config
        # Every agent's versions for one (HEAD, agents folder): they depend on nothing
        # else (docs/design.md section 3), so the overview reuses them until HEAD moves.
        self._histories: tuple[tuple[str, str], dict[str, AgentHistory]] | None = None

    def histories(self, ws: Workspace) -> dict[str, AgentHistory]:
        key = (ws.index.head, ws.settings.agents_dir)
        held = self._histories
        if held is not None and held[0] == key:
            return held[1]
        histories = ws.agents()
        self._histories = (key, histories)
        return histories

    # -- helpers ------------------------------------------------------------------------

    def ws(self) -> Workspace:
        return Workspace.open(self.config.root)

    def page(self, request: Request, template: str, ws: Workspace, **context: Any) -> HTMLResponse:
        html = render(
            template,
            repo=ws.root.name,
            head=ws.index.head,
            environments=list(ws.settings.environments),
            default_env=ws.settings.default_environment,
            writes=self.config.guard.allow_writes,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html)

    def env_of(self, ws: Workspace, request: Request) -> str:
        return ws.environment(request.query_params.get("env") or None)

    async def failure(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, AgentverError):
            status = (
                404 if isinstance(exc, NotFound) else (409 if isinstance(exc, CheckFailed) else 400)
            )
            message, hint = exc.message, exc.hint
        else:
            log.exception("internal error on %s", request.url.path)
            status, message = 500, f"internal error: {type(exc).__name__}"
            hint = "this is a bug in agentver; the server log has the traceback"
        html = render(
            "error.html",
            repo=self.config.root.name,
            head="",
            environments=[],
            default_env="",
            writes=self.config.guard.allow_writes,
            path=request.url.path,
            status=status,
            message=message,
            hint=hint,
            title="Error",
        )
        return HTMLResponse(html, status_code=status)

    # -- read pages ---------------------------------------------------------------------

    def overview(self, request: Request) -> Response:
        ws = self.ws()
        store = read_state(ws, self.config.store)
        rows = views.overview(ws, store, self.histories(ws))
        return self.page(request, "overview.html", ws, rows=rows, store=store, title="Overview")

    def agent(self, request: Request) -> Response:
        ws = self.ws()
        agent = check_agent_id(request.path_params["agent"])
        data = views.agent_page(ws, agent)
        notice = None
        commit = request.query_params.get("commit")
        if commit:
            notice, _ = views.safe(ops.commit_page, ws, commit)
        return self.page(request, "agent.html", ws, notice=notice, title=agent, **data)

    def version(self, request: Request) -> Response:
        ws = self.ws()
        agent = check_agent_id(request.path_params["agent"])
        data = views.version_page(ws, agent, request.path_params["number"])
        return self.page(
            request, "version.html", ws, title=f"{agent} v{data['version'].version}", **data
        )

    def diff(self, request: Request) -> Response:
        ws = self.ws()
        agent = check_agent_id(request.path_params["agent"])
        history = ws.history(agent)
        latest = len(history.versions)
        a = request.query_params.get("a") or str(max(latest - 1, 1))
        b = request.query_params.get("b") or str(latest)
        data = views.diff_page(ws, agent, a, b)
        return self.page(request, "diff.html", ws, title=f"{agent}: {a} → {b}", **data)

    def deployments(self, request: Request) -> Response:
        ws = self.ws()
        agents = sorted(ws.agent_summaries())
        params = request.query_params
        agent = params.get("agent") or (agents[0] if agents else "")
        env = self.env_of(ws, request)
        data = (
            ops.deployments_page(
                ws, check_agent_id(agent), env, params.get("at", ""), params.get("user", "")
            )
            if agent
            else None
        )
        return self.page(
            request,
            "deployments.html",
            ws,
            agents=agents,
            selected=agent,
            env=env,
            data=data,
            title="Deployments",
        )

    def canaries(self, request: Request) -> Response:
        ws = self.ws()
        return self.page(
            request, "canaries.html", ws, canaries=ops.running_canaries(ws), title="Canaries"
        )

    def canary(self, request: Request) -> Response:
        ws = self.ws()
        agent = check_agent_id(request.path_params["agent"])
        env = self.env_of(ws, request)
        doc = ops.canary_document(ws, env, agent, self.config.store)
        interval = _refresh_ms(request.query_params.get("refresh"))
        return self.page(
            request,
            "canary.html",
            ws,
            doc=doc,
            interval=interval,
            agent=agent,
            env=env,
            title=f"{agent} canary",
        )

    def canary_json(self, request: Request) -> Response:
        ws = self.ws()
        agent = check_agent_id(request.path_params["agent"])
        env = self.env_of(ws, request)
        return JSONResponse(ops.canary_document(ws, env, agent, self.config.store))

    def evaluations(self, request: Request) -> Response:
        ws = self.ws()
        agents = sorted(ws.agent_summaries())
        with_results = views.agents_with_results(ws)
        agent = request.query_params.get("agent") or (with_results[0] if with_results else "")
        rows: list[Any] = []
        if agent:
            history = ws.history(check_agent_id(agent))
            scores = views.eval_scores(ws, agent, history.versions)
            rows = [(v, scores.get(v.version)) for v in reversed(history.versions)]
        return self.page(
            request,
            "evaluations.html",
            ws,
            agents=agents,
            with_results=with_results,
            selected=agent,
            rows=rows,
            title="Evaluations",
        )

    def commit(self, request: Request) -> Response:
        ws = self.ws()
        data = ops.commit_page(ws, request.path_params["sha"])
        return self.page(request, "commit.html", ws, title=f"commit {data['commit'][:10]}", **data)

    # -- writes -------------------------------------------------------------------------

    def confirm(self, request: Request) -> Response:
        ws = self.ws()
        agent = check_agent_id(request.path_params["agent"])
        if not self.config.guard.allow_writes:
            return self.refused(
                request,
                ws,
                "writes are off: start the dashboard with `agentver serve --allow-writes`",
            )
        params = request.query_params
        action = params.get("action", "")
        env = self.env_of(ws, request)
        plan = actions.preview(ws, action, agent, env, params.get("ref", ""))
        return self.page(
            request,
            "confirm.html",
            ws,
            plan=plan,
            label=actions.ACTIONS[action],
            token=self.config.guard.token,
            title=f"Confirm: {actions.ACTIONS[action]} {agent}",
        )

    async def act(self, request: Request) -> Response:
        body = await request.body()
        form = {
            k: v[0] for k, v in parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace")).items()
        }
        headers = request.headers
        why = self.config.guard.write_refusal(
            headers.get("host"), headers.get("origin"), headers.get("referer"), form.get("token")
        )
        if why is not None:
            ws = self.ws()
            return self.refused(request, ws, why)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self._act, request, form)

    def _act(self, request: Request, form: dict[str, str]) -> Response:
        ws = self.ws()
        agent = check_agent_id(request.path_params["agent"])
        env = ws.environment(form.get("env") or None)
        outcome = actions.apply(
            ws, form.get("action", ""), agent, env, form.get("ref", ""), form.get("expect", "")
        )
        target = f"/agents/{quote(agent)}"
        if outcome.commit:
            target += f"?commit={outcome.commit}"
        return RedirectResponse(target, status_code=303)

    def refused(self, request: Request, ws: Workspace, why: str) -> Response:
        response = self.page(
            request, "error.html", ws, status=403, message=why, hint=None, title="Refused"
        )
        response.status_code = 403
        return response
