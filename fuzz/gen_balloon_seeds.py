#!/usr/bin/env python3
"""Write the seed corpus of fuzz/fuzz_virtio_balloon.c into fuzz/corpus/virtio_balloon/gen-*
(deterministic; run it again after changing the input format described at the top of the
harness). Usage: fuzz/gen_balloon_seeds.py"""
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
(POKE, DESC, AVAIL, IDX, NOTIFY, PFNS, TARGET, STATS, CONFIG, RESET, ROUND) = range(11)


def pfns(q, frames):
    return struct.pack("<BBB", PFNS, q, len(frames)) + b"".join(struct.pack("<I", f) for f in frames)


def desc(q, idx, addr, length, flags, nxt=0):
    return struct.pack("<BBBIIBB", DESC, q, idx, addr, length, flags, nxt)


def avail(q, head):
    return struct.pack("<BBH", AVAIL, q, head)


def stat(tag, val):
    return struct.pack("<HQ", tag, val)


HDR = bytes([0, 4])
stats_buf = stat(4, 1 << 20) + stat(5, 1 << 21) + stat(99, 7)
seeds = {
    "inflate-deflate": HDR + pfns(0, [1, 2, 3, 5, 0x2f, 0xFFFFFFFF]) + pfns(1, [1, 2])
    + struct.pack("<BI", TARGET, 0x8000) + struct.pack("<BBBBI", CONFIG, 4, 2, 1, 9),
    "stats": HDR + struct.pack("<BHB", POKE, 0xe000 // 2, len(stats_buf)) + stats_buf
    + desc(2, 0, 0xe000, len(stats_buf), 0) + avail(2, 0) + bytes([NOTIFY, 2, STATS, ROUND, STATS]),
    "report": HDR + desc(3, 0, 0x10000, 0x3000, 2) + avail(3, 0) + bytes([NOTIFY, 3])
    + desc(3, 1, 0x10000, 0x1000, 0) + avail(3, 1) + bytes([NOTIFY, 3, RESET]),
    "wrong-dir": HDR + desc(0, 0, 0xd000, 8, 2) + avail(0, 0) + bytes([NOTIFY, 0, RESET])
    + pfns(0, [4]),
}
d = os.path.join(HERE, "corpus", "virtio_balloon")
os.makedirs(d, exist_ok=True)
for f in glob.glob(os.path.join(d, "gen-*")):
    os.remove(f)
for name, data in seeds.items():
    with open(os.path.join(d, "gen-" + name), "wb") as f:
        f.write(data)
