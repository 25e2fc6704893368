"""The gateway (``nova serve``): the chosen candidate behind API keys and roles, limits and
budgets, safety rails, fallback routing, Prometheus metrics and a hash-chained audit record of
every request, speaking the OpenAI chat completions API."""

from nova.gateway._app import Gateway
from nova.gateway._audit import AuditWriter
from nova.gateway._errors import ApiError
from nova.gateway._keys import KeyRing, NewKey, Principal, create_key, hash_secret, parse_key
from nova.gateway._limits import Limits, Reservation
from nova.gateway._metrics import GatewayMetrics
from nova.gateway._rails import RailsCheck, WorkspaceRails, load_workspace_rails
from nova.gateway._router import Breaker, Router, fallback_reason
from nova.gateway._routes import GatewayRoutes, build_app
from nova.gateway._server import open_gateway, running_gateway, serve

__all__ = [
    "ApiError",
    "AuditWriter",
    "Breaker",
    "Gateway",
    "GatewayMetrics",
    "GatewayRoutes",
    "KeyRing",
    "Limits",
    "NewKey",
    "Principal",
    "RailsCheck",
    "Reservation",
    "Router",
    "WorkspaceRails",
    "build_app",
    "create_key",
    "fallback_reason",
    "hash_secret",
    "load_workspace_rails",
    "open_gateway",
    "parse_key",
    "running_gateway",
    "serve",
]
