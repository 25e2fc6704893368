"""The gateway's endpoints besides chat completions (models, audit, keys, metrics, health),
the error middleware, and the aiohttp application that wires everything."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from nova.gateway._app import Gateway
from nova.gateway._errors import ApiError, error_response
from nova.gateway._keys import create_key
from nova.store import AuditItem

__all__ = ["GATEWAY", "GatewayRoutes", "build_app"]

log = logging.getLogger("nova.gateway")


class GatewayRoutes:
    """The non-chat endpoints of one gateway."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    async def models(self, request: web.Request) -> web.Response:
        """GET /v1/models: the candidates this key may call."""
        who = await self.gw.authenticate(request, "app")
        data = [
            {"id": cid, "object": "model", "created": 0, "owned_by": "nova"}
            for cid in self.gw.router.served
            if who.models is None or cid in who.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def metrics_endpoint(self, _request: web.Request) -> web.Response:
        """GET /metrics: Prometheus text format."""
        return web.Response(
            body=self.gw.metrics.render(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def healthz(self, _request: web.Request) -> web.Response:
        """GET /healthz: the process serves HTTP."""
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        """GET /readyz: ready to answer (providers started, audit writer alive, a candidate
        not behind an open breaker), with the state of every part."""
        routes = {cid: r.breaker.state for cid, r in self.gw.router.routes.items()}
        audit_ok = self.gw.audit.alive and self.gw.audit.last_error is None
        ready = self.gw.started and audit_ok and any(s != "open" for s in routes.values())
        detail = {
            "ready": ready,
            "candidates": routes,
            "primary": self.gw.router.primary,
            "fallback": self.gw.router.fallback,
            "rails": self.gw.rails.status,
            "audit": "ok"
            if audit_ok
            else f"failing: {self.gw.audit.last_error or 'writer stopped'}",
            "keys": len(self.gw.keys),
            "limits": self.gw.limits.status,
            "oidc": self.gw.oidc is not None,
            "ai_marker": self.gw.settings.ai_marker,
        }
        return web.json_response(detail, status=200 if ready else 503)

    async def audit_list(self, request: web.Request) -> web.Response:
        """GET /v1/audit?after=N&limit=M: audit entries (auditor, admin)."""
        await self.gw.authenticate(request, "auditor", "admin")
        try:
            after = int(request.query.get("after", "0"))
            limit = min(int(request.query.get("limit", "100")), 1000)
        except ValueError:
            raise ApiError(400, "after and limit must be integers") from None
        entries = await asyncio.to_thread(self.gw.store.audit_entries, after=after, limit=limit)
        page = [e.model_dump(mode="json") for e in entries]
        return web.json_response({"object": "list", "data": page})

    async def audit_verify(self, request: web.Request) -> web.Response:
        """GET /v1/audit/verify: the chain check (auditor, admin)."""
        await self.gw.authenticate(request, "auditor", "admin")
        issues = await asyncio.to_thread(self.gw.store.verify_audit)
        return web.json_response({"intact": not issues, "issues": [i.model_dump() for i in issues]})

    async def keys_list(self, request: web.Request) -> web.Response:
        """GET /v1/keys: keys without their hashes (admin)."""
        await self.gw.authenticate(request, "admin")
        keys = await asyncio.to_thread(self.gw.store.api_keys)
        data = [k.model_dump(mode="json", exclude={"secret_sha256"}) for k in keys]
        return web.json_response({"object": "list", "data": data})

    async def keys_create(self, request: web.Request) -> web.Response:
        """POST /v1/keys: a new key, returned once (admin)."""
        who = await self.gw.authenticate(request, "admin")
        try:
            spec = json.loads(await request.read())
            if not isinstance(spec, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "request body must be a JSON object") from None
        role = spec.get("role", "app")
        if role not in ("app", "auditor", "admin") or not isinstance(spec.get("name"), str):
            raise ApiError(400, "give name (text) and role (app, auditor or admin)")
        try:
            new = await asyncio.to_thread(
                create_key,
                self.gw.store,
                name=spec["name"],
                role=role,
                models=spec.get("models"),
                rpm=spec.get("rpm"),
                tpm=spec.get("tpm"),
                budget_tokens=spec.get("budget_tokens"),
            )
        except ValueError as exc:
            raise ApiError(400, f"invalid key settings: {exc}") from None
        await self.gw.audit.write(
            AuditItem(who.subject, "gateway.key.create", new.record.id, {"role": role})
        )
        await asyncio.to_thread(self.gw.keys.load)
        data = new.record.model_dump(mode="json", exclude={"secret_sha256"})
        return web.json_response({**data, "key": new.secret}, status=201)

    async def keys_revoke(self, request: web.Request) -> web.Response:
        """DELETE /v1/keys/{id} (admin)."""
        who = await self.gw.authenticate(request, "admin")
        key_id = request.match_info["key_id"]
        if not await asyncio.to_thread(self.gw.store.revoke_api_key, key_id):
            raise ApiError(404, f"no active key {key_id[:40]!r}", code="key_not_found")
        await self.gw.audit.write(AuditItem(who.subject, "gateway.key.revoke", key_id, {}))
        await asyncio.to_thread(self.gw.keys.load)
        return web.json_response({"id": key_id, "revoked": True})


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        resp: web.StreamResponse = await handler(request)
        return resp
    except ApiError as err:
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(
            ApiError(exc.status, f"{exc.reason}: {request.method} {request.path}")
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal error in the gateway (see its log)"))


GATEWAY = web.AppKey("gateway", Gateway)


def build_app(gateway: Gateway) -> web.Application:
    """The aiohttp application of ``gateway`` (its start/close run with the app)."""
    app = web.Application(middlewares=[_errors], client_max_size=gateway.settings.max_body_bytes)
    app[GATEWAY] = gateway
    app.on_startup.append(gateway.start)
    app.on_cleanup.append(gateway.close)
    routes = GatewayRoutes(gateway)
    r = app.router
    r.add_post("/v1/chat/completions", gateway.chat)
    r.add_get("/v1/models", routes.models)
    r.add_get("/v1/audit", routes.audit_list)
    r.add_get("/v1/audit/verify", routes.audit_verify)
    r.add_get("/v1/keys", routes.keys_list)
    r.add_post("/v1/keys", routes.keys_create)
    r.add_delete("/v1/keys/{key_id}", routes.keys_revoke)
    r.add_get("/metrics", routes.metrics_endpoint)
    r.add_get("/healthz", routes.healthz)
    r.add_get("/readyz", routes.readyz)
    return app
