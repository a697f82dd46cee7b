/* Native side of the differential test: region mapping, prologue/epilogue code, fault capture. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "difftest.h"

struct native_state {
	sigjmp_buf jb;
	int trap;
	uint64_t rip;
	struct dt_regs regs;
	/* single-step tracing */
	int tracing;
	uint64_t t_start, t_end;
	struct dt_step *steps;
	int nsteps, max_steps;
};

static struct native_state *ns; /* test harness only: the signal handler needs it */

/* ucontext gregs index for each GPR in x86 encoding order. */
static const int greg_idx[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				 REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
				 REG_R12, REG_R13, REG_R14, REG_R15};

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	(void)si;
	if (sig == SIGTRAP && ns->tracing) {
		uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
		if (rip >= ns->t_start && rip < ns->t_end && ns->nsteps < ns->max_steps) {
			struct dt_step *st = &ns->steps[ns->nsteps++];
			for (int i = 0; i < 16; i++)
				st->regs.gpr[i] = (uint64_t)uc->uc_mcontext.gregs[greg_idx[i]];
			st->regs.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
			if (uc->uc_mcontext.fpregs)
				memcpy(st->regs.fx, uc->uc_mcontext.fpregs, 512);
			st->rip = rip;
		}
		if (rip == ns->t_end)
			uc->uc_mcontext.gregs[REG_EFL] &= ~0x100ll;
		return;
	}
	for (int i = 0; i < 16; i++)
		ns->regs.gpr[i] = (uint64_t)uc->uc_mcontext.gregs[greg_idx[i]];
	ns->regs.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	if (uc->uc_mcontext.fpregs)
		memcpy(ns->regs.fx, uc->uc_mcontext.fpregs, 512);
	ns->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	ns->trap = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	siglongjmp(ns->jb, 1);
}

int dt_native_init(void)
{
	void *p = mmap((void *)DT_REGION, DT_REGION_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)DT_REGION) {
		perror("difftest: mmap region");
		return -1;
	}
	static stack_t alt;
	alt.ss_sp = malloc(1 << 16);
	alt.ss_size = 1 << 16;
	if (!alt.ss_sp || sigaltstack(&alt, NULL))
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	int sigs[] = {SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGTRAP};
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL))
			return -1;
	ns = calloc(1, sizeof(*ns));
	return ns ? 0 : -1;
}

static unsigned put_movabs(uint8_t *p, unsigned reg, uint64_t imm)
{
	p[0] = 0x48 | (reg >= 8);
	p[1] = 0xb8 + (reg & 7);
	memcpy(p + 2, &imm, 8);
	return 10;
}

/* mov reg, [rax + disp8/32] (load=1) or mov [rax + disp], reg (load=0) */
static unsigned put_mov_rax(uint8_t *p, unsigned reg, int32_t disp, int load)
{
	p[0] = 0x48 | (reg >= 8 ? 4 : 0);
	p[1] = load ? 0x8b : 0x89;
	p[2] = 0x80 | ((reg & 7) << 3); /* mod=10 rm=rax */
	memcpy(p + 3, &disp, 4);
	return 7;
}

/* movabs rax, area; fxsave64 [rax] (restore=0) or fxrstor64 [rax] */
static unsigned put_fx(uint8_t *p, const uint8_t *area, int restore)
{
	unsigned n = put_movabs(p, 0, (uint64_t)(uintptr_t)area);
	p[n++] = 0x48;
	p[n++] = 0x0f;
	p[n++] = 0xae;
	p[n++] = restore ? 0x08 : 0x00;
	return n;
}

unsigned dt_prologue(uint8_t *p)
{
	static const uint8_t save[] = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57};
	struct dt_ctx *ctx = (struct dt_ctx *)DT_CTX;
	unsigned n = 0;

	memcpy(p, save, sizeof(save));
	n += sizeof(save);
	n += put_movabs(p + n, 0, (uint64_t)&ctx->host_rsp);
	p[n++] = 0x48; /* mov [rax], rsp */
	p[n++] = 0x89;
	p[n++] = 0x20;
	n += put_fx(p + n, ctx->fx_host, 0); /* fxsave64: the host's FPU state */
	n += put_fx(p + n, ctx->fx_in, 1);
	n += put_movabs(p + n, 4, (uint64_t)&ctx->flags_in); /* rsp = &flags_in; popfq */
	p[n++] = 0x9d;
	n += put_movabs(p + n, 0, (uint64_t)ctx->in);
	for (unsigned r = 1; r < 16; r++)
		n += put_mov_rax(p + n, r, (int32_t)(r * 8), 1);
	n += put_mov_rax(p + n, 0, 0, 1);
	return n;
}

unsigned dt_epilogue(uint8_t *p)
{
	static const uint8_t restore[] = {0xfc, 0x41, 0x5f, 0x41, 0x5e, 0x41,
					  0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3};
	struct dt_ctx *ctx = (struct dt_ctx *)DT_CTX;
	uint64_t a = (uint64_t)&ctx->out[0];
	unsigned n = 0;

	p[n++] = 0x48; /* movabs [a], rax */
	p[n++] = 0xa3;
	memcpy(p + n, &a, 8);
	n += 8;
	n += put_movabs(p + n, 0, (uint64_t)ctx->out);
	for (unsigned r = 1; r < 16; r++)
		n += put_mov_rax(p + n, r, (int32_t)(r * 8), 0);
	n += put_movabs(p + n, 4, (uint64_t)&ctx->flags_out + 8);
	p[n++] = 0x9c; /* pushfq */
	n += put_fx(p + n, ctx->fx_out, 0);
	n += put_fx(p + n, ctx->fx_host, 1);
	n += put_movabs(p + n, 0, (uint64_t)&ctx->host_rsp);
	p[n++] = 0x48; /* mov rsp, [rax] */
	p[n++] = 0x8b;
	p[n++] = 0x20;
	memcpy(p + n, restore, sizeof(restore));
	return n + sizeof(restore);
}

int dt_native_trace(struct dt_regs *regs, uint64_t start, uint64_t end, struct dt_step *steps,
		    int max)
{
	uint64_t frip;
	ns->tracing = 1;
	ns->t_start = start;
	ns->t_end = end;
	ns->steps = steps;
	ns->nsteps = 0;
	ns->max_steps = max;
	regs->rflags |= 0x100;
	dt_native_run(regs, &frip);
	ns->tracing = 0;
	return ns->nsteps;
}

int dt_native_run(struct dt_regs *regs, uint64_t *fault_rip)
{
	struct dt_ctx *ctx = (struct dt_ctx *)DT_CTX;

	memcpy(ctx->in, regs->gpr, sizeof(ctx->in));
	memcpy(ctx->fx_in, regs->fx, sizeof(ctx->fx_in));
	ctx->flags_in = regs->rflags;
	if (sigsetjmp(ns->jb, 1)) {
		*regs = ns->regs;
		*fault_rip = ns->rip;
		__asm__ volatile("cld" ::: "memory");
		return ns->trap + 1;
	}
	((void (*)(void))DT_CODE)();
	memcpy(regs->gpr, ctx->out, sizeof(ctx->out));
	regs->rflags = ctx->flags_out;
	memcpy(regs->fx, ctx->fx_out, sizeof(regs->fx));
	return 0;
}
