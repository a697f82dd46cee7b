/* Difftest coverage of SSE3, SSSE3, SSE4.1 and SSE4.2: every instruction form, matched on emu's
 * decoding of the instructions that ran (see cover.h). Forms: register (ModRM.mod == 3) and
 * memory operands, the MMX (no prefix) and XMM (66) forms of SSSE3, REX.W variants where they
 * change the operation (PEXTRQ, PINSRQ, PCMPESTRx with 64-bit lengths, CRC32 r64), and
 * MONITOR/MWAIT, which have their own CPUID bit (not advertised) and must raise #UD. */
#include <stdio.h>

#include "accel/emu/cpu.h"
#include "cover.h"

enum ext { SSE3, SSSE3, SSE41, SSE42, NEXT };
static const char *const ext_names[NEXT] = {"sse3", "ssse3", "sse4.1", "sse4.2"};

enum { PN, P66, PF3, PF2 };		 /* emu's SSE prefix index (struct emu_insn.sub) */
enum { F_REG = 1, F_MEM = 2, F_UD = 4 }; /* forms that must run */
#define BOTH (F_REG | F_MEM)
#define NOT8 0x10 /* osize: anything but REX.W */

/* map: 0x0f, 0x38, 0x3a (SSE maps); 0xdb/0xdd/0xdf with opc = ModRM.reg (x87 memory forms);
 * 0x01 with opc = ModRM (0F 01 register forms). osize: 0 any, 2/4/8 exact, NOT8. */
struct req {
	uint8_t ext, map, opc, pfx, osize, forms;
	const char *name;
};

#define R(e, m, o, p, z, f, n)                                                                     \
	{                                                                                          \
		e, m, o, p, z, f, n                                                                \
	}
#define S3(o, n) R(SSSE3, 0x38, o, PN, 0, BOTH, n " mm"), R(SSSE3, 0x38, o, P66, 0, BOTH, n " xmm")
#define A(m, o, n) R(SSE41, m, o, P66, 0, BOTH, n)

static const struct req reqs[] = {
    R(SSE3, 0x0f, 0xd0, P66, 0, BOTH, "addsubpd"),
    R(SSE3, 0x0f, 0xd0, PF2, 0, BOTH, "addsubps"),
    R(SSE3, 0x0f, 0x7c, P66, 0, BOTH, "haddpd"),
    R(SSE3, 0x0f, 0x7c, PF2, 0, BOTH, "haddps"),
    R(SSE3, 0x0f, 0x7d, P66, 0, BOTH, "hsubpd"),
    R(SSE3, 0x0f, 0x7d, PF2, 0, BOTH, "hsubps"),
    R(SSE3, 0x0f, 0x16, PF3, 0, BOTH, "movshdup"),
    R(SSE3, 0x0f, 0x12, PF3, 0, BOTH, "movsldup"),
    R(SSE3, 0x0f, 0x12, PF2, 0, BOTH, "movddup"),
    R(SSE3, 0x0f, 0xf0, PF2, 0, F_MEM, "lddqu"),
    R(SSE3, 0xdf, 1, 0, 0, F_MEM, "fisttp m16"),
    R(SSE3, 0xdb, 1, 0, 0, F_MEM, "fisttp m32"),
    R(SSE3, 0xdd, 1, 0, 0, F_MEM, "fisttp m64"),
    R(SSE3, 0x01, 0xc8, 0, 0, F_UD, "monitor (#UD)"),
    R(SSE3, 0x01, 0xc9, 0, 0, F_UD, "mwait (#UD)"),

    S3(0x00, "pshufb"),
    S3(0x01, "phaddw"),
    S3(0x02, "phaddd"),
    S3(0x03, "phaddsw"),
    S3(0x04, "pmaddubsw"),
    S3(0x05, "phsubw"),
    S3(0x06, "phsubd"),
    S3(0x07, "phsubsw"),
    S3(0x08, "psignb"),
    S3(0x09, "psignw"),
    S3(0x0a, "psignd"),
    S3(0x0b, "pmulhrsw"),
    S3(0x1c, "pabsb"),
    S3(0x1d, "pabsw"),
    S3(0x1e, "pabsd"),
    R(SSSE3, 0x3a, 0x0f, PN, 0, BOTH, "palignr mm"),
    R(SSSE3, 0x3a, 0x0f, P66, 0, BOTH, "palignr xmm"),

    A(0x38, 0x10, "pblendvb"),
    A(0x38, 0x14, "blendvps"),
    A(0x38, 0x15, "blendvpd"),
    A(0x38, 0x17, "ptest"),
    A(0x38, 0x20, "pmovsxbw"),
    A(0x38, 0x21, "pmovsxbd"),
    A(0x38, 0x22, "pmovsxbq"),
    A(0x38, 0x23, "pmovsxwd"),
    A(0x38, 0x24, "pmovsxwq"),
    A(0x38, 0x25, "pmovsxdq"),
    A(0x38, 0x28, "pmuldq"),
    A(0x38, 0x29, "pcmpeqq"),
    R(SSE41, 0x38, 0x2a, P66, 0, F_MEM, "movntdqa"),
    A(0x38, 0x2b, "packusdw"),
    A(0x38, 0x30, "pmovzxbw"),
    A(0x38, 0x31, "pmovzxbd"),
    A(0x38, 0x32, "pmovzxbq"),
    A(0x38, 0x33, "pmovzxwd"),
    A(0x38, 0x34, "pmovzxwq"),
    A(0x38, 0x35, "pmovzxdq"),
    A(0x38, 0x38, "pminsb"),
    A(0x38, 0x39, "pminsd"),
    A(0x38, 0x3a, "pminuw"),
    A(0x38, 0x3b, "pminud"),
    A(0x38, 0x3c, "pmaxsb"),
    A(0x38, 0x3d, "pmaxsd"),
    A(0x38, 0x3e, "pmaxuw"),
    A(0x38, 0x3f, "pmaxud"),
    A(0x38, 0x40, "pmulld"),
    A(0x38, 0x41, "phminposuw"),
    A(0x3a, 0x08, "roundps"),
    A(0x3a, 0x09, "roundpd"),
    A(0x3a, 0x0a, "roundss"),
    A(0x3a, 0x0b, "roundsd"),
    A(0x3a, 0x0c, "blendps"),
    A(0x3a, 0x0d, "blendpd"),
    A(0x3a, 0x0e, "pblendw"),
    A(0x3a, 0x14, "pextrb"),
    A(0x3a, 0x15, "pextrw (0F 3A 15)"),
    R(SSE41, 0x3a, 0x16, P66, NOT8, BOTH, "pextrd"),
    R(SSE41, 0x3a, 0x16, P66, 8, BOTH, "pextrq"),
    A(0x3a, 0x17, "extractps"),
    A(0x3a, 0x20, "pinsrb"),
    A(0x3a, 0x21, "insertps"),
    R(SSE41, 0x3a, 0x22, P66, NOT8, BOTH, "pinsrd"),
    R(SSE41, 0x3a, 0x22, P66, 8, BOTH, "pinsrq"),
    A(0x3a, 0x40, "dpps"),
    A(0x3a, 0x41, "dppd"),
    A(0x3a, 0x42, "mpsadbw"),

    R(SSE42, 0x3a, 0x60, P66, NOT8, BOTH, "pcmpestrm"),
    R(SSE42, 0x3a, 0x60, P66, 8, BOTH, "pcmpestrm (REX.W)"),
    R(SSE42, 0x3a, 0x61, P66, NOT8, BOTH, "pcmpestri"),
    R(SSE42, 0x3a, 0x61, P66, 8, BOTH, "pcmpestri (REX.W)"),
    R(SSE42, 0x3a, 0x62, P66, 0, BOTH, "pcmpistrm"),
    R(SSE42, 0x3a, 0x63, P66, 0, BOTH, "pcmpistri"),
    R(SSE42, 0x38, 0x37, P66, 0, BOTH, "pcmpgtq"),
    R(SSE42, 0x38, 0xf0, PF2, 4, BOTH, "crc32 r32, r/m8"),
    R(SSE42, 0x38, 0xf0, PF2, 8, BOTH, "crc32 r64, r/m8"),
    R(SSE42, 0x38, 0xf1, PF2, 2, BOTH, "crc32 r32, r/m16"),
    R(SSE42, 0x38, 0xf1, PF2, 4, BOTH, "crc32 r32, r/m32"),
    R(SSE42, 0x38, 0xf1, PF2, 8, BOTH, "crc32 r64, r/m64"),
};

#define NREQ (sizeof(reqs) / sizeof(reqs[0]))

static long hits[NREQ][3]; /* register, memory, #UD */

static int osize_ok(unsigned want, unsigned have)
{
	return !want || (want == NOT8 ? have != 8 : have == want);
}

static int match(const struct req *q, const struct emu_insn *in)
{
	switch (q->map) {
	case 0x0f:
	case 0x38:
	case 0x3a: {
		unsigned map = q->map == 0x0f ? 2 : q->map == 0x38 ? 3 : 4;
		return in->op == EMU_OP_SSE && in->imm2 == (map << 8 | q->opc) &&
		       in->sub == q->pfx && osize_ok(q->osize, in->osize);
	}
	case 0x01: /* 0F 01 /reg, register form with rm = ModRM.rm (no REX.B) */
		return in->op == EMU_OP_GRP7 && (in->flags & EMU_I_REG) &&
		       in->sub == ((q->opc >> 3) & 7) && in->rm == (q->opc & 7);
	default: /* x87 memory form */
		return in->op == EMU_OP_X87 && (in->imm2 >> 8) == (q->map & 7u) &&
		       (in->imm2 & 0xc0) != 0xc0 && ((in->imm2 >> 3) & 7) == q->opc;
	}
}

void dt_cover_insn(const uint8_t *p, unsigned avail, int ud)
{
	struct emu_insn in;

	if (emu_decode(p, avail, EMU_MODE_64, &in) <= 0)
		return;
	for (unsigned i = 0; i < NREQ; i++)
		if (match(&reqs[i], &in))
			hits[i][ud ? 2 : (in.flags & EMU_I_REG) ? 0 : 1]++;
}

int dt_cover_report(int verbose, int faults)
{
	static const char *const form_names[3] = {"register", "memory", "#UD"};
	int missing = 0, ext_forms[NEXT] = {0}, ext_missing[NEXT] = {0};

	for (unsigned i = 0; i < NREQ; i++) {
		const struct req *q = &reqs[i];
		for (int f = 0; f < 3; f++) {
			if (!((q->forms >> f) & 1) || (f == 2 && !faults))
				continue;
			ext_forms[q->ext]++;
			if (!hits[i][f]) {
				missing++;
				ext_missing[q->ext]++;
				printf("  cover: %-7s %-20s %-8s never run\n", ext_names[q->ext],
				       q->name, form_names[f]);
			} else if (verbose) {
				printf("  cover: %-7s %-20s %-8s %8ld\n", ext_names[q->ext],
				       q->name, form_names[f], hits[i][f]);
			}
		}
	}
	for (int e = 0; e < NEXT; e++)
		printf("cover: %s %d/%d forms run\n", ext_names[e], ext_forms[e] - ext_missing[e],
		       ext_forms[e]);
	return missing;
}
