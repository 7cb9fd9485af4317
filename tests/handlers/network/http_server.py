#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The HTTP server of the `network` test suite: Python's http.server on
# 127.0.0.1 (HTTP/1.1, keep-alive; HTTPS with --cert/--key), storing every
# request it answers in a directory, and driven at run time through a
# line-based control port (also on 127.0.0.1).
#
# Usage: /usr/bin/python3 http_server.py --dir DIR [--cert PEM --key PEM]
#                                        [--lifetime SECONDS]
#
# Prints one line on stdout once listening:
#   READY http=<port> control=<port>
#
# Each request answered is stored as DIR/NNNN.json (written to a temporary
# name, then renamed, before the answer is sent):
#   {"status": 200, "method": "POST", "path": "/logs",
#    "headers": {"content-type": "application/json", ...}  (names lower-case)
#    "gzip": true when Content-Encoding was gzip, "raw_length": bytes received,
#    "body": the body, gunzipped, as text; "utf8": whether it was valid UTF-8}
#
# Control commands, one line each, one reply line each ("OK ..." or "ERR ..."):
#   respond STATUS [COUNT [RETRY_AFTER]]
#                     answer the next COUNT (default 1) requests with STATUS,
#                     with a Retry-After header when given (then 200 again)
#   hang [COUNT]      never answer the next COUNT (default 1) requests
#   release           close the connections of hung requests, unanswered
#   away              stop listening and drop every open connection
#   back              listen again, on the same port
#   count             "OK <requests answered 2xx>"
#   total             "OK <requests answered, any status>"
#   quit              stop the server and exit
#
# Bounded: the process exits by itself after --lifetime seconds (default
# 300), and when its stdin reaches end of file (the test process died).

import argparse
import gzip
import http.server
import json
import os
import socket
import socketserver
import ssl
import sys
import threading

HOST = "127.0.0.1"


class State:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.script = []  # [status, retry_after or None] for the next requests
        self.hang = 0
        self.released = threading.Event()
        self.stored = 0
        self.ok = 0
        self.connections = set()

    def next_action(self):
        with self.lock:
            if self.hang > 0:
                self.hang -= 1
                return ("hang", None)
            if self.script:
                return ("respond", self.script.pop(0))
            return ("respond", (200, None))

    def store(self, record):
        with self.lock:
            self.stored += 1
            if 200 <= record["status"] < 300:
                self.ok += 1
            base = os.path.join(self.directory, "%04d" % self.stored)
        with open(base + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(base + ".tmp", base + ".json")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by Server

    def setup(self):
        super().setup()
        with self.state.lock:
            self.state.connections.add(self.connection)

    def finish(self):
        with self.state.lock:
            self.state.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        action, detail = self.state.next_action()
        if action == "hang":
            self.state.released.wait(timeout=240)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status, retry_after = detail
        zipped = self.headers.get("Content-Encoding", "") == "gzip"
        body = gzip.decompress(raw) if zipped else raw
        try:
            text, utf8 = body.decode("utf-8"), True
        except UnicodeDecodeError:
            text, utf8 = body.decode("utf-8", "replace"), False
        self.state.store({
            "status": status, "method": self.command, "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "gzip": zipped, "raw_length": len(raw), "body": text, "utf8": utf8,
        })
        answer = b'{"ok": true}' if status < 300 else b'{"error": "test server says %d"}' % status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(answer)


class HttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server:
    def __init__(self, args):
        self.state = State(args.dir)
        Handler.state = self.state
        self.tls = None
        if args.cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.cert, args.key)
        self.port = 0
        self.httpd = None
        self.done = threading.Event()

    def listen(self):
        httpd = HttpServer((HOST, self.port), Handler)
        if self.tls:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self.httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def go_away(self):
        if self.httpd is None:
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd = None
        with self.state.lock:
            connections = list(self.state.connections)
        for c in connections:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def command(self, line):
        words = line.split()
        if not words:
            return "ERR empty"
        cmd, rest = words[0], words[1:]
        st = self.state
        if cmd == "respond" and 1 <= len(rest) <= 3:
            count = int(rest[1]) if len(rest) > 1 else 1
            retry_after = rest[2] if len(rest) > 2 else None
            with st.lock:
                st.script += [(int(rest[0]), retry_after)] * count
        elif cmd == "hang":
            with st.lock:
                st.hang += int(rest[0]) if rest else 1
            st.released.clear()
        elif cmd == "release":
            st.released.set()
        elif cmd == "away":
            self.go_away()
        elif cmd == "back":
            if self.httpd is None:
                self.listen()
        elif cmd == "count":
            with st.lock:
                return "OK %d" % st.ok
        elif cmd == "total":
            with st.lock:
                return "OK %d" % st.stored
        elif cmd == "quit":
            self.done.set()
        else:
            return "ERR unknown command"
        return "OK"

    def control(self, conn):
        with conn:
            conn.settimeout(60)
            f = conn.makefile("rwb")
            for line in f:
                try:
                    reply = self.command(line.decode().strip())
                except Exception as e:  # report, keep serving
                    reply = "ERR %s" % e
                f.write((reply + "\n").encode())
                f.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--lifetime", type=float, default=300)
    args = p.parse_args()

    server = Server(args)
    server.listen()
    control = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    control.bind((HOST, 0))
    control.listen(8)

    def accept_loop():
        while True:
            conn, _ = control.accept()
            threading.Thread(target=server.control, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), server.done.set()),
                     daemon=True).start()
    print("READY http=%d control=%d" % (server.port, control.getsockname()[1]), flush=True)
    if not server.done.wait(args.lifetime):
        print("http_server.py: lifetime over, exiting", file=sys.stderr)
    server.state.released.set()
    os._exit(0)


if __name__ == "__main__":
    main()
