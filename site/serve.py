"""Serve the built site on 127.0.0.1 and print its URL.

python site/serve.py               # site/_build on http://127.0.0.1:8000/ (next free port if taken)
python site/serve.py --port 0      # any free port
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
from pathlib import Path

SITE = Path(__file__).resolve().parent


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the right type for ES modules and no log line per request."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".woff2": "font/woff2",
    }

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")  # a rebuilt page is seen on reload
        super().end_headers()

    def log_message(self, format, *args):
        pass


def start(root: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server for `root` on 127.0.0.1 running in a daemon thread (port 0: any free port)."""
    handler = functools.partial(Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", type=Path, default=SITE / "_build", help="the built site")
    p.add_argument("--port", type=int, default=8000, help="first port to try (0: any free one)")
    args = p.parse_args(argv)
    if not (args.root / "index.html").is_file():
        print(f"no site in {args.root}: build it first (python site/build.py)", file=sys.stderr)
        return 1
    for port in [args.port, *range(args.port + 1, args.port + 20)] if args.port else [0]:
        try:
            server = start(args.root, port)
            break
        except OSError:
            continue
    else:
        print(f"ports {args.port}-{args.port + 19} are all taken: try --port 0", file=sys.stderr)
        return 1
    print(
        f"Serving the course at http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops)",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
