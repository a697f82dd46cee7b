/* Difftest generator: random sequences of unprivileged integer instructions whose memory operands
 * stay in the scratch area, with tracking of the flags the SDM leaves undefined. */
#include <string.h>

#include "gen_simd.h"

const char *const dt_group_names[G_NGROUPS] = {
    "alu",   "alui",   "test",	"mov",	 "movx", "lea",	   "xchg",   "incdec", "negnot",  "mul",
    "imul",  "div",    "shift", "shxd",	 "bt",	 "bscan",  "bswap",  "cbw",    "setcc",	  "cmov",
    "jcc",   "jmp",    "call",	"loop",	 "push", "pushf",  "enter",  "string", "cmpxchg", "xadd",
    "movbe", "flagop", "nop",	"xlat",	 "adx",	 "prefix", "ssemov", "sseint", "ssefp",	  "ssecvt",
    "mmx",   "ssse3",  "sse41", "sse42", "fxsr", "x87",
};

uint64_t dt_rand(uint64_t *s)
{
	uint64_t x = *s; /* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t rnd(struct gen *g)
{
	return dt_rand(g->rng);
}

unsigned rn(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

int rsize(struct gen *g)
{
	static const int sz[] = {1, 2, 4, 4, 8, 8};
	return sz[rn(g, 6)];
}

int rsize_nb(struct gen *g)
{
	static const int sz[] = {2, 4, 4, 8, 8};
	return sz[rn(g, 5)];
}

static const int free_regs[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 15};

int pick_reg(struct gen *g)
{
	for (;;) {
		int r = free_regs[rn(g, 12)];
		if (!(g->avoid & (1u << r)))
			return r;
	}
}

int pick_src(struct gen *g)
{
	static const int src[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 4};
	return src[rn(g, 15 + (rn(g, 8) == 0))];
}

int pick_breg(struct gen *g, int legacy)
{
	static const int rexset[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 15};
	for (;;) {
		int r = legacy ? (int)rn(g, 8) : rexset[rn(g, 12)];
		if (legacy && r >= 4)
			r = R_AH + r - 4;
		int full = r >= R_AH ? r - R_AH : r;
		if (!(g->avoid & (1u << full)))
			return r;
	}
}

struct opnd o_reg(int r)
{
	struct opnd o;
	memset(&o, 0, sizeof(o));
	o.reg = r;
	return o;
}

struct opnd o_mem(struct gen *g, int size, int align, int legacy)
{
	struct opnd o;
	memset(&o, 0, sizeof(o));
	o.mem = 1;
	uint64_t off = rn(g, (unsigned)(DT_DATA_SIZE - 64)) + 16;
	if (align > 1)
		off &= ~(uint64_t)(align - 1);
	(void)size;
	uint64_t addr = DT_DATA + off;
	unsigned k = legacy ? 3 + rn(g, 2) : rn(g, 9);
	if (k == 8 && align > 1)
		k = 0; /* RSP alignment is not tracked */
	switch (k) {
	case 0:
	case 1:
		o.kind = M_BASE;
		o.base = k == 0 ? DT_BASE1 : DT_BASE2;
		o.disp = (int32_t)(addr - (k == 0 ? DT_BASE1_VAL : DT_BASE2_VAL));
		if (rn(g, 3) == 0) { /* small displacement forms */
			o.disp = (int32_t)rn(g, 256) - 128;
			o.disp &= ~(align - 1);
		}
		o.force_disp32 = rn(g, 8) == 0;
		break;
	case 2:
	case 5:
		o.kind = M_BASE_INDEX;
		o.base = rn(g, 2) ? DT_BASE1 : DT_BASE2;
		o.index = DT_INDEX;
		o.scale = (int)rn(g, 4);
		o.disp = (int32_t)rn(g, 256) - 128;
		o.disp &= ~(align - 1);
		break;
	case 3:
		o.kind = M_RIP;
		o.target = addr;
		break;
	case 4:
		o.kind = M_ABS;
		o.disp = (int32_t)addr;
		break;
	case 6:
		o.kind = M_INDEX_ONLY;
		o.index = DT_INDEX;
		o.scale = (int)rn(g, 4);
		o.disp = (int32_t)addr; /* R14 (0..56, multiple of 16) * scale added */
		break;
	case 7:
		o.kind = M_BASE;
		o.base = DT_BASE1;
		o.disp = (int32_t)(addr - DT_BASE1_VAL);
		o.a32 = 1;
		break;
	default:
		o.kind = M_BASE; /* stack-relative */
		o.base = 4;
		o.disp = ((int32_t)rn(g, 128) - 64) & ~(align - 1);
		break;
	}
	return o;
}

struct opnd o_rm(struct gen *g, int size, int dst, int legacy)
{
	if (rn(g, 2))
		return o_mem(g, size, 1, legacy);
	if (size == 1)
		return o_reg(pick_breg(g, legacy));
	return o_reg(dst ? pick_reg(g) : pick_src(g));
}

void need_flags(struct gen *g, uint32_t mask)
{
	if (!(g->undef & mask))
		return;
	uint8_t op = 0x39;
	struct opnd rm = o_reg(pick_src(g));
	enc_start(g);
	enc_insn(g, 0, rn(g, 2) ? 8 : 4, &op, 1, pick_src(g), &rm, 0, 0);
	g->undef = 0;
}

void emit_mov_imm(struct gen *g, int size, int reg, uint64_t imm)
{
	enc_start(g);
	if (size == 8) {
		uint8_t op = 0xc7;
		struct opnd rm = o_reg(reg);
		enc_insn(g, 0, 8, &op, 1, 0, &rm, 4, imm);
	} else {
		enc_oreg(g, 0, size, size == 1 ? 0xb0 : 0xb8, reg, size, imm);
	}
}

void emit_lea(struct gen *g, int reg, int base, int32_t disp)
{
	uint8_t op = 0x8d;
	struct opnd m;
	memset(&m, 0, sizeof(m));
	m.mem = 1;
	m.kind = M_BASE;
	m.base = base;
	m.disp = disp;
	enc_start(g);
	enc_insn(g, 0, 8, &op, 1, reg, &m, 0, 0);
}

void add_pending(struct gen *g, unsigned size, int skip_items)
{
	if (g->npend >= 16)
		return;
	g->pend[g->npend].pos = g->s->len - size;
	g->pend[g->npend].size = size;
	g->pend[g->npend].target = g->nitems + 1 + skip_items;
	g->pend[g->npend].undef = g->undef;
	g->npend++;
}

void dt_gen(uint64_t *rng, const struct dt_gen_opts *o, uint64_t code_addr, struct dt_seq *s,
	    struct dt_regs *r, uint8_t *mem)
{
	static const uint64_t special[] = {0,
					   1,
					   ~0ull,
					   0x80,
					   0x7f,
					   0xff,
					   0x8000,
					   0x7fff,
					   0xffff,
					   0x80000000,
					   0x7fffffff,
					   0xffffffff,
					   0x8000000000000000,
					   0x7fffffffffffffff,
					   0x100000000,
					   0xfffffffe};
	struct gen gg = {.s = s, .rng = rng, .code_addr = code_addr, .o = o}, *g = &gg;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 16; i++) {
		unsigned k = rn(g, 8);
		r->gpr[i] = k < 2   ? special[rn(g, 16)]
			    : k < 4 ? rnd(g) & 0xff
			    : k < 5 ? rnd(g) & 0xffff
				    : rnd(g);
		if (rn(g, 8) == 0)
			r->gpr[i] = 0 - r->gpr[i];
	}
	r->gpr[4] = DT_STACK_TOP;
	r->gpr[DT_BASE1] = DT_BASE1_VAL;
	r->gpr[DT_BASE2] = DT_BASE2_VAL;
	r->gpr[DT_INDEX] = rn(g, 4) * 16;
	r->rflags = 0x202 | (rnd(g) & 0x8d5) | (rn(g, 4) == 0 ? 0x400 : 0);
	for (unsigned i = 0; i < DT_MEM_SIZE; i += 8) {
		uint64_t v = rn(g, 4) ? rnd(g) : special[rn(g, 16)];
		memcpy(mem + i, &v, 8);
	}
	gen_fp_state(g, r, mem);

	unsigned groups[G_NGROUPS], ng = 0;
	for (unsigned i = 0; i < G_NGROUPS; i++)
		if ((!o->only || (o->only >> i) & 1) && (i != G_PREFIX || o->faults || o->only))
			groups[ng++] = i;
	int nitems = 1 + (int)rn(g, 12);
	for (int it = 0; it < nitems && !g->faulted && s->len < DT_SEQ_MAX - 256; it++) {
		int grp = (int)groups[rn(g, ng)];
		s->groups |= 1ull << grp;
		if (grp == G_X87)
			gen_x87_item(g);
		else if (grp >= G_SSEMOV)
			gen_sse_item(g, grp);
		else if (!gen_alu_item(g, grp))
			gen_ctl_item(g, grp);
		g->nitems++;
		/* resolve jumps that land here; flags are the union over both paths */
		for (int i = 0; i < g->npend;) {
			if (g->pend[i].target <= g->nitems) {
				int64_t rel = (int64_t)s->len - (g->pend[i].pos + g->pend[i].size);
				if (g->pend[i].size == 1 && rel > 127)
					rel = 0; /* too far for rel8: fall through */
				if (g->pend[i].size == 1)
					s->code[g->pend[i].pos] = (uint8_t)rel;
				else
					memcpy(&s->code[g->pend[i].pos], &(int32_t){(int32_t)rel},
					       4);
				g->undef |= g->pend[i].undef;
				g->pend[i] = g->pend[--g->npend];
			} else {
				i++;
			}
		}
		if (g->o->strict)
			g->undef = 0;
	}
	for (int i = 0; i < g->npend; i++) {
		int64_t rel = (int64_t)s->len - (g->pend[i].pos + g->pend[i].size);
		if (g->pend[i].size == 1)
			s->code[g->pend[i].pos] = (uint8_t)(rel > 127 ? 0 : rel);
		else
			memcpy(&s->code[g->pend[i].pos], &(int32_t){(int32_t)rel}, 4);
		g->undef |= g->pend[i].undef;
	}
	s->undef = g->o->strict ? 0 : g->undef;
}
