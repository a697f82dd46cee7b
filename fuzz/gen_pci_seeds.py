#!/usr/bin/env python3
"""Write the seed corpus of fuzz/fuzz_virtio_pci.c into fuzz/corpus/virtio_pci/gen-*
(deterministic; run it again after changing the input format described at the top of the
harness). Usage: fuzz/gen_pci_seeds.py"""
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
(CFGW, CFGR, BARW, BARR, MSIW, MSIR, POKE, NOTIFY, SETUP, ROUND, CHANGE, PIO) = range(12)
TXQ_DESC, TXQ_AVAIL = 0x4000, 0x5000
ISR, COMMON_STATUS, Q_SELECT, Q_MSIX = 0x1000, 0x14, 0x16, 0x1a


def poke(off, data):
    return struct.pack("<BHB", POKE, off, len(data)) + data


def tx_request(slot):
    """One 16-byte transmit buffer at 0x8000 in descriptor `slot`, published as avail[slot]."""
    desc = struct.pack("<QIHH", 0x8000, 16, 0, 0)
    avail = struct.pack("<HH", 0, slot + 1) + struct.pack("<H", slot) * (slot + 1)
    return (poke(TXQ_DESC + 16 * slot, desc) + poke(TXQ_AVAIL, avail) +
            struct.pack("<BB", NOTIFY, 1))


def cfgw(reg, size_log2, val):
    return struct.pack("<BBBI", CFGW, reg, size_log2, val)


def barr(off, size_log2):
    return struct.pack("<BHB", BARR, off, size_log2)


def barw(off, size_log2, val):
    return struct.pack("<BHBQ", BARW, off, size_log2, val)


def msiw(off, val):
    return struct.pack("<BHBQ", MSIW, off, 2, val)


def msir(off):
    return struct.pack("<BHB", MSIR, off, 2)


seeds = {
    "msix-tx-round": bytes([SETUP, 1]) + poke(0x8000, b"hello, virtio-pci") + tx_request(0) +
    barr(ISR, 0) + bytes([ROUND]) + tx_request(1) + bytes([CHANGE]),
    "intx-isr": bytes([SETUP, 0]) + tx_request(0) + cfgw(0x04, 1, 0x406) + cfgw(0x04, 1, 0x6) +
    barr(ISR, 0) + bytes([CHANGE, ROUND]) + barr(ISR, 2),
    "bar-sizing": b"".join(cfgw(0x10 + 4 * i, 2, 0xffffffff) + struct.pack("<BBB", CFGR, 0x10 + 4 * i, 2)
                           for i in range(6)) + cfgw(0x24, 2, 0x1) + cfgw(0x04, 1, 0x2),
    "msix-mask": bytes([SETUP, 1]) + msiw(16 + 12, 1) + tx_request(0) + msir(0x800) +
    msiw(16 + 12, 0) + msir(0x800),
    "common-regs": bytes([SETUP, 3]) + barw(Q_SELECT, 1, 5) + barr(0x18, 1) + barw(Q_SELECT, 1, 0) +
    barw(Q_MSIX, 1, 0x7) + barr(Q_MSIX, 1) + barw(COMMON_STATUS, 0, 0) + bytes([ROUND]),
    "pio": struct.pack("<BBBIB", PIO, 0, 2, 0x80000800 | 0x4c, 1) +
    struct.pack("<BBBIB", PIO, 4, 2, 0, 0),
}

d = os.path.join(HERE, "corpus", "virtio_pci")
os.makedirs(d, exist_ok=True)
for f in glob.glob(os.path.join(d, "gen-*")):
    os.remove(f)
for name, data in seeds.items():
    with open(os.path.join(d, "gen-" + name), "wb") as f:
        f.write(data)
