#!/usr/bin/env python3
"""Clients and a server for the real-program tests, in the I/O styles that
decide how netaccel treats a socket.

  echo-server PORTFILE        event-driven (non-blocking, selectors) echo
                              server; on EOF it sends what is left and
                              closes. Writes its port to PORTFILE.
  stream PORT SIZE CONNS [PAUSE-MS]
                              event-driven client: per connection, sends
                              SIZE seeded bytes while reading the echo,
                              then half-closes and reads to EOF; checks the
                              echo byte for byte. With PAUSE-MS it first
                              sends 100 bytes, reads their echo and waits
                              (a request, then an upload).
  halfclose PORT CONNS        a blocking client (no timeout): sendall(),
                              shutdown(SHUT_WR), then recv() to EOF, as an
                              HTTP/1.0 client or `printf | nc` does.
  threads PORT SIZE           one blocking socket, a writer thread and a
                              reader thread at once.

The server binds $NETPROBE_BIND and clients connect to $NETPROBE_HOST
(both 127.0.0.1 by default; "::" binds every IPv6 and IPv4 address).

Every wait is bounded (20 s); any error exits 1 with one line on stderr.
"""
import hashlib
import os
import selectors
import socket
import sys
import threading
import time

TIMEOUT = 20.0
BIND = os.environ.get("NETPROBE_BIND", "127.0.0.1")
HOST = os.environ.get("NETPROBE_HOST", "127.0.0.1")


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def fail(msg):
    print(f"netprobe: {msg}", file=sys.stderr)
    sys.exit(1)


def pattern(seed, size):
    """SIZE bytes, the same for the same seed."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    while len(out) < size:
        out += block
        block = hashlib.sha256(block[:32]).digest() * 2048
    return bytes(out[:size])


def echo_server(portfile):
    ls = socket.socket(family(BIND), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(BIND) == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind((BIND, 0))
    ls.listen(128)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    while True:
        for key, ev in sel.select():
            if key.data is None:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, {"out": bytearray(), "eof": False})
                continue
            c, st = key.fileobj, key.data
            if ev & selectors.EVENT_READ and not st["eof"]:
                try:
                    d = c.recv(262144)
                except BlockingIOError:
                    d = None
                except ConnectionError:
                    sel.unregister(c)
                    c.close()
                    continue
                if d == b"":
                    st["eof"] = True
                elif d:
                    st["out"] += d
            if st["out"]:
                try:
                    n = c.send(st["out"])
                    del st["out"][:n]
                except BlockingIOError:
                    pass
                except ConnectionError:
                    sel.unregister(c)
                    c.close()
                    continue
            if st["eof"] and not st["out"]:
                sel.unregister(c)
                c.close()
                continue
            want = (0 if st["eof"] else selectors.EVENT_READ) | (
                selectors.EVENT_WRITE if st["out"] else 0)
            sel.modify(c, want, st)


def stream(port, size, conns, pause_ms=0):
    for i in range(conns):
        data = pattern(i, size)
        s = socket.socket(family(HOST), socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((HOST, port))
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_WRITE)
        if not sel.select(TIMEOUT):
            fail(f"connection {i}: connect timed out")
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            fail(f"connection {i}: connect: {os.strerror(err)}")
        sent, got, shut = 0, bytearray(), False
        if pause_ms and size > 100:
            sel.modify(s, selectors.EVENT_READ)
            s.send(data[:100])
            sent = 100
            while len(got) < 100:
                if not sel.select(TIMEOUT):
                    fail(f"connection {i}: no echo of the first 100 bytes")
                try:
                    got += s.recv(100 - len(got))
                except BlockingIOError:
                    pass
            time.sleep(pause_ms / 1000)
        sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while True:
            if not sel.select(TIMEOUT):
                fail(f"connection {i}: stalled after sending {sent} and receiving {len(got)} of {size} bytes")
            try:
                d = s.recv(262144)
                if d == b"":
                    break
                got += d
            except BlockingIOError:
                pass
            if sent < size:
                try:
                    sent += s.send(data[sent:sent + 262144])
                except BlockingIOError:
                    pass
            if sent == size and not shut:
                s.shutdown(socket.SHUT_WR)
                shut = True
                sel.modify(s, selectors.EVENT_READ)
        s.close()
        if bytes(got) != data:
            fail(f"connection {i}: echo differs: sent {size} bytes, got {len(got)}")
    print(f"ok {conns} connections of {size} bytes")


def halfclose(port, conns):
    for i in range(conns):
        req = pattern(1000 + i, 1000)
        s = socket.create_connection(("127.0.0.1", port))  # blocking, no timeout
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            d = s.recv(65536)  # BlockingIOError here is the bug under test
            if not d:
                break
            got += d
        s.close()
        if bytes(got) != req:
            fail(f"connection {i}: reply differs ({len(got)} bytes)")
    print(f"ok {conns} half-closing connections")


def threads(port, size):
    data = pattern(7, size)
    s = socket.create_connection(("127.0.0.1", port))
    got = bytearray()
    errors = []

    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(f"writer: {e}")

    def reader():
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got.extend(d)
        except OSError as e:
            errors.append(f"reader: {e}")

    ts = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(TIMEOUT)
        if t.is_alive():
            fail("a thread is stuck")
    if errors:
        fail("; ".join(errors))
    if bytes(got) != data:
        fail(f"echo differs: sent {size}, got {len(got)}")
    print(f"ok {size} bytes with a reader and a writer thread")


def main():
    a = sys.argv[1:]
    try:
        if a[:1] == ["echo-server"] and len(a) == 2:
            echo_server(a[1])
        elif a[:1] == ["stream"] and len(a) in (4, 5):
            stream(int(a[1]), int(a[2]), int(a[3]), int(a[4]) if len(a) == 5 else 0)
        elif a[:1] == ["halfclose"] and len(a) == 3:
            halfclose(int(a[1]), int(a[2]))
        elif a[:1] == ["threads"] and len(a) == 3:
            threads(int(a[1]), int(a[2]))
        else:
            fail("usage: see the top of this file")
    except OSError as e:
        fail(str(e))


if __name__ == "__main__":
    main()
