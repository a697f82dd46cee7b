#!/usr/bin/env python3
"""Write the seed corpora of the fuzz harnesses into fuzz/corpus/<name>/gen-* (deterministic; run
it again after changing an input format). Usage:

    fuzz/gen_seeds.py [--build BUILD]

With --build, small real guests from BUILD/guests (under 64 KiB) are also added to the boot
corpus as real-*. The encodings mirror the comments at the top of fuzz/fuzz_boot.c,
fuzz/fuzz_devices.c and fuzz/fuzz_cli.c; keep them in step.
"""
import argparse
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20


def write_corpus(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(d, "gen-*")):
        os.remove(f)
    for seed_name, data in seeds:
        with open(os.path.join(d, "gen-" + seed_name), "wb") as f:
            f.write(data)


# ---- boot: kernel images ---------------------------------------------------------------------

MB_MAGIC = 0x1BADB002


def mb_header(flags, extra=b""):
    csum = (-(MB_MAGIC + flags)) & 0xFFFFFFFF
    return struct.pack("<III", MB_MAGIC, flags, csum) + extra


def elf32(machine, entry, phdrs, body_at, body):
    """ELF32 executable: header, program headers, then body at file offset body_at."""
    eh = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01" + bytes(9), 2, machine, 1,
                     entry, 52, 0, 0, 52, 32, len(phdrs), 0, 0, 0)
    img = bytearray(eh + b"".join(phdrs))
    img += bytes(body_at - len(img)) + body
    return img


def phdr32(ptype, off, vaddr, paddr, filesz, memsz):
    return struct.pack("<IIIIIIII", ptype, off, vaddr, paddr, filesz, memsz, 5, 0x1000)


def elf64(machine, entry, phdrs, body_at, body):
    eh = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, machine, 1,
                     entry, 64, 0, 0, 64, 56, len(phdrs), 0, 0, 0)
    img = bytearray(eh + b"".join(phdrs))
    img += bytes(body_at - len(img)) + body
    return img


def phdr64(ptype, off, vaddr, paddr, filesz, memsz):
    return struct.pack("<IIQQQQQQ", ptype, 5, off, vaddr, paddr, filesz, memsz, 0x1000)


HLT_LOOP = b"\xf4\xeb\xfd"


def multiboot_elf32():
    size = 0x110
    ph = phdr32(1, 0, 0x100000, 0x100000, size, size + 0x1000)
    body = mb_header(3) + bytes(0x100 - 0x60 - 12) + HLT_LOOP + bytes(13)
    img = elf32(3, 0x100100, [ph], 0x60, body)
    assert len(img) == size
    return bytes(img)


def multiboot_aout(hdr_off=0):
    load = 0x100000
    fields = struct.pack("<IIIII", load + hdr_off, load, 0, load + 0x2000, load + hdr_off + 0x20)
    img = bytearray(b"\x90" * hdr_off) + mb_header(0x10003, fields) + HLT_LOOP
    img += bytes(0x40 - len(img) % 0x40)
    return bytes(img)


def pvh_note(entry, desc64=False):
    desc = struct.pack("<Q", entry) if desc64 else struct.pack("<I", entry)
    return struct.pack("<III", 4, len(desc), 18) + b"Xen\0" + desc


def pvh_elf64():
    body_at = 64 + 2 * 56
    code_at = 0xd0
    note = pvh_note(0x100000 + code_at, desc64=True)
    size = code_at + 16
    phs = [phdr64(1, 0, 0xffffffff81000000, 0x100000, size, size + 0x2000),
           phdr64(4, body_at, 0, 0, len(note), len(note))]
    body = note + bytes(code_at - body_at - len(note)) + HLT_LOOP + bytes(13)
    return bytes(elf64(62, 0xffffffff81000000 + code_at, phs, body_at, body))


def pvh_elf32():
    body_at = 52 + 2 * 32
    code_at = 0x90
    note = pvh_note(0x200000 + code_at)
    size = code_at + 16
    phs = [phdr32(1, 0, 0x200000, 0x200000, size, size),
           phdr32(4, body_at, 0, 0, len(note), len(note))]
    body = note + bytes(code_at - body_at - len(note)) + HLT_LOOP + bytes(13)
    return bytes(elf32(3, 0x200000 + code_at, phs, body_at, body))


def bzimage(relocatable=True, pref=0x1000000, init_size=0x400000, version=0x020F):
    setup_sects = 1
    img = bytearray((setup_sects + 1) * 512 + 512)
    img[0x1F1] = setup_sects
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x202] = b"\xeb\x66"  # jump over the header: it ends at 0x268
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = 0x01  # LOADED_HIGH
    struct.pack_into("<I", img, 0x22C, 0x7FFFFFFF)  # initrd_addr_max
    struct.pack_into("<I", img, 0x230, 0x200000)  # kernel_alignment
    img[0x234] = 1 if relocatable else 0
    struct.pack_into("<H", img, 0x236, 0x3)  # XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    struct.pack_into("<I", img, 0x238, 0x7FF)  # cmdline_size
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    img[1024:1024 + 3] = HLT_LOOP
    return bytes(img)


def boot_input(kernel, initrd=None, cmdline=b"", cmdline_null=False, name=0, iname=0, layout=0,
               rsdp=True, long_cmdline=0):
    flags = (1 if initrd is not None else 0) | (2 if cmdline_null else 0) | name << 2 \
        | iname << 4 | layout << 6
    misc = (1 if rsdp else 0) | (2 if long_cmdline else 0)
    cl_len = long_cmdline if long_cmdline else len(cmdline)
    hdr = struct.pack("<BBIH", flags, misc, initrd or 0, cl_len)
    return hdr + (b"" if long_cmdline or cmdline_null else cmdline) + kernel


def boot_seeds(build):
    kernels = [
        ("mb-elf32", multiboot_elf32()),
        ("mb-aout", multiboot_aout()),
        ("mb-aout-off", multiboot_aout(0x40)),
        ("pvh-elf64", pvh_elf64()),
        ("pvh-elf32", pvh_elf32()),
        ("bzimage", bzimage()),
        ("bzimage-fixed", bzimage(relocatable=False, pref=0x100000, init_size=0x100000)),
    ]
    seeds = []
    for kname, k in kernels:
        seeds.append((kname + "-plain", boot_input(k, cmdline=b"console=ttyS0 quiet", name=1,
                                                   layout=1)))
        seeds.append((kname + "-initrd", boot_input(k, initrd=0x3000, cmdline=b"root=/dev/ram0",
                                                    name=2, iname=2, layout=2)))
        seeds.append((kname + "-split", boot_input(k, initrd=0x1234, long_cmdline=1000,
                                                   layout=3, rsdp=False)))
    real = []
    if build:
        for path in sorted(glob.glob(os.path.join(build, "guests", "*"))):
            if os.path.isfile(path) and os.path.getsize(path) < 64 * 1024 and \
                    path.endswith((".elf", ".bin")):
                with open(path, "rb") as f:
                    k = f.read()
                base = os.path.basename(path).rsplit(".", 1)[0]
                real.append((base, boot_input(k, initrd=0x2000, cmdline=b"console=ttyS0",
                                              name=1, iname=2, layout=2)))
    return seeds, real


# ---- devices: bus operations -----------------------------------------------------------------

(OP_READ, OP_WRITE, OP_RX, OP_CLOCK, OP_LOAD, OP_ROUND, OP_RESET, OP_PCICFG, OP_POKE, OP_FWADD,
 OP_UCALL) = range(11)
(UART, RTC, KBD_DATA, KBD_CMD, FW_CFG, PCI, ACPI_PM, DEBUG_EXIT, TESTDEV_PIO, TESTDEV_MMIO,
 BAR0) = range(11)
(DEV_UART, DEV_RTC, DEV_KBD, DEV_FW_CFG, DEV_PCI_HOST, DEV_PCI_FN0, DEV_PCI_FN1, DEV_ACPI_PM,
 DEV_DEBUG_EXIT) = range(9)
SIZE = {1: 0, 2: 1, 4: 2, 8: 3}


def dev_header(ncpus=2, ram_mib=512, above_gib=0, wall=0, mono=0x1000):
    return struct.pack("<BHBiI", ncpus - 1, ram_mib, above_gib, wall, mono)


def R(sel, off, size=1):
    return struct.pack("<BBHB", OP_READ, sel, off + 4, SIZE[size])


def W(sel, off, size, val):
    return struct.pack("<BBHBQ", OP_WRITE, sel, off + 4, SIZE[size], val)


def RX(data):
    return struct.pack("<BB", OP_RX, len(data)) + data


def CLOCK(mono_delta, shift=0, wall_delta=0):
    return struct.pack("<BIBi", OP_CLOCK, mono_delta, shift, wall_delta)


def LOAD(dev, state):
    return struct.pack("<BB", OP_LOAD, dev) + state


def ROUND():
    return bytes([OP_ROUND])


def RESET(what):
    return bytes([OP_RESET, what])


def PCICFG(write, bdf, reg, size, val=0):
    return struct.pack("<BBHHBI", OP_PCICFG, write, bdf, reg, SIZE[size], val)


def POKE(region, off, data):
    return struct.pack("<BBHB", OP_POKE, region, off, len(data)) + data


def FWADD(is_file, key, name, data, null_data=False):
    op = struct.pack("<BBHB", OP_FWADD, is_file, key, len(name)) + name + \
        struct.pack("<B", len(data)) + data
    return op + (bytes([1 if null_data else 0]) if not data else b"")


def UCALL(region, off, cmd, args, status=0):
    args = list(args) + [0] * (4 - len(args))
    return struct.pack("<BBHII4Q", OP_UCALL, region, off, cmd, status, *args)


def pci_addr(dev, fn, reg):
    return 0x80000000 | dev << 11 | fn << 8 | reg


def uart_ops():
    ops = [W(UART, 3, 1, 0x80), W(UART, 0, 1, 0x0C), W(UART, 1, 1, 0), W(UART, 3, 1, 0x03),
           W(UART, 2, 1, 0xC7), W(UART, 4, 1, 0x0B), W(UART, 1, 1, 0x0F), W(UART, 0, 1, 0x41),
           R(UART, 2), R(UART, 5), RX(b"hello, fuzz"), R(UART, 2), R(UART, 5)]
    ops += [R(UART, 0)] * 6 + [R(UART, 6), W(UART, 7, 1, 0x5A), R(UART, 7)]
    ops += [W(UART, 4, 1, 0x1F)] + [W(UART, 0, 1, 0x30 + i) for i in range(18)]
    ops += [R(UART, 5), R(UART, 0), R(UART, 6), W(UART, 2, 1, 0x00), W(UART, 4, 1, 0x08),
            RX(b"x" * 20), R(UART, 0, 2), W(UART, 0, 4, 0x41424344), ROUND()]
    return ops


def rtc_ops():
    ops = []
    for reg in (0, 2, 4, 6, 7, 8, 9, 0x32, 0x0A, 0x0B, 0x0C, 0x0D, 0x10, 0x14, 0x5F):
        ops += [W(RTC, 0, 1, reg), R(RTC, 1)]
    ops += [W(RTC, 0, 1, 0x0B), W(RTC, 1, 1, 0x82), W(RTC, 0, 1, 0x04), W(RTC, 1, 1, 0x23),
            W(RTC, 0, 1, 0x09), W(RTC, 1, 1, 0x99), W(RTC, 0, 1, 0x0B), W(RTC, 1, 1, 0x06),
            CLOCK(1000000000), W(RTC, 0, 1, 0x00), R(RTC, 1), W(RTC, 0, 1, 0x0C), R(RTC, 1),
            W(RTC, 0, 1, 0x8A), W(RTC, 1, 1, 0x2F), CLOCK(0x40000000, 4), R(RTC, 1),
            W(RTC, 0, 2, 0x5502), R(RTC, 0, 2), RESET(1), ROUND()]
    return ops


def kbd_ops():
    c = lambda v: W(KBD_CMD, 0, 1, v)
    d = lambda v: W(KBD_DATA, 0, 1, v)
    r = R(KBD_DATA, 0)
    s = R(KBD_CMD, 0)
    ops = [c(0xAA), s, r, c(0x20), r, c(0x60), d(0x47), c(0xAB), r, c(0xA9), r,
           d(0xFF), r, r, d(0xF2), r, r, r, d(0xED), d(0x07), r, r, d(0xF0), d(0x00), r, r,
           d(0xF0), d(0x02), r, d(0xF3), d(0x20), r, d(0xEE), r, d(0x12), r,
           c(0xA8), c(0xD4), d(0xF2), s, r, r, c(0xD4), d(0xE9), r, r, r, r,
           c(0xD4), d(0xE8), c(0xD4), d(0x03), r, r, c(0xD4), d(0xEB), r, r, r, r,
           c(0xD4), d(0xFF), r, r, r, c(0xD2), d(0x55), r, c(0xD3), d(0x66), s, r,
           c(0xD0), r, c(0xD1), d(0xDF), c(0xAD), d(0xF4), s, ROUND(), c(0xAE), r,
           c(0xA7), c(0xD4), d(0xF4), ROUND(), c(0xFE), c(0xD1), d(0xDE)]
    return ops


def fw_ops():
    sel = lambda v: W(FW_CFG, 0, 2, v)
    r = R(FW_CFG, 1)
    ops = [sel(0x00)] + [r] * 4 + [sel(0x01)] + [r] * 4 + [sel(0x19)] + [r] * 200
    ops += [sel(0x20)] + [r] * 5 + [sel(0x8000)] + [r] * 9 + [sel(0x09)] + [r] * 24
    ops += [FWADD(1, 0, b"etc/fuzz-file", b"0123456789"), FWADD(0, 0x0A, b"", b"\x01\x02"),
            FWADD(1, 0, b"aaa", b"", null_data=True), sel(0x23)] + [r] * 11 + [sel(0x19)] + [r] * 64
    ops += [R(FW_CFG, 0), W(FW_CFG, 1, 1, 0x12), W(FW_CFG, 0, 4, 0x19), ROUND(), RESET(3), r]
    return ops


def pci_ops():
    a = lambda fn, reg: W(PCI, 0, 4, pci_addr(3, fn, reg))
    wd = lambda v, size=4, off=0: W(PCI, 4 + off, size, v)
    rd = lambda size=4, off=0: R(PCI, 4 + off, size)
    ops = [W(PCI, 0, 4, 0x80000000), rd(), a(0, 0), rd(), rd(2, 2), R(PCI, 0, 4)]
    for reg in (0x10, 0x14, 0x18, 0x1C, 0x20, 0x24):  # size every BAR
        ops += [a(0, reg), wd(0xFFFFFFFF), rd()]
    ops += [a(0, 0x10), wd(0xC000), a(0, 0x14), wd(0xC0001000), a(0, 0x18), wd(0xC0010000),
            a(0, 0x1C), wd(0), a(0, 0x20), wd(0xC0020000), a(0, 0x24), wd(0x10000),
            a(0, 0x04), wd(0x0007, 2), rd(2, 2), R(BAR0 + 1, 0, 4), W(BAR0 + 1, 0xFFC, 4, 1),
            R(BAR0 + 2, 0x10, 8), R(BAR0 + 4, 8, 8), a(0, 0x3C), wd(0x0A, 1), rd(1, 1),
            a(0, 0x40), rd(), a(0, 0x44), wd(0x5A, 1), rd(1)]
    ops += [a(2, 0x10), wd(0xFFFFFFFF), rd(), a(2, 0x14), wd(0xFFFFFFFF), rd(), wd(0x10),
            a(2, 0x10), wd(0), a(2, 0x04), wd(0x02, 2), R(BAR0 + 6, 0x100, 4), ROUND()]
    ops += [PCICFG(0, 0x18, 0, 4), PCICFG(1, 0x18, 0x04, 2, 0), PCICFG(0, 0x1A, 0x0E, 1),
            PCICFG(0, 0x100, 0, 4), PCICFG(1, 0x18, 0x200, 4, 1), PCICFG(0, 0x18, 3, 2),
            a(0, 0x06), wd(0xFFFF, 2, 2), R(PCI, 1, 1), W(PCI, 1, 1, 0x0A), W(PCI, 1, 1, 0x06),
            RESET(4), ROUND()]
    return ops


def pm_ops():
    return [R(ACPI_PM, 0, 2), R(ACPI_PM, 2, 2), R(ACPI_PM, 4, 2), R(ACPI_PM, 8, 4),
            W(ACPI_PM, 2, 2, 0x0121), CLOCK(0xFFFFFFFF, 19), R(ACPI_PM, 0, 2), R(ACPI_PM, 8, 4),
            W(ACPI_PM, 0, 2, 0x0001), RESET(6), R(ACPI_PM, 0, 4), W(ACPI_PM, 0, 2, 0x0100),
            W(ACPI_PM, 4, 2, 3 << 10 | 1 << 13), ROUND(), W(ACPI_PM, 4, 2, 5 << 10 | 1 << 13),
            R(ACPI_PM, 6, 8), W(ACPI_PM, 1, 4, 0xFFFFFFFF), RESET(5)]


def misc_ops():
    return [W(DEBUG_EXIT, 0, 1, 0x31), W(DEBUG_EXIT, 0, 4, 0x12345678), R(DEBUG_EXIT, 0),
            W(DEBUG_EXIT, 2, 2, 1), W(TESTDEV_PIO, 0, 4, 0xDEADBEEF), R(TESTDEV_PIO, 0, 4),
            R(TESTDEV_PIO, 2, 2), W(TESTDEV_PIO, 1, 2, 0x1234), R(TESTDEV_PIO, 4, 4),
            W(TESTDEV_MMIO, 0x10, 8, 0x0123456789ABCDEF), R(TESTDEV_MMIO, 0x10, 8),
            R(TESTDEV_MMIO, 0xFFC, 4), W(TESTDEV_MMIO, 0xFFF, 1, 7),
            POKE(0, 0x100, b"hello from the guest"),
            UCALL(0, 0x200, 1, [0x100, 20]), UCALL(0, 0x3FF0, 1, [0x3FF8, 16]),
            UCALL(1, 0x10, 2, [7]), UCALL(1, 0x40, 3, [0]), UCALL(1, 0x80, 4, [1]),
            UCALL(2, 0x1FE0, 1, [0xFFFFFFF0, 16]), UCALL(2, 0x1FFC, 2, [1]),
            UCALL(0, 0x300, 9, []), UCALL(0, 0x400, 1, [0xFFFFFFFFFFFFE000, 4096]),
            R(TESTDEV_PIO, 4, 4)]


def load_ops():
    uart = struct.pack("<11B16s", 0x01, 0x03, 0x0B, 0, 0xB0, 0, 1, 0, 0xC1, 1, 2, b"ab")
    rtc_ram = bytearray(128)
    rtc_ram[0x0A], rtc_ram[0x0B], rtc_ram[0x0D], rtc_ram[0x10] = 0x26, 0x02, 0x80, 0x42
    rtc = bytes(rtc_ram) + struct.pack("<BB6xq", 0x0B, 0, 3600)
    kbd = bytearray(92)
    kbd[0], kbd[32], kbd[33] = 0x47, 0xCF, 1
    kbd[47], kbd[48], kbd[49] = 2, 0xFA, 0xAA  # kbd_count, kbd_data
    kbd[81:86] = bytes([0, 1, 0, 0x2B, 2])
    kbd[86:92] = bytes([0, 0, 100, 2, 0, 0])
    pm = struct.pack("<IHHHH4xQ", 1, 0x0100, 0x0100, 0x1401, 0, 0x7FFFFFF0)
    pci = struct.pack("<IB3x", 0x80001810, 0x02) + bytes(256)
    return [LOAD(DEV_UART, uart), R(UART, 0), R(UART, 2), LOAD(DEV_RTC, bytes(rtc)),
            W(RTC, 0, 1, 0x10), R(RTC, 1), LOAD(DEV_KBD, bytes(kbd)), R(KBD_DATA, 0),
            LOAD(DEV_ACPI_PM, pm), R(ACPI_PM, 0, 2), LOAD(DEV_FW_CFG, struct.pack("<HHI", 0, 0, 2)),
            R(FW_CFG, 1), LOAD(DEV_PCI_HOST, pci), LOAD(DEV_PCI_FN0, bytes([2, 0x04, 0x07, 0x10, 0x01])),
            LOAD(DEV_PCI_FN1, bytes([1, 0x00, 0x00])), LOAD(DEV_DEBUG_EXIT, bytes(4)),
            LOAD(DEV_UART, bytes(27)), LOAD(DEV_KBD, bytes(92)), ROUND()]


def device_seeds():
    groups = [("uart", uart_ops()), ("rtc", rtc_ops()), ("i8042", kbd_ops()),
              ("fw_cfg", fw_ops()), ("pci", pci_ops()), ("acpi_pm", pm_ops()),
              ("misc", misc_ops()), ("load", load_ops())]
    seeds = [(n, dev_header() + b"".join(ops)) for n, ops in groups]
    seeds.append(("mix", dev_header(ncpus=256, ram_mib=4096, above_gib=8, wall=-86400 * 365)
                  + b"".join(b"".join(ops) for n, ops in groups if n not in ("fw_cfg", "load"))))
    return seeds


# ---- cli: argument vectors -------------------------------------------------------------------

def cli_seeds():
    k = "/proc/self/exe"
    argvs = [
        ["run", "--kernel", k],
        ["run", "--kernel", k, "--initrd", k, "--cmdline", "console=ttyS0 quiet", "--mem", "512M",
         "--cpus", "4", "--accel", "emu", "--serial", "none", "--testdev", "-v"],
        ["run", "--kernel=" + k, "--mem=1GiB", "--cpus=64", "--accel=kvm", "--serial=/tmp/x",
         "-vv"],
        ["run", "--ker", k, "--mem", "65536K", "--accel", "auto", "--serial", "stdio"],
        ["run", "-h"], ["run", "--help"], ["--version"], ["-V"], ["help"], ["-h"], ["fly"], [],
        ["run", "--kernel", "/nonexistent"], ["run", "--kernel", "/dev/null"],
        ["run", "--kernel", "/etc"], ["run", "--kernel", k, "--mem", "4K"],
        ["run", "--kernel", k, "--mem", "99999999999999999999"],
        ["run", "--kernel", k, "--mem", "17G"], ["run", "--kernel", k, "--mem", "8M1"],
        ["run", "--kernel", k, "--cpus", "0"], ["run", "--kernel", k, "--cpus", "65"],
        ["run", "--kernel", k, "--accel", "foo"], ["run", "--kernel", k, "--serial", ""],
        ["run", "--kernel", k, "extra"], ["run", "-vhv"], ["run", "-vxv", "--kernel", k],
        ["run", "--kernel"], ["run", "--bogus", "--kernel", k], ["run", "--initrd", k],
        ["run", "--", "--kernel", k], ["run", "--kernel", k, "--initrd", "/nonexistent"],
    ]
    return [("%02d" % i, b"\0".join(a.encode() for a in argv)) for i, argv in enumerate(argvs)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="also copy small guests from BUILD/guests into the boot corpus")
    args = ap.parse_args()
    seeds, real = boot_seeds(args.build)
    write_corpus("boot", seeds)
    if real:
        d = os.path.join(HERE, "corpus", "boot")
        for f in glob.glob(os.path.join(d, "real-*")):
            os.remove(f)
        for name, data in real:
            with open(os.path.join(d, "real-" + name), "wb") as f:
                f.write(data)
    write_corpus("devices", device_seeds())
    write_corpus("cli", cli_seeds())


if __name__ == "__main__":
    main()
