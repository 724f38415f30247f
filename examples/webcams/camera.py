#!/usr/bin/env python3
"""A stand-in webcam: an MJPEG stream (multipart/x-mixed-replace), as
mjpg-streamer and OctoPrint's webcam serve it, over HTTP/1.0 with the body
ending when the connection closes.

    camera.py PORT NAME [FPS]

Every frame is test-pattern.jpg with a JPEG comment (COM segment) naming
the camera and the frame number, so a viewer can tell frames and cameras
apart without decoding images.
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, NAME = int(sys.argv[1]), sys.argv[2]
FPS = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-pattern.jpg"), "rb") as f:
    PATTERN = f.read()


def frame(n):
    text = f"camera {NAME} frame {n}".encode()
    comment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return PATTERN[:2] + comment + PATTERN[2:]  # after SOI


class Camera(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        n = 0
        try:
            while True:
                jpeg = frame(n)
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                self.wfile.flush()
                n += 1
                time.sleep(1 / FPS)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Camera).serve_forever()
