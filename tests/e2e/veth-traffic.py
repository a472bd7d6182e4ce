#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Traffic for the veth tests, run inside a container's network namespace.

  udp-recv <addr> <port> <stopfile>         count datagrams until told to stop
  udp-send <addr> <port> <count> <size> [broadcast]
  tcp-sink <addr> <port> <conns>            "<label> <sha256>" per stream
  tcp-send <addr> <port> <label> <bytes>    send seeded bytes, print the same
  tcp-echo <addr> <port>                    echo one connection
  tcp-rr <addr> <port> <count>              round trips of 1 byte
"""
import hashlib
import os
import random
import socket
import sys
import threading
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_recv(addr, port, stop):
    """Count datagrams until the file stop exists, then those still queued:
    the test makes it once its sender is done, so a slow machine only
    waits longer, never counts short."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    print("ready", flush=True)
    s.settimeout(0.05)
    n = 0
    deadline = time.monotonic() + 120
    while not os.path.exists(stop) and time.monotonic() < deadline:
        try:
            s.recv(65535)
            n += 1
        except socket.timeout:
            pass
    # What is still on its way through the bridge: until 0.3 s of quiet.
    s.settimeout(0.3)
    try:
        while True:
            s.recv(65535)
            n += 1
    except socket.timeout:
        pass
    print(n)


def udp_send(addr, port, count, size, bcast=None):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    if bcast:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if family(addr) == socket.AF_INET:
        # Let the kernel send what is too big for a path, not refuse it.
        s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = DONT
    data = b"u" * int(size)
    for _ in range(int(count)):
        s.sendto(data, (addr, int(port)))


def tcp_sink(addr, port, conns):
    l = socket.socket(family(addr))
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, int(port)))
    l.listen(16)
    print("ready", flush=True)
    out, lock = [], threading.Lock()

    def one(c):
        f = c.makefile("rb")
        label = f.readline().strip().decode()
        h = hashlib.sha256()
        while True:
            b = f.read(65536)
            if not b:
                break
            h.update(b)
        with lock:
            out.append("%s %s" % (label, h.hexdigest()))
        c.close()

    ts = []
    for _ in range(int(conns)):
        c, _ = l.accept()
        t = threading.Thread(target=one, args=(c,))
        t.start()
        ts.append(t)
    for t in ts:
        t.join()
    for line in sorted(out):
        print(line)


def tcp_send(addr, port, label, nbytes):
    rnd = random.Random(label)
    c = socket.create_connection((addr, int(port)))
    c.sendall(label.encode() + b"\n")
    h = hashlib.sha256()
    left = int(nbytes)
    while left:
        n = min(left, 1 << 16 if rnd.random() < 0.5 else rnd.randint(1, 9000))
        b = rnd.randbytes(n)
        h.update(b)
        c.sendall(b)
        left -= n
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
    print("%s %s" % (label, h.hexdigest()))


def tcp_echo(addr, port):
    l = socket.socket(family(addr))
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, int(port)))
    l.listen(1)
    print("ready", flush=True)
    c, _ = l.accept()
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)


def tcp_rr(addr, port, count):
    c = socket.create_connection((addr, int(port)))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(int(count)):
        c.sendall(b"x")
        if c.recv(1) != b"x":
            sys.exit("echo broke")
    print("ok")


cmds = {"udp-recv": udp_recv, "udp-send": udp_send, "tcp-sink": tcp_sink,
        "tcp-send": tcp_send, "tcp-echo": tcp_echo, "tcp-rr": tcp_rr}
cmds[sys.argv[1]](*sys.argv[2:])
