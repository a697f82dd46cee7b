#!/usr/bin/env python3
"""Seed inputs for fuzz/fuzz_virtio_net.c (the encoding is described at the top of that file).
Usage: python3 fuzz/gen_net_seeds.py [OUTDIR]   (default fuzz/corpus/virtio_net)"""
import os
import struct
import sys

POKE, DESC, AVAIL, IDX, NOTIFY, FRAME, RX, CONFIG, RESET, ROUND, BUFS, FRAMEH = range(12)
RXQ, TXQ = 0, 1
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def hdr(flags, qlog=4):
    return bytes([flags, qlog])


def desc(q, idx, addr, length, flags, nxt=0):
    return bytes([DESC, q, idx]) + struct.pack('<II', addr, length) + bytes([flags, nxt])


def avail(q, head):
    return bytes([AVAIL, q]) + struct.pack('<H', head)


def notify(q):
    return bytes([NOTIFY, q])


def frame(length, seed=0):
    return bytes([FRAME]) + struct.pack('<H', length) + bytes([seed])


def frameh(length, seed, flags, gso, cstart, coff):
    return bytes([FRAMEH]) + struct.pack('<H', length) + bytes([seed, flags, gso]) + struct.pack('<HH', cstart, coff)


def poke(off, data):
    return bytes([POKE]) + struct.pack('<H', off // 2) + bytes([len(data)]) + data


def bufs(n, length):
    return bytes([BUFS, n]) + struct.pack('<H', length)


def tx(idx, length, split=False):
    """A transmit request at descriptor idx: the header, then the frame (in one buffer or two)."""
    if split:
        return (desc(TXQ, idx, 0x9000, 8, F_NEXT, idx + 1) +
                desc(TXQ, idx + 1, 0xfff0, 4 + length, 0) + avail(TXQ, idx))
    return (desc(TXQ, idx, 0x9000, 12, F_NEXT, idx + 1) +
            desc(TXQ, idx + 1, 0xa000, length, 0) + avail(TXQ, idx))


def seeds():
    yield 'tx', hdr(0) + tx(0, 60) + tx(2, 1514, True) + tx(4, 3) + notify(TXQ)
    yield 'tx-refused', hdr(8) + tx(0, 60) + notify(TXQ)
    yield 'rx-plain', hdr(0) + bufs(4, 1526) + notify(RXQ) + frame(60, 1) + frame(1514, 2) + frame(2000, 3)
    yield 'rx-mrg', hdr(4) + bufs(8, 256) + frame(1000, 4) + frame(60, 5) + frame(3000, 6)
    yield 'rx-nobufs', hdr(4) + frame(1500, 7) + frame(60, 8) + bufs(2, 600) + notify(RXQ) + bufs(8, 600) + notify(RXQ)
    yield 'rx-tiny-bufs', hdr(4) + bufs(16, 12) + frame(200, 9)
    yield 'rx-readonly', hdr(0) + desc(RXQ, 0, 0x9000, 1500, 0) + avail(RXQ, 0) + frame(60) + bytes([RESET]) + bufs(2, 1526) + frame(60)
    yield 'rx-short', hdr(4) + desc(RXQ, 0, 0x9000, 8, F_WRITE) + avail(RXQ, 0) + frame(60)
    yield 'tx-writable', hdr(0) + desc(TXQ, 0, 0x9000, 80, F_NEXT, 1) + desc(TXQ, 1, 0xa000, 80, F_WRITE) + avail(TXQ, 0) + notify(TXQ)
    yield 'indirect', hdr(4) + (desc(2, 0, 0x9000, 12, F_NEXT, 1) + desc(2, 1, 0xa000, 60, 0) +
                                desc(TXQ, 0, 0x6000, 32, F_INDIRECT) + avail(TXQ, 0) + notify(TXQ))
    yield 'round', hdr(4) + tx(0, 60) + notify(TXQ) + bufs(2, 1526) + frame(2000, 1) + bytes([ROUND]) + frame(60, 2) + bytes([RX])
    yield 'config', hdr(0) + b''.join(bytes([CONFIG, off, sz, w]) + struct.pack('<I', 0xffffffff)
                                      for off, sz, w in ((0, 2, 0), (6, 1, 0), (8, 1, 0), (10, 1, 0), (0, 0, 1), (11, 2, 0)))
    tso_hdr = bytes([1, 1]) + struct.pack('<HHHHH', 54, 1448, 34, 16, 0)
    offl_rx = (bufs(4, 2900) + frameh(2800, 1, 1, 1, 34, 16) + frameh(100, 2, 1, 0, 14, 6) +
               frameh(100, 3, 2, 0, 0, 0) + frameh(100, 4, 1, 3, 34, 6) + frameh(100, 5, 1, 0, 99, 6))
    offl_tx = poke(0x9000, tso_hdr) + desc(TXQ, 0, 0x9000, 12, F_NEXT, 1) + desc(TXQ, 1, 0xa000, 3000, 0) + avail(TXQ, 0) + notify(TXQ)
    yield 'offload', hdr(4 | 16 | 32) + offl_tx + offl_rx
    yield 'offload-nocsum', hdr(4 | 16 | 32 | 64) + offl_tx + offl_rx
    yield 'offload-off', hdr(16) + offl_tx + offl_rx
    yield 'offload-reset', hdr(16 | 32) + offl_rx + bytes([RESET]) + offl_rx
    yield 'noevent', hdr(1 | 2, 3) + tx(0, 60) + notify(TXQ) + bufs(3, 1526) + frame(100)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                               'corpus', 'virtio_net')
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, 'gen-' + name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
