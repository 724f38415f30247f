#!/usr/bin/env python3
"""A stand-in for the Jupyter notebook on a Zumi robot, standard library
only: under the base URL /zumi01/ it serves a page, a JSON API and, like
Jupyter's kernel channels, a WebSocket that echoes every message back.

    device.py PORT

It listens on 127.0.0.1 of the "device"; `ssh -R` makes it appear on the
server, where tollgate publishes it.
"""
import base64
import hashlib
import json
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PAGE = b"""<!doctype html><title>Zumi 01 - Jupyter</title>
<h1>Zumi 01</h1><p>Notebook server of the robot, reached through an SSH tunnel.</p>
"""


def read_frame(rfile):
    """One WebSocket frame from a client: (opcode, payload) or None at EOF."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        size = struct.unpack(">H", rfile.read(2))[0]
    elif size == 127:
        size = struct.unpack(">Q", rfile.read(8))[0]
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = bytearray(rfile.read(size))
    for i in range(len(data)):
        data[i] ^= mask[i % 4]
    return opcode, bytes(data)


def frame(opcode, payload):
    """One unmasked (server) frame."""
    if len(payload) < 126:
        head = struct.pack(">BB", 0x80 | opcode, len(payload))
    else:
        head = struct.pack(">BBH", 0x80 | opcode, 126, len(payload))
    return head + payload


class Jupyter(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/zumi01/api/kernels/") and self.path.endswith("/channels"):
            return self.websocket()
        if self.path == "/zumi01/api":
            return self.answer(200, "application/json", json.dumps({"version": "6.5.4"}).encode())
        if self.path.startswith("/zumi01/"):
            return self.answer(200, "text/html; charset=utf-8", PAGE)
        self.answer(404, "text/plain", b"not found\n")

    def answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
            return self.answer(400, "text/plain", b"a WebSocket upgrade is expected\n")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            got = read_frame(self.rfile)
            if got is None or got[0] == 0x8:  # EOF or close
                break
            if got[0] == 0x1:  # text: echo it, as a kernel's reply
                self.wfile.write(frame(0x1, b"echo: " + got[1]))
                self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Jupyter).serve_forever()
