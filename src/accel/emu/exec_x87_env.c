/* emu: x87 control and environment: FNINIT, FLDCW, FLDENV/FNSTENV and FRSTOR/FNSAVE in their
 * 16- and 32-bit layouts (the full tag word converted to and from the abridged FTW), FNSTSW m16. */
#include "accel/emu/x87_priv.h"

/* Set TOP to t keeping the physical registers (the ST-ordered slots rotate). */
static void x87_retop(struct emu_cpu *c, unsigned t)
{
	unsigned k = (t - x87_top(c)) & 7;
	uint8_t old[128];

	memcpy(old, c->st.fxsave + FX_ST, 128);
	for (unsigned i = 0; i < 8; i++)
		memcpy(c->st.fxsave + FX_ST + 16 * i, old + 16 * ((i + k) & 7), 16);
	x87_set_top(c, t);
}

void x87_fninit(struct emu_cpu *c)
{
	x87_retop(c, 0);
	fx_set16(c, FX_FCW, 0x037f);
	fx_set16(c, FX_FSW, 0);
	c->st.fxsave[FX_FTW] = 0;
	memset(c->st.fxsave + FX_FOP, 0, 18);
	fx_set16(c, FX_PRIV_FCS, 0);
	fx_set16(c, FX_PRIV_FDS, 0);
}

/* Load FCW (bits 13-15 read as 0, bit 6 as 1) and FSW (ES and B recomputed). */
static void x87_load_cw_sw(struct emu_cpu *c, uint16_t cw, uint16_t sw)
{
	cw = (uint16_t)((cw & 0x1f3f) | 0x40);
	sw &= 0x7f7f;
	if (sw & ~cw & 0x3f)
		sw |= 0x8080;
	fx_set16(c, FX_FCW, cw);
	fx_set16(c, FX_FSW, sw);
}

void x87_fldcw(struct emu_cpu *c, uint16_t v)
{
	x87_load_cw_sw(c, v, x87_fsw(c));
}

/* The full tag word (00 valid, 01 zero, 10 special, 11 empty) for FNSTENV/FNSAVE. */
static uint16_t full_tags(const struct emu_cpu *c)
{
	unsigned top = x87_top(c);
	uint16_t tw = 0;

	for (unsigned p = 0; p < 8; p++) {
		unsigned t = 3;
		if ((c->st.fxsave[FX_FTW] >> p) & 1) {
			struct sfr r = x87_raw(c, (p - top) & 7);
			unsigned ex = r.se & 0x7fff;
			if (ex == 0x7fff)
				t = 2;
			else if (ex == 0)
				t = r.m ? 2 : 1;
			else
				t = (r.m >> 63) ? 0 : 2;
		}
		tw |= (uint16_t)(t << (2 * p));
	}
	return tw;
}

static unsigned env_len(const struct emu_insn *in)
{
	return in->osize == 2 ? 14 : 28;
}

static void env_store(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea)
{
	uint64_t fip, fdp;
	uint16_t fop = fx_get16(c, FX_FOP);

	uint16_t fcs = fx_get16(c, FX_PRIV_FCS), fds = fx_get16(c, FX_PRIV_FDS);

	memcpy(&fip, c->st.fxsave + 8, 8);
	memcpy(&fdp, c->st.fxsave + 16, 8);
	if (in->osize == 2) {
		uint16_t w[7] = {x87_fcw(c), x87_fsw(c),    full_tags(c), (uint16_t)fip,
				 fcs,	     (uint16_t)fdp, fds};
		for (unsigned k = 0; k < 7; k++)
			emu_st(c, in->seg, x87_ea_plus(in, ea, 2 * k), 2, w[k]);
		return;
	}
	uint32_t d[7] = {0xffff0000u | x87_fcw(c),   0xffff0000u | x87_fsw(c),
			 0xffff0000u | full_tags(c), (uint32_t)fip,
			 (uint32_t)fop << 16 | fcs,  (uint32_t)fdp,
			 0xffff0000u | fds};
	for (unsigned k = 0; k < 7; k++)
		emu_st(c, in->seg, x87_ea_plus(in, ea, 4 * k), 4, d[k]);
}

static void env_load(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea, int rstor)
{
	uint16_t cw, sw, tw, fcs, fds;
	uint64_t fip, fdp, fop = 0;

	if (in->osize == 2) {
		cw = (uint16_t)emu_ld(c, in->seg, ea, 2);
		sw = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 2), 2);
		tw = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 4), 2);
		fip = emu_ld(c, in->seg, x87_ea_plus(in, ea, 6), 2);
		fcs = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 8), 2);
		fdp = emu_ld(c, in->seg, x87_ea_plus(in, ea, 10), 2);
		fds = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 12), 2);
	} else {
		cw = (uint16_t)emu_ld(c, in->seg, ea, 2);
		sw = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 4), 2);
		tw = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 8), 2);
		fip = emu_ld(c, in->seg, x87_ea_plus(in, ea, 12), 4);
		uint32_t d4 = (uint32_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 16), 4);
		fcs = (uint16_t)d4;
		fop = (d4 >> 16) & 0x7ff;
		fdp = emu_ld(c, in->seg, x87_ea_plus(in, ea, 20), 4);
		fds = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 24), 2);
	}
	uint8_t ftw = 0;
	for (unsigned p = 0; p < 8; p++)
		if (((tw >> (2 * p)) & 3) != 3)
			ftw |= (uint8_t)(1u << p);
	if (!rstor)
		x87_retop(c, (sw >> 11) & 7);
	x87_load_cw_sw(c, cw, sw);
	c->st.fxsave[FX_FTW] = ftw;
	fx_set16(c, FX_FOP, (uint16_t)fop);
	fx_set16(c, FX_PRIV_FCS, fcs);
	fx_set16(c, FX_PRIV_FDS, fds);
	memcpy(c->st.fxsave + 8, &fip, 8);
	memcpy(c->st.fxsave + 16, &fdp, 8);
}

void x87_fnstenv(struct emu_cpu *c, const struct emu_insn *in, int save)
{
	uint64_t ea = emu_ea(c, in);
	unsigned n = env_len(in);

	emu_probe_write(c, in->seg, ea, n + (save ? 80 : 0));
	env_store(c, in, ea);
	if (save) {
		for (unsigned i = 0; i < 8; i++) {
			struct sfr r = x87_raw(c, i);
			emu_st(c, in->seg, x87_ea_plus(in, ea, n + 10 * i), 8, r.m);
			emu_st(c, in->seg, x87_ea_plus(in, ea, n + 10 * i + 8), 2, r.se);
		}
		x87_fninit(c);
	} else {
		x87_load_cw_sw(c, x87_fcw(c) | 0x3f,
			       x87_fsw(c)); /* all masked: nothing pending (ES, B clear) */
	}
}

void x87_fldenv(struct emu_cpu *c, const struct emu_insn *in, int rstor)
{
	uint64_t ea = emu_ea(c, in);
	unsigned n = env_len(in);
	uint8_t regs[80];

	if (rstor) /* read everything first: a fault leaves the state alone */
		for (unsigned i = 0; i < 80; i += 8) {
			uint64_t v = emu_ld(c, in->seg, x87_ea_plus(in, ea, n + i), 8);
			memcpy(regs + i, &v, 8);
		}
	(void)emu_ld(c, in->seg, x87_ea_plus(in, ea, n - 4), 4);
	env_load(c, in, ea, rstor);
	if (rstor)
		for (unsigned i = 0; i < 8; i++) {
			uint8_t *p = c->st.fxsave + FX_ST + 16 * i;
			memcpy(p, regs + 10 * i, 10);
			memset(p + 10, 0, 6);
		}
}

void x87_fnstsw_mem(struct emu_cpu *c, const struct emu_insn *in)
{
	emu_st(c, in->seg, emu_ea(c, in), 2, x87_fsw(c));
}
