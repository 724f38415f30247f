#!/usr/bin/env python3
"""Opens a WebSocket through tollgate over HTTPS, with basic auth, sends
one message and prints the reply (standard library only).

    ws_client.py HOST PORT CA_FILE USER:PASSWORD PATH MESSAGE
"""
import base64
import os
import socket
import ssl
import struct
import sys

host, port, ca, credentials, path, message = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
raw = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
conn = ctx.wrap_socket(raw, server_hostname=host)
key = base64.b64encode(os.urandom(16)).decode()
auth = base64.b64encode(credentials.encode()).decode()
conn.sendall((
    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Basic {auth}\r\n\r\n"
).encode())
reader = conn.makefile("rb")
status = reader.readline().decode().strip()
if " 101 " not in status + " ":
    sys.exit(f"no upgrade: {status}")
while reader.readline() not in (b"\r\n", b""):
    pass
payload = message.encode()
mask = os.urandom(4)
masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
conn.sendall(struct.pack(">BB", 0x81, 0x80 | len(payload)) + mask + masked)
head = reader.read(2)
size = head[1] & 0x7F
print(reader.read(size).decode())
