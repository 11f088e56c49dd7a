"""``hoidap serve``: the chat and the REST API in one uvicorn process."""

from __future__ import annotations

import argparse
import logging
import sys

from hoidap.cliutil import add_index_options
from hoidap.config import Config


def handler(args: argparse.Namespace, config: Config) -> int:
    """Build the default index if needed, load everything, then serve until interrupted."""
    import uvicorn

    from ui.app import create_app
    from ui.serve import exposure_warning, prepare_engine

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = prepare_engine(config).warm_up()
    app = create_app(engine)
    print(f"hoidap: serving {engine.location()} on http://{args.host}:{args.port}/ "
          f"(API docs: http://{args.host}:{args.port}/docs)", file=sys.stderr)
    warning = exposure_warning(args.host, config.limits.api_token)
    if warning:
        print(warning, file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def register(subparsers) -> None:
    """Add ``serve [--host] [--port] [--index DIR] [--engine] [--milvus-uri]``."""
    p = subparsers.add_parser("serve", help="start the web chat and REST API")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    add_index_options(p)
    p.set_defaults(func=handler)
