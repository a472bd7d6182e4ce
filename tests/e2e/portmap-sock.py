#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Socket scenarios for tests/e2e/portmap.sh, run inside a cgroup.

Each scenario prints what an application would notice, one "key=value"
per line (errors as errno names), so the shell test compares words.

  views FAMILY LISTEN_ADDR CONNECT_ADDR PORT   bind/listen, connect, accept
  bind FAMILY ADDR PORT [reuseport]            one bind: port or errno
  twice FAMILY ADDR PORT [reuseport]           two binds at once
  serve FAMILY ADDR PORT TAG                   answer every connection with TAG
  fetch FAMILY ADDR PORT                       connect, print what is answered
  udp FAMILY ADDR PORT                         datagrams both ways
  udpserve FAMILY ADDR PORT TAG                answer every datagram with TAG
  udpfetch FAMILY ADDR PORT                    send one, print the answer
  rebind FAMILY ADDR PORT                      bind a bound socket again
  bulk ADDR PORT BYTES                         send BYTES to a listener, check the echo count
"""
import errno
import os
import select
import socket
import time
import sys

FAM = {"4": socket.AF_INET, "6": socket.AF_INET6}


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def port_of(addr):
    return addr[1]


def sock(fam, kind=socket.SOCK_STREAM, reuseport=False, v6only=None, reuseaddr=True):
    s = socket.socket(FAM[fam], kind)
    if kind == socket.SOCK_STREAM and reuseaddr:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if v6only is not None and fam == "6":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    return s


def views(fam, laddr, caddr, port):
    cfam = "6" if ":" in caddr else "4"
    l = sock(fam, v6only=0)
    l.bind((laddr, port))
    l.listen(8)
    print("listener=%d" % port_of(l.getsockname()))
    c = socket.socket(FAM[cfam])
    try:
        c.connect((caddr, port))
    except OSError as e:
        print("connect=" + err_name(e))
        return
    a, _ = l.accept()
    print("accepted=%d" % port_of(a.getsockname()))
    print("peer=%d" % port_of(c.getpeername()))
    # The accepted socket's peer is the client's own (real) port.
    print("same_client=%s" % (port_of(a.getpeername()) == port_of(c.getsockname())))
    c.sendall(b"ping")
    print("data=%s" % a.recv(16).decode())


def bind(fam, addr, port, reuseport=False, kind=socket.SOCK_STREAM, reuseaddr=True):
    s = sock(fam, kind, reuseport, reuseaddr=reuseaddr)
    try:
        s.bind((addr, port))
    except OSError as e:
        return s, err_name(e)
    return s, str(port_of(s.getsockname()))


def twice(fam, addr, port, reuseport):
    """A listener on the port, then a second socket binding it (without
    SO_REUSEADDR, which lets two sockets bind one port until one listens)."""
    s1, r1 = bind(fam, addr, port, reuseport, reuseaddr=False)
    if r1.isdigit():
        s1.listen(1)
    s2, r2 = bind(fam, addr, port, reuseport, reuseaddr=False)
    if r2.isdigit():
        s2.listen(1)
    print("first=%s" % r1)
    print("second=%s" % r2)


def serve(fam, addr, port, tag):
    l = sock(fam, v6only=0)
    l.bind((addr, port))
    l.listen(64)
    print("listening=%d" % port_of(l.getsockname()), flush=True)
    while True:
        a, _ = l.accept()
        a.sendall(tag.encode())
        a.close()


def fetch(fam, addr, port):
    c = socket.socket(FAM[fam])
    c.settimeout(5)
    try:
        c.connect((addr, port))
        got = b""
        while True:
            b = c.recv(64)
            if not b:
                break
            got += b
        print("got=%s" % got.decode())
        print("peer=%d" % port_of(c.getpeername()))
    except OSError as e:
        print("got=" + err_name(e))


def udp(fam, addr, port):
    srv = sock(fam, socket.SOCK_DGRAM)
    srv.bind((addr, port))
    print("server=%d" % port_of(srv.getsockname()))
    cli = socket.socket(FAM[fam], socket.SOCK_DGRAM)
    cli.settimeout(5)
    srv.settimeout(5)
    cli.sendto(b"hello", (addr, port))
    data, src = srv.recvfrom(64)
    print("server_got=%s" % data.decode())
    srv.sendto(b"back", src)
    data, src = cli.recvfrom(64)
    print("client_got=%s" % data.decode())
    print("reply_from=%d" % port_of(src))
    # Connected UDP: connect, getpeername, send.
    cli.connect((addr, port))
    print("connected_peer=%d" % port_of(cli.getpeername()))
    cli.send(b"again")
    data, _ = srv.recvfrom(64)
    print("connected_got=%s" % data.decode())


def udpserve(fam, addr, port, tag):
    s = sock(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("listening=%d" % port_of(s.getsockname()), flush=True)
    while True:
        _, src = s.recvfrom(64)
        s.sendto(tag.encode(), src)


def udpfetch(fam, addr, port):
    c = socket.socket(FAM[fam], socket.SOCK_DGRAM)
    c.settimeout(3)
    try:
        c.sendto(b"?", (addr, port))
        data, src = c.recvfrom(64)
        print("got=%s" % data.decode())
        print("from=%d" % port_of(src))
    except OSError as e:
        print("got=" + err_name(e))


def rebind(fam, addr, port):
    """bind twice on one socket: the kernel says EINVAL; the first binding
    must still be in force (a second socket cannot take the port)."""
    s, r = bind(fam, addr, port, reuseaddr=False)
    s.listen(1)
    print("first=%s" % r)
    try:
        s.bind((addr, port))
        print("again=ok")
    except OSError as e:
        print("again=" + err_name(e))


def bulk(addr, port, n):
    """A listener and a client in this process, event-driven (non-blocking,
    as the programs the bypass accelerates are): a first connection that
    exchanges a byte each way (a listener's accepted sockets join only once
    one was seen reading), then a second that does the same (a
    connection's first bytes take TCP until the receiver has read them),
    then n bytes over it, then the count that arrived."""
    l = sock("4")
    l.setblocking(False)
    l.bind((addr, port))
    l.listen(1)
    def connect():
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex((addr, port))
        select.select([], [c], [], 10)
        select.select([l], [], [], 10)
        a, _ = l.accept()
        a.setblocking(False)
        for x, y in ((c, a), (a, c)):
            x.send(b"w")
            select.select([y], [], [], 10)
            if y.recv(1) != b"w":
                raise SystemExit("warm-up byte lost")
        return c, a

    # A listener's accepted sockets join only once one of them was seen
    # reading non-blocking: a first connection shows it.
    for x in connect():
        x.close()
    c, a = connect()
    block = os.urandom(65536)
    sent = got = 0
    deadline = time.time() + 30
    while got < n and time.time() < deadline:
        select.select([a], [c] if sent < n else [], [], 0.1)
        if sent < n:
            try:
                sent += c.send(block[: min(len(block), n - sent)])
            except BlockingIOError:
                pass
        try:
            got += len(a.recv(1 << 20))
        except BlockingIOError:
            pass
    print("peer=%d" % port_of(c.getpeername()))
    print("received=%d" % got)


def main():
    a = sys.argv[1:]
    what = a[0]
    if what == "views":
        views(a[1], a[2], a[3], int(a[4]))
    elif what == "bind":
        _, r = bind(a[1], a[2], int(a[3]), len(a) > 4 and a[4] == "reuseport")
        print("bind=%s" % r)
    elif what == "twice":
        twice(a[1], a[2], int(a[3]), len(a) > 4 and a[4] == "reuseport")
    elif what == "serve":
        serve(a[1], a[2], int(a[3]), a[4])
    elif what == "fetch":
        fetch(a[1], a[2], int(a[3]))
    elif what == "udp":
        udp(a[1], a[2], int(a[3]))
    elif what == "udpserve":
        udpserve(a[1], a[2], int(a[3]), a[4])
    elif what == "udpfetch":
        udpfetch(a[1], a[2], int(a[3]))
    elif what == "rebind":
        rebind(a[1], a[2], int(a[3]))
    elif what == "bulk":
        bulk(a[1], int(a[2]), int(a[3]))
    else:
        sys.exit("unknown scenario " + what)


if __name__ == "__main__":
    main()
