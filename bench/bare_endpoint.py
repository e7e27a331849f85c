"""The ingest baseline: the least a webhook receiver can do, under the same uvicorn as ``serve``.

``POST /github`` reads the body, checks its ``X-Hub-Signature-256`` HMAC against the secret
and answers 202 (401 when it does not match); ``GET /healthz`` answers 200. Nothing is parsed,
stored or logged. uvicorn runs with the options ``hookrelay serve`` gives it (no log config, no
lifespan, no server header; the same loop and HTTP implementation, chosen the same way).

Run: ``python bench/bare_endpoint.py --port N --secret S`` (until SIGTERM).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import socket

import uvicorn
from fastapi import FastAPI, Request, Response


def create_app(secret: bytes) -> FastAPI:
    """The bare endpoint and a health check."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/github")
    async def receive(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        given = request.headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(expected, given):
            return Response(status_code=401)
        return Response(status_code=202)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"ok", status_code=200)

    return app


def main() -> None:
    """Serve on 127.0.0.1:PORT until stopped."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    config = uvicorn.Config(
        create_app(args.secret.encode()),
        log_config=None,
        lifespan="off",
        server_header=False,
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
