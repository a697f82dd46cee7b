/* emu: shifts and rotates, SHLD/SHRD, multiply and divide, bit test/scan/count, CMPXCHG family,
 * XADD, ADCX/ADOX. These compute their flags eagerly (cc.op = EMU_CC_EAGER).
 *
 * Flags the SDM leaves undefined get deterministic values (AF=0 after shifts, SF/ZF/PF from the
 * low half after multiplies, unchanged after DIV/IDIV, BT* and BSF/BSR); tests/difftest/README.md
 * lists them and how they compare with real hosts. Destinations are written before flags so that
 * a faulting store leaves the flags untouched. */
#include "accel/emu/emu_priv.h"

/* 64 x 64 -> 128 unsigned multiply, portable. */
static void mul_u64(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
	uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;

	*lo = (mid << 32) | (uint32_t)ll;
	*hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* 128 / 64 unsigned divide; the caller guarantees hi < d (no quotient overflow). */
static uint64_t div_u128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
	uint64_t q = 0;

	for (int i = 63; i >= 0; i--) {
		uint64_t top = hi >> 63;
		hi = (hi << 1) | (lo >> 63);
		lo <<= 1;
		if (top || hi >= d) {
			hi -= d;
			q |= 1ull << i;
		}
	}
	*rem = hi;
	return q;
}

static inline uint64_t get_dest(struct emu_cpu *c, const struct emu_insn *in, unsigned size,
				uint64_t *ea)
{
	if (in->flags & EMU_I_REG)
		return reg_get(c, in->rm, size);
	*ea = emu_ea(c, in);
	return emu_ld(c, in->seg, *ea, size);
}

static inline void put_dest(struct emu_cpu *c, const struct emu_insn *in, unsigned size,
			    uint64_t ea, uint64_t v)
{
	if (in->flags & EMU_I_REG)
		reg_set(c, in->rm, size, v);
	else
		emu_st(c, in->seg, ea, size, v);
}

void emu_exec_shift(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize, bits = size * 8, sub = in->sub;
	unsigned cnt = (unsigned)((in->flags & EMU_I_CL) ? c->st.gpr[X86_RCX] : in->imm);
	uint64_t m = sz_mask(size), ea = 0, a, r;
	unsigned cf, of, rc;
	uint32_t f, mask = F_CF | F_OF;

	cnt &= size == 8 ? 63 : 31;
	a = get_dest(c, in, size, &ea);
	if (!cnt) {
		if ((in->flags & EMU_I_REG) && size == 4)
			reg_set(c, in->rm, 4, a); /* still a 32-bit write: zero-extends */
		return;
	}
	switch (sub) {
	case EMU_SH_ROL:
		rc = cnt & (bits - 1);
		r = rc ? ((a << rc) | (a >> (bits - rc))) & m : a;
		cf = r & 1;
		of = sz_msb(r, size) ^ cf;
		break;
	case EMU_SH_ROR:
		rc = cnt & (bits - 1);
		r = rc ? ((a >> rc) | (a << (bits - rc))) & m : a;
		cf = sz_msb(r, size);
		of = cf ^ (unsigned)((r >> (bits - 2)) & 1);
		break;
	case EMU_SH_RCL:
	case EMU_SH_RCR:
		rc = size < 4 ? cnt % (bits + 1) : cnt;
		cf = emu_flags_cf(c);
		r = a;
		of = sub == EMU_SH_RCR ? sz_msb(a, size) ^ cf : 0;
		for (unsigned i = 0; i < rc; i++) {
			unsigned out;
			if (sub == EMU_SH_RCL) {
				out = sz_msb(r, size);
				r = ((r << 1) | cf) & m;
			} else {
				out = r & 1;
				r = (r >> 1) | ((uint64_t)cf << (bits - 1));
			}
			cf = out;
		}
		if (sub == EMU_SH_RCL)
			of = sz_msb(r, size) ^ cf;
		break;
	default: /* SHL/SAL, SHR, SAR */
		r = emu_shift_arith(sub, a, cnt, size, &cf, &of);
		mask = F_ARITH;
		break;
	}
	put_dest(c, in, size, ea, r);
	if (mask == F_ARITH) {
		emu_shift_flags(c, size, r, cf, of); /* lazily, like the ALU ops */
		return;
	}
	f = (cf ? F_CF : 0) | (of ? F_OF : 0);
	flags_set_eager(c, mask, f);
}

void emu_exec_shxd(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize, bits = size * 8;
	unsigned cnt = (unsigned)((in->flags & EMU_I_CL) ? c->st.gpr[X86_RCX] : in->imm);
	uint64_t m = sz_mask(size), ea = 0, a, b, r;
	unsigned cf;

	cnt &= size == 8 ? 63 : 31;
	a = get_dest(c, in, size, &ea);
	b = reg_get(c, in->reg, size);
	if (!cnt) {
		if ((in->flags & EMU_I_REG) && size == 4)
			reg_set(c, in->rm, 4, a);
		return;
	}
	if (size == 2) {
		/* Counts above 16 are undefined; P6 and later shift a:b:a (SHLD) / b:a:b (SHRD). */
		uint64_t w;
		if (in->op == EMU_OP_SHLD) {
			w = (a << 16) | b;
			r = w << cnt;
			if (cnt > 16)
				r |= a << (cnt - 16);
			r = (r >> 16) & m;
			cf = (unsigned)(w >> (32 - cnt)) & 1;
		} else {
			w = (b << 16) | a;
			r = w >> cnt;
			if (cnt > 16)
				r |= a << (32 - cnt);
			r &= m;
			cf = (unsigned)(w >> (cnt - 1)) & 1;
		}
	} else if (in->op == EMU_OP_SHLD) {
		r = ((a << cnt) | (b >> (bits - cnt))) & m;
		cf = (unsigned)(a >> (bits - cnt)) & 1;
	} else {
		r = ((a >> cnt) | (b << (bits - cnt))) & m;
		cf = (unsigned)(a >> (cnt - 1)) & 1;
	}
	put_dest(c, in, size, ea, r);
	flags_set_eager(c, F_ARITH,
			flags_szp(r, size) | (cf ? F_CF : 0) |
			    ((sz_msb(r, size) ^ sz_msb(a, size)) ? F_OF : 0));
}

static void exec_mul(struct emu_cpu *c, const struct emu_insn *in, uint64_t src)
{
	unsigned size = in->osize, sgn = in->op == EMU_OP_IMUL1;
	uint64_t a = reg_get(c, X86_RAX, size), lo, hi, ovf;

	if (size == 8) {
		mul_u64(a, src, &lo, &hi);
		if (sgn) {
			hi -= ((int64_t)a < 0 ? src : 0) + ((int64_t)src < 0 ? a : 0);
			ovf = hi != ((int64_t)lo < 0 ? ~0ull : 0);
		} else {
			ovf = hi != 0;
		}
	} else {
		uint64_t p =
		    sgn ? (uint64_t)((int64_t)sz_sext(a, size) * (int64_t)sz_sext(src, size))
			: a * src;
		lo = p & sz_mask(size);
		hi = (p >> (size * 8)) & sz_mask(size);
		ovf = sgn ? sz_sext(lo, size) != p : hi != 0;
	}
	if (size == 1) {
		reg_set(c, X86_RAX, 2, (hi << 8) | lo);
	} else {
		reg_set(c, X86_RDX, size, hi);
		reg_set(c, X86_RAX, size, lo);
	}
	flags_set_eager(c, F_ARITH, (ovf ? F_CF | F_OF : 0) | flags_szp(lo, size));
}

static void exec_imul_n(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize;
	uint64_t a, b, lo, ovf;

	if (in->op == EMU_OP_IMUL2) {
		a = reg_get(c, in->reg, size);
		b = emu_get_e(c, in, size);
	} else {
		a = emu_get_e(c, in, size);
		b = in->imm;
	}
	if (size == 8) {
		uint64_t hi;
		mul_u64(a, b, &lo, &hi);
		hi -= ((int64_t)a < 0 ? b : 0) + ((int64_t)b < 0 ? a : 0);
		ovf = hi != ((int64_t)lo < 0 ? ~0ull : 0);
	} else {
		int64_t p = (int64_t)sz_sext(a, size) * (int64_t)sz_sext(b, size);
		lo = (uint64_t)p & sz_mask(size);
		ovf = sz_sext(lo, size) != (uint64_t)p;
	}
	reg_set(c, in->reg, size, lo);
	flags_set_eager(c, F_ARITH, (ovf ? F_CF | F_OF : 0) | flags_szp(lo, size));
}

static void exec_div(struct emu_cpu *c, const struct emu_insn *in, uint64_t d)
{
	unsigned size = in->osize, bits = size * 8;
	uint64_t lo = reg_get(c, X86_RAX, size == 1 ? 2 : size), hi, q, r;

	if (size == 1) {
		hi = (lo >> 8) & 0xff;
		lo &= 0xff;
	} else {
		hi = reg_get(c, X86_RDX, size);
	}
	if (d == 0)
		emu_raise(c, EMU_DE, 0, 0);
	if (in->op == EMU_OP_DIV) {
		if (hi >= d)
			emu_raise(c, EMU_DE, 0, 0);
		if (size == 8) {
			q = div_u128(hi, lo, d, &r);
		} else {
			uint64_t n = (hi << bits) | lo;
			q = n / d;
			r = n % d;
		}
	} else {
		/* Signed: divide magnitudes, then fix signs and check the quotient range. */
		int neg_n = (int)(hi >> (bits - 1)) & 1;
		int64_t sd = (int64_t)sz_sext(d, size);
		uint64_t ud = sd < 0 ? 0 - (uint64_t)sd : (uint64_t)sd;
		uint64_t nh = hi, nl = lo;
		if (neg_n) { /* negate the 2*bits-wide dividend */
			uint64_t m = sz_mask(size);
			nl = (~nl + 1) & m;
			nh = (~nh + (nl == 0)) & m;
		}
		if (size == 8) {
			if (nh >= ud)
				emu_raise(c, EMU_DE, 0, 0);
			q = div_u128(nh, nl, ud, &r);
		} else {
			uint64_t n = (nh << bits) | nl;
			if (size == 4 && nh >= ud)
				emu_raise(c, EMU_DE, 0, 0);
			q = n / ud;
			r = n % ud;
		}
		int neg_q = neg_n ^ (sd < 0);
		uint64_t lim = 1ull << (bits - 1);
		if (q > (neg_q ? lim : lim - 1))
			emu_raise(c, EMU_DE, 0, 0);
		if (neg_q)
			q = 0 - q;
		if (neg_n)
			r = 0 - r;
	}
	q &= sz_mask(size);
	r &= sz_mask(size);
	if (size == 1) {
		reg_set(c, X86_RAX, 2, (r << 8) | q);
	} else {
		reg_set(c, X86_RAX, size, q);
		reg_set(c, X86_RDX, size, r);
	}
}

void emu_exec_muldiv(struct emu_cpu *c, const struct emu_insn *in)
{
	switch (in->op) {
	case EMU_OP_MUL1:
	case EMU_OP_IMUL1:
		exec_mul(c, in, emu_get_e(c, in, in->osize));
		break;
	case EMU_OP_IMUL2:
	case EMU_OP_IMUL3:
		exec_imul_n(c, in);
		break;
	default:
		exec_div(c, in, emu_get_e(c, in, in->osize));
		break;
	}
}

void emu_exec_bitop(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize, bits = size * 8;
	uint64_t off, ea = 0, a;

	if (in->op == EMU_OP_BT_EI) {
		off = in->imm & (bits - 1);
		a = get_dest(c, in, size, &ea);
	} else {
		off = reg_get(c, in->reg, size);
		if (in->flags & EMU_I_REG) {
			a = reg_get(c, in->rm, size);
		} else {
			/* The bit offset is signed and may address memory beyond the operand. */
			int64_t so = (int64_t)sz_sext(off, size);
			int64_t words = so >= 0 ? so / (int64_t)bits : -((-so + bits - 1) / bits);
			ea = (emu_ea(c, in) + (uint64_t)(words * (int64_t)size)) &
			     sz_mask(in->asize);
			a = emu_ld(c, in->seg, ea, size);
		}
		off &= bits - 1;
	}
	unsigned cf = (unsigned)(a >> off) & 1;
	if (in->sub) {
		uint64_t bit = 1ull << off;
		a = in->sub == 1 ? a | bit : in->sub == 2 ? a & ~bit : a ^ bit;
		put_dest(c, in, size, ea, a);
	}
	flags_set_eager(c, F_CF, cf ? F_CF : 0);
}

void emu_exec_bitscan(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize, bits = size * 8;
	uint64_t src = emu_get_e(c, in, size), r;

	switch (in->op) {
	case EMU_OP_BSF:
	case EMU_OP_BSR:
		if (!src) { /* destination unchanged (documented by AMD, done by Intel) */
			flags_set_eager(c, F_ZF, F_ZF);
			return;
		}
		r = in->op == EMU_OP_BSF ? (uint64_t)__builtin_ctzll(src)
					 : (uint64_t)(63 - __builtin_clzll(src));
		reg_set(c, in->reg, size, r);
		flags_set_eager(c, F_ZF, 0);
		return;
	case EMU_OP_TZCNT:
		r = src ? (uint64_t)__builtin_ctzll(src) : bits;
		break;
	case EMU_OP_LZCNT:
		r = src ? (uint64_t)__builtin_clzll(src) - (64 - bits) : bits;
		break;
	default: /* POPCNT */
		r = (uint64_t)__builtin_popcountll(src);
		reg_set(c, in->reg, size, r);
		flags_set_eager(c, F_ARITH, src ? 0 : F_ZF);
		return;
	}
	reg_set(c, in->reg, size, r);
	flags_set_eager(c, F_CF | F_ZF, (src ? 0 : F_CF) | (r ? 0 : F_ZF));
}

/* CMPXCHG, CMPXCHG8B/16B, XADD. With LOCK these become host atomics (__atomic on the TLB host
 * pointer) once vCPUs run in parallel; a single thread per guest needs none today. */
void emu_exec_cmpxchg(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize;
	uint64_t ea = 0, d;

	if (in->op == EMU_OP_CMPXCHG8B) {
		unsigned h = size / 2; /* 4 or 8 */
		ea = emu_ea(c, in);
		if (size == 16 && (ea & 15))
			emu_raise(c, EMU_GP, 1, 0);
		uint64_t lo = emu_ld(c, in->seg, ea, h);
		uint64_t hi = emu_ld(c, in->seg, (ea + h) & sz_mask(in->asize), h);
		int eq = lo == reg_get(c, X86_RAX, h) && hi == reg_get(c, X86_RDX, h);
		emu_probe_write(c, in->seg, ea, size);
		if (eq) {
			emu_st(c, in->seg, ea, h, reg_get(c, X86_RBX, h));
			emu_st(c, in->seg, (ea + h) & sz_mask(in->asize), h,
			       reg_get(c, X86_RCX, h));
		} else {
			emu_st(c, in->seg, ea, h, lo);
			emu_st(c, in->seg, (ea + h) & sz_mask(in->asize), h, hi);
			reg_set(c, X86_RAX, h, lo);
			reg_set(c, X86_RDX, h, hi);
		}
		flags_set_eager(c, F_ZF, eq ? F_ZF : 0);
		return;
	}
	d = get_dest(c, in, size, &ea);
	uint64_t src = reg_get(c, in->reg, size);
	if (in->op == EMU_OP_XADD) {
		uint64_t r = (d + src) & sz_mask(size);
		if (in->flags & EMU_I_REG) {
			reg_set(c, in->reg, size, d);
			reg_set(c, in->rm, size, r);
		} else {
			emu_st(c, in->seg, ea, size, r);
			reg_set(c, in->reg, size, d);
		}
		cc_set(c, EMU_CC_ADD, size, r, d, src);
		return;
	}
	uint64_t acc = reg_get(c, X86_RAX, size);
	if (acc == d) {
		put_dest(c, in, size, ea, src);
	} else {
		if (!(in->flags & EMU_I_REG))
			emu_st(c, in->seg, ea, size, d); /* the write cycle happens regardless */
		reg_set(c, X86_RAX, size, d);
	}
	cc_set(c, EMU_CC_SUB, size, (acc - d) & sz_mask(size), acc, d);
}

void emu_exec_adx(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize < 4 ? 4 : in->osize;
	uint32_t flag = in->op == EMU_OP_ADCX ? F_CF : F_OF;
	uint64_t a = reg_get(c, in->reg, size), b = emu_get_e(c, in, size), m = sz_mask(size);
	unsigned cin = (emu_flags_arith(c) & flag) != 0;
	uint64_t r = (a + b + cin) & m;
	unsigned cout = cin ? r <= a : r < a;

	reg_set(c, in->reg, size, r);
	flags_set_eager(c, flag, cout ? flag : 0);
}
