"""Web pages for citizens and officers, served by the gateway (server-rendered, no JavaScript framework)."""

from gateway.web.pages import create_router

__all__ = ["create_router"]
