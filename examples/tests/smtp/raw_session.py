#!/usr/bin/env python3
"""Speaks raw SMTP over implicit TLS: sends the file's bytes exactly as they are, in
pieces, and prints every reply line the server sent until it closes or goes quiet.

usage: raw_session.py PORT CAFILE INPUT_FILE
"""
import socket
import ssl
import sys
import time

port, cafile, input_file = sys.argv[1:4]
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False
raw = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
tls = context.wrap_socket(raw)
with open(input_file, "rb") as handle:
    data = handle.read()
received = b""
tls.settimeout(0.3)
for offset in range(0, len(data), 4096):
    tls.sendall(data[offset:offset + 4096])
    try:
        received += tls.recv(65536)
    except socket.timeout:
        pass
tls.settimeout(5)
deadline = time.time() + 10
while time.time() < deadline:
    try:
        chunk = tls.recv(65536)
    except (socket.timeout, ssl.SSLError, OSError):
        break
    if not chunk:
        break
    received += chunk
sys.stdout.write(received.decode("utf-8", "replace"))
