# SPDX-License-Identifier: MIT
"""CPython's email package as the oracle of SmtpHandler's mail text.

Usage: mime_oracle.py CASES.json OUT.json. CASES is a list of
{"op": ..., "in": hex, "arg": str}; OUT gets one hex string per case: what
Python makes of the input (a decoded header, a decoded body, an encoding of
its own). Everything is hex so that any byte crosses unchanged.
"""
import base64
import datetime
import email
import email.policy
import email.quoprimime
import email.utils
import json
import sys


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def run(op, data, arg):
    if op == "base64":
        return base64.b64encode(data)
    if op == "header":
        # data is one header field as written, folded lines and final CRLF
        msg = parse(data + b"\r\n")
        return str(msg[arg]).encode("utf-8")
    if op == "body":
        # data is the body as written; arg its Content-Transfer-Encoding
        head = ("Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: " + arg + "\r\n\r\n").encode("ascii")
        # as a reader shows it: line ends as Python's str, "\n"
        text = parse(head + data).get_content()
        return text.replace("\r\n", "\n").encode("utf-8")
    if op == "qp":
        # Python's own quoted-printable of the UTF-8 text, CRLF line ends, as
        # email.charset does it for a UTF-8 body (byte by byte)
        return email.quoprimime.body_encode(data.decode("latin-1"), 76, "\r\n").encode("ascii")
    if op == "utf8":
        # Python's decoding of possibly ill-formed UTF-8, U+FFFD for errors
        return data.decode("utf-8", "replace").encode("utf-8")
    if op == "date":
        t = int(arg)
        return email.utils.format_datetime(
            datetime.datetime.fromtimestamp(t).astimezone()).encode("ascii")
    if op == "date_seconds":
        return str(int(email.utils.parsedate_to_datetime(data.decode("ascii")).timestamp())).encode()
    if op == "address":
        # the address as a From/To header holding it alone: one address,
        # no display name, no defect, the same addr-spec
        a = data.decode("utf-8")
        field = parse(("To: " + a + "\r\n\r\n").encode("utf-8"))["to"]
        ok = (len(field.addresses) == 1 and not field.defects and
              field.addresses[0].display_name == "" and field.addresses[0].addr_spec == a)
        return b"1" if ok else b"0"
    raise ValueError(op)


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = [run(c["op"], bytes.fromhex(c["in"]), c.get("arg", "")).hex() for c in cases]
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


main()
