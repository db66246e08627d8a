"""The browser simulator's web server: `make web`, then open http://127.0.0.1:8000/.

Serves, on 127.0.0.1 only and with nothing from the internet:
  /            tools/web/ (the page, its runtime, websim.py)
  /mp/         the MicroPython webassembly port, from the pinned npm package (make wasm)
  /py/         the Python the page mounts: the mpy_ocpp library, tools/sim.py, websim.py,
               listed in /py/index.json
and starts a local CSMS (tools/csms.py, OCPP 1.6 and 2.0.1) on ws://127.0.0.1:9000/ocpp for
the page to talk to (--csms-port 0: none; the page can use any CSMS).
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "tools" / "web"
PORT_PKG = ROOT / "tools/wasm/node_modules/@micropython/micropython-webassembly-pyscript"
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
         ".py": "text/x-python; charset=utf-8", ".json": "application/json",
         ".wasm": "application/wasm", ".png": "image/png"}


def routes():
    """URL path -> file: a fixed table made at start (no path from a request reaches the disk)."""
    table = {"/": WEB / "index.html"}
    for f in WEB.iterdir():
        if f.suffix in TYPES and f.suffix != ".py":
            table["/" + f.name] = f
    for f in PORT_PKG.glob("micropython.*"):
        table["/mp/" + f.name] = f
    py = {"sim.py": ROOT / "tools" / "sim.py", "websim.py": WEB / "websim.py"}
    for f in sorted((ROOT / "mpy_ocpp").glob("*.py")):
        py["mpy_ocpp/" + f.name] = f
    for name, f in py.items():
        table["/py/" + name] = f
    return table, json.dumps(sorted(py)).encode()


class Handler(BaseHTTPRequestHandler):
    table = {}
    index = b"[]"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/py/index.json":
            body, kind = self.index, TYPES[".json"]
        elif path in self.table:
            f = self.table[path]
            body, kind = f.read_bytes(), TYPES[f.suffix]
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # a reload runs the code on disk now
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # quiet: the page and the CSMS say what matters
        pass


def serve(port=8000, csms_port=9000):
    """Start the server (and the CSMS) in daemon threads -> (http server, csms or None)."""
    if not PORT_PKG.is_dir():
        raise SystemExit("webserve: the MicroPython webassembly port is missing: run `make wasm`")
    Handler.table, Handler.index = routes()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    csms = None
    if csms_port:
        sys.path.insert(0, str(ROOT))
        from tools.csms import CSMS
        csms = CSMS(versions=("ocpp1.6", "ocpp2.0.1"), echo=print).start(port=csms_port)
    return httpd, csms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8000, help="the page's port (default 8000)")
    ap.add_argument("--csms-port", type=int, default=9000,
                    help="the local CSMS's port (default 9000; 0: no CSMS)")
    a = ap.parse_args()
    try:
        httpd, csms = serve(a.port, a.csms_port)
    except OSError as e:
        raise SystemExit("webserve: cannot listen (%s); another port: --port N --csms-port N" % e)
    print("simulator: http://127.0.0.1:%d/" % httpd.server_port)
    if csms:
        print("CSMS: %s (OCPP 1.6 and 2.0.1; frames below)" % csms.url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
