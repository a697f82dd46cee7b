/* Difftest generator: data-processing items (ALU, moves, multiply/divide, shifts, bit
 * operations, compare-exchange, ...) with tracking of the flags each leaves undefined. */
#include <string.h>

#include "gen.h"

static int legacy_bytes(struct gen *g, int size)
{
	return size == 1 && rn(g, 3) == 0;
}

static void item_alu(struct gen *g, int imm_form)
{
	unsigned kind = rn(g, 8), form = rn(g, 2), pfx = 0;
	int size = rsize(g), legacy = legacy_bytes(g, size);
	uint8_t op;

	if (kind == 2 || kind == 3)
		need_flags(g, FL_CF);
	if (rn(g, 16) == 0)
		pfx |= P_SEGJUNK;
	enc_start(g);
	if (!imm_form) {
		struct opnd rm = o_rm(g, size, kind != 7 && form == 0, legacy);
		int reg = size == 1 ? pick_breg(g, legacy)
				    : (form == 1 && kind != 7 ? pick_reg(g) : pick_src(g));
		op = (uint8_t)(kind * 8 + (form ? 2 : 0) + (size != 1));
		if (form == 0 && rm.mem && kind != 7 && rn(g, 4) == 0)
			pfx |= P_LOCK;
		enc_insn(g, pfx, size, &op, 1, reg, &rm, 0, 0);
	} else if (rn(g, 4) == 0) {
		op = (uint8_t)(kind * 8 + 4 + (size != 1));
		if (g->avoid & 1)
			op = 0x3c + (size != 1); /* CMP only */
		enc_insn(g, pfx, size, &op, 1, 0, NULL, size > 4 ? 4 : size, rnd(g));
	} else {
		struct opnd rm = o_rm(g, size, kind != 7, legacy);
		int ib = size != 1 && rn(g, 2);
		op = size == 1 ? 0x80 : ib ? 0x83 : 0x81;
		if (rm.mem && kind != 7 && rn(g, 4) == 0)
			pfx |= P_LOCK;
		enc_insn(g, pfx, size, &op, 1, (int)kind, &rm,
			 ib || size == 1 ? 1
			 : size > 4	 ? 4
					 : size,
			 rnd(g));
	}
	g->undef = (kind == 1 || kind == 4 || kind == 6) ? FL_AF : 0;
}

void item_alu_simple(struct gen *g)
{
	static const uint8_t ops[] = {0x01, 0x29, 0x39, 0x11};
	uint8_t op = ops[rn(g, 4)];
	struct opnd rm = o_reg(pick_reg(g));
	if (op == 0x11)
		need_flags(g, FL_CF);
	enc_start(g);
	enc_insn(g, 0, rsize_nb(g), &op, 1, pick_src(g), &rm, 0, 0);
	g->undef = 0;
}

static void item_test(struct gen *g)
{
	int size = rsize(g), legacy = legacy_bytes(g, size), imm = size > 4 ? 4 : size;
	struct opnd rm = o_rm(g, size, 0, legacy);
	uint8_t op;

	enc_start(g);
	switch (rn(g, 3)) {
	case 0:
		op = size == 1 ? 0x84 : 0x85;
		enc_insn(g, 0, size, &op, 1, size == 1 ? pick_breg(g, legacy) : pick_src(g), &rm, 0,
			 0);
		break;
	case 1:
		op = size == 1 ? 0xa8 : 0xa9;
		enc_insn(g, 0, size, &op, 1, 0, NULL, imm, rnd(g));
		break;
	default:
		op = size == 1 ? 0xf6 : 0xf7;
		enc_insn(g, 0, size, &op, 1, (int)rn(g, 2), &rm, imm, rnd(g));
	}
	g->undef = FL_AF;
}

static void item_mov(struct gen *g)
{
	int size = rsize(g), legacy = legacy_bytes(g, size), imm = size > 4 ? 4 : size;
	uint8_t op;

	enc_start(g);
	switch (rn(g, 7)) {
	case 0:
	case 1: {
		int to_e = rn(g, 2);
		struct opnd rm = o_rm(g, size, to_e, legacy);
		op = (uint8_t)(0x88 + (to_e ? 0 : 2) + (size != 1));
		int reg = size == 1 ? pick_breg(g, legacy) : to_e ? pick_src(g) : pick_reg(g);
		enc_insn(g, 0, size, &op, 1, reg, &rm, 0, 0);
		break;
	}
	case 2: {
		struct opnd rm = o_rm(g, size, 1, legacy);
		op = size == 1 ? 0xc6 : 0xc7;
		enc_insn(g, 0, size, &op, 1, 0, &rm, imm, rnd(g));
		break;
	}
	case 3: {
		int r = size == 1 ? pick_breg(g, legacy) : pick_reg(g);
		enc_oreg(g, 0, size, size == 1 ? 0xb0 : 0xb8, r, size, rnd(g));
		break;
	}
	case 4: { /* moffs64 */
		uint64_t a = DT_DATA + 16 + rn(g, (unsigned)DT_DATA_SIZE - 64);
		if (g->avoid & 1)
			break;
		op = (uint8_t)(0xa0 + (rn(g, 2) ? 2 : 0) + (size != 1));
		enc_insn(g, 0, size, &op, 1, 0, NULL, 8, a);
		break;
	}
	case 5: { /* MOV r/m, Sreg */
		int sreg = (int)rn(g, 4);
		struct opnd rm = rn(g, 2) ? o_mem(g, 2, 1, 0) : o_reg(pick_reg(g));
		op = 0x8c;
		enc_insn(g, 0, rm.mem ? 2 : rsize_nb(g), &op, 1, sreg, &rm, 0, 0);
		break;
	}
	default: { /* MOVSXD */
		struct opnd rm = o_rm(g, 4, 0, 0);
		op = 0x63;
		enc_insn(g, 0, rn(g, 3) ? 8 : 4, &op, 1, pick_reg(g), &rm, 0, 0);
	}
	}
}

static void item_movx(struct gen *g)
{
	int src = rn(g, 2) ? 1 : 2, dst = src == 1 ? rsize_nb(g) : (rn(g, 2) ? 4 : 8);
	int legacy = src == 1 && dst != 8 && rn(g, 3) == 0;
	uint8_t op[2] = {0x0f, (uint8_t)((rn(g, 2) ? 0xb6 : 0xbe) + (src == 2))};
	struct opnd rm = rn(g, 2) ? o_mem(g, src, 1, legacy)
				  : o_reg(src == 1 ? pick_breg(g, legacy) : pick_src(g));
	int reg = pick_reg(g);
	if (legacy && reg >= 8)
		reg &= 3;
	enc_start(g);
	enc_insn(g, 0, dst, op, 2, reg, &rm, 0, 0);
}

static void item_lea(struct gen *g)
{
	uint8_t op = 0x8d;
	struct opnd m;
	memset(&m, 0, sizeof(m));
	m.mem = 1;
	switch (rn(g, 4)) {
	case 0:
		m.kind = M_BASE;
		m.base = pick_src(g);
		break;
	case 1:
		m.kind = M_BASE_INDEX;
		m.base = pick_src(g);
		do
			m.index = pick_src(g);
		while (m.index == 4);
		break;
	case 2:
		m.kind = M_RIP;
		m.target = rnd(g) >> 40;
		break;
	default:
		m.kind = M_INDEX_ONLY;
		do
			m.index = pick_src(g);
		while (m.index == 4);
	}
	m.scale = (int)rn(g, 4);
	m.disp = rn(g, 2) ? (int32_t)rnd(g) : (int32_t)rn(g, 256) - 128;
	m.a32 = rn(g, 4) == 0;
	m.force_disp32 = rn(g, 6) == 0;
	if (m.kind == M_RIP)
		m.target = g->code_addr + (uint64_t)(int64_t)m.disp;
	enc_start(g);
	enc_insn(g, rn(g, 10) == 0 ? P_SEGJUNK : 0, rsize_nb(g), &op, 1, pick_reg(g), &m, 0, 0);
}

static void item_xchg(struct gen *g)
{
	int size = rsize(g), legacy = legacy_bytes(g, size);

	enc_start(g);
	if (size != 1 && rn(g, 3) == 0 && !(g->avoid & 1)) {
		enc_oreg(g, 0, size, 0x90, pick_reg(g), 0, 0);
		return;
	}
	struct opnd rm = o_rm(g, size, 1, legacy);
	uint8_t op = size == 1 ? 0x86 : 0x87;
	enc_insn(g, rm.mem && rn(g, 3) == 0 ? P_LOCK : 0, size, &op, 1,
		 size == 1 ? pick_breg(g, legacy) : pick_reg(g), &rm, 0, 0);
}

static void item_unary(struct gen *g, int grp) /* grp 0: INC/DEC, 1: NEG/NOT */
{
	int size = rsize(g), legacy = legacy_bytes(g, size), sub = (int)rn(g, 2);
	struct opnd rm = o_rm(g, size, 1, legacy);
	uint8_t op = grp == 0 ? (size == 1 ? 0xfe : 0xff) : (size == 1 ? 0xf6 : 0xf7);

	enc_start(g);
	enc_insn(g, rm.mem && rn(g, 4) == 0 ? P_LOCK : 0, size, &op, 1, grp == 0 ? sub : 2 + sub,
		 &rm, 0, 0);
	if (grp == 0)
		g->undef &= FL_CF; /* INC/DEC keep CF */
	else if (sub == 1)
		g->undef = 0; /* NEG (/3) defines all six */
}

static void item_mul(struct gen *g, int imul)
{
	int size = rsize(g), legacy = legacy_bytes(g, size);
	uint8_t op[2];

	if (g->avoid & 5)
		return;
	enc_start(g);
	if (!imul || rn(g, 3) == 0) {
		struct opnd rm = o_rm(g, size, 0, legacy);
		op[0] = size == 1 ? 0xf6 : 0xf7;
		enc_insn(g, 0, size, op, 1, imul ? 5 : 4, &rm, 0, 0);
	} else {
		size = rsize_nb(g);
		struct opnd rm = o_rm(g, size, 0, 0);
		switch (rn(g, 3)) {
		case 0:
			op[0] = 0x0f;
			op[1] = 0xaf;
			enc_insn(g, 0, size, op, 2, pick_reg(g), &rm, 0, 0);
			break;
		case 1:
			op[0] = 0x6b;
			enc_insn(g, 0, size, op, 1, pick_reg(g), &rm, 1, rnd(g));
			break;
		default:
			op[0] = 0x69;
			enc_insn(g, 0, size, op, 1, pick_reg(g), &rm, size == 2 ? 2 : 4, rnd(g));
		}
	}
	g->undef = FL_SF | FL_ZF | FL_AF | FL_PF;
}

static void item_div(struct gen *g)
{
	int size = rsize(g), sgn = (int)rn(g, 2), safe = !g->o->faults || rn(g, 4) != 0;
	uint8_t op = size == 1 ? 0xf6 : 0xf7;
	struct opnd rm;

	if (g->avoid & 5)
		return;
	if (safe) {
		int d = pick_reg(g);
		if (size == 1 && d >= 4 && d < 8)
			d = 1;
		if (d == 0 || d == 2)
			d = 3;
		uint64_t m = size == 8 ? 0xffffffffull : (1ull << (size * 8)) - 1;
		uint64_t v = (rnd(g) | 1) & m;
		if (v == m)
			v = 7;
		emit_mov_imm(g, size, d, size == 8 ? (uint64_t)(int64_t)(int32_t)v : v);
		if (sgn) {
			uint8_t cw = 0x99;
			enc_start(g);
			if (size == 1) {
				cw = 0x98;
				enc_insn(g, 0, 2, &cw, 1, 0, NULL, 0, 0); /* cbw */
			} else {
				enc_insn(g, 0, size, &cw, 1, 0, NULL, 0, 0);
			}
		} else if (size == 1) {
			uint8_t mz[2] = {0x0f, 0xb6};
			struct opnd al = o_reg(0);
			enc_start(g);
			enc_insn(g, 0, 4, mz, 2, 0, &al, 0, 0); /* movzx eax, al */
		} else {
			uint8_t x = 0x31;
			struct opnd dx = o_reg(2);
			enc_start(g);
			enc_insn(g, 0, 4, &x, 1, 2, &dx, 0, 0); /* xor edx, edx */
		}
		rm = o_reg(d);
	} else {
		rm = o_rm(g, size, 0, 0);
		g->faulted = 1; /* may raise #DE: end the sequence after it */
	}
	enc_start(g);
	enc_insn(g, 0, size, &op, 1, 6 + sgn, &rm, 0, 0);
	g->undef = FL_ALL;
}

static void item_shift(struct gen *g)
{
	int size = rsize(g), legacy = legacy_bytes(g, size), bits = size * 8;
	unsigned sub = rn(g, 8), form = rn(g, 3), cnt = 0;
	int known = 1;
	struct opnd rm = o_rm(g, size, 1, legacy);
	uint8_t op;

	if (sub == 2 || sub == 3)
		need_flags(g, FL_CF);
	if (form == 2 && !(g->avoid & 2)) {
		if (rn(g, 3)) {
			cnt = rn(g, 70);
			emit_mov_imm(g, 1, 1, cnt);
		} else {
			known = 0;
		}
		if (!rm.mem && (rm.reg == 1 || rm.reg == R_AH + 1))
			rm = o_mem(g, size, 1, legacy);
	} else if (form == 2) {
		form = 1;
	}
	enc_start(g);
	if (form == 0) {
		cnt = 1;
		op = size == 1 ? 0xd0 : 0xd1;
		enc_insn(g, 0, size, &op, 1, (int)sub, &rm, 0, 0);
	} else if (form == 1) {
		cnt = rn(g, 4) ? rn(g, (unsigned)bits + 2) : (unsigned)rnd(g) & 0xff;
		op = size == 1 ? 0xc0 : 0xc1;
		enc_insn(g, 0, size, &op, 1, (int)sub, &rm, 1, cnt);
	} else {
		op = size == 1 ? 0xd2 : 0xd3;
		enc_insn(g, 0, size, &op, 1, (int)sub, &rm, 0, 0);
	}
	cnt &= size == 8 ? 63 : 31;
	if (!known) {
		g->undef |= FL_OF | FL_AF | (sub >= 4 ? FL_CF : 0);
	} else if (cnt) {
		if (sub < 4) { /* rotates: CF (and OF when count is 1) */
			g->undef = (g->undef & ~(FL_CF | FL_OF)) | (cnt != 1 ? FL_OF : 0);
		} else {
			g->undef = FL_AF | (cnt != 1 ? FL_OF : 0);
			if (sub != 7 && cnt >= (unsigned)bits)
				g->undef |= FL_CF;
		}
	}
}

static void item_shxd(struct gen *g)
{
	int size = rsize_nb(g), right = (int)rn(g, 2), cl = rn(g, 2) && !(g->avoid & 2);
	unsigned cnt = size == 2 ? rn(g, 17) : rn(g, 64);
	struct opnd rm = o_rm(g, size, 1, 0);
	uint8_t op[2] = {0x0f, (uint8_t)(0xa4 + right * 8 + cl)};

	if (cl) {
		emit_mov_imm(g, 1, 1, cnt);
		if (!rm.mem && rm.reg == 1)
			rm = o_mem(g, size, 1, 0);
	}
	enc_start(g);
	enc_insn(g, 0, size, op, 2, pick_src(g), &rm, cl ? 0 : 1, cnt);
	cnt &= size == 8 ? 63 : 31;
	if (cnt)
		g->undef = FL_AF | (cnt != 1 ? FL_OF : 0);
}

static void item_bt(struct gen *g)
{
	int size = rsize_nb(g), sub = (int)rn(g, 4);
	struct opnd rm = o_rm(g, size, sub != 0, 0);
	uint8_t op[2] = {0x0f, 0};
	unsigned pfx = sub && rm.mem && rn(g, 4) == 0 ? P_LOCK : 0;

	if (rn(g, 2)) {
		op[1] = 0xba;
		enc_start(g);
		enc_insn(g, pfx, size, op, 2, 4 + sub, &rm, 1, rnd(g));
	} else {
		int r = pick_reg(g);
		if (rm.mem) /* keep the bit offset near the operand */
			emit_mov_imm(g, 8, r, (uint64_t)(int64_t)((int)rn(g, 512) - 128));
		op[1] = (uint8_t)(0xa3 + sub * 8);
		enc_start(g);
		enc_insn(g, pfx, size, op, 2, r, &rm, 0, 0);
	}
	g->undef = (g->undef & FL_ZF) | FL_OF | FL_SF | FL_AF | FL_PF;
}

static void item_bscan(struct gen *g)
{
	int size = rsize_nb(g), kind = (int)rn(g, 5);
	static const uint8_t opc[] = {0xbc, 0xbd, 0xbc, 0xbd, 0xb8};
	uint8_t op[2] = {0x0f, opc[kind]};
	struct opnd rm = o_rm(g, size, 0, 0);

	enc_start(g);
	enc_insn(g, kind >= 2 ? P_REP : 0, size, op, 2, pick_reg(g), &rm, 0, 0);
	if (kind < 2)
		g->undef = FL_CF | FL_OF | FL_SF | FL_AF | FL_PF;
	else if (kind < 4)
		g->undef = FL_OF | FL_SF | FL_AF | FL_PF;
	else
		g->undef = 0;
}

static void item_misc1(struct gen *g, int group)
{
	uint8_t op[3];
	int size = rsize_nb(g);

	enc_start(g);
	switch (group) {
	case G_BSWAP: {
		int r = pick_reg(g), w = (int)rn(g, 2);
		if (w || r >= 8)
			enc_byte(g, (uint8_t)(0x40 | (w ? 8 : 0) | (r >= 8)));
		enc_byte(g, 0x0f);
		enc_byte(g, (uint8_t)(0xc8 + (r & 7)));
		break;
	}
	case G_CBW:
		if (g->avoid & 5)
			break;
		op[0] = rn(g, 2) ? 0x98 : 0x99;
		enc_insn(g, 0, size, op, 1, 0, NULL, 0, 0);
		break;
	case G_SETCC: {
		int legacy = rn(g, 3) == 0;
		struct opnd rm = o_rm(g, 1, 1, legacy);
		need_flags(g, FL_ALL);
		enc_start(g);
		op[0] = 0x0f;
		op[1] = (uint8_t)(0x90 + rn(g, 16));
		enc_insn(g, 0, 1, op, 2, 0, &rm, 0, 0);
		break;
	}
	case G_CMOV: {
		struct opnd rm = o_rm(g, size, 0, 0);
		need_flags(g, FL_ALL);
		enc_start(g);
		op[0] = 0x0f;
		op[1] = (uint8_t)(0x40 + rn(g, 16));
		enc_insn(g, 0, size, op, 2, pick_reg(g), &rm, 0, 0);
		break;
	}
	case G_MOVBE: {
		struct opnd m = o_mem(g, size, 1, 0);
		op[0] = 0x0f;
		op[1] = 0x38;
		op[2] = (uint8_t)(0xf0 + rn(g, 2));
		enc_insn(g, 0, size, op, 3, op[2] == 0xf0 ? pick_reg(g) : pick_src(g), &m, 0, 0);
		break;
	}
	case G_ADX: {
		int adox = (int)rn(g, 2);
		struct opnd rm = o_rm(g, 8, 0, 0);
		need_flags(g, adox ? FL_OF : FL_CF);
		enc_start(g);
		op[0] = 0x0f;
		op[1] = 0x38;
		op[2] = 0xf6;
		enc_insn(g, adox ? P_REP : P_OPSZ, rn(g, 2) ? 4 : 8, op, 3, pick_reg(g), &rm, 0, 0);
		break;
	}
	}
}

static void item_cmpxchg(struct gen *g, int xadd)
{
	int size = rsize(g), legacy = legacy_bytes(g, size);
	struct opnd rm = o_rm(g, size, 1, legacy);
	uint8_t op[2] = {0x0f, (uint8_t)((xadd ? 0xc0 : 0xb0) + (size != 1))};
	unsigned pfx = rm.mem && rn(g, 3) == 0 ? P_LOCK : 0;

	if (g->avoid & 1)
		return;
	if (!xadd && rn(g, 5) == 0) { /* CMPXCHG8B / 16B */
		int w = (int)rn(g, 2);
		struct opnd m = o_mem(g, 16, w ? 16 : 1, 0);
		if (rn(g, 2)) { /* make the comparison succeed sometimes */
			uint8_t mv = 0x8b;
			struct opnd m2 = m;
			enc_start(g);
			enc_insn(g, 0, w ? 8 : 4, &mv, 1, 0, &m, 0, 0);
			m2.disp += w ? 8 : 4;
			if (m2.kind == M_RIP)
				m2.target += w ? 8 : 4;
			enc_start(g);
			enc_insn(g, 0, w ? 8 : 4, &mv, 1, 2, &m2, 0, 0);
		}
		op[1] = 0xc7;
		enc_start(g);
		enc_insn(g, rn(g, 3) == 0 ? P_LOCK : 0, w ? 8 : 4, op, 2, 1, &m, 0, 0);
		g->undef &= ~FL_ZF;
		return;
	}
	if (!xadd && rn(g, 2)) { /* equal case: copy the accumulator into the destination */
		uint8_t mv = size == 1 ? 0x88 : 0x89;
		if (rm.mem || (rm.reg != 0 && rm.reg < R_AH)) {
			enc_start(g);
			enc_insn(g, 0, size, &mv, 1, 0, &rm, 0, 0);
		}
	}
	enc_start(g);
	enc_insn(g, pfx, size, op, 2, size == 1 ? pick_breg(g, legacy) : pick_reg(g), &rm, 0, 0);
	g->undef = 0;
}

int gen_alu_item(struct gen *g, int grp)
{
	switch (grp) {
	case G_ALU:
		item_alu(g, 0);
		break;
	case G_ALUI:
		item_alu(g, 1);
		break;
	case G_TEST:
		item_test(g);
		break;
	case G_MOV:
		item_mov(g);
		break;
	case G_MOVX:
		item_movx(g);
		break;
	case G_LEA:
		item_lea(g);
		break;
	case G_XCHG:
		item_xchg(g);
		break;
	case G_INCDEC:
		item_unary(g, 0);
		break;
	case G_NEGNOT:
		item_unary(g, 1);
		break;
	case G_MUL:
		item_mul(g, 0);
		break;
	case G_IMUL:
		item_mul(g, 1);
		break;
	case G_DIV:
		item_div(g);
		break;
	case G_SHIFT:
		item_shift(g);
		break;
	case G_SHXD:
		item_shxd(g);
		break;
	case G_BT:
		item_bt(g);
		break;
	case G_BSCAN:
		item_bscan(g);
		break;
	case G_CMPXCHG:
		item_cmpxchg(g, 0);
		break;
	case G_XADD:
		item_cmpxchg(g, 1);
		break;
	case G_BSWAP:
	case G_CBW:
	case G_SETCC:
	case G_CMOV:
	case G_MOVBE:
	case G_ADX:
		item_misc1(g, grp);
		break;
	default:
		return 0;
	}
	return 1;
}
