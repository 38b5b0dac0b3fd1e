#!/usr/bin/env python3
"""A stand-in for the kubelet's authenticated port, for guardian's tests.

Serves GET /pods over HTTPS from a PodList file (read again at every
request, so a test changes the node's pods by rewriting it), and answers
401 to a request without `Authorization: Bearer <the token>`, as the
kubelet does. Every request is appended to --requests as one line
("200 /pods" or "401 /pods"), so a test can wait on it.

usage: kubelet-standin.py --cert CERT --key KEY --token FILE --pods FILE
                          [--port N] [--port-file FILE] [--requests FILE]
"""
import argparse
import http.server
import os
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True, help="file holding the one accepted token")
    ap.add_argument("--pods", required=True, help="PodList JSON, read at each request")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--requests")
    a = ap.parse_args()

    with open(a.token) as f:
        token = f.read().strip()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def note(self, code):
            if a.requests:
                with open(a.requests, "a") as f:
                    f.write(f"{code} {self.path}\n")

        def answer(self, code, body, ctype="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.note(code)

        def do_GET(self):
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.answer(401, b"Unauthorized\n", "text/plain")
                return
            if self.path != "/pods":
                self.answer(404, b"404 page not found\n", "text/plain")
                return
            with open(a.pods, "rb") as f:
                self.answer(200, f.read())

    srv = http.server.ThreadingHTTPServer((a.host, a.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{srv.server_address[1]}\n")
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
