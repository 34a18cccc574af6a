#!/usr/bin/env python3
"""Drives Python's standard poplib against mail-server for examples/tests/pop3_interop.rs.

The Rust test decides what to do and what is right; this script only runs the actions named
on its command line, in order, on one poplib connection, and reports each outcome as one line
on stdout:

    ACTION <TAB> ok|err <TAB> RESPONSE LINE <TAB> EXTRA <TAB> FILE

The first line reports the greeting. A refused command (poplib.error_proto) is reported as
`err` with the server's response line and the script goes on with the next action. Messages
retrieved with RETR or TOP are written to `--out/<index>.eml` (index = the action's position,
from 0): poplib un-stuffs leading dots and strips line ends, so the file is the lines joined
with CRLF, each line ended by CRLF, which is the message as stored when it was stored with
CRLF line ends.

Actions:
    capa              CAPA; EXTRA = the capability names, space-separated
    stls              STLS (poplib.stls with the CA file's context)
    user / pass       USER / PASS alone
    login             USER then PASS
    login-retry       like login, retried for up to 5 s while the answer is -ERR [IN-USE]
    second-login      a second connection (with STLS in plain mode) logs in while this one
                      stays open; reports its PASS answer, then that connection QUITs
    stat              STAT; EXTRA = "COUNT SIZE"
    list / uidl       LIST / UIDL; EXTRA = the listing lines joined with ","
    list:N / uidl:N   LIST N / UIDL N
    retr:N            RETR N; EXTRA = poplib's octet count, FILE = the message
    top:N:L           TOP N L; EXTRA = poplib's octet count, FILE = what came back
    dele:N rset noop quit
    drop              close the connection without QUIT
    reconnect         open a new connection (for actions after quit or drop)
"""

import argparse
import os
import poplib
import ssl
import sys
import time

HOST = "127.0.0.1"


def text(value):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["plain", "ssl"], required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("actions", nargs="*")
    args = parser.parse_args()

    # Verifies the chain against our self-signed certificate and the name 127.0.0.1 (an IP
    # address SAN of the certificate).
    context = ssl.create_default_context(cafile=args.cafile)

    def connect():
        if args.mode == "ssl":
            return poplib.POP3_SSL(HOST, args.port, context=context, timeout=30)
        return poplib.POP3(HOST, args.port, timeout=30)

    def emit(action, ok, response, extra="", path=""):
        fields = [action, "ok" if ok else "err", text(response), text(extra), path]
        sys.stdout.write("\t".join(fields) + "\n")
        sys.stdout.flush()

    def save(index, lines):
        path = os.path.join(args.out, f"{index}.eml")
        with open(path, "wb") as file:
            file.write(b"".join(line + b"\r\n" for line in lines))
        return path

    def login(connection):
        connection.user(args.user)
        return connection.pass_(args.password)

    connection = connect()
    emit("greeting", True, connection.getwelcome())
    for index, action in enumerate(args.actions):
        name, *params = action.split(":")
        numbers = [int(param) for param in params]
        extra, path = "", ""
        try:
            if name == "capa":
                capabilities = connection.capa()
                response, extra = "+OK", " ".join(capabilities)
            elif name == "stls":
                response = connection.stls(context)
            elif name == "user":
                response = connection.user(args.user)
            elif name == "pass":
                response = connection.pass_(args.password)
            elif name == "login":
                response = login(connection)
            elif name == "login-retry":
                deadline = time.monotonic() + 5
                while True:
                    try:
                        response = login(connection)
                        break
                    except poplib.error_proto as error:
                        if b"[IN-USE]" not in error.args[0] or time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
            elif name == "second-login":
                second = connect()
                try:
                    if args.mode == "plain":
                        second.stls(context)
                    response = login(second)
                finally:
                    try:
                        second.quit()
                    except (poplib.error_proto, OSError):
                        second.close()
            elif name == "stat":
                count, size = connection.stat()
                response, extra = "+OK", f"{count} {size}"
            elif name in ("list", "uidl") and not numbers:
                response, lines, _ = getattr(connection, name)()
                extra = ",".join(line.decode("ascii") for line in lines)
            elif name in ("list", "uidl"):
                response = getattr(connection, name)(numbers[0])
            elif name == "retr":
                response, lines, octets = connection.retr(numbers[0])
                extra, path = str(octets), save(index, lines)
            elif name == "top":
                response, lines, octets = connection.top(numbers[0], numbers[1])
                extra, path = str(octets), save(index, lines)
            elif name == "dele":
                response = connection.dele(numbers[0])
            elif name == "rset":
                response = connection.rset()
            elif name == "noop":
                response = connection.noop()
            elif name == "quit":
                response = connection.quit()
            elif name == "drop":
                connection.close()
                response = "(closed without QUIT)"
            elif name == "reconnect":
                connection = connect()
                response = connection.getwelcome()
            else:
                raise SystemExit(f"unknown action {action}")
            emit(action, True, response, extra, path)
        except poplib.error_proto as error:
            emit(action, False, error.args[0] if error.args else "error_proto")


if __name__ == "__main__":
    main()
