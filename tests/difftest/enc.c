/* Tiny x86-64 encoder for the difftest generator: legacy prefixes, REX, ModRM/SIB, disp, imm. */
#include <string.h>

#include "enc.h"

void enc_byte(struct gen *g, uint8_t b)
{
	if (g->s->len < DT_SEQ_MAX)
		g->s->code[g->s->len++] = b;
}

void enc_start(struct gen *g)
{
	if (g->s->ninsn < sizeof(g->s->insn_off) / sizeof(g->s->insn_off[0])) {
		g->s->insn_undef[g->s->ninsn] = g->o->strict ? 0 : g->undef;
		g->s->insn_off[g->s->ninsn++] = (uint16_t)g->s->len;
	}
}

static void enc_le(struct gen *g, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		enc_byte(g, (uint8_t)(v >> (8 * i)));
}

static int needs_rex_byte(int r)
{
	return r >= 4 && r < 8; /* SPL BPL SIL DIL */
}

static void enc_prefixes(struct gen *g, unsigned pfx, int size, int a32)
{
	if (pfx & P_SEGJUNK) {
		static const uint8_t junk[] = {0x2e, 0x3e, 0x26, 0x36};
		enc_byte(g, junk[dt_rand(g->rng) & 3]);
	}
	if ((size == 2 && !(pfx & P_NO66)) || (pfx & P_OPSZ))
		enc_byte(g, 0x66);
	if (a32)
		enc_byte(g, 0x67);
	if (pfx & P_LOCK)
		enc_byte(g, 0xf0);
	if (pfx & P_REP)
		enc_byte(g, 0xf3);
	if (pfx & P_REPNE)
		enc_byte(g, 0xf2);
}

void enc_insn(struct gen *g, unsigned pfx, int size, const uint8_t *opc, int nopc, int regf,
	      const struct opnd *rm, int immsz, uint64_t imm)
{
	int rex = 0, force = (pfx & P_REX) != 0;
	int regf3 = regf >= R_AH ? regf - R_AH + 4 : regf;

	if (size == 8 && !(pfx & P_DEF64))
		rex |= 8;
	if (regf < R_AH && regf >= 8)
		rex |= 4;
	if (size == 1 && needs_rex_byte(regf))
		force = 1;
	if (rm && !rm->mem) {
		if (rm->reg < R_AH && rm->reg >= 8)
			rex |= 1;
		if (size == 1 && needs_rex_byte(rm->reg))
			force = 1;
	} else if (rm) {
		if (rm->kind == M_BASE || rm->kind == M_BASE_INDEX)
			rex |= rm->base >= 8 ? 1 : 0;
		if (rm->kind == M_BASE_INDEX || rm->kind == M_INDEX_ONLY)
			rex |= rm->index >= 8 ? 2 : 0;
	}
	enc_prefixes(g, pfx, size, rm && rm->mem && rm->a32);
	if (rex || force)
		enc_byte(g, (uint8_t)(0x40 | rex));
	for (int i = 0; i < nopc; i++)
		enc_byte(g, opc[i]);
	if (!rm) {
		enc_le(g, imm, immsz);
		return;
	}
	unsigned r3 = (unsigned)(regf3 & 7) << 3;
	if (!rm->mem) {
		int rr = rm->reg >= R_AH ? rm->reg - R_AH + 4 : rm->reg;
		enc_byte(g, (uint8_t)(0xc0 | r3 | (rr & 7)));
		enc_le(g, imm, immsz);
		return;
	}
	int disp_pos = -1;
	switch (rm->kind) {
	case M_RIP:
		enc_byte(g, (uint8_t)(0x05 | r3));
		disp_pos = (int)g->s->len;
		enc_le(g, 0, 4);
		break;
	case M_ABS:
		enc_byte(g, (uint8_t)(0x04 | r3));
		enc_byte(g, 0x25);
		enc_le(g, (uint64_t)(uint32_t)rm->disp, 4);
		break;
	case M_INDEX_ONLY:
		enc_byte(g, (uint8_t)(0x04 | r3));
		enc_byte(g, (uint8_t)((rm->scale << 6) | ((rm->index & 7) << 3) | 5));
		enc_le(g, (uint64_t)(uint32_t)rm->disp, 4);
		break;
	default: {
		int b = rm->base & 7, sib = rm->kind == M_BASE_INDEX || b == 4;
		int mod = rm->force_disp32		       ? 2
			  : rm->disp == 0 && b != 5	       ? 0
			  : rm->disp >= -128 && rm->disp < 128 ? 1
							       : 2;
		enc_byte(g, (uint8_t)((mod << 6) | r3 | (sib ? 4 : b)));
		if (sib) {
			int idx = rm->kind == M_BASE_INDEX ? rm->index & 7 : 4;
			enc_byte(g, (uint8_t)((rm->kind == M_BASE_INDEX ? rm->scale << 6 : 0) |
					      (idx << 3) | b));
		}
		if (mod == 1)
			enc_byte(g, (uint8_t)rm->disp);
		else if (mod == 2)
			enc_le(g, (uint64_t)(uint32_t)rm->disp, 4);
	}
	}
	enc_le(g, imm, immsz);
	if (disp_pos >= 0) {
		int32_t d = (int32_t)(rm->target - (g->code_addr + g->s->len));
		memcpy(&g->s->code[disp_pos], &d, 4);
	}
}

void enc_oreg(struct gen *g, unsigned pfx, int size, uint8_t opc, int reg, int immsz, uint64_t imm)
{
	int rex = 0, force = (pfx & P_REX) != 0;
	int r = reg >= R_AH ? reg - R_AH + 4 : reg;

	if (size == 8 && !(pfx & P_DEF64))
		rex |= 8;
	if (reg < R_AH && reg >= 8)
		rex |= 1;
	if (size == 1 && needs_rex_byte(reg))
		force = 1;
	enc_prefixes(g, pfx, size, 0);
	if (rex || force)
		enc_byte(g, (uint8_t)(0x40 | rex));
	enc_byte(g, (uint8_t)(opc + (r & 7)));
	enc_le(g, imm, immsz);
}
