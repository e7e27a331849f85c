"""Requests a web browser sent are refused where only forges, hooks and scripts post.

A page on any site can make the visitor's browser POST a form to ``http://127.0.0.1:8080/github``
(a "simple" cross-site request needs no CORS preflight), and with no webhook secret, the
loopback default, the relay would queue the page's commits and deliver them with the configured
Tracker token; DNS rebinding does the same from a page that looks same-origin. Browsers put an
``Origin`` header on every POST, cross-site or not; forges, git and Subversion hooks, ``curl`` and
old scripts never do. So the webhook and ingest endpoints refuse any request carrying one (403),
before reading its body. The dashboard has its own defence (session cookie and CSRF token).
"""

from __future__ import annotations

from fastapi import HTTPException, Request, status

__all__ = ["refuse_browser_request"]


def refuse_browser_request(request: Request) -> None:
    """``HTTPException`` 403 for a request a browser sent (it carries ``Origin``)."""
    if "origin" in request.headers:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a request from a web browser (with an Origin header) is refused: "
            "only forges, hooks and scripts post here",
        )
