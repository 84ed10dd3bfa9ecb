/*
 * kvm-oracle: runs short x86 code snippets on real hardware through /dev/kvm
 * and prints the architectural result, so hvsim's CPU can be compared
 * against it (test/differential). The environment is the one described in
 * src/machine/snippet.ts; the exact memory layout is documented below and in
 * test/oracle/snippet-env.ts, which hvsim's snippet runner must match.
 *
 * One VM and one vCPU serve every case: per case the low guest memory is
 * restored from a pristine image, the code and data area are written, the
 * registers and segment state are loaded, and KVM_RUN is called until HLT.
 *
 * Protocol (text, one line per case, fields separated by single spaces):
 *   stdin :  <mode 16|32|64> <rflags hex> <16 GPRs hex: rax rcx rdx rbx rsp
 *            rbp rsi rdi r8 .. r15> <code hex>
 *   stdout:  hlt - <rflags> <16 GPRs>
 *            exception <vector decimal> <rflags> <16 GPRs>
 *            timeout - <rflags> <16 GPRs>
 *            nooracle <free text detail to the end of the line>
 * All numbers on both sides are hexadecimal without a 0x prefix, except the
 * mode and the vector. Output is flushed after every line. A first line
 * "ready" (or "error <reason>" and exit status 1) is printed once the VM
 * exists. "--probe" prints ready/error and exits; "--timeout-ms N" sets the
 * per-case limit (default 2000).
 *
 * Guest physical memory (identity = linear in every mode), 2 MiB:
 *   0x00000-0x003ff  real-mode IVT: vector N -> 0000:(0x7000+N)
 *   0x01000-0x017ff  32-bit IDT: interrupt gate, CS 0x08, offset 0x7000+N
 *   0x02000-0x02fff  64-bit IDT: interrupt gate, CS 0x18, offset 0x7000+N
 *   0x03000-0x03037  GDT: 0x08 code32, 0x10 data (flat), 0x18 code64,
 *                    0x28 TSS (base 0x3800, limit 0x67)
 *   0x04000/5000/6000 PML4 / PDPT / PD, PD[0] = 2 MiB page at 0 (P|RW|PS)
 *   0x07000-0x070ff  exception stubs: 256 bytes of HLT (0xf4). Entering
 *                    vector N runs the HLT at 0x7000+N, so the exit RIP
 *                    0x7001+N tells the vector without touching a GPR.
 *   0x08000-0x08fff  stack (top 0x9000), zero
 *   0x10000-0x1ffff  code
 *   0x20000-0x2ffff  data area, byte at 0x20000+i =
 *                    ((uint32_t)i * 0x9E3779B1) >> 24  (Fibonacci hash of i)
 *   everything else zero.
 * On an exception the state reported is the one the exception frame saved
 * (RSP and RFLAGS are recovered from the frame; RF, which the CPU sets in the
 * saved image of a fault, is cleared), i.e. the state before a faulting
 * instruction, after a trapping one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define MEM_SIZE 0x200000u
#define LOW_SIZE 0x30000u /* restored before every case */
#define IVT_ADDR 0x0000u
#define IDT32_ADDR 0x1000u
#define IDT64_ADDR 0x2000u
#define GDT_ADDR 0x3000u
#define GDT_LIMIT 0x37u
#define TSS_ADDR 0x3800u
#define PML4_ADDR 0x4000u
#define PDPT_ADDR 0x5000u
#define PD_ADDR 0x6000u
#define STUB_ADDR 0x7000u
#define CODE_ADDR 0x10000u
#define CODE_MAX 0x10000u
#define DATA_ADDR 0x20000u
#define DATA_SIZE 0x10000u

#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define SEL_TSS 0x28

/* RFLAGS bits a snippet may start with: CF PF AF ZF SF DF OF (SDM Vol.1 3.4.3). */
#define RFLAGS_INPUT_MASK 0xcd5ull
#define RFLAGS_FIXED1 0x2ull
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_AC (1ull << 18)

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static uint8_t *mem;
static struct kvm_run *run;
static uint8_t pristine[LOW_SIZE];
static volatile sig_atomic_t timed_out;
static long timeout_ms = 2000;

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(uint64_t a) { uint16_t v; memcpy(&v, mem + a, 2); return v; }
static uint32_t get32(uint64_t a) { uint32_t v; memcpy(&v, mem + a, 4); return v; }
static uint64_t get64(uint64_t a) { uint64_t v; memcpy(&v, mem + a, 8); return v; }

/* Legacy segment descriptor (SDM Vol.3 3.4.5). */
static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

static void build_pristine(void)
{
	uint8_t *p = pristine;
	memset(p, 0, LOW_SIZE);
	for (int n = 0; n < 256; n++) {
		uint32_t off = STUB_ADDR + n;
		/* Real-mode IVT entry: offset, segment (SDM Vol.3 6.x / 20.1.4). */
		put16(p + IVT_ADDR + 4 * n, (uint16_t)off);
		put16(p + IVT_ADDR + 4 * n + 2, 0);
		/* 32-bit interrupt gate, P=1 DPL=0 type 0xE (SDM Vol.3 6.11). */
		uint8_t *g = p + IDT32_ADDR + 8 * n;
		put16(g, off & 0xffff);
		put16(g + 2, SEL_CODE32);
		put16(g + 4, 0x8e00);
		put16(g + 6, off >> 16);
		/* 64-bit interrupt gate, IST 0 (SDM Vol.3 6.14.1). */
		g = p + IDT64_ADDR + 16 * n;
		put16(g, off & 0xffff);
		put16(g + 2, SEL_CODE64);
		put16(g + 4, 0x8e00);
		put16(g + 6, off >> 16);
		put32(g + 8, 0);
		put32(g + 12, 0);
		p[STUB_ADDR + n] = 0xf4; /* HLT */
	}
	put64(p + GDT_ADDR + SEL_CODE32, seg_desc(0, 0xfffff, 0x9b, 0xc));
	put64(p + GDT_ADDR + SEL_DATA, seg_desc(0, 0xfffff, 0x93, 0xc));
	put64(p + GDT_ADDR + SEL_CODE64, seg_desc(0, 0xfffff, 0x9b, 0xa));
	put64(p + GDT_ADDR + SEL_TSS, seg_desc(TSS_ADDR, 0x67, 0x8b, 0x0));
	put64(p + GDT_ADDR + SEL_TSS + 8, 0);
	/* 4-level paging, one 2 MiB page at 0 (SDM Vol.3 4.5). */
	put64(p + PML4_ADDR, PDPT_ADDR | 0x3);
	put64(p + PDPT_ADDR, PD_ADDR | 0x3);
	put64(p + PD_ADDR, 0x0 | 0x83);
	for (uint32_t i = 0; i < DATA_SIZE; i++)
		p[DATA_ADDR + i] = (uint8_t)(((uint32_t)i * 0x9E3779B1u) >> 24);
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (run)
		run->immediate_exit = 1;
}

static int fail(const char *what)
{
	printf("error %s: %s\n", what, strerror(errno));
	fflush(stdout);
	return 1;
}

static int setup(void)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return fail("open /dev/kvm");
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		errno = EINVAL;
		return fail("KVM_GET_API_VERSION");
	}
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		return fail("KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest memory");
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	/* Needed on VMX hosts without unrestricted guest for real mode; harmless elsewhere. */
	(void)ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		return fail("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");
	/* Give the guest the CPUID KVM supports (the host's, here), so long mode and
	 * the bit-manipulation instructions are allowed. */
	int nent = 256;
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(struct kvm_cpuid_entry2));
	cpuid->nent = nent;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		return fail("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
		return fail("KVM_SET_CPUID2");
	free(cpuid);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return fail("sigaction");
	build_pristine();
	return 0;
}

static struct kvm_segment seg(uint16_t sel, uint64_t base, uint32_t limit, uint8_t type, int s, int db, int l, int g)
{
	struct kvm_segment x;
	memset(&x, 0, sizeof x);
	x.selector = sel;
	x.base = base;
	x.limit = limit;
	x.type = type;
	x.s = (uint8_t)s;
	x.present = 1;
	x.db = (uint8_t)db;
	x.l = (uint8_t)l;
	x.g = (uint8_t)g;
	return x;
}

static int load_sregs(int mode)
{
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -1;
	memset(&s.interrupt_bitmap, 0, sizeof s.interrupt_bitmap);
	s.gdt.base = GDT_ADDR;
	s.gdt.limit = GDT_LIMIT;
	s.ldt = seg(0, 0, 0xffff, 2, 0, 0, 0, 0);
	s.ldt.unusable = 1;
	s.cr2 = 0;
	s.cr8 = 0;
	if (mode == 16) {
		s.cs = seg(0x1000, 0x10000, 0xffff, 0xb, 1, 0, 0, 0);
		s.ds = seg(0x2000, 0x20000, 0xffff, 0x3, 1, 0, 0, 0);
		s.es = s.ds;
		s.ss = seg(0, 0, 0xffff, 0x3, 1, 0, 0, 0);
		s.fs = s.ss;
		s.gs = s.ss;
		s.tr = seg(0, 0, 0xffff, 0xb, 0, 0, 0, 0);
		s.idt.base = IVT_ADDR;
		s.idt.limit = 0x3ff;
		s.cr0 = 0x10;       /* ET */
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	} else {
		struct kvm_segment data = seg(SEL_DATA, 0, 0xffffffff, 0x3, 1, 1, 0, 1);
		s.ds = s.es = s.fs = s.gs = s.ss = data;
		s.tr = seg(SEL_TSS, TSS_ADDR, 0x67, 0xb, 0, 0, 0, 0);
		if (mode == 32) {
			s.cs = seg(SEL_CODE32, 0, 0xffffffff, 0xb, 1, 1, 0, 1);
			s.idt.base = IDT32_ADDR;
			s.idt.limit = 0x7ff;
			s.cr0 = 0x31; /* PE ET NE */
			s.cr3 = 0;
			s.cr4 = 0;
			s.efer = 0;
		} else {
			s.cs = seg(SEL_CODE64, 0, 0xffffffff, 0xb, 1, 0, 1, 1);
			s.idt.base = IDT64_ADDR;
			s.idt.limit = 0xfff;
			s.cr0 = 0x80010031; /* PG WP NE ET PE */
			s.cr3 = PML4_ADDR;
			s.cr4 = 0x20;       /* PAE */
			s.efer = 0x500;     /* LME LMA */
		}
	}
	return ioctl(vcpu_fd, KVM_SET_SREGS, &s);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* GPRs in encoding order (rax rcx rdx rbx rsp rbp rsi rdi r8..r15). */
static void regs_to_enc(const struct kvm_regs *r, uint64_t g[16])
{
	g[0] = r->rax; g[1] = r->rcx; g[2] = r->rdx; g[3] = r->rbx;
	g[4] = r->rsp; g[5] = r->rbp; g[6] = r->rsi; g[7] = r->rdi;
	g[8] = r->r8; g[9] = r->r9; g[10] = r->r10; g[11] = r->r11;
	g[12] = r->r12; g[13] = r->r13; g[14] = r->r14; g[15] = r->r15;
}

static void enc_to_regs(const uint64_t g[16], struct kvm_regs *r)
{
	r->rax = g[0]; r->rcx = g[1]; r->rdx = g[2]; r->rbx = g[3];
	r->rsp = g[4]; r->rbp = g[5]; r->rsi = g[6]; r->rdi = g[7];
	r->r8 = g[8]; r->r9 = g[9]; r->r10 = g[10]; r->r11 = g[11];
	r->r12 = g[12]; r->r13 = g[13]; r->r14 = g[14]; r->r15 = g[15];
}

static void print_state(const char *outcome, int vector, uint64_t rflags, const uint64_t g[16])
{
	if (vector >= 0)
		printf("%s %d %llx", outcome, vector, (unsigned long long)rflags);
	else
		printf("%s - %llx", outcome, (unsigned long long)rflags);
	for (int i = 0; i < 16; i++)
		printf(" %llx", (unsigned long long)g[i]);
	printf("\n");
}

static int has_error_code(int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_IO: return "io";
	case KVM_EXIT_MMIO: return "mmio";
	case KVM_EXIT_SHUTDOWN: return "shutdown (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "fail_entry";
	case KVM_EXIT_DEBUG: return "debug";
	case KVM_EXIT_EXCEPTION: return "exception";
	default: return "other";
	}
}

static void run_case(char *line)
{
	char *save = NULL;
	char *tok = strtok_r(line, " \t\r\n", &save);
	if (!tok) {
		printf("nooracle bad input: empty line\n");
		return;
	}
	int mode = atoi(tok);
	if (mode != 16 && mode != 32 && mode != 64) {
		printf("nooracle bad input: mode %s\n", tok);
		return;
	}
	uint64_t vals[17];
	for (int i = 0; i < 17; i++) {
		tok = strtok_r(NULL, " \t\r\n", &save);
		if (!tok) {
			printf("nooracle bad input: missing field %d\n", i + 2);
			return;
		}
		vals[i] = strtoull(tok, NULL, 16);
	}
	tok = strtok_r(NULL, " \t\r\n", &save);
	size_t hexlen = tok ? strlen(tok) : 0;
	if (!tok || hexlen % 2 || hexlen / 2 > CODE_MAX) {
		printf("nooracle bad input: code\n");
		return;
	}

	memcpy(mem, pristine, LOW_SIZE);
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = hexval(tok[2 * i]), lo = hexval(tok[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			printf("nooracle bad input: code hex\n");
			return;
		}
		mem[CODE_ADDR + i] = (uint8_t)(hi << 4 | lo);
	}

	struct kvm_vcpu_events ev;
	memset(&ev, 0, sizeof ev);
	(void)ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev);
	if (load_sregs(mode) < 0) {
		printf("nooracle KVM_SET_SREGS failed: %s\n", strerror(errno));
		return;
	}
	struct kvm_regs regs;
	memset(&regs, 0, sizeof regs);
	enc_to_regs(&vals[1], &regs);
	regs.rflags = (vals[0] & RFLAGS_INPUT_MASK) | RFLAGS_FIXED1;
	regs.rip = mode == 16 ? 0 : CODE_ADDR;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) {
		printf("nooracle KVM_SET_REGS failed: %s\n", strerror(errno));
		return;
	}

	timed_out = 0;
	run->immediate_exit = 0;
	struct itimerval it = { .it_interval = { 0, 0 },
				.it_value = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	int rc;
	for (;;) {
		rc = ioctl(vcpu_fd, KVM_RUN, 0);
		if (rc < 0 && errno == EINTR && !timed_out)
			continue;
		break;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	int err = errno;
	run->immediate_exit = 0;

	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		printf("nooracle KVM_GET_REGS/SREGS failed: %s\n", strerror(errno));
		return;
	}
	uint64_t g[16];
	regs_to_enc(&regs, g);
	uint64_t rip_lin = s.cs.base + regs.rip;

	if (rc < 0) {
		if (timed_out) {
			print_state("timeout", -1, regs.rflags & ~RFLAGS_RF, g);
			return;
		}
		printf("nooracle KVM_RUN failed: %s\n", strerror(err));
		return;
	}
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		printf("nooracle internal error suberror %u%s at rip %llx", run->internal.suberror,
		       run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "",
		       (unsigned long long)rip_lin);
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
		    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
			printf(" bytes ");
			for (int i = 0; i < run->emulation_failure.insn_size && i < 15; i++)
				printf("%02x", run->emulation_failure.insn_bytes[i]);
		}
		printf("\n");
		return;
	}
	if (run->exit_reason != KVM_EXIT_HLT) {
		printf("nooracle unexpected exit %u (%s) at rip %llx\n", run->exit_reason,
		       exit_name(run->exit_reason), (unsigned long long)rip_lin);
		return;
	}
	if (rip_lin >= CODE_ADDR + 1 && rip_lin <= CODE_ADDR + CODE_MAX) {
		print_state("hlt", -1, regs.rflags & ~RFLAGS_RF, g);
		return;
	}
	if (rip_lin < STUB_ADDR + 1 || rip_lin > STUB_ADDR + 256) {
		printf("nooracle hlt at unexpected rip %llx\n", (unsigned long long)rip_lin);
		return;
	}
	int vector = (int)(rip_lin - STUB_ADDR - 1);
	/* Undo the exception frame (SDM Vol.3 6.12.1, 6.14.2; real mode 20.1.4). */
	uint64_t flags;
	if (mode == 64) {
		uint64_t f = regs.rsp + (has_error_code(vector) ? 8 : 0);
		if (f + 40 > MEM_SIZE) {
			printf("nooracle exception %d with frame outside memory\n", vector);
			return;
		}
		flags = get64(f + 16);
		g[4] = get64(f + 24);
	} else if (mode == 32) {
		uint64_t f = (uint32_t)regs.rsp + (has_error_code(vector) ? 4 : 0);
		if (f + 12 > MEM_SIZE) {
			printf("nooracle exception %d with frame outside memory\n", vector);
			return;
		}
		flags = get32(f + 8);
		g[4] = (uint32_t)(f + 12);
	} else {
		uint64_t f = s.ss.base + (regs.rsp & 0xffff);
		if (f + 6 > MEM_SIZE) {
			printf("nooracle exception %d with frame outside memory\n", vector);
			return;
		}
		flags = (regs.rflags & ~(0xffffull | RFLAGS_AC)) | get16(f + 4);
		g[4] = (regs.rsp & ~0xffffull) | ((regs.rsp + 6) & 0xffff);
	}
	print_state("exception", vector, flags & ~RFLAGS_RF, g);
}

int main(int argc, char **argv)
{
	int probe = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--probe"))
			probe = 1;
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
			timeout_ms = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--probe] [--timeout-ms N] < cases\n", argv[0]);
			return 2;
		}
	}
	if (timeout_ms <= 0)
		timeout_ms = 2000;
	if (setup())
		return 1;
	printf("ready\n");
	fflush(stdout);
	if (probe)
		return 0;
	size_t cap = 0;
	char *line = NULL;
	while (getline(&line, &cap, stdin) > 0) {
		if (line[0] == '\n' || line[0] == '#')
			continue;
		run_case(line);
		fflush(stdout);
	}
	free(line);
	return 0;
}
