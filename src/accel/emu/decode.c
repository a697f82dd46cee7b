/* emu: instruction decoder (prefixes, REX, opcode maps, ModRM/SIB, displacement, immediates). */
#include "accel/emu/decode.h"

#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/decode_tab.h"
#include "arch/x86/cpu_state.h"

struct dstate {
	const uint8_t *p;
	unsigned avail;
	unsigned i;
};

/* Next byte, or EMU_DEC_GP past the 15-byte limit, or EMU_DEC_MORE past the buffer. */
static inline int dec_byte(struct dstate *d)
{
	if (d->i >= EMU_INSN_MAX)
		return EMU_DEC_GP;
	if (d->i >= d->avail)
		return EMU_DEC_MORE;
	return d->p[d->i++];
}

#define FETCH(var)                                                                                 \
	do {                                                                                       \
		int b_ = dec_byte(d);                                                              \
		if (b_ < 0)                                                                        \
			return b_;                                                                 \
		(var) = (uint8_t)b_;                                                               \
	} while (0)

/* Little-endian immediate of n bytes, zero-extended. */
static int dec_imm(struct dstate *d, unsigned n, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned k = 0; k < n; k++) {
		uint8_t b;
		FETCH(b);
		v |= (uint64_t)b << (8 * k);
	}
	*out = v;
	return 0;
}

static inline uint64_t sext(uint64_t v, unsigned bytes)
{
	unsigned sh = 64 - 8 * bytes;
	return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* 16-bit addressing: base and index registers by rm. */
static const uint8_t modrm16_base[8] = {X86_RBX,      X86_RBX,	    X86_RBP, X86_RBP,
					EMU_REG_NONE, EMU_REG_NONE, X86_RBP, X86_RBX};
static const uint8_t modrm16_index[8] = {X86_RSI, X86_RDI, X86_RSI,	 X86_RDI,
					 X86_RSI, X86_RDI, EMU_REG_NONE, EMU_REG_NONE};

static int dec_modrm_mem16(struct dstate *d, struct emu_insn *in, unsigned mod, unsigned rm)
{
	uint64_t disp = 0;

	in->base = modrm16_base[rm];
	in->index = modrm16_index[rm];
	in->scale = 0;
	if (mod == 0 && rm == 6) {
		in->base = EMU_REG_NONE;
		int r = dec_imm(d, 2, &disp);
		if (r)
			return r;
		in->disp = (int32_t)sext(disp, 2);
	} else if (mod == 1) {
		int r = dec_imm(d, 1, &disp);
		if (r)
			return r;
		in->disp = (int32_t)sext(disp, 1);
	} else if (mod == 2) {
		int r = dec_imm(d, 2, &disp);
		if (r)
			return r;
		in->disp = (int32_t)sext(disp, 2);
	}
	if (in->base == X86_RBP)
		in->seg = X86_SS;
	return 0;
}

static int dec_modrm_mem(struct dstate *d, struct emu_insn *in, unsigned mod, unsigned rm,
			 unsigned rex, unsigned mode)
{
	uint64_t disp = 0;
	int r;

	in->index = EMU_REG_NONE;
	in->scale = 0;
	if (rm == 4) {
		uint8_t sib;
		FETCH(sib);
		unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
		in->index = idx == 4 ? EMU_REG_NONE : idx;
		in->scale = sib >> 6;
		in->base = (sib & 7) | ((rex & 1) << 3);
		if ((sib & 7) == 5 && mod == 0) {
			in->base = EMU_REG_NONE;
			mod = 2; /* disp32 */
		}
	} else if (rm == 5 && mod == 0) {
		in->base = mode == EMU_MODE_64 ? EMU_REG_RIP : EMU_REG_NONE;
		mod = 2;
	} else {
		in->base = rm | ((rex & 1) << 3);
	}
	if (mod == 1) {
		if ((r = dec_imm(d, 1, &disp)))
			return r;
		in->disp = (int32_t)sext(disp, 1);
	} else if (mod == 2) {
		if ((r = dec_imm(d, 4, &disp)))
			return r;
		in->disp = (int32_t)disp;
	}
	if (in->base == X86_RSP || in->base == X86_RBP)
		in->seg = X86_SS;
	return 0;
}

/* Byte register numbering: without REX, 4-7 name AH, CH, DH, BH. */
static inline uint8_t byte_reg(unsigned r, unsigned rex_present)
{
	return (!rex_present && r >= 4 && r < 8) ? (uint8_t)(EMU_REG_AH + r - 4) : (uint8_t)r;
}

static int dec_immediate(struct dstate *d, struct emu_insn *in, unsigned type)
{
	uint64_t v = 0;
	int r = 0;

	switch (type) {
	case I_NONE:
		break;
	case I_B:
	case I_J8:
		r = dec_imm(d, 1, &v);
		v = sext(v, 1);
		break;
	case I_UB:
		r = dec_imm(d, 1, &v);
		break;
	case I_W:
		r = dec_imm(d, 2, &v);
		break;
	case I_Z: {
		unsigned n = in->osize > 4 ? 4 : in->osize;
		r = dec_imm(d, n, &v);
		v = sext(v, n);
		break;
	}
	case I_JZ: {
		unsigned n = in->osize == 2 ? 2 : 4;
		r = dec_imm(d, n, &v);
		v = sext(v, n);
		break;
	}
	case I_V:
		r = dec_imm(d, in->osize, &v);
		break;
	case I_O:
		r = dec_imm(d, in->asize, &v);
		break;
	case I_WB: {
		uint64_t lvl = 0;
		r = dec_imm(d, 2, &v);
		if (!r)
			r = dec_imm(d, 1, &lvl);
		in->imm2 = (uint16_t)lvl;
		break;
	}
	case I_P:
		r = dec_imm(d, in->osize == 2 ? 4 : 6, &v);
		break;
	case I_ONE:
		v = 1;
		break;
	case I_SUB:
		v = in->sub;
		break;
	}
	in->imm = v;
	return r;
}

/* Mandatory-prefix and map-specific fix-ups after the table lookup. rep is 0, 0xf2 or 0xf3. */
static void dec_special(struct emu_insn *in, struct emu_opinfo *oi, unsigned map, unsigned opc,
			unsigned rep, unsigned opsz, unsigned modrm, unsigned mode)
{
	if (map == 1 && opc == 0x90 && in->rm == X86_RAX) {
		oi->op = EMU_OP_NOP; /* NOP / PAUSE; with REX.B it is XCHG r8, rAX */
	} else if (map == 1 && opc == 0x63 && mode != EMU_MODE_64) {
		oi->op = EMU_OP_ARPL;
	} else if (map == 2 && opc == 0xb8) {
		oi->op = rep == 0xf3 ? EMU_OP_POPCNT : EMU_OP_UD;
	} else if (map == 2 && opc == 0xbc && rep == 0xf3) {
		oi->op = EMU_OP_TZCNT;
	} else if (map == 2 && opc == 0xbd && rep == 0xf3) {
		oi->op = EMU_OP_LZCNT;
	} else if (map == 2 && opc == 0xae && (modrm >> 6) == 3 && ((modrm >> 3) & 7) >= 5) {
		oi->op = EMU_OP_NOP; /* LFENCE, MFENCE, SFENCE */
	} else if (map == 3 && (opc == 0xf0 || opc == 0xf1) && rep != 0xf2) {
		oi->op = opc == 0xf0 ? EMU_OP_MOVBE_GE : EMU_OP_MOVBE_EG;
		oi->f |= D_MEM;
	} else if (map == 3 && opc == 0xf6 && (rep == 0xf3 || opsz)) {
		oi->op = rep == 0xf3 ? EMU_OP_ADOX : EMU_OP_ADCX;
	}
}

/* MMX/SSE and x87 rows: record the opcode (and mandatory prefix or ModRM) for exec_sse.c and
 * exec_x87.c. F2/F3 take precedence over 66; the last of F2/F3 wins. */
static void dec_simd(struct emu_insn *in, struct emu_opinfo *oi, unsigned map, unsigned opc,
		     unsigned rep, unsigned opsz, unsigned modrm)
{
	if (oi->op == EMU_OP_SSE) {
		oi->sub = rep == 0xf3 ? 2 : rep == 0xf2 ? 3 : opsz ? 1 : 0;
		in->imm2 = (uint16_t)(map << 8 | opc);
	} else if (oi->op == EMU_OP_X87) {
		in->imm2 = (uint16_t)((opc & 7) << 8 | modrm);
	}
}

static int dec_lock_ok(const struct emu_insn *in, const struct emu_opinfo *oi)
{
	if (!(oi->f & D_LK) || (in->flags & EMU_I_REG))
		return 0;
	if ((in->op == EMU_OP_ALU_EG || in->op == EMU_OP_ALU_EI) && in->sub == EMU_ALU_CMP)
		return 0;
	return 1;
}

int emu_decode(const uint8_t *p, unsigned avail, unsigned mode, struct emu_insn *in)
{
	struct dstate dd = {.p = p, .avail = avail, .i = 0}, *d = &dd;
	unsigned rex = 0, rex_present = 0, opsz = 0, adsz = 0, lock = 0, rep = 0;
	unsigned seg = EMU_REG_NONE, map = 1, modrm = 0;
	uint8_t b;
	int r;

	memset(in, 0, sizeof(*in));
	for (;;) {
		FETCH(b);
		if (mode == EMU_MODE_64 && (b & 0xf0) == 0x40) {
			rex = b & 0xf;
			rex_present = 1;
			continue;
		}
		switch (b) {
		case 0x66:
			opsz = 1;
			break;
		case 0x67:
			adsz = 1;
			break;
		case 0xf0:
			lock = 1;
			break;
		case 0xf2:
		case 0xf3:
			rep = b;
			break;
		case 0x26:
		case 0x2e:
		case 0x36:
		case 0x3e:
			if (mode != EMU_MODE_64)
				seg = (b >> 3) & 3;
			break;
		case 0x64:
			seg = X86_FS;
			break;
		case 0x65:
			seg = X86_GS;
			break;
		default:
			goto opcode;
		}
		rex = rex_present = 0; /* a REX not immediately before the opcode is ignored */
	}
opcode:
	if (b == 0x0f) {
		FETCH(b);
		map = 2;
		if (b == 0x38 || b == 0x3a) {
			map = b == 0x38 ? 3 : 4;
			FETCH(b);
		}
	}
	unsigned opc = b;
	struct emu_opinfo oi;
	if (map == 1)
		oi = emu_optab_1b[b];
	else if (map == 2)
		oi = emu_optab_0f[b];
	else /* 0F38 and 0F3A: ModRM always, 0F3A an imm8 */
		oi = (struct emu_opinfo){
		    .op = EMU_OP_SSE, .imm = map == 4 ? I_UB : I_NONE, .f = D_M};

	if (mode == EMU_MODE_64 && (oi.f & D_I64)) {
		in->len = (uint8_t)d->i;
		return EMU_DEC_UD;
	}

	/* Operand and address size. */
	if (oi.f & D_B)
		in->osize = 1;
	else if (mode == EMU_MODE_64)
		in->osize = (rex & 8) || (oi.f & D_F64) ? 8 : opsz ? 2 : (oi.f & D_64) ? 8 : 4;
	else
		in->osize = (mode == EMU_MODE_32) ^ opsz ? 4 : 2;
	if (mode == EMU_MODE_64)
		in->asize = adsz ? 4 : 8;
	else
		in->asize = (mode == EMU_MODE_32) ^ adsz ? 4 : 2;
	in->seg = X86_DS;

	/* ModRM and memory operand. */
	if (oi.f & D_M) {
		FETCH(b);
		modrm = b;
		if (map == 2 && (opc & 0xfc) == 0x20)
			modrm |= 0xc0; /* MOV CR/DR: always the register form */
		unsigned mod = modrm >> 6, rm = modrm & 7;
		in->reg = (uint8_t)(((modrm >> 3) & 7) | ((rex & 4) << 1));
		if (mod == 3) {
			in->flags |= EMU_I_REG;
			in->rm = (uint8_t)(rm | ((rex & 1) << 3));
		} else if (in->asize == 2) {
			if ((r = dec_modrm_mem16(d, in, mod, rm)))
				return r;
		} else if ((r = dec_modrm_mem(d, in, mod, rm, rex, mode))) {
			return r;
		}
		if (oi.f & D_GRP) {
			struct emu_opinfo g = emu_optab_grp[oi.sub][(modrm >> 3) & 7];
			g.f |= oi.f & (D_B | D_M);
			oi = g;
			if (!(oi.f & D_B) && mode == EMU_MODE_64 && !(rex & 8) && (oi.f & D_F64))
				in->osize = 8;
			else if (!(oi.f & D_B) && mode == EMU_MODE_64 && !(rex & 8) &&
				 (oi.f & D_64))
				in->osize = opsz ? 2 : 8;
		} else if (oi.f & D_SUBREG) {
			oi.sub = (modrm >> 3) & 7;
		}
	} else if (oi.f & (D_RO | D_ACC)) {
		in->flags |= EMU_I_REG;
		in->rm = (oi.f & D_RO) ? (uint8_t)((opc & 7) | ((rex & 1) << 3)) : X86_RAX;
		in->reg = X86_RAX;
	}
	if (seg != EMU_REG_NONE)
		in->seg = (uint8_t)seg;

	dec_special(in, &oi, map, opc, rep, opsz, modrm, mode);
	dec_simd(in, &oi, map, opc, rep, opsz, modrm);
	in->op = oi.op;
	in->sub = oi.sub;
	if (oi.op == EMU_OP_CMPXCHG8B)
		in->osize = (rex & 8) ? 16 : 8;
	if (oi.op == EMU_OP_MOVSX && oi.sub == 4 && in->osize < 4)
		in->sub = in->osize; /* MOVSXD with 66: a plain 16-bit move */

	/* Byte register names. */
	if (in->osize == 1) {
		in->reg = byte_reg(in->reg, rex_present);
		if (in->flags & EMU_I_REG)
			in->rm = byte_reg(in->rm, rex_present);
	} else if (((oi.op == EMU_OP_MOVZX || oi.op == EMU_OP_MOVSX) && oi.sub == 1 &&
		    (in->flags & EMU_I_REG)) ||
		   (oi.op == EMU_OP_SSE && in->imm2 == 0x3f0 && (in->flags & EMU_I_REG))) {
		/* (CRC32 r, r/m8 names byte registers too) */
		in->rm = byte_reg(in->rm, rex_present);
	}
	if (oi.f & D_CL)
		in->flags |= EMU_I_CL;
	if (oi.f & D_DX)
		in->flags |= EMU_I_DX;
	if (oi.f & D_END)
		in->flags |= EMU_I_END;
	if ((oi.f & D_STR) && rep)
		in->flags |= rep == 0xf3 ? EMU_I_REP : EMU_I_REPNE;

	if ((r = dec_immediate(d, in, oi.imm)))
		return r;
	in->len = (uint8_t)d->i;

	if (((oi.f & D_MEM) && (in->flags & EMU_I_REG)) || (lock && !dec_lock_ok(in, &oi)))
		in->op = EMU_OP_UD;
	if (lock)
		in->flags |= EMU_I_LOCK;
	if (lock && in->op != EMU_OP_UD) {
		in->lop = in->op; /* executed atomically by exec_lock.c */
		in->op = EMU_OP_LOCKED;
	}
	if (in->op == EMU_OP_UD || in->op == EMU_OP_UNIMPL)
		in->flags |= EMU_I_END;
	return in->len;
}
