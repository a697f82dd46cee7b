#!/usr/bin/env python3
"""Seed inputs for fuzz/fuzz_virtio_blk.c (the encoding is described at the top of that file).
Usage: python3 fuzz/gen_blk_seeds.py [OUTDIR]   (default fuzz/corpus/virtio_blk)"""
import os
import struct
import sys

POKE, DESC, AVAIL, IDX, NOTIFY, POLL, DRAIN, REQ, RESET, ROUND, CONFIG, FLAGS = range(12)
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ, T_OTHER = range(7)  # indices in types[]


def hdr(flags, qlog=6):
    return bytes([flags, qlog, 0])


def req(typ, sector, nsect, nseg=1, status_wr=1):
    return bytes([REQ, typ]) + struct.pack('<H', sector) + bytes([nsect, nseg - 1, status_wr])


def desc(table, idx, addr, length, flags, nxt):
    return bytes([DESC, table, idx]) + struct.pack('<II', addr, length) + bytes([flags, nxt])


def run():
    return bytes([NOTIFY, DRAIN])


def seeds():
    rw = req(T_OUT, 3, 8, 3) + run() + req(T_IN, 3, 8, 2) + run()
    misc = (req(T_FLUSH, 0, 0) + run() + req(T_GET_ID, 0, 0) + run() + req(T_DISCARD, 8, 8) +
            run() + req(T_WZ, 16, 8, 2) + run() + req(T_OTHER, 0, 1) + run())
    bad = (req(T_OUT, 0, 1, 1, 0) + run() + bytes([RESET]) + req(T_IN, 199, 39) + run())
    # An indirect chain: header, 512 data bytes, status; then one descriptor pointing at it.
    ind = (desc(1, 0, 0x4000, 16, 1, 1) + desc(1, 1, 0x8000, 512, 3, 2) +
           desc(1, 2, 0x5000, 1, 2, 0) + desc(0, 0, 0x3000, 48, 4, 0) +
           bytes([AVAIL]) + struct.pack('<H', 0) + run())
    cfg = b''.join(bytes([CONFIG, off, sz]) for off, sz in ((0, 2), (8, 2), (20, 2), (56, 0)))
    rnd = req(T_OUT, 5, 2) + bytes([NOTIFY, ROUND]) + req(T_IN, 5, 2) + run()
    yield 'rw', hdr(0) + rw
    yield 'rw-uring', hdr(4) + rw
    yield 'rw-direct', hdr(8 | 4) + rw
    yield 'rw-sync-direct', hdr(8) + rw
    yield 'rw-overlay', hdr(2 | 4) + rw + misc
    yield 'rw-overlay-direct', hdr(2 | 8) + rw
    yield 'ro', hdr(1) + rw + misc
    yield 'ro-overlay', hdr(1 | 2) + rw
    yield 'misc', hdr(4) + misc
    yield 'malformed', hdr(0) + bad
    yield 'indirect', hdr(4) + ind
    yield 'config', hdr(0) + cfg
    yield 'round', hdr(4) + rnd
    yield 'round-overlay', hdr(2) + rnd
    yield 'noevent', hdr(16 | 32, 3) + rw + bytes([FLAGS, 1, 0]) + misc


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                               'corpus', 'virtio_blk')
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, 'gen-' + name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
