#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The `examples` suite: runs one example program as a user would and checks
# what it prints, so that no example (nor the guide page that shows it)
# rots. Servers an example needs are started here on 127.0.0.1 and always
# stopped.
#
#   run_example.py NAME PROGRAM
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

SOURCE_ROOT = os.environ.get("OFFHAND_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
TIMEOUT = 60


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def expect(condition, what, result=None):
    if not condition:
        if result is not None:
            sys.stderr.write(f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n")
        sys.exit(f"FAIL: {what}")


def check_exit(result, status=0):
    expect(result.returncode == status, f"exit status {result.returncode}, expected {status}", result)


def slow_handler(program):
    r = run([program])
    check_exit(r)
    expect("20 of 20 arrived (caller waits: 0, dropped: 0)" in r.stdout, "every mail arrived", r)


def quickstart(program):
    with tempfile.TemporaryDirectory() as d:
        r = run([program, os.path.join(d, "app.log")])
    check_exit(r)
    lines = r.stdout.splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    expect(re.fullmatch(stamp + r" INFO     app\.http: request 42 took 3\.142 ms", lines[0]), "INFO line", r)
    expect(re.fullmatch(stamp + r" WARNING  app\.http: quota at 91%", lines[1]), "WARNING line", r)
    expect(re.fullmatch(stamp + r" ERROR    app\.http: could not save report\.pdf", lines[2]), "ERROR line", r)
    expect(lines[3:] == ["std::runtime_error: disk full"], "exc_text: the exception's type and what()", r)


def python_users(program):
    r = run([program])
    check_exit(r)
    # Two handlers write to stdout: the root's through a queue (its own
    # thread), app.audit's directly; each one's lines keep their order.
    lines = r.stdout.splitlines()
    audit = [line for line in lines if line.startswith("INFO app.audit")]
    expect(audit == ["INFO app.audit [user=ann]: logged in"], "the adapter's record, with its field", r)
    expect([line for line in lines if line not in audit] == [
        "INFO app.db: connected to db-1 in 12 ms",
        "WARNING app.db: slow query",
        "ERROR app.db: query failed",
        "std::runtime_error: connection reset",
        "WARNING root: module-level, on the root logger"], "the root's records, DEBUG left out", r)


def spdlog_users(program):
    with tempfile.TemporaryDirectory() as d:
        r = run([program, d])
    check_exit(r)
    messages = [line.split("] ", 3)[-1] for line in r.stdout.splitlines()]
    expect(messages == ["started with 4 threads", "queue 0 is full", "giving up after 3 tries"],
           "the file holds INFO and up, one rate-limited warning", r)
    expect(r.stderr.splitlines()[-1].endswith("[ERROR] [worker] giving up after 3 tries"),
           "the console gets WARNING and up", r)
    expect("never compiled in" not in r.stdout + r.stderr, "DEBUG compiled out", r)


def overflow_policy(program):
    r = run([program])
    check_exit(r)
    rows = {}
    for line in r.stdout.splitlines():
        name, *pairs = line.split()
        rows[name] = {k: int(v) for k, v in (p.split("=") for p in pairs)}
    expect(set(rows) == {"block", "drop_newest", "block_for", "level_aware"}, "one line per policy", r)
    for name, c in rows.items():
        expect(c["enqueued"] == 600, f"{name}: 600 records handed in", r)
        expect(c["emitted"] + c["dropped"] == 600, f"{name}: each record emitted or dropped", r)
    expect(rows["block"]["dropped"] == 0 and rows["block"]["caller_waits"] > 0,
           "block loses nothing and makes callers wait", r)
    expect(rows["drop_newest"]["dropped"] > 0 and rows["drop_newest"]["caller_waits"] == 0,
           "drop_newest drops and never waits", r)
    expect(rows["level_aware"]["dropped_error"] == 0 and rows["level_aware"]["dropped"] > 0,
           "level_aware keeps every ERROR", r)


def shipping(program):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(TIMEOUT)
    received = []

    def collect():
        try:
            conn, _ = server.accept()
            conn.settimeout(TIMEOUT)
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                received.extend(data.decode().splitlines())
        except OSError:
            pass

    t = threading.Thread(target=collect)
    t.start()
    try:
        r = run([program, "--tcp", "127.0.0.1:%d" % server.getsockname()[1]])
    finally:
        t.join(TIMEOUT)
        server.close()
    check_exit(r)
    expect(r.stdout.strip() == "records sent=2 dropped=0", "both records sent", r)
    records = [json.loads(line) for line in received]
    expect([(x["levelname"], x["name"], x["message"]) for x in records]
           == [("INFO", "billing", "paid 19.5 EUR"), ("ERROR", "billing", "card declined")],
           "the collector read both records as JSON", r)
    expect(records[0]["fields"] == {"order": 42, "user": "ann"}, "fields arrive as JSON values", r)


def troubleshooting(program):
    r = run([program])
    check_exit(r)
    expect("--- Logging error ---" in r.stderr, "handle_error's report on stderr", r)
    expect("write failed: No space left on device" in r.stderr, "the reason in the report", r)
    expect("handler errors: 1 (proxy counter), 1 (handler's count)" in r.stdout, "counted once", r)
    expect(re.search(r"^WARNING offhand\.proxy: ProxyHandler: queue full, (\d+) records dropped "
                     r"\(INFO: \1\)$", r.stdout, re.M), "the drops reported in the log itself", r)
    expect("nobody configured logging\n" in r.stderr, "the last resort writes WARNING to stderr", r)
    expect("and this is not shown" not in r.stdout + r.stderr, "the last resort skips INFO", r)
    errors = [line for line in r.stdout.splitlines() if line.startswith("ConfigError: ")]
    expect(len(errors) == 8, "eight configuration mistakes", r)
    for text in ['root.level: unknown level "INFOO"',
                 'handlers.q.class: unknown class "logging.handlers.QueueHandlr" '
                 '(did you mean "logging.handlers.QueueHandler"?)',
                 'handlers.h.formatter: unknown formatter "plain"',
                 'root.handlers[0]: unknown handler "console"',
                 "handlers.f.strem: unknown key"]:
        expect("ConfigError: " + text in errors, f"the message names the key: {text}", r)


def email_alert(program):
    server_script = os.path.join(SOURCE_ROOT, "tests", "handlers", "smtp", "smtp_server.py")
    with tempfile.TemporaryDirectory() as d:
        server = subprocess.Popen(["/usr/bin/python3", server_script, "--dir", d, "--lifetime", "120"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            ready = server.stdout.readline()
            m = re.match(r"READY smtp=(\d+) ", ready)
            expect(m is not None, f"the SMTP server started ({ready!r})")
            r = run([program, "--smtp", "127.0.0.1:" + m.group(1), "--to", "ops@example.com"])
            mails = sorted(f for f in os.listdir(d) if f.endswith(".eml"))
        finally:
            server.kill()
            server.wait()
    check_exit(r)
    # Three CRITICAL records: the first mailed at once, the two others in one
    # digest when the program closes the proxy.
    expect(re.search(r"mails sent=2; records dropped=0$", r.stdout.strip()), "two mails, nothing lost", r)
    expect(len(mails) == 2, f"the server received 2 mails, not {len(mails)}", r)


def boost_migration(program):
    with tempfile.TemporaryDirectory() as d:
        r = run([program], cwd=d)
        with open(os.path.join(d, "boost_migration_000.log")) as f:
            text = f.read()
    check_exit(r)
    expect("warning: slow upstream: 1250 ms" in r.stderr, "the console sink got the warning", r)
    expect("[info] : service starting" in text or "service starting" in text, "the file sink got the info", r)
    expect("charge failed: card declined" in text, "offhand's own call reached the file sink", r)


if __name__ == "__main__":
    name, program = sys.argv[1], os.path.abspath(sys.argv[2])
    globals()[name](program)
    print(f"{name}: ok")
