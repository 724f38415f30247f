#!/usr/bin/env python3
"""The clients and the backend suite.sh needs that wrk, h2load and curl are
not: Python 3 standard library only (asyncio), nothing to install.

  suite_clients.py ws-echo PORT
      A WebSocket echo server on 127.0.0.1:PORT (the backend): answers the
      upgrade of any path and sends every data frame back, unmasked.
  suite_clients.py ws-load PORT CONNS SECONDS PID...
      CONNS WebSocket clients through the proxy on 127.0.0.1:PORT (path /ws).
      Once all are open, each sends a 16-byte masked text frame, waits for
      its echo, and again, for SECONDS. PIDs are the proxy's processes: their
      RSS is read before the connections open and once they are all open,
      and their CPU time over the echo phase only.
  suite_clients.py idle PORT CONNS PID...
      CONNS HTTP/1.1 keep-alive connections to 127.0.0.1:PORT, each making
      one GET / and then staying open, idle; the proxy's RSS before and with
      all of them open.
  suite_clients.py idle-tls PORT CONNS PID...
      The same over TLS (HTTP/1.1 by ALPN, the certificate not checked).
  suite_clients.py idle-h2 PORT CONNS PID...
      The same over HTTP/2 (TLS, ALPN h2): one GET / on stream 1, then idle,
      as a browser leaves its connection to a dashboard.

Each load prints one line of key=value figures (suite.sh reads it) and
writes errors to stderr. The framing is RFC 6455's, minimal: one frame per
message, no fragmentation, no extensions.
"""

import asyncio
import base64
import hashlib
import os
import signal
import ssl
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HZ = os.sysconf("SC_CLK_TCK")
# Connections opened at the same time: more only overflows listen backlogs
# (SYN retries add seconds), fewer only makes the ramp slower.
RAMP = 200


def cpu_ticks(pids):
    """user + sys clock ticks of these processes (all their threads)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            # Fields after the command name, which may hold spaces: utime and
            # stime are the 14th and 15th fields of the whole line.
            rest = f.read().rsplit(")", 1)[1].split()
        total += int(rest[11]) + int(rest[12])
    return total


def rss_kb(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


async def read_head(reader):
    """The request or response head, up to the blank line."""
    return await reader.readuntil(b"\r\n\r\n")


# --- the echo backend ---


async def echo_conn(reader, writer):
    try:
        head = await read_head(reader)
        key = b""
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        while True:
            b0, b1 = await reader.readexactly(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await reader.readexactly(8))
            mask = await reader.readexactly(4) if b1 & 0x80 else None
            payload = await reader.readexactly(n)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            if opcode == 0x8:  # close: answer it and stop
                writer.write(b"\x88\x00")
                break
            writer.write(frame(opcode, payload, None))
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


def frame(opcode, payload, mask):
    """One final frame; masked (as a client must) when mask is 4 bytes."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        return head + mask + payload
    return head + payload


async def ws_echo(port):
    server = await asyncio.start_server(echo_conn, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


# --- the WebSocket load ---


async def ws_open(port, ramp):
    async with ramp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n" % (port, key)
        )
        head = await read_head(reader)
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise RuntimeError("no upgrade: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
        return reader, writer


async def ws_echoes(reader, writer, deadline, rtts):
    mask = os.urandom(4)
    payload = b"0123456789abcdef"
    message = frame(0x1, payload, mask)
    now = time.perf_counter
    while now() < deadline:
        t0 = now()
        writer.write(message)
        b0, b1 = await reader.readexactly(2)
        await reader.readexactly(b1 & 0x7F)
        rtts.append(now() - t0)


async def open_all(opener, port, conns, what):
    """`conns` connections made by `opener`, RAMP at a time: the open ones,
    the failures (reported), and the seconds it took."""
    ramp = asyncio.Semaphore(RAMP)
    t_open = time.perf_counter()
    opened = await asyncio.gather(*(opener(port, ramp) for _ in range(conns)), return_exceptions=True)
    t_open = time.perf_counter() - t_open
    ok = [c for c in opened if not isinstance(c, BaseException)]
    errors = [c for c in opened if isinstance(c, BaseException)]
    if errors:
        print(f"{what}: {len(errors)} of {conns} connections failed, e.g. {errors[0]!r}", file=sys.stderr)
    return ok, errors, t_open


async def ws_load(port, conns, seconds, pids):
    rss_before = rss_kb(pids)
    ok, errors, t_open = await open_all(ws_open, port, conns, "ws-load")
    await asyncio.sleep(1)  # let the proxy settle before reading its RSS
    rss_open = rss_kb(pids)
    rtts = []
    ticks0, t0 = cpu_ticks(pids), time.perf_counter()
    deadline = t0 + seconds
    done = await asyncio.gather(*(ws_echoes(r, w, deadline, rtts) for r, w in ok), return_exceptions=True)
    elapsed, ticks = time.perf_counter() - t0, cpu_ticks(pids) - ticks0
    broken = [d for d in done if isinstance(d, BaseException)]
    if broken:
        print(f"ws-load: {len(broken)} connections broke while echoing, e.g. {broken[0]!r}", file=sys.stderr)
    for _, writer in ok:
        writer.close()
    rtts.sort()
    print(
        f"opened={len(ok)} failed={len(errors) + len(broken)} open_s={t_open:.2f} "
        f"messages={len(rtts)} seconds={elapsed:.3f} "
        f"p50_ms={percentile(rtts, 0.50) * 1e3:.3f} p99_ms={percentile(rtts, 0.99) * 1e3:.3f} "
        f"cpu_s={ticks / HZ:.2f} rss_before_kb={rss_before} rss_open_kb={rss_open}"
    )


# --- idle keep-alive connections ---


# For idle-tls: the bench's self-signed certificates are not checked.
TLS = None


async def idle_open(port, ramp):
    async with ramp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=TLS)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
        head = await read_head(reader)
        if not head.startswith(b"HTTP/1.1 200"):
            writer.close()
            raise RuntimeError("status: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return reader, writer


# The HTTP/2 frames idle_h2_open sends and reads (RFC 9113): a frame is a
# 9-byte header (length 24 bits, type, flags, stream) and its payload.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x4, 0x6, 0x7
END_STREAM, ACK = 0x1, 0x1


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack("!I", len(payload))[1:] + bytes([kind, flags]) + struct.pack("!I", stream) + payload


async def idle_h2_open(port, ramp):
    async with ramp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=TLS)
        if writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            writer.close()
            raise RuntimeError("no h2 by ALPN")
        authority = b"127.0.0.1:%d" % port
        # HPACK: :method GET, :scheme https, :path / (static table entries
        # 2, 7, 4), :authority as a literal (name: entry 1).
        block = b"\x82\x87\x84\x41" + bytes([len(authority)]) + authority
        writer.write(H2_PREFACE + h2_frame(SETTINGS, 0, 0) + h2_frame(HEADERS, END_STREAM | 0x4, 1, block))
        status_ok = False
        while True:
            head = await reader.readexactly(9)
            length = int.from_bytes(head[:3], "big")
            kind, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            payload = await reader.readexactly(length)
            if kind == SETTINGS and not flags & ACK:
                writer.write(h2_frame(SETTINGS, ACK, 0))
            elif kind == PING and not flags & ACK:
                writer.write(h2_frame(PING, ACK, 0, payload))
            elif kind == GOAWAY:
                writer.close()
                raise RuntimeError("GOAWAY")
            elif kind == HEADERS and stream == 1:
                # :status 200 is the static table's entry 8, indexed (0x88).
                status_ok = payload[:1] == b"\x88"
            if stream == 1 and kind in (HEADERS, DATA) and flags & END_STREAM:
                break
        if not status_ok:
            writer.close()
            raise RuntimeError("status: not 200")
        return reader, writer


async def idle(port, conns, pids, opener=idle_open):
    rss_before = rss_kb(pids)
    ok, errors, t_open = await open_all(opener, port, conns, "idle")
    await asyncio.sleep(2)  # idle: let the proxy settle (and free what it frees)
    rss_open = rss_kb(pids)
    # Still open? A proxy that closed idle connections early must not look thrifty.
    still = sum(1 for r, _ in ok if not r.at_eof())
    for _, writer in ok:
        writer.close()
    print(
        f"opened={len(ok)} failed={len(errors)} still_open={still} open_s={t_open:.2f} "
        f"rss_before_kb={rss_before} rss_open_kb={rss_open}"
    )


def main(argv):
    # Die of SIGINT (Ctrl-C) rather than exit after a KeyboardInterrupt: a
    # shell script sees a child killed by SIGINT and runs its trap (cleans
    # up and exits); it carries on after a child that exited normally.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if len(argv) >= 2 and argv[0] == "ws-echo":
        asyncio.run(ws_echo(int(argv[1])))
    elif len(argv) >= 5 and argv[0] == "ws-load":
        asyncio.run(ws_load(int(argv[1]), int(argv[2]), float(argv[3]), [int(p) for p in argv[4:]]))
    elif len(argv) >= 4 and argv[0] in ("idle", "idle-tls", "idle-h2"):
        if argv[0] != "idle":
            global TLS
            TLS = ssl.create_default_context()
            TLS.check_hostname = False
            TLS.verify_mode = ssl.CERT_NONE
            TLS.set_alpn_protocols(["h2" if argv[0] == "idle-h2" else "http/1.1"])
        opener = idle_h2_open if argv[0] == "idle-h2" else idle_open
        asyncio.run(idle(int(argv[1]), int(argv[2]), [int(p) for p in argv[3:]], opener))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
