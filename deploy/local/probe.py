#!/usr/bin/env python3
"""Dependency-free readiness probes used by infra.sh.

    probe.py kafka HOST PORT   -> Kafka ApiVersions (v0) round trip, error_code 0
    probe.py mongo HOST PORT   -> MongoDB OP_MSG {ping: 1} answered with ok: 1
    probe.py redis HOST PORT   -> RESP PING answered with +PONG
    probe.py tcp   HOST PORT   -> TCP connect succeeds (port taken by anything)

Exit status 0 when the server answers as expected, 1 otherwise.  Only the
standard library is used so it runs with any system python3 (no pymongo,
redis or kafka client needed).
"""

from __future__ import annotations

import socket
import struct
import sys

TIMEOUT = 3.0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def _connect(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=TIMEOUT)


def probe_tcp(host: str, port: int) -> bool:
    with _connect(host, port):
        return True


def probe_redis(host: str, port: int) -> bool:
    with _connect(host, port) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return s.recv(64).startswith(b"+PONG")


def _bson_doc(*elements: bytes) -> bytes:
    body = b"".join(elements) + b"\x00"
    return struct.pack("<i", len(body) + 4) + body


def probe_mongo(host: str, port: int) -> bool:
    db = b"admin\x00"
    doc = _bson_doc(
        b"\x10ping\x00" + struct.pack("<i", 1),  # int32 ping: 1
        b"\x02$db\x00" + struct.pack("<i", len(db)) + db,  # string $db: "admin"
    )
    body = struct.pack("<I", 0) + b"\x00" + doc  # flagBits, section kind 0
    request_id = 0x4D6F7463
    header = struct.pack("<iiii", 16 + len(body), request_id, 0, 2013)  # OP_MSG
    with _connect(host, port) as s:
        s.sendall(header + body)
        length, _, response_to, opcode = struct.unpack("<iiii", _recv_exact(s, 16))
        payload = _recv_exact(s, length - 16)
    if opcode != 2013 or response_to != request_id:
        return False
    # payload: flagBits(4) kind(1) BSON document; look for a top-level "ok".
    doc = payload[5:]
    pos = 4
    while pos < len(doc) and doc[pos] != 0:
        etype = doc[pos]
        end = doc.index(b"\x00", pos + 1)
        name = doc[pos + 1 : end]
        pos = end + 1
        if etype == 0x01:  # double
            value = struct.unpack("<d", doc[pos : pos + 8])[0]
            pos += 8
        elif etype == 0x10:  # int32
            value = struct.unpack("<i", doc[pos : pos + 4])[0]
            pos += 4
        elif etype == 0x12:  # int64
            value = struct.unpack("<q", doc[pos : pos + 8])[0]
            pos += 8
        elif etype == 0x08:  # bool
            value = doc[pos]
            pos += 1
        elif etype in (0x02, 0x0D, 0x0E):  # string-like
            pos += 4 + struct.unpack("<i", doc[pos : pos + 4])[0]
            continue
        elif etype in (0x03, 0x04):  # embedded document / array
            pos += struct.unpack("<i", doc[pos : pos + 4])[0]
            continue
        else:  # anything else before "ok": give up parsing
            return False
        if name == b"ok":
            return value == 1
    return False


def probe_kafka(host: str, port: int) -> bool:
    client_id = b"motcua-infra"
    correlation_id = 0x4B61666B
    # Request header v1: api_key=18 (ApiVersions), api_version=0, correlation id, client id.
    req = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    with _connect(host, port) as s:
        s.sendall(struct.pack(">i", len(req)) + req)
        (size,) = struct.unpack(">i", _recv_exact(s, 4))
        resp = _recv_exact(s, size)
    got_id, error_code = struct.unpack(">ih", resp[:6])
    return got_id == correlation_id and error_code == 0


PROBES = {
    "kafka": probe_kafka,
    "mongo": probe_mongo,
    "redis": probe_redis,
    "tcp": probe_tcp,
}


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] not in PROBES:
        print(f"usage: {argv[0]} {{{'|'.join(PROBES)}}} HOST PORT", file=sys.stderr)
        return 2
    try:
        return 0 if PROBES[argv[1]](argv[2], int(argv[3])) else 1
    except (OSError, ValueError, struct.error):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
