/* emu: MMX/SSE data movement: register/memory moves, MOVD/MOVQ, partial (low/high, scalar)
 * moves, sign masks, non-temporal stores (plain stores here), shuffles, blends, inserts and
 * extracts. 16-byte memory operands are aligned (#GP(0)) except for the U forms, LDDQU and the
 * m64/m32 partial moves. */
#include "accel/emu/sse_priv.h"

static void st_e(struct emu_cpu *c, const struct emu_insn *in, unsigned n, uint64_t v)
{
	emu_st(c, in->seg, emu_ea(c, in), n, v);
}

static void need_mem(struct emu_cpu *c, const struct emu_insn *in)
{
	if (in->flags & EMU_I_REG)
		emu_raise(c, EMU_UD, 0, 0);
}

static void mov_store128(struct emu_cpu *c, const struct emu_insn *in, int align)
{
	xmm_t v;

	xmm_get(c, in->reg, &v);
	if (in->flags & EMU_I_REG)
		xmm_set(c, in->rm, &v);
	else
		sse_st128(c, in, emu_ea(c, in), &v, align);
}

/* Loads into G with the low n bytes of E (merge: keep the rest of G for register sources). */
static void mov_scalar_load(struct emu_cpu *c, const struct emu_insn *in, unsigned n)
{
	xmm_t g, e;

	if (in->flags & EMU_I_REG) {
		xmm_get(c, in->reg, &g);
		xmm_get(c, in->rm, &e);
		memcpy(&g, &e, n);
	} else {
		memset(&g, 0, 16);
		g.q[0] = emu_ld(c, in->seg, emu_ea(c, in), n);
	}
	xmm_set(c, in->reg, &g);
}

static void mov_scalar_store(struct emu_cpu *c, const struct emu_insn *in, unsigned n)
{
	xmm_t g, e;

	xmm_get(c, in->reg, &g);
	if (in->flags & EMU_I_REG) {
		xmm_get(c, in->rm, &e);
		memcpy(&e, &g, n);
		xmm_set(c, in->rm, &e);
	} else {
		st_e(c, in, n, g.q[0]);
	}
}

static void mov_movd(struct emu_cpu *c, const struct emu_insn *in, int to)
{
	unsigned n = in->osize == 8 ? 8 : 4, mmx = in->sub == 0;
	xmm_t v;

	if (to) {
		uint64_t x = in->flags & EMU_I_REG ? reg_get(c, in->rm, n)
						   : emu_ld(c, in->seg, emu_ea(c, in), n);
		memset(&v, 0, 16);
		v.q[0] = x;
		sse_set_g(c, in, &v, mmx ? 8 : 16);
		return;
	}
	sse_get_g(c, in, &v, mmx ? 8 : 16);
	if (in->flags & EMU_I_REG)
		reg_set(c, in->rm, n, v.q[0] & sz_mask(n));
	else
		st_e(c, in, n, v.q[0]);
}

static uint32_t sign_mask(const xmm_t *v, unsigned esz, unsigned width)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < width / esz; i++)
		m |= (uint32_t)(v->b[i * esz + esz - 1] >> 7) << i;
	return m;
}

void sse_mov(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	xmm_t g, e;

	switch (arg) {
	case MV_LOADU:
	case MV_LDDQU:
	case MV_LOADA:
	case MV_NTDQA:
		if (arg == MV_NTDQA || (arg == MV_LDDQU))
			need_mem(c, in);
		sse_get_e(c, in, &e, 16, 0, arg == MV_LOADA || arg == MV_NTDQA);
		xmm_set(c, in->reg, &e);
		break;
	case MV_STOREU:
	case MV_STOREA:
		mov_store128(c, in, arg == MV_STOREA);
		break;
	case MV_STORENT:
		need_mem(c, in);
		mov_store128(c, in, 1);
		break;
	case MV_SS_LOAD:
	case MV_SD_LOAD:
		mov_scalar_load(c, in, arg == MV_SS_LOAD ? 4 : 8);
		break;
	case MV_SS_STORE:
	case MV_SD_STORE:
		mov_scalar_store(c, in, arg == MV_SS_STORE ? 4 : 8);
		break;
	case MV_LPS_LOAD: /* MOVLPS / MOVHLPS */
	case MV_LPD_LOAD:
	case MV_HPS_LOAD: /* MOVHPS / MOVLHPS */
	case MV_HPD_LOAD:
		if (arg == MV_LPD_LOAD || arg == MV_HPD_LOAD)
			need_mem(c, in);
		xmm_get(c, in->reg, &g);
		if (in->flags & EMU_I_REG) {
			xmm_get(c, in->rm, &e);
			e.q[0] = arg == MV_LPS_LOAD ? e.q[1] : e.q[0];
		} else {
			e.q[0] = emu_ld(c, in->seg, emu_ea(c, in), 8);
		}
		g.q[arg == MV_LPS_LOAD || arg == MV_LPD_LOAD ? 0 : 1] = e.q[0];
		xmm_set(c, in->reg, &g);
		break;
	case MV_LP_STORE:
	case MV_HP_STORE:
		need_mem(c, in);
		xmm_get(c, in->reg, &g);
		st_e(c, in, 8, g.q[arg == MV_HP_STORE]);
		break;
	case MV_SLDUP:
	case MV_SHDUP:
		sse_get_e(c, in, &e, 16, 0, 1);
		for (unsigned i = 0; i < 4; i += 2)
			g.d[i] = g.d[i + 1] = e.d[i + (arg == MV_SHDUP)];
		xmm_set(c, in->reg, &g);
		break;
	case MV_DDUP:
		sse_get_e(c, in, &e, 8, 0, 0);
		g.q[0] = g.q[1] = e.q[0];
		xmm_set(c, in->reg, &g);
		break;
	case MV_D_TO:
	case MV_D_FROM:
		mov_movd(c, in, arg == MV_D_TO);
		break;
	case MV_Q_XMM_LOAD:
		sse_get_e(c, in, &e, 8, 0, 0);
		e.q[1] = 0;
		xmm_set(c, in->reg, &e);
		break;
	case MV_Q_MM_LOAD:
		sse_get_e(c, in, &e, 8, 1, 0);
		mmx_set(c, in->reg, e.q[0]);
		break;
	case MV_Q_MM_STORE:
	case MV_NTQ:
		if (arg == MV_NTQ)
			need_mem(c, in);
		if (in->flags & EMU_I_REG)
			mmx_set(c, in->rm, mmx_get(c, in->reg));
		else
			st_e(c, in, 8, mmx_get(c, in->reg));
		break;
	case MV_Q_XMM_STORE:
		xmm_get(c, in->reg, &g);
		if (in->flags & EMU_I_REG) {
			g.q[1] = 0;
			xmm_set(c, in->rm, &g);
		} else {
			st_e(c, in, 8, g.q[0]);
		}
		break;
	case MV_Q2DQ: /* register forms only */
		if (!(in->flags & EMU_I_REG))
			emu_raise(c, EMU_UD, 0, 0);
		memset(&g, 0, 16);
		g.q[0] = mmx_get(c, in->rm);
		xmm_set(c, in->reg, &g);
		break;
	case MV_DQ2Q:
		if (!(in->flags & EMU_I_REG))
			emu_raise(c, EMU_UD, 0, 0);
		xmm_get(c, in->rm, &e);
		mmx_set(c, in->reg, e.q[0]);
		break;
	case MV_MSKPS:
	case MV_MSKPD:
	case MV_PMOVMSKB:
		if (!(in->flags & EMU_I_REG))
			emu_raise(c, EMU_UD, 0, 0);
		if (arg == MV_PMOVMSKB && in->sub == 0) {
			e.q[0] = mmx_get(c, in->rm);
			reg_set(c, in->reg, 8, sign_mask(&e, 1, 8));
			break;
		}
		xmm_get(c, in->rm, &e);
		reg_set(c, in->reg, 8,
			sign_mask(&e,
				  arg == MV_MSKPS   ? 4
				  : arg == MV_MSKPD ? 8
						    : 1,
				  16));
		break;
	case MV_NTI:
		need_mem(c, in);
		st_e(c, in, in->osize == 8 ? 8 : 4, reg_get(c, in->reg, 8));
		break;
	case MV_MASKMOV: {
		unsigned w = sse_width(in);
		if (!(in->flags & EMU_I_REG))
			emu_raise(c, EMU_UD, 0, 0);
		sse_get_g(c, in, &g, w);
		sse_get_e(c, in, &e, w, w == 8, 0);
		uint64_t di = reg_get(c, X86_RDI, in->asize);
		for (unsigned i = 0; i < w; i++)
			if (e.b[i] & 0x80)
				emu_st(c, in->seg, (di + i) & sz_mask(in->asize), 1, g.b[i]);
		break;
	}
	case MV_EMMS: /* all tags empty; TOP = 0 as the AMD host does */
		sse_mmx_enter(c);
		c->st.fxsave[FX_FTW] = 0;
		break;
	}
}

/* ---- shuffles and blends ---- */

static void shuf_palignr(xmm_t *g, const xmm_t *e, unsigned w, unsigned imm)
{
	uint8_t cat[32] = {0}, out[16];

	memcpy(cat, e->b, w);
	memcpy(cat + w, g->b, w);
	for (unsigned i = 0; i < w; i++)
		out[i] = imm + i < 2 * w ? cat[imm + i] : 0;
	memcpy(g->b, out, w);
}

void sse_shuf(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned imm = (unsigned)in->imm & 0xff, w = arg == SH_PSHUFW ? 8 : sse_width(in);
	xmm_t g, e, r;

	if (arg == SH_PSHUFB || arg == SH_PALIGNR) {
		sse_get_g(c, in, &g, w);
		sse_get_e(c, in, &e, w, w == 8, 1);
	} else {
		w = arg == SH_PSHUFW ? 8 : 16;
		sse_get_g(c, in, &g, w);
		if (arg == SH_INSERTPS && !(in->flags & EMU_I_REG))
			memset(&e, 0, sizeof(e)); /* m32: loaded below */
		else
			sse_get_e(c, in, &e, w, w == 8, 1);
	}
	r = g;
	switch (arg) {
	case SH_SHUFPS:
		r.d[0] = g.d[imm & 3];
		r.d[1] = g.d[(imm >> 2) & 3];
		r.d[2] = e.d[(imm >> 4) & 3];
		r.d[3] = e.d[(imm >> 6) & 3];
		break;
	case SH_SHUFPD:
		r.q[0] = g.q[imm & 1];
		r.q[1] = e.q[(imm >> 1) & 1];
		break;
	case SH_PSHUFD:
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = e.d[(imm >> (2 * i)) & 3];
		break;
	case SH_PSHUFHW:
	case SH_PSHUFLW:
	case SH_PSHUFW: {
		unsigned base = arg == SH_PSHUFHW ? 4 : 0;
		r = e;
		for (unsigned i = 0; i < 4; i++)
			r.w[base + i] = e.w[base + ((imm >> (2 * i)) & 3)];
		break;
	}
	case SH_PALIGNR:
		r = g;
		shuf_palignr(&r, &e, w, imm);
		break;
	case SH_PSHUFB:
		for (unsigned i = 0; i < w; i++)
			r.b[i] = (e.b[i] & 0x80) ? 0 : g.b[e.b[i] & (w - 1)];
		break;
	case SH_BLENDPS:
		for (unsigned i = 0; i < 4; i++)
			if (imm >> i & 1)
				r.d[i] = e.d[i];
		break;
	case SH_BLENDPD:
		for (unsigned i = 0; i < 2; i++)
			if (imm >> i & 1)
				r.q[i] = e.q[i];
		break;
	case SH_PBLENDW:
		for (unsigned i = 0; i < 8; i++)
			if (imm >> i & 1)
				r.w[i] = e.w[i];
		break;
	case SH_BLENDVPS:
	case SH_BLENDVPD:
	case SH_PBLENDVB: {
		unsigned esz = arg == SH_BLENDVPS ? 4 : arg == SH_BLENDVPD ? 8 : 1;
		xmm_t m;
		xmm_get(c, 0, &m);
		for (unsigned i = 0; i < 16; i += esz)
			if (m.b[i + esz - 1] & 0x80)
				memcpy(&r.b[i], &e.b[i], esz);
		break;
	}
	case SH_INSERTPS: {
		uint32_t v;
		if (in->flags & EMU_I_REG) {
			v = e.d[(imm >> 6) & 3];
		} else {
			v = (uint32_t)emu_ld(c, in->seg, emu_ea(c, in), 4);
		}
		r.d[(imm >> 4) & 3] = v;
		for (unsigned i = 0; i < 4; i++)
			if (imm >> i & 1)
				r.d[i] = 0;
		break;
	}
	}
	sse_set_g(c, in, &r, w);
}

/* ---- inserts and extracts ---- */

void sse_insext(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned imm = (unsigned)in->imm, w = sse_width(in);
	xmm_t g;
	uint64_t v;

	switch (arg) {
	case IX_PINSRW:
	case IX_PINSRB:
	case IX_PINSRD: {
		unsigned n = arg == IX_PINSRW ? 2 : arg == IX_PINSRB ? 1 : in->osize == 8 ? 8 : 4;
		if (arg != IX_PINSRW)
			w = 16;
		v = in->flags & EMU_I_REG ? reg_get(c, in->rm, 8)
					  : emu_ld(c, in->seg, emu_ea(c, in), n);
		sse_get_g(c, in, &g, w);
		unsigned idx = imm & (w / n - 1);
		memcpy(&g.b[idx * n], &v, n);
		sse_set_g(c, in, &g, w);
		break;
	}
	case IX_PEXTRW: /* 0F C5: register source only, G = word */
		if (!(in->flags & EMU_I_REG))
			emu_raise(c, EMU_UD, 0, 0);
		if (w == 8)
			g.q[0] = mmx_get(c, in->rm);
		else
			xmm_get(c, in->rm, &g);
		reg_set(c, in->reg, 8, g.w[imm & (w / 2 - 1)]);
		break;
	default: { /* PEXTRB/W/D/Q, EXTRACTPS: r/m = element of G */
		unsigned n = arg == IX_PEXTRB_E			    ? 1
			     : arg == IX_PEXTRW_E		    ? 2
			     : arg == IX_PEXTRD_E && in->osize == 8 ? 8
								    : 4;
		xmm_get(c, in->reg, &g);
		v = 0;
		memcpy(&v, &g.b[(imm & (16 / n - 1)) * n], n);
		if (in->flags & EMU_I_REG)
			reg_set(c, in->rm, n == 8 ? 8 : 4, v);
		else
			st_e(c, in, n, v);
	}
	}
}
