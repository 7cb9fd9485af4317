#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The SMTP server of the `smtp` test suite: aiosmtpd on 127.0.0.1, storing
# each message it receives in a directory, and driven at run time through a
# line-based control port (also on 127.0.0.1).
#
# Usage: /usr/bin/python3 smtp_server.py --dir DIR [--cert PEM --key PEM]
#                                        [--lifetime SECONDS]
#
# Prints one line on stdout once listening:
#   READY smtp=<port> smtps=<port or 0> control=<port>
#
# Each message received is stored as DIR/NNNN.eml (the raw bytes of DATA,
# after dot-unstuffing) and DIR/NNNN.env (lines "from <addr>", "to <addr>"
# per recipient, "auth <login>" when the client authenticated); the .eml
# appears last and atomically (written to a temporary name, then renamed).
#
# Control commands, one per connection or several, one line each; every
# command gets one reply line ("OK ..." or "ERR ..."):
#   delay SECONDS     sleep that long before every reply (greeting included)
#   refuse CODE TEXT  answer MAIL FROM with "CODE TEXT" (e.g. 451 / 550)
#   accept            stop refusing
#   away              stop listening and drop every open connection
#   back              listen again, on the same ports
#   count             reply "OK <number of messages stored>"
#   connections       reply "OK <number of SMTP connections open now>"
#   quit              stop the server and exit
#
# Bounded: the process exits by itself after --lifetime seconds (default
# 300), and when its stdin reaches end of file (the test process died).

import argparse
import asyncio
import os
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"


class State:
    def __init__(self, directory):
        self.directory = directory
        self.delay = 0.0
        self.refuse = None  # "CODE TEXT" or None
        self.count = 0
        self.protocols = set()


class Handler:
    def __init__(self, state):
        self.state = state

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.state.refuse:
            return self.state.refuse
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        st = self.state
        st.count += 1
        base = os.path.join(st.directory, "%04d" % st.count)
        lines = ["from %s" % envelope.mail_from]
        lines += ["to %s" % r for r in envelope.rcpt_tos]
        if session.auth_data is not None:
            login = session.auth_data.login
            if isinstance(login, bytes):
                login = login.decode("utf-8", "replace")
            lines.append("auth %s" % login)
        with open(base + ".env", "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == b"alice" and auth_data.password == b"s3cret")
    return AuthResult(success=ok, auth_data=auth_data if ok else None)


class TestSMTP(SMTP):
    """aiosmtpd's SMTP, slowed down on request and tracked for `away`."""

    def __init__(self, state, *args, **kwargs):
        self._state = state
        super().__init__(*args, **kwargs)

    def connection_made(self, transport):
        self._state.protocols.add(self)
        super().connection_made(transport)

    def connection_lost(self, error):
        self._state.protocols.discard(self)
        super().connection_lost(error)

    async def push(self, status):
        if self._state.delay > 0:
            await asyncio.sleep(self._state.delay)
        await super().push(status)


def listening_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(64)
    s.setblocking(False)
    return s


class Server:
    def __init__(self, args):
        self.state = State(args.dir)
        self.loop = asyncio.get_running_loop()
        self.tls = None
        if args.cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.cert, args.key)
        self.smtp_port = 0
        self.smtps_port = 0
        self.servers = []
        self.done = asyncio.Event()

    def factory(self):
        return TestSMTP(self.state, Handler(self.state), loop=self.loop,
                        hostname="offhand-test", tls_context=self.tls,
                        authenticator=authenticator, auth_require_tls=True,
                        timeout=60)

    async def listen(self):
        sock = listening_socket(self.smtp_port)
        self.smtp_port = sock.getsockname()[1]
        self.servers.append(await self.loop.create_server(self.factory, sock=sock))
        if self.tls:
            sock = listening_socket(self.smtps_port)
            self.smtps_port = sock.getsockname()[1]
            self.servers.append(await self.loop.create_server(
                self.factory, sock=sock, ssl=self.tls))

    async def go_away(self):
        for s in self.servers:
            s.close()
        for p in list(self.state.protocols):
            if p.transport is not None:
                p.transport.abort()
        for s in self.servers:
            await s.wait_closed()
        self.servers = []

    async def command(self, line):
        words = line.split()
        if not words:
            return "ERR empty"
        cmd, rest = words[0], words[1:]
        st = self.state
        if cmd == "delay" and len(rest) == 1:
            st.delay = float(rest[0])
        elif cmd == "refuse" and rest:
            st.refuse = " ".join(rest)
        elif cmd == "accept":
            st.refuse = None
        elif cmd == "away":
            await self.go_away()
        elif cmd == "back":
            if not self.servers:
                await self.listen()
        elif cmd == "count":
            return "OK %d" % st.count
        elif cmd == "connections":
            return "OK %d" % len(st.protocols)
        elif cmd == "quit":
            self.done.set()
        else:
            return "ERR unknown command"
        return "OK"

    async def control(self, reader, writer):
        try:
            while not reader.at_eof():
                line = await asyncio.wait_for(reader.readline(), 60)
                if not line:
                    break
                try:
                    reply = await self.command(line.decode().strip())
                except Exception as e:  # report, keep serving
                    reply = "ERR %s" % e
                writer.write((reply + "\n").encode())
                await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def watch_stdin(done):
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)
    done.set()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--lifetime", type=float, default=300)
    args = p.parse_args()

    server = Server(args)
    await server.listen()
    control = await asyncio.start_server(server.control, HOST, 0)
    control_port = control.sockets[0].getsockname()[1]
    print("READY smtp=%d smtps=%d control=%d"
          % (server.smtp_port, server.smtps_port, control_port), flush=True)

    stdin_task = asyncio.ensure_future(watch_stdin(server.done))
    try:
        await asyncio.wait_for(server.done.wait(), args.lifetime)
    except asyncio.TimeoutError:
        print("smtp_server.py: lifetime over, exiting", file=sys.stderr)
    control.close()
    await server.go_away()
    stdin_task.cancel()
    os._exit(0)  # the stdin reader thread would otherwise keep us alive


if __name__ == "__main__":
    asyncio.run(main())
