/* Differential test driver: generate, run natively, run in emu, compare, report.
 *
 * Usage: difftest [-n COUNT] [-s SEED] [--strict] [--no-faults] [--only g1,g2,...] [--cover] [-v]
 * Default: 20000 sequences from seed 1 (the quick mode used by run.sh, well under a second).
 * --cover: also tally the SSE3..SSE4.2 instruction forms that ran (cover.c) and fail when one
 * never did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/emu/cpu.h"
#include "cover.h"
#include "difftest.h"
#include "gen_simd.h"

struct emu_env {
	uint8_t *code; /* emu's view of the code page: a copy with HLT at the epilogue */
	int stray;     /* accesses outside the mapped area */
	uint64_t stray_addr;
};

static uint8_t *env_ram_ptr(void *ctx, uint64_t gpa, int write)
{
	struct emu_env *env = ctx;
	(void)write;
	if (gpa >= DT_CODE && gpa < DT_CODE + DT_CODE_SIZE)
		return env->code + (gpa - DT_CODE);
	if (gpa >= DT_DATA && gpa < DT_DATA + DT_MEM_SIZE)
		return (uint8_t *)(uintptr_t)gpa;
	return NULL;
}

static uint64_t env_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct emu_env *env = ctx;
	(void)size;
	env->stray = 1;
	env->stray_addr = gpa;
	return 0;
}

static void env_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
	(void)val;
	env_mmio_read(ctx, gpa, size);
}

static uint32_t env_pio_in(void *ctx, uint16_t port, unsigned size)
{
	return (uint32_t)env_mmio_read(ctx, port, size);
}

static void env_pio_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	env_mmio_write(ctx, port, size, val);
}

static const struct emu_mem_ops env_ops = {
    .ram_ptr = env_ram_ptr,
    .mmio_read = env_mmio_read,
    .mmio_write = env_mmio_write,
    .pio_in = env_pio_in,
    .pio_out = env_pio_out,
};

static const char *const reg_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					  "r8",	 "r9",	"r10", "r11", "r12", "r13", "r14", "r15"};

/* 64-bit user-mode state as the host runs the sequence (paging is off in emu: identity map). */
static void emu_state_init(struct x86_cpu_state *st, const struct dt_regs *r, uint64_t rip)
{
	x86_state_long64(st, rip, 0, 0, 0);
	st->cr0 &= ~X86_CR0_PG;
	st->seg[X86_CS].selector = 0x33;
	st->seg[X86_CS].dpl = 3;
	st->seg[X86_SS].selector = 0x2b;
	st->seg[X86_SS].dpl = 3;
	for (int i = 0; i < 6; i++)
		if (i != X86_CS && i != X86_SS)
			st->seg[i].selector = 0;
	memcpy(st->gpr, r->gpr, sizeof(st->gpr));
	st->rflags = r->rflags;
	/* FPU/SSE enabled as Linux runs user space */
	st->cr0 |= X86_CR0_MP | X86_CR0_NE;
	st->cr4 |= X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	memcpy(st->fxsave, r->fx, sizeof(st->fxsave));
}

static void print_failure(const struct dt_seq *s, uint64_t seq_addr, const char *why)
{
	char path[] = "/tmp/difftest-XXXXXX";
	printf("  %s\n  code (%u bytes at %#llx):\n", why, s->len, (unsigned long long)seq_addr);
	for (unsigned i = 0; i < s->ninsn; i++) {
		unsigned a = s->insn_off[i], b = i + 1 < s->ninsn ? s->insn_off[i + 1] : s->len;
		if (a == b)
			continue;
		printf("    +%03x:", a);
		for (unsigned k = a; k < b; k++)
			printf(" %02x", s->code[k]);
		printf("\n");
	}
	int fd = mkstemp(path);
	if (fd < 0)
		return;
	FILE *f = fdopen(fd, "wb");
	if (!f)
		return;
	fwrite(s->code, 1, s->len, f);
	fclose(f);
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "objdump -D -b binary -mi386:x86-64 --adjust-vma=%#llx %s 2>/dev/null | "
		 "tail -n +8 | sed 's/^/    /'",
		 (unsigned long long)seq_addr, path);
	if (system(cmd) != 0)
		printf("    (objdump not available)\n");
	remove(path);
}

/* Step both sides and print the first instruction after which they disagree. */
static void trace_divergence(struct emu_cpu *cpu, const struct dt_regs *r0, const uint8_t *mem0,
			     uint64_t seq_addr, const struct dt_seq *s)
{
	static struct dt_step nat[512];
	struct dt_regs r = *r0;
	struct x86_cpu_state st;

	memcpy((void *)DT_DATA, mem0, DT_MEM_SIZE);
	int n = dt_native_trace(&r, seq_addr, seq_addr + s->len, nat, 512);
	memcpy((void *)DT_DATA, mem0, DT_MEM_SIZE);
	emu_state_init(&st, r0, seq_addr);
	emu_cpu_set_state(cpu, &st);
	for (int i = 0; i < n; i++) {
		emu_cpu_get_state(cpu, &st);
		int bad = st.rip != nat[i].rip;
		for (int k = 0; k < 16; k++)
			bad |= st.gpr[k] != nat[i].regs.gpr[k];
		bad |= ((st.rflags ^ nat[i].regs.rflags) & DT_FLAGS_CMP) != 0;
		char fxwhy[2048];
		int fxbad = dt_fx_diff(nat[i].regs.fx, st.fxsave, fxwhy, sizeof(fxwhy));
		if (bad || fxbad) {
			printf("  trace: first difference before step %d (rip native %#llx emu "
			       "%#llx)\n",
			       i, (unsigned long long)nat[i].rip, (unsigned long long)st.rip);
			if (i > 0) {
				const uint8_t *fx = nat[i - 1].regs.fx;
				printf("  after the instruction at %#llx; before it, native had\n"
				       "    fcw %#x fsw %#x ftw %#x mxcsr %#x\n",
				       (unsigned long long)nat[i - 1].rip, fx[0] | fx[1] << 8,
				       fx[2] | fx[3] << 8, fx[4],
				       fx[24] | fx[25] << 8 | fx[26] << 16 |
					   (unsigned)fx[27] << 24);
				for (int k = 0; k < 8; k++) {
					uint64_t m;
					memcpy(&m, fx + 32 + 16 * k, 8);
					printf("    st%d %04x:%016llx\n", k,
					       fx[40 + 16 * k] | fx[41 + 16 * k] << 8,
					       (unsigned long long)m);
				}
			}
			for (int k = 0; k < 16; k++)
				if (st.gpr[k] != nat[i].regs.gpr[k])
					printf("    %s: native %#llx emu %#llx\n", reg_names[k],
					       (unsigned long long)nat[i].regs.gpr[k],
					       (unsigned long long)st.gpr[k]);
			printf("    rflags: native %#llx emu %#llx\n",
			       (unsigned long long)nat[i].regs.rflags,
			       (unsigned long long)st.rflags);
			if (fxbad)
				printf("    %s\n", fxwhy);
			return;
		}
		if (emu_step(cpu) != EMU_EXIT_NONE)
			break;
	}
	printf("  trace: no register difference in %d steps\n", n);
}

/* Coverage of a passing sequence: step emu through it again and count each instruction that
 * completed, and a final #UD (native raised it too: the sequence passed). */
static void cover_run(struct emu_cpu *cpu, const struct dt_regs *r0, const uint8_t *mem0,
		      uint64_t seq_addr, const struct dt_seq *s)
{
	struct x86_cpu_state st;

	memcpy((void *)DT_DATA, mem0, DT_MEM_SIZE);
	emu_state_init(&st, r0, seq_addr);
	emu_cpu_set_state(cpu, &st);
	for (int i = 0; i < 100000; i++) {
		uint64_t rip = cpu->st.rip;
		if (rip < seq_addr || rip >= seq_addr + s->len)
			break;
		unsigned off = (unsigned)(rip - seq_addr);
		int r = emu_step(cpu);
		if (r == EMU_EXIT_NONE) {
			dt_cover_insn(s->code + off, s->len - off, 0);
			continue;
		}
		if (r == EMU_EXIT_EXCEPTION && cpu->exit.vector == 6)
			dt_cover_insn(s->code + off, s->len - off, 1);
		break;
	}
}

struct opts {
	long count;
	uint64_t seed;
	int verbose;
	int cover;
	struct dt_gen_opts gen;
};

static int parse_groups(const char *arg, uint64_t *mask)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
		int found = 0;
		for (int i = 0; i < G_NGROUPS; i++) {
			if (!strcmp(t, dt_group_names[i])) {
				*mask |= 1ull << i;
				found = 1;
			}
		}
		if (!found) {
			fprintf(stderr, "difftest: unknown group %s\n", t);
			return -1;
		}
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	o->count = 20000;
	o->seed = 1;
	o->gen.faults = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			o->count = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			o->seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--strict"))
			o->gen.strict = 1;
		else if (!strcmp(argv[i], "--no-faults"))
			o->gen.faults = 0;
		else if (!strcmp(argv[i], "-v"))
			o->verbose = 1;
		else if (!strcmp(argv[i], "--cover"))
			o->cover = 1;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			if (parse_groups(argv[++i], &o->gen.only))
				return -1;
		} else {
			fprintf(stderr, "usage: difftest [-n COUNT] [-s SEED] [--strict] "
					"[--no-faults] [--only g1,g2] [--cover] [-v]\n");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct emu_cpu cpu;
	static struct dt_seq seq;
	static uint8_t mem0[DT_MEM_SIZE], mem_n[DT_MEM_SIZE];
	struct emu_env env = {0};
	struct opts o = {0};
	long pass = 0, fail = 0, shown = 0, faults = 0;
	long grp_n[G_NGROUPS] = {0}, grp_fail[G_NGROUPS] = {0};
	struct x86_cpu_state st;

	if (parse_args(argc, argv, &o) || dt_native_init())
		return 2;
	env.code = aligned_alloc(4096, DT_CODE_SIZE);
	if (!env.code || emu_cpu_init(&cpu, &env_ops, &env))
		return 2;
	cpu.exc_exit = 1; /* report exceptions instead of delivering them */
	uint64_t rng = o.seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned plen = dt_prologue((uint8_t *)DT_CODE);
	uint64_t seq_addr = DT_CODE + plen;

	for (long n = 0; n < o.count; n++) {
		struct dt_regs r0, rn_, re;
		uint64_t frip = 0;
		char why[4096];
		int w = 0;

		dt_gen(&rng, &o.gen, seq_addr, &seq, &r0, mem0);
		memcpy((uint8_t *)seq_addr, seq.code, seq.len);
		unsigned elen = dt_epilogue((uint8_t *)seq_addr + seq.len);
		memcpy(env.code, (uint8_t *)DT_CODE, plen + seq.len + elen);
		env.code[plen + seq.len] = 0xf4; /* HLT (#GP at CPL 3) where the epilogue starts */
		emu_invalidate_phys(&cpu, DT_CODE, DT_CODE_SIZE);

		memcpy((void *)DT_DATA, mem0, DT_MEM_SIZE);
		rn_ = r0;
		int trap = dt_native_run(&rn_, &frip);
		memcpy(mem_n, (void *)DT_DATA, DT_MEM_SIZE);

		memcpy((void *)DT_DATA, mem0, DT_MEM_SIZE);
		env.stray = 0;
		emu_state_init(&st, &r0, seq_addr);
		emu_cpu_set_state(&cpu, &st);
		int er = emu_run(&cpu, 100000);
		emu_cpu_get_state(&cpu, &st);
		memcpy(re.gpr, st.gpr, sizeof(re.gpr));
		re.rflags = st.rflags;
		memcpy(re.fx, st.fxsave, sizeof(re.fx));

		if (trap) {
			faults++;
			if (er != EMU_EXIT_EXCEPTION || cpu.exit.vector != trap - 1 ||
			    st.rip != frip)
				w += snprintf(
				    why + w, sizeof(why) - w,
				    "native trap %d at %#llx; emu exit %d vector %d at %#llx\n  ",
				    trap - 1, (unsigned long long)frip, er, cpu.exit.vector,
				    (unsigned long long)st.rip);
		} else if (er != EMU_EXIT_EXCEPTION || cpu.exit.vector != 13 ||
			   st.rip != seq_addr + seq.len) {
			/* The end marker is HLT, which raises #GP(0) at CPL 3 as the host would. */
			w += snprintf(why + w, sizeof(why) - w,
				      "emu exit %d (vector %d) at %#llx\n  ", er, cpu.exit.vector,
				      (unsigned long long)st.rip);
			if (er == EMU_EXIT_UNIMPL) {
				w += snprintf(why + w, sizeof(why) - w, "unimplemented:");
				for (unsigned i = 0; i < cpu.exit.len && w < 3900; i++)
					w += snprintf(why + w, sizeof(why) - w, " %02x",
						      cpu.exit.bytes[i]);
				w += snprintf(why + w, sizeof(why) - w, "\n  ");
			}
		}
		if (env.stray)
			w += snprintf(why + w, sizeof(why) - w, "stray access at %#llx\n  ",
				      (unsigned long long)env.stray_addr);
		for (int i = 0; i < 16 && w < 3800; i++)
			if (rn_.gpr[i] != re.gpr[i])
				w += snprintf(why + w, sizeof(why) - w,
					      "%s: native %#llx emu %#llx (initial %#llx)\n  ",
					      reg_names[i], (unsigned long long)rn_.gpr[i],
					      (unsigned long long)re.gpr[i],
					      (unsigned long long)r0.gpr[i]);
		if (w < 3000 && dt_fx_diff(rn_.fx, re.fx, why + w, sizeof(why) - w))
			w += (int)strlen(why + w);
		uint32_t undef = seq.undef;
		if (trap) /* a fault leaves the flags as they were before the faulting instruction
			   */
			for (unsigned i = 0; i < seq.ninsn; i++)
				if (seq_addr + seq.insn_off[i] == frip)
					undef = seq.insn_undef[i];
		uint64_t fm = DT_FLAGS_CMP & ~(uint64_t)undef;
		if ((rn_.rflags ^ re.rflags) & fm)
			w += snprintf(
			    why + w, sizeof(why) - w,
			    "rflags: native %#llx emu %#llx (compared %#llx, initial %#llx)\n  ",
			    (unsigned long long)rn_.rflags, (unsigned long long)re.rflags,
			    (unsigned long long)fm, (unsigned long long)r0.rflags);
		if (memcmp(mem_n, (void *)DT_DATA, DT_MEM_SIZE)) {
			for (unsigned i = 0; i < DT_MEM_SIZE && w < 3900; i++)
				if (mem_n[i] != ((uint8_t *)DT_DATA)[i]) {
					w += snprintf(
					    why + w, sizeof(why) - w,
					    "memory differs from %#llx: native %02x emu %02x\n  ",
					    (unsigned long long)(DT_DATA + i), mem_n[i],
					    ((uint8_t *)DT_DATA)[i]);
					break;
				}
		}
		for (int g = 0; g < G_NGROUPS; g++)
			if ((seq.groups >> g) & 1) {
				grp_n[g]++;
				grp_fail[g] += w != 0;
			}
		if (!w) {
			pass++;
			if (o.cover)
				cover_run(&cpu, &r0, mem0, seq_addr, &seq);
			continue;
		}
		fail++;
		if (shown++ < 5) {
			printf("difftest: FAIL sequence %ld (seed %llu)\n", n,
			       (unsigned long long)o.seed);
			print_failure(&seq, seq_addr, why);
			trace_divergence(&cpu, &r0, mem0, seq_addr, &seq);
		}
	}
	if (o.verbose || fail) {
		for (int g = 0; g < G_NGROUPS; g++)
			if (grp_n[g] && (o.verbose || grp_fail[g]))
				printf("  %-8s %6ld sequences, %ld failed\n", dt_group_names[g],
				       grp_n[g], grp_fail[g]);
	}
	printf("difftest: %ld passed, %ld failed (%ld ending in a fault)\n", pass, fail, faults);
	int missing = o.cover ? dt_cover_report(o.verbose, o.gen.faults) : 0;
	emu_cpu_destroy(&cpu);
	return fail || missing ? 1 : 0;
}
