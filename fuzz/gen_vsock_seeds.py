#!/usr/bin/env python3
"""Write the seed corpus of fuzz/fuzz_virtio_vsock.c into fuzz/corpus/virtio_vsock/gen-*
(deterministic; run it again after changing the input format described at the top of the
harness). Usage: fuzz/gen_vsock_seeds.py"""
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
(POKE, DESC, AVAIL, IDX, NOTIFY, PKT, RXBUF, HCONN, HIO, POLL, RESET, ROUND, KICK) = range(13)
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)


def pkt(op, gport=0, hport=2, length=0, flags=0, buf_alloc=65536, fwd=0, mangle=0, dlen=0):
    return struct.pack("<BBBBHBIIBH", PKT, op, gport, hport, length, flags, buf_alloc, fwd,
                       mangle, dlen)


def rxbuf(n):
    return bytes([RXBUF, n])


def hio(peer, what, n=0):
    return struct.pack("<BBBH", HIO, peer, what, n)


HDR = bytes([0, 4])  # EVENT_IDX and INDIRECT, 16 entries
seeds = {
    "guest-connect-rw": HDR + rxbuf(8) + pkt(REQUEST) + pkt(RW, length=5, dlen=5)
    + hio(0, 0, 100) + bytes([POLL]) + hio(0, 1) + pkt(CREDIT_REQUEST) + pkt(SHUTDOWN, flags=3),
    "guest-refused": HDR + rxbuf(4) + pkt(REQUEST, hport=3) + pkt(RW, hport=3, length=1, dlen=1),
    "host-connect": HDR + rxbuf(8) + bytes([HCONN, 52]) + pkt(RESPONSE, gport=52)
    + hio(0, 0, 3000) + bytes([POLL]) + hio(0, 2) + bytes([POLL]) + pkt(RST, gport=52),
    "credit": HDR + rxbuf(16) + pkt(REQUEST, buf_alloc=10) + hio(0, 0, 1000) + bytes([POLL])
    + pkt(CREDIT_UPDATE, buf_alloc=100, fwd=10) + bytes([POLL]),
    "malformed": HDR + rxbuf(4) + pkt(RW, length=900, dlen=3) + pkt(REQUEST, mangle=1)
    + pkt(REQUEST, mangle=2) + pkt(REQUEST, mangle=4) + pkt(8) + pkt(REQUEST, mangle=8),
    "round": HDR + rxbuf(4) + pkt(REQUEST) + struct.pack("<BB", ROUND, KICK)
    + struct.pack("<BBIIBB", DESC, 2, 0x9000, 4, 2, 0) + struct.pack("<BBH", AVAIL, 2, 0)
    + bytes([KICK, RESET]),
    "bad-rx": HDR + struct.pack("<BBIIBB", DESC, 0, 0x10000, 8, 2, 0)
    + struct.pack("<BBH", AVAIL, 0, 0) + pkt(REQUEST, hport=3),
}
d = os.path.join(HERE, "corpus", "virtio_vsock")
os.makedirs(d, exist_ok=True)
for f in glob.glob(os.path.join(d, "gen-*")):
    os.remove(f)
for name, data in seeds.items():
    with open(os.path.join(d, "gen-" + name), "wb") as f:
        f.write(data)
