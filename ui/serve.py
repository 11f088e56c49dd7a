"""``hoidap serve``: the chat and the REST API in one uvicorn process."""

from __future__ import annotations

import argparse
import logging
import sys

from hoidap.config import Config, default_corpus
from hoidap.errors import IndexNotFoundError
from index.store import current_version
from qa.engine import QAEngine


def prepare_engine(config: Config, embedder=None) -> QAEngine:
    """An engine over the configured index, building it over the seeds when there is none."""
    engine = QAEngine(config, embedder=embedder)
    try:
        current_version(config.resolved_index_dir)
    except IndexNotFoundError:
        print(f"hoidap: no index at {config.resolved_index_dir}; building it over "
              f"{default_corpus()} …", file=sys.stderr)
        engine.update([default_corpus()])
    return engine


def exposure_warning(host: str, token: str | None) -> str | None:
    """A warning when the server listens beyond this machine without an API token."""
    if token or host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (f"hoidap: warning: listening on {host} without an API token: anyone who can reach "
            "this port can read and add documents; set HOIDAP_API_TOKEN")


def handler(args: argparse.Namespace, config: Config) -> int:
    """Build the default index if needed, load everything, then serve until interrupted."""
    import uvicorn

    from ui.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    engine = prepare_engine(config).warm_up()
    app = create_app(engine)
    print(f"hoidap: serving {engine.index_dir} on http://{args.host}:{args.port}/ "
          f"(API docs: http://{args.host}:{args.port}/docs)", file=sys.stderr)
    warning = exposure_warning(args.host, config.limits.api_token)
    if warning:
        print(warning, file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def register(subparsers) -> None:
    """Add ``serve [--host] [--port] [--index DIR]`` to the ``hoidap`` command."""
    p = subparsers.add_parser("serve", help="start the web chat and REST API")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $HOIDAP_HOME/index)")
    p.set_defaults(func=handler)
