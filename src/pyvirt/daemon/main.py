"""pyvirtd's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from pyvirt import uri as urimod
from pyvirt.daemon.server import Server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pyvirtd", description="pyvirt's management daemon (libvirt's RPC protocol)"
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        help=f"where the sockets go (default: {urimod.default_run_dir()})",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help=f"where definitions are kept (default: {urimod.default_state_dir()})",
    )
    parser.add_argument(
        "--uri",
        default="pyvirt:///session",
        help="driver for clients that open the default connection (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each connection")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    system = args.uri.endswith("/system")
    server = Server(
        run_dir=args.run_dir or urimod.default_run_dir(system),
        state_dir=args.state_dir or urimod.default_state_dir(system),
        default_uri=args.uri,
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("pyvirtd").info("listening on %s", server.socket_path)
    await stop.wait()
    await server.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="pyvirtd: %(levelname)s: %(message)s",
    )
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
