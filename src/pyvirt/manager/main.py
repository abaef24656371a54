"""pyvirt-manager: serve the web manager (on 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import ssl
import sys
from pathlib import Path

from aiohttp import web

from .app import make_app
from .auth import Auth
from .listen import ListenRefused, check_listen
from .saved import SavedConnections, default_path

DEFAULT_URI = "pyvirt:///session"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pyvirt-manager", description=__doc__)
    p.add_argument(
        "--connect",
        "-c",
        action="append",
        metavar="URI",
        help=f"a connection to open at start (repeatable; default {DEFAULT_URI})",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on; beyond loopback only with a password or TLS",
    )
    p.add_argument("--port", type=int, default=8090, help="TCP port (0: any free one)")
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="a password that signs in as well as the printed token",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=default_path(),
        metavar="FILE",
        help="where the connection list is kept (default: %(default)s)",
    )
    p.add_argument("--tls-cert", type=Path, metavar="PEM")
    p.add_argument("--tls-key", type=Path, metavar="PEM")
    p.add_argument("--verbose", "-v", action="store_true")
    return p.parse_args(argv)  # fmt: skip


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None and args.tls_key is None:
        return None
    if args.tls_cert is None or args.tls_key is None:
        raise SystemExit("pyvirt-manager: --tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


async def serve(args: argparse.Namespace, auth: Auth, tls: ssl.SSLContext | None) -> None:
    app = make_app(auth, args.connect or [], SavedConnections(args.config), DEFAULT_URI)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.listen, args.port, ssl_context=tls)
    await site.start()
    host, port = runner.addresses[0][:2]
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if tls else "http"
    print(f"pyvirt-manager: {scheme}://{host}:{port}/?token={auth.token}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="pyvirt-manager: %(levelname)s: %(message)s",
    )
    password = None
    if args.password_file is not None:
        password = args.password_file.read_text().strip() or None
    tls = _tls(args)
    try:
        check_listen(args.listen, password=password is not None, tls=tls is not None)
    except ListenRefused as e:
        print(f"pyvirt-manager: {e}", file=sys.stderr)
        sys.exit(2)
    auth = Auth(secrets.token_urlsafe(24), password, secure=tls is not None)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args, auth, tls))


if __name__ == "__main__":
    main()
