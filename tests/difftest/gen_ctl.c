/* Difftest generator: control flow, stack, string, flag and NOP items, prefix corner cases. */
#include <string.h>

#include "gen.h"

#define RBIT(r) (1u << (r))

/* lea reg, [rip + ?] whose target is patched later: returns the disp position. */
static unsigned emit_lea_rip(struct gen *g, int reg)
{
	uint8_t op = 0x8d;
	struct opnd m;
	memset(&m, 0, sizeof(m));
	m.mem = 1;
	m.kind = M_RIP;
	m.target = g->code_addr;
	enc_start(g);
	enc_insn(g, 0, 8, &op, 1, reg, &m, 0, 0);
	return g->s->len - 4;
}

static void patch_rel32(struct gen *g, unsigned pos, unsigned target)
{
	int32_t d = (int32_t)target - (int32_t)(pos + 4);
	memcpy(&g->s->code[pos], &d, 4);
}

static void item_jcc(struct gen *g)
{
	need_flags(g, FL_ALL);
	enc_start(g);
	if (rn(g, 2)) {
		enc_byte(g, (uint8_t)(0x70 + rn(g, 16)));
		enc_byte(g, 0);
		add_pending(g, 1, (int)rn(g, 3));
	} else {
		enc_byte(g, 0x0f);
		enc_byte(g, (uint8_t)(0x80 + rn(g, 16)));
		for (int i = 0; i < 4; i++)
			enc_byte(g, 0);
		add_pending(g, 4, (int)rn(g, 3));
	}
}

static void item_jmp(struct gen *g)
{
	unsigned k = rn(g, 4);

	if (k == 0 || (k == 3 && (g->avoid & 2))) {
		enc_start(g);
		enc_byte(g, 0xeb);
		enc_byte(g, 0);
		add_pending(g, 1, (int)rn(g, 3));
	} else if (k == 1) {
		enc_start(g);
		enc_byte(g, 0xe9);
		for (int i = 0; i < 4; i++)
			enc_byte(g, 0);
		add_pending(g, 4, (int)rn(g, 3));
	} else if (k == 2) { /* indirect through a register or memory */
		int r = pick_reg(g);
		unsigned pos = emit_lea_rip(g, r);
		uint8_t op = 0xff;
		struct opnd rm = o_reg(r);
		if (rn(g, 2)) {
			uint8_t mv = 0x89;
			rm = o_mem(g, 8, 1, 0);
			enc_start(g);
			enc_insn(g, 0, 8, &mv, 1, r, &rm, 0, 0);
		}
		enc_start(g);
		enc_insn(g, P_DEF64, 8, &op, 1, 4, &rm, 0, 0);
		patch_rel32(g, pos, g->s->len);
	} else { /* JRCXZ / JECXZ */
		enc_start(g);
		if (rn(g, 2))
			enc_byte(g, 0x67);
		enc_byte(g, 0xe3);
		enc_byte(g, 0);
		add_pending(g, 1, (int)rn(g, 3));
	}
}

static void item_call(struct gen *g)
{
	unsigned k = rn(g, 3), jpos;

	if (k == 0) { /* call L1; jmp L2; L1: body; ret [imm]; L2: */
		enc_start(g);
		enc_byte(g, 0xe8);
		enc_byte(g, 2);
		for (int i = 0; i < 3; i++)
			enc_byte(g, 0);
	} else { /* lea r, [rip+L1]; call r / call [mem]; jmp L2; L1: ... */
		int r = pick_reg(g);
		unsigned pos = emit_lea_rip(g, r);
		uint8_t op = 0xff;
		struct opnd rm = o_reg(r);
		if (k == 2) {
			uint8_t mv = 0x89;
			rm = o_mem(g, 8, 1, 0);
			enc_start(g);
			enc_insn(g, 0, 8, &mv, 1, r, &rm, 0, 0);
		}
		enc_start(g);
		enc_insn(g, P_DEF64, 8, &op, 1, 2, &rm, 0, 0);
		patch_rel32(g, pos, g->s->len + 2);
	}
	enc_start(g);
	enc_byte(g, 0xeb);
	jpos = g->s->len;
	enc_byte(g, 0);
	if (rn(g, 2))
		item_alu_simple(g);
	enc_start(g);
	if (rn(g, 4) == 0 && g->depth > -0x80) {
		unsigned imm = 8 * rn(g, 3);
		enc_byte(g, 0xc2);
		enc_byte(g, (uint8_t)imm);
		enc_byte(g, 0);
		g->depth -= (int)imm;
	} else {
		enc_byte(g, 0xc3);
	}
	g->s->code[jpos] = (uint8_t)(g->s->len - (jpos + 1));
}

static void item_loop(struct gen *g)
{
	if (g->avoid & 2)
		return;
	emit_mov_imm(g, 4, 1, 1 + rn(g, 4));
	unsigned start = g->s->len;
	g->avoid |= 2;
	item_alu_simple(g);
	g->avoid &= ~2u;
	enc_start(g);
	if (rn(g, 4) == 0)
		enc_byte(g, 0x67);
	enc_byte(g, (uint8_t)(0xe0 + rn(g, 3)));
	enc_byte(g, (uint8_t)(start - (g->s->len + 1)));
}

static void item_push(struct gen *g)
{
	int push = g->depth > 0x400 ? 0 : g->depth < -0x80 ? 1 : (int)rn(g, 2);
	int w16 = rn(g, 8) == 0;
	uint8_t op;

	enc_start(g);
	if (push) {
		switch (rn(g, 3)) {
		case 0:
			enc_oreg(g, P_DEF64, w16 ? 2 : 8, 0x50, pick_src(g), 0, 0);
			break;
		case 1:
			if (rn(g, 2)) {
				op = 0x6a;
				enc_insn(g, P_DEF64, w16 ? 2 : 8, &op, 1, 0, NULL, 1, rnd(g));
			} else {
				op = 0x68;
				enc_insn(g, P_DEF64, w16 ? 2 : 8, &op, 1, 0, NULL, w16 ? 2 : 4,
					 rnd(g));
			}
			break;
		default: {
			struct opnd m = o_mem(g, 8, 1, 0);
			op = 0xff;
			enc_insn(g, P_DEF64, w16 ? 2 : 8, &op, 1, 6, &m, 0, 0);
		}
		}
		g->depth += w16 ? 2 : 8;
	} else {
		if (rn(g, 2)) {
			enc_oreg(g, P_DEF64, w16 ? 2 : 8, 0x58, pick_reg(g), 0, 0);
		} else {
			struct opnd m = o_mem(g, 8, 1, 0);
			op = 0x8f;
			enc_insn(g, P_DEF64, w16 ? 2 : 8, &op, 1, 0, &m, 0, 0);
		}
		g->depth -= w16 ? 2 : 8;
	}
}

static void item_pushf(struct gen *g)
{
	need_flags(g, FL_ALL);
	enc_start(g);
	if (rn(g, 2)) {
		int w16 = rn(g, 4) == 0;
		if (w16)
			enc_byte(g, 0x66);
		enc_byte(g, 0x9c);
		/* and [rsp], mask ; or [rsp], bits */
		struct opnd m;
		memset(&m, 0, sizeof(m));
		m.mem = 1;
		m.kind = M_BASE;
		m.base = 4;
		uint8_t op = 0x81;
		enc_start(g);
		enc_insn(g, 0, w16 ? 2 : 8, &op, 1, 4, &m, w16 ? 2 : 4, 0x202 | (rnd(g) & 0xcd5));
		op = 0x83;
		enc_start(g);
		enc_insn(g, 0, w16 ? 2 : 8, &op, 1, 1, &m, 1, rnd(g) & 0x55);
		enc_start(g);
		if (w16)
			enc_byte(g, 0x66);
		enc_byte(g, 0x9d);
	} else {
		enc_byte(g, 0x68);
		uint32_t v = 0x202 | ((uint32_t)rnd(g) & 0xcd5);
		for (int i = 0; i < 4; i++)
			enc_byte(g, (uint8_t)(v >> (8 * i)));
		enc_start(g);
		enc_byte(g, 0x9d);
	}
	g->undef = 0;
}

static void item_enter(struct gen *g)
{
	if (g->avoid & RBIT(5))
		return;
	emit_lea(g, 5, 4, (int32_t)(8 * rn(g, 4)));
	enc_start(g);
	enc_byte(g, 0xc8);
	enc_byte(g, (uint8_t)(8 * rn(g, 9)));
	enc_byte(g, 0);
	enc_byte(g, (uint8_t)rn(g, 4));
	if (rn(g, 2)) {
		g->avoid |= RBIT(5);
		item_alu_simple(g);
		g->avoid &= ~RBIT(5);
	}
	enc_start(g);
	enc_byte(g, 0xc9);
}

static void item_string(struct gen *g)
{
	static const uint8_t ops[] = {0xa4, 0xa6, 0xaa, 0xac, 0xae};
	unsigned k = rn(g, 5), rep = rn(g, 3), n = rn(g, 10);
	int size = rsize(g), cmp = k == 1 || k == 4;
	int32_t si = (int32_t)rn(g, 0x1c00) - 0x700, di = (int32_t)rn(g, 0x1c00) - 0x700;

	if (g->avoid)
		return;
	int dir = rn(g, 3) == 0 ? (int)rn(g, 2) + 1 : 0; /* 0: DF as it is, 1: CLD, 2: STD */

	if (rn(g, 4) == 0) {
		/* A long run (emu copies and fills them in bulk, page by page), with an explicit
		 * direction and start points from which up to 700 qwords stay inside the data and
		 * stack area (BASE1 is DT_DATA + 0x800; the area ends at DT_DATA + 0x3000). */
		n = rn(g, 700);
		dir = (int)rn(g, 2) + 1;
		if (dir == 1) {
			si = (int32_t)rn(g, 0x700) - 0x700;
			di = (int32_t)rn(g, 0x700) - 0x700;
		} else {
			si = 0x1000 + (int32_t)rn(g, 0x800);
			di = 0x1000 + (int32_t)rn(g, 0x800);
		}
	}
	if (rn(g, 4) == 0) /* overlapping source and destination (a MOVS that repeats a pattern) */
		di = si + (int32_t)rn(g, 33) - 16;
	if (dir) {
		enc_start(g);
		enc_byte(g, dir == 2 ? 0xfd : 0xfc);
	}
	emit_lea(g, 6, DT_BASE1, si);
	emit_lea(g, 7, DT_BASE1, di);
	if (!cmp && rep == 2)
		rep = 1;
	if (rep)
		emit_mov_imm(g, 4, 1, n);
	enc_start(g);
	if (rn(g, 8) == 0)
		enc_byte(g, 0x3e);
	if (size == 2)
		enc_byte(g, 0x66);
	if (rn(g, 6) == 0)
		enc_byte(g, 0x67);
	if (rep)
		enc_byte(g, rep == 1 ? 0xf3 : 0xf2);
	if (size == 8)
		enc_byte(g, 0x48);
	enc_byte(g, (uint8_t)(ops[k] + (size != 1)));
	if (cmp && (!rep || n))
		g->undef = 0;
}

static void item_flagop(struct gen *g)
{
	static const uint8_t ops[] = {0xf8, 0xf9, 0xf5, 0xfc, 0xfd, 0x9f, 0x9e};
	unsigned k = rn(g, 7);

	if (k == 2)
		need_flags(g, FL_CF);
	if (k == 5) {
		if (g->avoid & 1)
			return;
		need_flags(g, FL_ALL);
	}
	enc_start(g);
	enc_byte(g, ops[k]);
	if (k <= 1)
		g->undef &= ~FL_CF;
	if (k == 6)
		g->undef &= FL_OF;
}

static void item_nop(struct gen *g)
{
	static const uint8_t nops[][12] = {
	    {1, 0x90},
	    {2, 0x66, 0x90},
	    {2, 0xf3, 0x90},
	    {3, 0x0f, 0x1f, 0x00},
	    {4, 0x0f, 0x1f, 0x40, 0x00},
	    {5, 0x0f, 0x1f, 0x44, 0x00, 0x00},
	    {6, 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
	    {7, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
	    {8, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	    {10, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	    {4, 0xf3, 0x0f, 0x1e, 0xfa},
	    {4, 0x41, 0x0f, 0x1f, 0xc0},
	    {3, 0x48, 0x0f, 0x1f},
	};
	unsigned k = rn(g, 13);

	enc_start(g);
	if (k == 12) { /* prefetch / nop with a random memory operand */
		uint8_t op[2] = {0x0f, (uint8_t)(rn(g, 2) ? 0x18 : 0x1f)};
		struct opnd m = o_mem(g, 1, 1, 0);
		enc_insn(g, 0, 4, op, 2, op[1] == 0x18 ? (int)rn(g, 4) : 0, &m, 0, 0);
		return;
	}
	for (unsigned i = 1; i <= nops[k][0]; i++)
		enc_byte(g, nops[k][i]);
}

static void item_xlat(struct gen *g)
{
	if (g->avoid & 9)
		return;
	emit_lea(g, 3, DT_BASE1, (int32_t)rn(g, 0x1000) - 0x700);
	enc_start(g);
	if (rn(g, 2))
		enc_byte(g, 0x48);
	enc_byte(g, 0xd7);
}

static void item_prefix(struct gen *g)
{
	unsigned k = rn(g, g->o->faults ? 9 : 5);
	int r = pick_reg(g), r2 = pick_src(g);
	uint8_t modrm = (uint8_t)(0xc0 | ((r2 & 7) << 3) | (r & 7));

	enc_start(g);
	switch (k) {
	case 0: /* REX before 66 is ignored: 16-bit op on the low registers */
		enc_byte(g, 0x48);
		enc_byte(g, 0x66);
		enc_byte(g, 0x01);
		enc_byte(g, (uint8_t)(modrm & 0xc0 ? modrm : modrm));
		g->undef = 0;
		break;
	case 1: /* 66 with REX.W: REX.W wins */
		enc_byte(g, 0x66);
		enc_byte(g, (uint8_t)(0x48 | (r2 >= 8 ? 4 : 0) | (r >= 8)));
		enc_byte(g, 0x29);
		enc_byte(g, modrm);
		g->undef = 0;
		break;
	case 2: /* ignored F2/F3/67/segment prefixes on a register op */
		enc_byte(g, rn(g, 2) ? 0xf3 : 0xf2);
		enc_byte(g, 0x67);
		enc_byte(g, 0x2e);
		enc_byte(g, 0x66);
		enc_byte(g, 0x66);
		if (r >= 8 || r2 >= 8)
			enc_byte(g, (uint8_t)(0x40 | (r2 >= 8 ? 4 : 0) | (r >= 8)));
		enc_byte(g, 0x31);
		enc_byte(g, modrm);
		g->undef = FL_AF;
		break;
	case 3:
	case 4: { /* up to 15 bytes of prefixes + NOP: valid */
		unsigned n = 10 + rn(g, 5);
		for (unsigned i = 0; i < n; i++)
			enc_byte(g, rn(g, 2) ? 0x66 : 0x2e);
		enc_byte(g, 0x90);
		break;
	}
	case 5: { /* 16+ bytes: #GP */
		unsigned n = 15 + rn(g, 3);
		for (unsigned i = 0; i < n; i++)
			enc_byte(g, 0x66);
		enc_byte(g, 0x90);
		g->faulted = 1;
		break;
	}
	case 6: /* LOCK on a register destination or a non-lockable op: #UD */
		enc_byte(g, 0xf0);
		if (rn(g, 2)) { /* lock add reg, reg */
			enc_byte(g, 0x01);
			enc_byte(g, modrm);
		} else { /* lock mov: #UD before the memory access */
			enc_byte(g, 0x89);
			enc_byte(g, rn(g, 2) ? modrm : 0x00);
		}
		g->faulted = 1;
		break;
	case 7: { /* invalid in 64-bit mode / UD2 */
		static const uint8_t bad[] = {0x06, 0x27, 0xd6, 0x0f, 0x60, 0xce};
		uint8_t b = bad[rn(g, 6)];
		enc_byte(g, b);
		if (b == 0x0f)
			enc_byte(g, 0x0b);
		g->faulted = 1;
		break;
	}
	default: /* LOCK CMP with memory: #UD */
		enc_byte(g, 0xf0);
		enc_byte(g, 0x41);
		enc_byte(g, 0x39);
		enc_byte(g, 0x04);
		enc_byte(g, 0x24);
		g->faulted = 1;
	}
}

void gen_ctl_item(struct gen *g, int group)
{
	switch (group) {
	case G_JCC:
		item_jcc(g);
		break;
	case G_JMP:
		item_jmp(g);
		break;
	case G_CALL:
		item_call(g);
		break;
	case G_LOOP:
		item_loop(g);
		break;
	case G_PUSH:
		item_push(g);
		break;
	case G_PUSHF:
		item_pushf(g);
		break;
	case G_ENTER:
		item_enter(g);
		break;
	case G_STRING:
		item_string(g);
		break;
	case G_FLAGOP:
		item_flagop(g);
		break;
	case G_NOP:
		item_nop(g);
		break;
	case G_XLAT:
		item_xlat(g);
		break;
	case G_PREFIX:
		item_prefix(g);
		break;
	}
}
