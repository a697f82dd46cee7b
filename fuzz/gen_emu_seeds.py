#!/usr/bin/env python3
"""Write the seed corpus of fuzz/fuzz_emu.c into fuzz/corpus/emu/gen-* (deterministic).

The input encoding mirrors the comment at the top of fuzz/fuzz_emu.c: a 44-byte header (mode,
CR0/CR4 extras, EFER/RFLAGS bits, between-slice events, interrupt vector, budget, code offset,
MMIO seed, RAX..RDI), then the code bytes. The code below was assembled with GNU as once and is
kept as hex so that regenerating needs nothing but Python. The cov-* files beside them are a
sample of a 30-minute fuzz_emu corpus (after -merge=1), so that short CI runs start from deep
coverage; this script leaves them alone.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# Real mode: segment loads, memory, string op, ENTER/LEAVE, INT through the IVT, then the switch
# to protected mode and a far jump to the 16-bit code segment.
CODE16 = "b834128ec031dbc707785603079c9d8d5004f3a4c8080001c9cd100f20c00c010f22c0ea20004800cff4"
# 32-bit: CR0.WP, LODS/STOS loop, PUSHA/POPA, BOUND, DAS, AAM, LGDT/SIDT, segment load, far
# call and jump, INT 0x80, SYSENTER.
CODE32 = ("be001001000f20c00d000001000f22c0b903000000adabe2fc606162062fd40a0f01160f014e2066b818008e"
          "d89a000001000800ea000001004000cd800f34f4")
# 64-bit integer and control flow, LOCK XADD, CMPXCHG16B, BSF/POPCNT, REP STOS/MOVS, SSE, x87,
# CPUID, RDTSC, port I/O, MMIO above RAM, INT3, UD2.
CODE64 = ("be00100100b90500000001c8481316486bd80748d3e350e8000000005ff00fc14608480fc74e104c0fbc"
          "c0f34c0fb8cbffc975d6b910000000bf00110100fcf3aaf348a5f30f6f06660ffec80f59d1f2480f2ad8"
          "f20f51e3d9e8d9ebdec9d9fedd5e400fa20f31e460e6808b042500002000c604250800200001cc0f0bf4")
# 64-bit x87 transcendental and remainder, FXSAVE/FXRSTOR, LDMXCSR, SSE arithmetic and
# conversion, PSHUFB, PCMPISTRI, CRC32, MMX.
CODEFP = ("dbe3d9eed9e8d8c1dcf1d9f1d9f0d9f80fae0425001001000fae0c25001001000fae1425001201000f5ec8"
          "f30f5bd1660f3800da660f3a63e30cf20f38f0d80f770f6fc80ff5d1f4")
# 64-bit system instructions: RDMSR/WRMSR, CR3/CR4 writes, INVLPG, SWAPGS, LIDT, STI/CLI,
# SYSCALL/SYSRET, IRETQ, segment loads, LSS, LAR/VERR/STR/LTR, RDRAND, WBINVD.
CODESYS = ("b9800000c00f320f300f20e00f22e00f20d80f22d80f013c25001001000f01f80f011c2500100100fb90fa"
           "0f050f0748cf66b823008ed80fb2242500100100660f02d80f00e0660f00c80f00d8480fc7f00f09f4")


def header(mode, cr0x=0, cr4x=0, misc=0, fl=0, events=0, vec=0x20, budget=0xff, off=0, seed=0,
           regs=(0,) * 8):
    return (bytes([mode, cr0x, cr4x, misc, fl, events, vec, budget]) +
            struct.pack("<HH", off, seed) + struct.pack("<8I", *regs))


def seeds():
    regs = (1, 0x20, 0x11040, 3, 0, 0x11000, 0x11010, 0x11100)
    out = {
        "real": header(0, regs=regs) + bytes.fromhex(CODE16),
        "pm16": header(1, cr0x=0x02, regs=regs) + bytes.fromhex(CODE16),
        "pm32": header(2, cr0x=0x03, cr4x=0x03, regs=regs) + bytes.fromhex(CODE32),
        "pm32-paging": header(2 | 4, cr4x=0x04, misc=0x80, events=0x40 | 1, regs=regs) +
        bytes.fromhex(CODE32),
        "pae-user": header(2 | 4 | 8 | 0x10 | 0x20, cr0x=1, misc=0x01 | 0x04, regs=regs) +
        bytes.fromhex(CODE32),
        "long64": header(3, cr0x=0x03, cr4x=0x03, regs=regs) + bytes.fromhex(CODE64),
        "long64-deliver": header(3 | 0x20, cr0x=0x23, cr4x=0x03, events=0xc0 | 0x1f,
                                 misc=0x80, regs=regs) + bytes.fromhex(CODE64),
        "long64-user": header(3 | 0x10 | 0x40, cr4x=0x03, misc=0x30, off=0xff8, regs=regs) +
        bytes.fromhex(CODE64),
        "fp": header(3, cr0x=0x03, cr4x=0x03, regs=regs) + bytes.fromhex(CODEFP),
        "fp-ts": header(3 | 0x20, cr0x=0x0b, cr4x=0x03, regs=regs) + bytes.fromhex(CODEFP),
        "sys": header(3 | 0x20, cr4x=0x07, misc=0x03, events=0x80 | 0x0c, regs=regs) +
        bytes.fromhex(CODESYS),
        # REP STOSB with a huge count (no paging, so EDI wraps through MMIO): bounded all the
        # same, the emulator must give control back.
        "rep-huge": header(2, regs=(0, 0xffffffff, 0, 0, 0, 0, 0, 0x11000)) +
        bytes.fromhex("f3aaf4"),
    }
    return out


def main():
    d = os.path.join(HERE, "corpus", "emu")
    os.makedirs(d, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(d, "gen-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
