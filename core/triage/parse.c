/*
 * parse.c - xg_triage_parse(): pasted VMM and kernel output into vCPU blocks of raw facts.
 *
 * Lines are read one at a time after normalising them (CR dropped, HTML entities decoded,
 * mail quoting and log prefixes skipped); what a line says is found by the words in it, not
 * by where it starts, so prefixes and prompts do not matter. A header ("KVM internal error",
 * "entry failed", "kvm run failed", a VMM's message) opens a block; a register dump is
 * attached to the oldest header still waiting for one, because QEMU's vCPU threads print
 * their headers and dumps interleaved. Values wrapped onto the next line are joined back.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "triage/triage.h"

struct pstate {
	struct xg_triage *t;
	int pend[XG_TRIAGE_MAX_BLOCKS]; /* header blocks waiting for a register dump, FIFO */
	int npend;
	int dump;	 /* block the register lines go to, -1 none */
	int guest_state; /* inside dmesg dump_vmcs' "*** Guest State ***" */
	int last_header; /* the last block a header opened (for extra data lines) */
	int dangling;	 /* a register name ended the previous line without its value */
	int code_block;	 /* the block whose Code= line may continue on the next line */
	int km_seg;	 /* km's segment line whose flags continue on the next line */
	int line;
	int vendor; /* 0 none, 1 intel, 2 amd: from words in the whole text */
	char vendor_why[48];
	const char *qemu_kind; /* "qemu" or "qemu-kvm" */
	const char *rust_hint; /* a Rust VMM named anywhere in the text (its lines may not) */
};

/* ---- text helpers ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex digits at s (an optional 0x first); *end after them. Returns the digit count (0: none);
 * values beyond 64 bits keep their low 64 bits, and the count says how many there were. */
static int hexnum(const char *s, uint64_t *v, const char **end)
{
	int n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hexval((unsigned char)s[2]) >= 0)
		s += 2;
	*v = 0;
	while (hexval((unsigned char)*s) >= 0) {
		*v = *v << 4 | (uint64_t)hexval((unsigned char)*s);
		s++;
		n++;
	}
	if (end)
		*end = s;
	return n;
}

static const char *skipsp(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static int starts_ci(const char *s, const char *w)
{
	return strncasecmp(s, w, strlen(w)) == 0;
}

/* The text of an HTML entity at s (&lt; &gt; &amp; &quot; &apos; &#39;), its length in *n. */
static int entity(const char *s, size_t left, size_t *n)
{
	static const struct {
		const char *e;
		char c;
	} ents[] = {{"&lt;", '<'},    {"&gt;", '>'},   {"&amp;", '&'},	{"&quot;", '"'},
		    {"&apos;", '\''}, {"&#39;", '\''}, {"&#x27;", '\''}};

	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		size_t l = strlen(ents[i].e);
		if (left >= l && !strncmp(s, ents[i].e, l)) {
			*n = l;
			return ents[i].c;
		}
	}
	return 0;
}

/* A log prefix at s: "[ 123.456]" (dmesg), "[2023-08-30T21:14:46.959Z]" (CI logs),
 * "2024-01-13T15:24:36.513851Z " (QEMU -msg timestamp=on), "Sep  8 22:52:20 host kernel: "
 * (syslog), "(qemu) ". Returns its length, 0 if none. */
static size_t log_prefix(const char *s)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	const char *p;

	if (s[0] == '[') {
		p = s + 1;
		while (*p == ' ')
			p++;
		if (isdigit((unsigned char)*p)) {
			while (*p && *p != ']' &&
			       (isdigit((unsigned char)*p) || strchr(".:-TZ+ ", *p)))
				p++;
			if (*p == ']')
				return (size_t)(p + 1 - s);
		}
		return 0;
	}
	if (isdigit((unsigned char)s[0]) && strlen(s) > 20 && s[4] == '-' && s[7] == '-' &&
	    s[10] == 'T') {
		p = s;
		while (*p && *p != ' ')
			p++;
		return (size_t)(p - s);
	}
	for (int m = 0; m < 12; m++)
		if (!strncmp(s, months[m], 3) && s[3] == ' ') {
			p = strstr(s, " kernel: ");
			if (p && p - s < 48)
				return (size_t)(p + 9 - s);
		}
	if (!strncmp(s, "(qemu) ", 7))
		return 7;
	if (!strncmp(s, "kvm_intel: ", 11))
		return 11;
	if (!strncmp(s, "kvm_amd: ", 9))
		return 9;
	return 0;
}

/* One input line into out: entities decoded, CR/NUL/controls dropped, tabs as spaces,
 * leading mail quoting and log prefixes skipped. */
static void normalize(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t el;
		int e = c == '&' ? entity(in + i, n - i, &el) : 0;
		if (e) {
			out[o++] = (char)e;
			i += el - 1;
		} else if (c == '\t') {
			out[o++] = ' ';
		} else if (c >= 0x20 || c >= 0x80) {
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
	for (;;) {
		char *s = out;
		size_t skip;
		while (*s == ' ')
			s++;
		if (*s == '>' || *s == '|') {
			s++;
			memmove(out, s, strlen(s) + 1);
			continue;
		}
		skip = log_prefix(s);
		if (!skip) {
			memmove(out, s, strlen(s) + 1);
			break;
		}
		memmove(out, s + skip, strlen(s + skip) + 1);
	}
	for (size_t l = strlen(out); l && (out[l - 1] == ' '); l--)
		out[l - 1] = 0;
}

/* ---- blocks ---- */

static int new_block(struct pstate *ps, enum xg_tri_exit exit, const char *vmm, const char *line)
{
	struct xg_triage *t = ps->t;
	struct xg_tri_block *b;

	if (t->nblocks >= XG_TRIAGE_MAX_BLOCKS) {
		t->truncated = 1;
		return -1;
	}
	b = &t->b[t->nblocks];
	memset(b, 0, sizeof(*b));
	b->first_line = b->last_line = ps->line;
	b->exit = exit;
	b->vmm = vmm;
	b->arch = -1;
	b->suberror = -1;
	b->cpu = -1;
	b->vcpu = -1;
	b->marker = -1;
	snprintf(b->message, sizeof(b->message), "%s", skipsp(line));
	return t->nblocks++;
}

static struct xg_tri_block *blk(struct pstate *ps, int i)
{
	return i >= 0 && i < ps->t->nblocks ? &ps->t->b[i] : NULL;
}

static void touch(struct pstate *ps, int i)
{
	struct xg_tri_block *b = blk(ps, i);
	if (b)
		b->last_line = ps->line;
}

/* A header that waits for its register dump. */
static int header(struct pstate *ps, enum xg_tri_exit exit, const char *vmm, const char *line)
{
	int i = new_block(ps, exit, vmm, line);

	if (i >= 0 && ps->npend < XG_TRIAGE_MAX_BLOCKS)
		ps->pend[ps->npend++] = i;
	ps->last_header = i;
	return i;
}

/* The block a register dump starting on this line belongs to. */
static int start_dump(struct pstate *ps, const char *line)
{
	int i;

	if (ps->npend > 0) {
		i = ps->pend[0];
		if (ps->npend > 1)
			ps->t->b[i].ambiguous_dump = 1;
		memmove(ps->pend, ps->pend + 1, (size_t)(ps->npend - 1) * sizeof(ps->pend[0]));
		ps->npend--;
	} else {
		i = new_block(ps, XG_TX_NONE, NULL, line);
	}
	ps->dump = i;
	return i;
}

/* ---- registers ---- */

struct regname {
	const char *name;
	int slot;
	int wide; /* 1: a 64-bit name */
};

static const struct regname x86_names[] = {
    {"RAX", XG_TR_RAX, 1},    {"RBX", XG_TR_RBX, 1}, {"RCX", XG_TR_RCX, 1},
    {"RDX", XG_TR_RDX, 1},    {"RSI", XG_TR_RSI, 1}, {"RDI", XG_TR_RDI, 1},
    {"RBP", XG_TR_RBP, 1},    {"RSP", XG_TR_RSP, 1}, {"R8", XG_TR_R8, 1},
    {"R9", XG_TR_R9, 1},      {"R10", XG_TR_R10, 1}, {"R11", XG_TR_R11, 1},
    {"R12", XG_TR_R12, 1},    {"R13", XG_TR_R13, 1}, {"R14", XG_TR_R14, 1},
    {"R15", XG_TR_R15, 1},    {"RIP", XG_TR_RIP, 1}, {"RFL", XG_TR_RFL, 1},
    {"RFLAGS", XG_TR_RFL, 1}, {"EAX", XG_TR_RAX, 0}, {"EBX", XG_TR_RBX, 0},
    {"ECX", XG_TR_RCX, 0},    {"EDX", XG_TR_RDX, 0}, {"ESI", XG_TR_RSI, 0},
    {"EDI", XG_TR_RDI, 0},    {"EBP", XG_TR_RBP, 0}, {"ESP", XG_TR_RSP, 0},
    {"EIP", XG_TR_RIP, 0},    {"EFL", XG_TR_RFL, 0}, {"EFLAGS", XG_TR_RFL, 0},
    {"FLAGS", XG_TR_RFL, 1}, /* kvmtool: " rip: %016lx   rsp: %016lx flags: %016lx" */
    {"CR0", XG_TR_CR0, 0},    {"CR2", XG_TR_CR2, 0}, {"CR3", XG_TR_CR3, 0},
    {"CR4", XG_TR_CR4, 0},    {"CR8", XG_TR_CR8, 0}, {"EFER", XG_TR_EFER, 0},
    {"CPL", XG_TR_CPL, 0},    {"SMM", XG_TR_SMM, 0}, {"HLT", XG_TR_HLT, 0},
    {"PC", XG_TR_PC, 0},      {"SP", XG_TR_SP, 0},   {"PSTATE", XG_TR_PSTATE, 0},
};

static int reg_slot(const char *name, size_t n, int *wide)
{
	char up[12];

	if (n == 0 || n >= sizeof(up))
		return -1;
	for (size_t i = 0; i < n; i++)
		up[i] = (char)toupper((unsigned char)name[i]);
	up[n] = 0;
	/* arm64 X00..X30 */
	if (up[0] == 'X' && n >= 2 && n <= 3 && isdigit((unsigned char)up[1]) &&
	    (n == 2 || isdigit((unsigned char)up[2]))) {
		int x = atoi(up + 1);
		*wide = 1;
		return x <= 30 ? XG_TR_X0 + x : -1;
	}
	for (size_t i = 0; i < sizeof(x86_names) / sizeof(x86_names[0]); i++)
		if (!strcmp(up, x86_names[i].name)) {
			*wide = x86_names[i].wide;
			return x86_names[i].slot;
		}
	return -1;
}

static void set_reg(struct pstate *ps, int slot, uint64_t v, int wide, int digits)
{
	struct xg_tri_block *b = blk(ps, ps->dump);

	if (!b || slot < 0)
		return;
	b->reg[slot] = v;
	b->have[slot] = 1;
	b->have_regs = 1;
	if (wide || digits == 16)
		b->regs_wide = 1;
	if (slot >= XG_TR_PC)
		b->arch = 1;
	else if (slot != XG_TR_SMM && slot != XG_TR_HLT && slot != XG_TR_CPL)
		b->arch = 0;
	touch(ps, ps->dump);
}

static const char *const seg_names[XG_TS_COUNT] = {"ES", "CS", "SS", "DS", "FS", "GS", "LDT", "TR"};

static int seg_index(const char *s, size_t n)
{
	for (int i = 0; i < XG_TS_COUNT; i++)
		if (strlen(seg_names[i]) == n && !strncasecmp(s, seg_names[i], n))
			return i;
	return -1;
}

static struct xg_tri_segreg *seg_of(struct pstate *ps, int i)
{
	struct xg_tri_block *b = blk(ps, ps->dump);

	if (!b || i < 0)
		return NULL;
	touch(ps, ps->dump);
	b->have_regs = 1;
	return &b->seg[i];
}

/* QEMU: "CS =0010 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]". */
static int qemu_segment(struct pstate *ps, const char *s)
{
	const char *p = s, *e;
	uint64_t w[4];
	int nw = 0, si;

	while (isalpha((unsigned char)*p))
		p++;
	si = seg_index(s, (size_t)(p - s));
	if (si < 0)
		return 0;
	p = skipsp(p);
	if (*p != '=')
		return 0;
	p++;
	while (nw < 4) {
		p = skipsp(p);
		if (!hexnum(p, &w[nw], &e) || (*e && *e != ' '))
			break;
		nw++;
		p = e;
	}
	if (nw < 1)
		return 0;
	struct xg_tri_segreg *sr = seg_of(ps, si);
	if (!sr)
		return 1;
	sr->have = 1;
	sr->sel = (uint16_t)w[0];
	if (nw >= 2)
		sr->base = w[1];
	if (nw >= 3)
		sr->limit = (uint32_t)w[2];
	if (nw >= 4) {
		sr->flags = (uint32_t)w[3];
		sr->have_flags = 1;
		/* target/i386/cpu-dump.c cpu_dump_seg_cache(): the DPL and type words follow
		 * only when CR0.PE=1 and the segment is present (P, flags bit 15). A flags word
		 * cut short (fewer than 8 digits) says nothing. */
		const char *q = skipsp(p);
		if ((sr->flags & 0x8000u) && p - s >= 8 && p[-1] != ' ') {
			const char *f = p;
			while (f > s && f[-1] != ' ')
				f--;
			struct xg_tri_block *b = blk(ps, ps->dump);
			if (b && p - f == 8) {
				if (*q)
					b->seg_words++;
				else
					b->seg_bare++;
			}
		}
	}
	return 1;
}

/* Descriptor-table lines: "GDT=     ffff800001415000 00000fff" (QEMU), "gdt a25000/1f"
 * (qemu-kvm 0.12). */
static int table_line(struct pstate *ps, const char *s)
{
	int idt = starts_ci(s, "IDT");
	uint64_t base, limit;
	const char *p = s + 3, *e;

	if (!idt && !starts_ci(s, "GDT"))
		return 0;
	p = skipsp(p);
	if (*p == '=')
		p = skipsp(p + 1);
	if (!hexnum(p, &base, &e))
		return 0;
	p = e;
	if (*p == '/')
		p++;
	p = skipsp(p);
	if (!hexnum(p, &limit, &e))
		return 0;
	if (blk(ps, ps->dump)) {
		set_reg(ps, idt ? XG_TR_IDTB : XG_TR_GDTB, base, 0, 0);
		set_reg(ps, idt ? XG_TR_IDTL : XG_TR_GDTL, limit, 0, 0);
	}
	return 1;
}

/* qemu-kvm 0.12: "cs 0008 (00000000/ffffffff p 1 dpl 0 db 0 s 1 type b l 1 g 1 avl 0)". */
static int lower_segment(struct pstate *ps, const char *s)
{
	const char *p = s, *e;
	uint64_t sel, base, limit, v;
	int si;
	uint32_t flags = 0;

	while (isalpha((unsigned char)*p))
		p++;
	si = seg_index(s, (size_t)(p - s));
	if (si < 0 || islower((unsigned char)s[0]) == 0)
		return 0;
	p = skipsp(p);
	if (!hexnum(p, &sel, &e) || *skipsp(e) != '(')
		return 0;
	p = skipsp(e) + 1;
	if (!hexnum(p, &base, &e) || *e != '/')
		return 0;
	if (!hexnum(e + 1, &limit, &e))
		return 0;
	struct xg_tri_segreg *sr = seg_of(ps, si);
	if (!sr)
		return 1;
	sr->have = 1;
	sr->sel = (uint16_t)sel;
	sr->base = base;
	sr->limit = (uint32_t)limit;
	static const struct {
		const char *k;
		int shift, width;
	} f[] = {{"type", 8, 4}, {"s", 12, 1}, {"dpl", 13, 2}, {"p", 15, 1},
		 {"avl", 20, 1}, {"l", 21, 1}, {"db", 22, 1},  {"g", 23, 1}};
	p = e;
	while (*p && *p != ')') {
		p = skipsp(p);
		const char *k = p;
		while (isalpha((unsigned char)*p))
			p++;
		size_t kl = (size_t)(p - k);
		p = skipsp(p);
		if (!kl || !hexnum(p, &v, &e))
			break;
		p = e;
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (strlen(f[i].k) == kl && !strncmp(k, f[i].k, kl))
				flags |= (uint32_t)(v & ((1u << f[i].width) - 1)) << f[i].shift;
	}
	sr->flags = flags;
	sr->have_flags = 1;
	return 1;
}

/* kvmtool's print_segment(): " cs        0010      0000000000000000  ffffffff  0b    1 0   0  1 1 1
 * 0" (selector, base, limit, type, then p dpl db s l g avl). */
static int kvmtool_segment(struct pstate *ps, const char *s)
{
	const char *p = s, *e;
	uint64_t w[4], v;
	int si, d;
	static const int shift[7] = {15, 13, 22, 12, 21, 23, 20}; /* p dpl db s l g avl */
	uint32_t flags;

	while (isalpha((unsigned char)*p))
		p++;
	si = seg_index(s, (size_t)(p - s));
	if (si < 0 || !islower((unsigned char)s[0]) || *p != ' ')
		return 0;
	for (int k = 0; k < 4; k++) {
		p = skipsp(p);
		if (!hexnum(p, &w[k], &e) || (*e && *e != ' '))
			return 0;
		p = e;
	}
	flags = (uint32_t)(w[3] & 0xf) << 8;
	for (int k = 0; k < 7; k++) {
		p = skipsp(p);
		d = hexnum(p, &v, &e);
		if (d != 1)
			return 0;
		flags |= (uint32_t)(v & (k == 1 ? 3 : 1)) << shift[k];
		p = e;
	}
	struct xg_tri_segreg *sr = seg_of(ps, si);
	if (!sr)
		return 1;
	sr->have = sr->have_flags = 1;
	sr->sel = (uint16_t)w[0];
	sr->base = w[1];
	sr->limit = (uint32_t)w[2];
	sr->flags = flags;
	return 1;
}

/* KVM's dump_vmcs (dmesg): "CS:   sel=0xffff, attr=0x000f3, limit=0x0000ffff, base=0x...".
 * attr is the VMX access-rights format (SDM Vol. 3C 25.4.1, Table 25-2): bits 7:0 as the
 * descriptor's bits 15:8, bits 15:12 as its bits 23:20, bit 16 "unusable". */
static int vmcs_segment(struct pstate *ps, const char *s)
{
	const char *p = s, *q;
	uint64_t v;
	int si;

	while (isalpha((unsigned char)*p))
		p++;
	si = seg_index(s, (size_t)(p - s));
	if (si < 0 || *p != ':' || !strstr(p, "sel="))
		return 0;
	struct xg_tri_segreg *sr = seg_of(ps, si);
	if (!sr)
		return 1;
	sr->have = 1;
	if ((q = strstr(p, "sel=")) && hexnum(q + 4, &v, NULL))
		sr->sel = (uint16_t)v;
	if ((q = strstr(p, "attr=")) && hexnum(q + 5, &v, NULL)) {
		sr->flags = (uint32_t)((v & 0xff) << 8 | (v & 0xf000) << 8);
		sr->have_flags = 1;
	}
	if ((q = strstr(p, "limit=")) && hexnum(q + 6, &v, NULL))
		sr->limit = (uint32_t)v;
	if ((q = strstr(p, "base=")) && hexnum(q + 5, &v, NULL))
		sr->base = v;
	return 1;
}

/* km: "CS  base: 0x7fffeed269c6     limit:0xfffffff selector: 0x8 type: 0xb present: 0x1",
 * then "    dpl:0x0 db:0x0 s:0x1 l:0x1 g:0x1 avl:0x0 unusable:0x0". */
static int km_segment(struct pstate *ps, const char *s)
{
	static const struct {
		const char *k;
		int shift, width;
	} f[] = {{"type:", 8, 4}, {"s:", 12, 1}, {"dpl:", 13, 2}, {"present:", 15, 1},
		 {"avl:", 20, 1}, {"l:", 21, 1}, {"db:", 22, 1},  {"g:", 23, 1}};
	const char *p = s;
	uint64_t v;
	int si = -1, cont = 0;
	struct xg_tri_segreg *sr;

	while (isalpha((unsigned char)*p))
		p++;
	if (*skipsp(p) == 'b' && !strncmp(skipsp(p), "base:", 5))
		si = seg_index(s, (size_t)(p - s));
	else if (!strncmp(s, "dpl:", 4) && ps->km_seg >= 0)
		cont = 1;
	if (si < 0 && !cont)
		return 0;
	if (!cont)
		ps->km_seg = si;
	sr = seg_of(ps, ps->km_seg);
	if (!sr)
		return 1;
	sr->have = 1;
	sr->have_flags = 1;
	const char *q;
	if (!cont) {
		if ((q = strstr(s, "base:")) && hexnum(skipsp(q + 5), &v, NULL))
			sr->base = v;
		if ((q = strstr(s, "limit:")) && hexnum(skipsp(q + 6), &v, NULL))
			sr->limit = (uint32_t)v;
		if ((q = strstr(s, "selector:")) && hexnum(skipsp(q + 9), &v, NULL))
			sr->sel = (uint16_t)v;
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		for (q = s; (q = strstr(q, f[i].k)); q++) {
			if (q > s && isalpha((unsigned char)q[-1]))
				continue;
			if (hexnum(skipsp(q + strlen(f[i].k)), &v, NULL))
				sr->flags |= (uint32_t)(v & ((1u << f[i].width) - 1)) << f[i].shift;
			break;
		}
	}
	return 1;
}

/* dump_vmcs: "CR0: actual=0x0000000080010031, shadow=0x00000000e0000031, gh_mask=fff...7":
 * the guest reads the shadow for the bits in the mask (SDM Vol. 3C 25.6.6). */
static int vmcs_cr(struct pstate *ps, const char *s)
{
	const char *a = strstr(s, "actual="), *sh = strstr(s, "shadow="),
		   *m = strstr(s, "gh_mask=");
	uint64_t act, shadow, mask;
	int slot = starts_ci(s, "CR0:") ? XG_TR_CR0 : starts_ci(s, "CR4:") ? XG_TR_CR4 : -1;

	if (slot < 0 || !a || !sh || !m || !hexnum(a + 7, &act, NULL) ||
	    !hexnum(sh + 7, &shadow, NULL) || !hexnum(m + 8, &mask, NULL))
		return 0;
	set_reg(ps, slot, (act & ~mask) | (shadow & mask), 1, 16);
	return 1;
}

/* NAME=value / NAME: value / NAME = value pairs anywhere in the line (QEMU, km, kvmtool,
 * dump_vmcs). `spaced` also takes "name value" (qemu-kvm 0.12's lowercase dump). */
static void reg_tokens(struct pstate *ps, const char *s, int spaced)
{
	const char *p = s;

	while (*p) {
		if (!isalpha((unsigned char)*p) || (p > s && isalnum((unsigned char)p[-1]))) {
			p++;
			continue;
		}
		const char *n = p, *e;
		while (isalnum((unsigned char)*p))
			p++;
		size_t nl = (size_t)(p - n);
		int wide = 0, slot = reg_slot(n, nl, &wide);
		const char *v = skipsp(p);
		int sep = *v == '=' || *v == ':';
		if (sep)
			v = skipsp(v + 1);
		if (slot < 0 || (!sep && !(spaced && v > p)))
			continue;
		if (!*v && !sep && spaced) {
			ps->dangling = slot; /* "rdx" at the end: the value is on the next line */
			continue;
		}
		uint64_t val;
		int digits = hexnum(v, &val, &e);
		if (!digits || (*e && *e != ' ' && *e != ',' && *e != ']'))
			continue;
		/* CPL=, SMM=, HLT= are flags; everything else is a hex register */
		set_reg(ps, slot, val, wide, digits);
		p = e;
	}
}

/* "Code=cb 66 ... <0f> aa ..." with "??" for bytes QEMU could not read. Returns bytes read. */
static int code_bytes(struct xg_tri_block *b, const char *p)
{
	int n = 0;

	while (*p && b->ncode < XG_TRIAGE_MAX_CODE) {
		p = skipsp(p);
		int mark = 0;
		if (*p == '<' || *p == '[') {
			mark = 1;
			p++;
		}
		if (p[0] == '?' && p[1] == '?') {
			b->code_known[b->ncode] = 0;
			b->code[b->ncode] = 0;
		} else if (hexval((unsigned char)p[0]) >= 0 && hexval((unsigned char)p[1]) >= 0) {
			b->code[b->ncode] = (uint8_t)(hexval((unsigned char)p[0]) << 4 |
						      hexval((unsigned char)p[1]));
			b->code_known[b->ncode] = 1;
		} else {
			break;
		}
		p += 2;
		if (mark) {
			if (*p != '>' && *p != ']')
				break;
			p++;
			b->marker = b->ncode;
		}
		if (*p && *p != ' ')
			break;
		b->ncode++;
		n++;
	}
	return n;
}

/* A line that is nothing but code bytes (a wrapped Code= line going on). */
static int only_code_bytes(const char *p)
{
	int n = 0;

	for (;;) {
		p = skipsp(p);
		if (!*p)
			return n;
		if (*p == '<' || *p == '[')
			p++;
		if (!((p[0] == '?' && p[1] == '?') ||
		      (hexval((unsigned char)p[0]) >= 0 && hexval((unsigned char)p[1]) >= 0)))
			return 0;
		p += 2;
		if (*p == '>' || *p == ']')
			p++;
		if (*p && *p != ' ')
			return 0;
		n++;
	}
}

/* km: "0x7fffff5c5f40    : 0x55 0x48 0x89 0xe5 ..." - the bytes at an address. */
static int km_bytes(struct pstate *ps, const char *s)
{
	uint64_t addr, v;
	const char *p, *e;
	struct xg_tri_block *b = blk(ps, ps->dump);

	if (strncmp(s, "0x", 2) || !hexnum(s, &addr, &e) || *skipsp(e) != ':' || !b)
		return 0;
	p = skipsp(e) + 1;
	int n = 0;
	while (*(p = skipsp(p)) && b->ncode < XG_TRIAGE_MAX_CODE) {
		if (strncmp(p, "0x", 2) || hexnum(p, &v, &e) != 2)
			break;
		b->code[b->ncode] = (uint8_t)v;
		b->code_known[b->ncode++] = 1;
		p = e;
		n++;
	}
	if (n && (!b->have[XG_TR_RIP] || b->reg[XG_TR_RIP] == addr) && b->marker < 0)
		b->marker = b->ncode - n;
	touch(ps, ps->dump);
	return n > 0;
}

/* ---- headers ---- */

static const char *after(const char *s, const char *w)
{
	const char *p = strstr(s, w);
	return p ? p + strlen(w) : NULL;
}

static const char *rust_vmm(const char *s)
{
	if (strstr(s, "cloud-hypervisor") || strstr(s, "vmm/src/cpu.rs"))
		return "cloud-hypervisor";
	if (strstr(s, "fc_vcpu") || strstr(s, "firecracker") || strstr(s, "vstate/vcpu"))
		return "firecracker";
	if (strstr(s, "crosvm"))
		return "crosvm";
	if (strstr(s, "krun_vmm") || strstr(s, "libkrun"))
		return "libkrun";
	if (strstr(s, "uhyve"))
		return "uhyve";
	return NULL;
}

static int vcpu_number(const char *s, const char *w)
{
	const char *p = after(s, w);
	return p && isdigit((unsigned char)*skipsp(p)) ? atoi(skipsp(p)) : -1;
}

/* A line that opens a block; returns 1 if it was one. */
static int header_line(struct pstate *ps, const char *s)
{
	const char *p;
	uint64_t v;
	int i;
	struct xg_tri_block *b;

	if ((p = after(s, "KVM internal error."))) {
		/* QEMU's kvm_handle_internal_error(); "Suberror: %d" */
		const char *q = after(p, "Suberror:");
		i = header(ps, XG_TX_INTERNAL, ps->qemu_kind, s);
		if ((b = blk(ps, i)) && q && isdigit((unsigned char)*skipsp(q)))
			b->suberror = atoi(skipsp(q));
		return 1;
	}
	if ((p = after(s, "entry failed, hardware error"))) {
		/* QEMU's KVM_EXIT_FAIL_ENTRY on x86: "KVM: entry failed, hardware error 0x%" */
		i = header(ps, XG_TX_FAIL_ENTRY, "qemu", s);
		if ((b = blk(ps, i)) && hexnum(skipsp(p), &v, NULL)) {
			b->hw_error = v;
			b->have_hw_error = 1;
		}
		return 1;
	}
	if ((p = after(s, "kvm run failed"))) {
		/* QEMU's kvm_cpu_exec(): "error: kvm run failed %s" (strerror of KVM_RUN) */
		i = header(ps, XG_TX_RUN_FAILED, "qemu", s);
		if ((b = blk(ps, i)))
			snprintf(b->err, sizeof(b->err), "%s", skipsp(p));
		return 1;
	}
	if ((p = strstr(s, "(os error ")) &&
	    (strstr(s, "vcpu run") || strstr(s, "run vcpu") || strstr(s, "KVM_RUN") ||
	     strstr(s, "VcpuRun"))) {
		/* A Rust VMM's KVM_RUN errno through std::io::Error's Display, "<strerror> (os
		 * error <n>)": libkrun "Failure during vcpu run: Bad address (os error 14)" */
		const char *q = p;
		while (q > s && !(q[-1] == ' ' && q - 1 > s && q[-2] == ':'))
			q--;
		i = header(ps, XG_TX_RUN_FAILED, rust_vmm(s) ? rust_vmm(s) : ps->rust_hint, s);
		if ((b = blk(ps, i))) {
			int n = (int)(p - q);
			while (n > 0 && q[n - 1] == ' ')
				n--;
			snprintf(b->err, sizeof(b->err), "%.*s", n, q);
		}
		return 1;
	}
	if ((p = after(s, "kvm: unhandled exit"))) {
		/* qemu-kvm: "kvm: unhandled exit %x" then "kvm_run returned %d" */
		uint64_t r;
		i = header(ps, XG_TX_FAIL_ENTRY, "qemu-kvm", s);
		if ((b = blk(ps, i)) && hexnum(skipsp(p), &r, NULL)) {
			if (r & 0x80000000u) {
				b->hw_error = r; /* a VMX entry failure (exit reason bit 31) */
				b->have_hw_error = 1;
			} else {
				b->exit = XG_TX_EXIT_REASON;
				b->exit_number = r;
			}
		}
		return 1;
	}
	if ((p = after(s, "hardware_entry_failure_reason ="))) {
		/* dosemu2: "ERROR: KVM_EXIT_FAIL_ENTRY: hardware_entry_failure_reason = 0x%llx" */
		i = header(ps, XG_TX_FAIL_ENTRY, strstr(s, "ERROR: KVM_EXIT") ? "dosemu2" : NULL,
			   s);
		if ((b = blk(ps, i)) && hexnum(skipsp(p), &v, NULL)) {
			b->hw_error = v;
			b->have_hw_error = 1;
		}
		return 1;
	}
	if ((p = after(s, "FailEntry("))) {
		/* rust-vmm kvm-ioctls VcpuExit::FailEntry(hardware_entry_failure_reason, cpu) */
		if (ps->last_header >= 0 && blk(ps, ps->last_header)->exit == XG_TX_FAIL_ENTRY &&
		    ps->line - blk(ps, ps->last_header)->last_line <= 3) {
			touch(ps, ps->last_header);
			return 1;
		}
		i = header(ps, XG_TX_FAIL_ENTRY, rust_vmm(s) ? rust_vmm(s) : ps->rust_hint, s);
		if ((b = blk(ps, i))) {
			/* Rust's Debug prints the numbers in decimal */
			char *e;
			p = skipsp(p);
			if (isdigit((unsigned char)*p)) {
				b->hw_error = strtoull(p, &e, 10);
				b->have_hw_error = 1;
				p = skipsp(e);
				if (*p == ',' && isdigit((unsigned char)*skipsp(p + 1))) {
					b->cpu = atoi(skipsp(p + 1));
					b->have_cpu = 1;
				}
			}
			b->vcpu = vcpu_number(s, "<vcpu");
		}
		return 1;
	}
	if (strstr(s, "Received KVM_EXIT_INTERNAL_ERROR")) {
		/* Firecracker: "Received KVM_EXIT_INTERNAL_ERROR signal" */
		i = header(ps, XG_TX_INTERNAL, rust_vmm(s), s);
		if ((b = blk(ps, i)))
			b->vcpu = vcpu_number(s, "fc_vcpu");
		return 1;
	}
	if ((p = after(s, "km: KVM_EXIT_"))) {
		/* Kontain km: "km: KVM_EXIT_FAIL_ENTRY" then its register dump */
		header(ps,
		       !strncmp(p, "FAIL_ENTRY", 10)	   ? XG_TX_FAIL_ENTRY
		       : !strncmp(p, "INTERNAL_ERROR", 14) ? XG_TX_INTERNAL
		       : !strncmp(p, "SHUTDOWN", 8)	   ? XG_TX_SHUTDOWN
							   : XG_TX_EXIT_REASON,
		       "km", s);
		return 1;
	}
	if ((p = after(s, "KVM exit reason:")) || (p = after(s, "unexpected kvm exit reason")) ||
	    (p = after(s, "Unexpected exit reason on vcpu run:")) ||
	    (p = after(s, "kvm_run_exit cpu_index"))) {
		/* kvmtool "KVM exit reason: %u (\"%s\")", other VMMs' "unexpected exit reason N",
		 * QEMU's kvm_run_exit trace event "cpu_index %d, reason %d" */
		int trace = strstr(s, "kvm_run_exit") != NULL;
		int vc = -1;
		if (trace) {
			vc = isdigit((unsigned char)*skipsp(p)) ? atoi(skipsp(p)) : -1;
			p = after(p, "reason");
			if (!p)
				return 0;
		}
		p = skipsp(p);
		if (!isdigit((unsigned char)*p))
			return 0; /* a name without a number (rust-vmm Debug): not this form */
		unsigned long r = strtoul(p, NULL, 10);
		if (trace && (r == 2 || r == 6 || r == 5 || r == 7 || r == 10))
			return 1; /* io, mmio, hlt, irq window, intr: the normal run */
		i = header(ps,
			   r == 8    ? XG_TX_SHUTDOWN
			   : r == 9  ? XG_TX_FAIL_ENTRY
			   : r == 17 ? XG_TX_INTERNAL
				     : XG_TX_EXIT_REASON,
			   trace						? "qemu"
			   : strstr(s, "lkvm") || strstr(s, "KVM exit reason:") ? "kvmtool"
										: rust_vmm(s),
			   s);
		if ((b = blk(ps, i))) {
			b->exit_number = r;
			b->vcpu = vc;
		}
		return 1;
	}
	if ((p = after(s, "unhandled rdmsr:")) || (p = after(s, "unhandled wrmsr:"))) {
		/* kvm_pr_unimpl: "kvm [%i]: vcpu%i, guest rIP: 0x%lx unhandled rdmsr: 0x%x" */
		int wr = strstr(s, "wrmsr") != NULL, vc = vcpu_number(s, "vcpu");
		const char *e;
		uint64_t msr, data = 0, rip = 0;
		if (!hexnum(skipsp(p), &msr, &e))
			return 0;
		if (wr && (e = after(e, "data")))
			hexnum(skipsp(e), &data, NULL);
		if ((e = after(s, "rIP:")))
			hexnum(skipsp(e), &rip, NULL);
		b = blk(ps, ps->last_header);
		if (!b || b->exit != XG_TX_MSR || b->vcpu != vc || ps->line - b->last_line > 2)
			b = blk(ps, new_block(ps, XG_TX_MSR, "kernel", s)),
			ps->last_header = ps->t->nblocks - 1;
		if (!b)
			return 1;
		b->vcpu = vc;
		b->arch = 0;
		if (b->nitems < XG_TRIAGE_MAX_ITEMS) {
			b->items[b->nitems].a = msr;
			b->items[b->nitems].b = data;
			b->items[b->nitems].rip = rip;
			b->items[b->nitems].write = (uint8_t)wr;
			b->nitems++;
		}
		b->last_line = ps->line;
		return 1;
	}
	if (strstr(s, "Data abort outside memslots with no valid syndrome info") ||
	    strstr(s, "load/store instruction decoding not implemented")) {
		/* arm64 KVM, io_mem_abort() without ISV and without KVM_CAP_ARM_NISV_TO_USER */
		i = new_block(ps, XG_TX_NISV, "kernel", s);
		if ((b = blk(ps, i)))
			b->arch = 1;
		ps->last_header = i;
		return 1;
	}
	if ((p = after(s, "kvm_exit:"))) {
		/* kvm_exit tracepoint: "reason %s rip 0x%lx info %llx %llx" (older) or
		 * "vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx ..." */
		const char *r = after(p, "reason");
		b = blk(ps, ps->last_header);
		if (!r)
			return 0;
		if (!b || b->exit != XG_TX_TRACE)
			b = blk(ps,
				new_block(ps, XG_TX_TRACE, rust_vmm(s) ? rust_vmm(s) : NULL, s)),
			ps->last_header = ps->t->nblocks - 1;
		if (!b)
			return 1;
		b->arch = 0;
		int k = b->nitems < XG_TRIAGE_MAX_ITEMS ? b->nitems++ : XG_TRIAGE_MAX_ITEMS - 1;
		r = skipsp(r);
		size_t n = strcspn(r, " ");
		snprintf(b->items[k].name, sizeof(b->items[k].name), "%.*s", (int)(n < 31 ? n : 31),
			 r);
		if ((r = after(p, "rip")))
			hexnum(skipsp(r), &b->items[k].rip, NULL);
		const char *e;
		if ((r = after(p, "info1")) || (r = after(p, "info"))) {
			hexnum(skipsp(r), &b->items[k].a, &e);
			if ((r = after(e, "info2")))
				hexnum(skipsp(r), &b->items[k].b, NULL);
			else
				hexnum(skipsp(e), &b->items[k].b, NULL);
		}
		b->last_line = ps->line;
		return 1;
	}
	if (strstr(s, "kvm_put_msrs: Assertion")) {
		/* QEMU asserts that KVM_SET_MSRS set every MSR it passed */
		i = header(ps, XG_TX_SET_STATE, "qemu", s);
		if ((b = blk(ps, i)))
			snprintf(b->err, sizeof(b->err), "KVM_SET_MSRS refused an MSR");
		return 1;
	}
	if ((p = strstr(s, "KVM_SET_")) && isupper((unsigned char)p[8])) {
		/* a VMM's "KVM_SET_SREGS: Invalid argument" / "KVM_SET_REGS failed: ..." */
		const char *q = p + 8;
		while (isupper((unsigned char)*q) || *q == '_' || isdigit((unsigned char)*q))
			q++;
		if (*q == ':' || !strncmp(q, " failed", 7)) {
			i = header(ps, XG_TX_SET_STATE, NULL, s);
			if ((b = blk(ps, i))) {
				q = *q == ':' ? q + 1 : q + 7;
				if (*q == ':')
					q++;
				snprintf(b->err, sizeof(b->err), "%s", skipsp(q));
			}
			return 1;
		}
	}
	if ((p = after(s, "Failed to put registers after init:")) ||
	    (p = after(s, "Failed to get registers:"))) {
		/* QEMU could not load (or read) the vCPU's state: the dump after it is what it
		 * tried to load */
		i = header(ps, XG_TX_SET_STATE, "qemu", s);
		if ((b = blk(ps, i)))
			snprintf(b->err, sizeof(b->err), "%s", skipsp(p));
		return 1;
	}
	if ((p = after(s, "last attempted VM-entry on CPU"))) {
		/* dump_vmcs' first line (kernel 5.13+): the guest state follows */
		i = new_block(ps, XG_TX_GUEST_STATE, "kernel", s);
		ps->dump = i;
		ps->guest_state = 1;
		if ((b = blk(ps, i))) {
			b->arch = 0;
			if (isdigit((unsigned char)*skipsp(p))) {
				b->cpu = atoi(skipsp(p));
				b->have_cpu = 1;
			}
		}
		return 1;
	}
	if (strstr(s, "*** Guest State ***")) {
		if ((b = blk(ps, ps->dump)) && b->exit == XG_TX_GUEST_STATE && ps->guest_state)
			return 1; /* the block the VMCS line opened */
		/* KVM's dump_vmcs() after a failed entry (vmx.c) */
		i = new_block(ps, XG_TX_GUEST_STATE, "kernel", s);
		ps->dump = i;
		ps->guest_state = 1;
		if ((b = blk(ps, i)))
			b->arch = 0;
		return 1;
	}
	return 0;
}

/* "extra data[%d]: 0x%016" PRIx64 (QEMU >= 2.x) or "extra data[%d]: %" PRIx64 (older). */
static int extra_data(struct pstate *ps, const char *s)
{
	const char *p = after(s, "extra data[");
	struct xg_tri_block *b = blk(ps, ps->last_header);
	uint64_t v;
	int idx;

	if (!p || !isdigit((unsigned char)*p))
		return 0;
	idx = atoi(p);
	p = strchr(p, ':');
	if (!p || !b || b->exit != XG_TX_INTERNAL)
		return 1;
	p = skipsp(p + 1);
	if (!hexnum(p, &v, NULL))
		return 1;
	if (idx >= 0 && idx < XG_TRIAGE_MAX_DATA && idx == b->ndata) {
		b->data[idx] = v;
		b->ndata++;
		if (strncmp(p, "0x", 2))
			b->data_bare = 1;
	}
	b->last_line = ps->line;
	return 1;
}

/* Words anywhere in the text that name the host CPU's vendor. The guest's CPUID vendor
 * ("AuthenticAMD" printed by a guest) is not one: QEMU's default models claim AMD anywhere. */
static void vendor_words(struct pstate *ps, const char *s)
{
	static const struct {
		const char *w;
		int v;
	} words[] = {
	    {"kvm_intel", 1},
	    {"kvm-intel", 1},
	    {"Intel(R) Xeon", 1},
	    {"Intel(R) Core", 1},
	    {"running a guest on an Intel machine", 1}, /* QEMU prints it on VMX hosts only */
	    {"kvm_amd", 2},
	    {"kvm-amd", 2},
	    {"AMD Ryzen", 2},
	    {"AMD EPYC", 2},
	    {"EPYC", 2},
	};
	if (ps->vendor)
		return;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(s, words[i].w)) {
			ps->vendor = words[i].v;
			snprintf(ps->vendor_why, sizeof(ps->vendor_why), "%s", words[i].w);
			return;
		}
}

static int first_gpr_line(const char *s)
{
	static const char *const starts[] = {"RAX=", "EAX=", "RAX:", "PC=", "rax "};

	if (!strncmp(s, "rip: ", 5) && strncmp(s, "rip: [<", 7))
		return 1; /* kvmtool's register dump opens with rip, rsp, flags */
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		const char *p = strstr(s, starts[i]);
		if (p && (p == s || !isalnum((unsigned char)p[-1])))
			return 1;
	}
	return 0;
}

static void one_line(struct pstate *ps, const char *s);

/* A report whose lines were joined into one (a web page or chat flattening the log: "KVM:
 * entry failed, hardware error 0xffffffff EAX=00000000 EBX=... EIP=00008000 ... SMM=1"):
 * when a QEMU header comes first, cut the line where QEMU's own lines begin and read each
 * piece as a line. Returns 1 if it did. */
static int split_joined(struct pstate *ps, const char *s)
{
	static const char *const heads[] = {"KVM internal error.", "entry failed, hardware error",
					    "kvm run failed"};
	static const char *const starts[] = {
	    "extra data[", "emulation failure", "EAX=", "RAX=", "ESI=", "RSI=", "R8 =",
	    "R12=",	   "EIP=",		"RIP=", "ES =", "CS =", "SS =", "DS =",
	    "FS =",	   "GS =",		"LDT=", "TR =", "GDT=", "IDT=", "CR0=",
	    "DR0=",	   "DR6=",		"EFER=", "Code=", "PC=",  "PSTATE="};
	const char *h = NULL;
	char buf[XG_TRIAGE_MAX_LINE * 2];
	size_t cut[64];
	int ncut = 0;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]) && !h; i++)
		h = strstr(s, heads[i]);
	if (!h)
		return 0;
	if (h > s && h[-1] == ' ')
		cut[ncut++] = (size_t)(h - s); /* registers of an earlier block before it */
	for (const char *p = h + 1; *p && ncut < 64; p++) {
		if (p[-1] != ' ')
			continue;
		for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
			if (!strncmp(p, starts[i], strlen(starts[i]))) {
				cut[ncut++] = (size_t)(p - s);
				break;
			}
	}
	if (!ncut)
		return 0;
	/* a dump line holds several registers: only cut where a new QEMU line would start,
	 * i.e. keep "EAX=.. EBX=.. ECX=.. EDX=.." together by cutting at the first of each
	 * run; the pieces then read as the lines QEMU printed, or close enough for the
	 * register tokens */
	size_t from = 0;
	for (int i = 0; i <= ncut; i++) {
		size_t to = i < ncut ? cut[i] : strlen(s);
		size_t n = to - from < sizeof(buf) - 1 ? to - from : sizeof(buf) - 1;
		memcpy(buf, s + from, n);
		while (n && buf[n - 1] == ' ')
			n--;
		buf[n] = 0;
		one_line(ps, buf);
		from = to;
	}
	return 1;
}

static void one_line(struct pstate *ps, const char *s)
{
	struct xg_tri_block *b;

	vendor_words(ps, s);
	if (strstr(s, "qemu-kvm"))
		ps->qemu_kind = "qemu-kvm";
	if (!*s)
		return;
	if (split_joined(ps, s))
		return;
	if (strstr(s, "*** Host State") || strstr(s, "*** Control State")) {
		ps->guest_state = 0;
		ps->dump = -1;
		return;
	}
	if (header_line(ps, s)) {
		ps->dangling = -1;
		ps->code_block = -1;
		return;
	}
	if (extra_data(ps, s))
		return;
	if (!strcmp(s, "emulation failure")) {
		if ((b = blk(ps, ps->last_header)) && b->exit == XG_TX_INTERNAL) {
			b->emulation_failure_line = 1;
			b->last_line = ps->line;
		}
		return;
	}
	if (!strncmp(s, "kvm_run returned", 16)) {
		if ((b = blk(ps, ps->last_header)))
			b->last_line = ps->line;
		return;
	}
	/* kvmtool: " Code:", " -----", " rip: [<%016lx>] sym", then the bytes with <..> at RIP */
	if (!strcmp(s, "Code:")) {
		ps->code_block = ps->dump >= 0 ? ps->dump : ps->t->nblocks - 1;
		ps->dump = -1;
		return;
	}
	if (ps->code_block >= 0 && (strspn(s, "-") == strlen(s) || !strncmp(s, "rip: [<", 7)))
		return;
	/* a wrapped Code= line going on */
	if (ps->code_block >= 0 && only_code_bytes(s)) {
		b = blk(ps, ps->code_block);
		if (b) {
			code_bytes(b, s);
			b->last_line = ps->line;
		}
		return;
	}
	ps->code_block = -1;
	/* a value wrapped onto its own line (qemu-kvm 0.12 wraps "rdx" / "00000000006a3c8a") */
	if (ps->dangling >= 0) {
		uint64_t v;
		const char *e;
		int d = hexnum(s, &v, &e);
		int slot = ps->dangling;
		ps->dangling = -1;
		if (d && (!*e || *e == ' ')) {
			set_reg(ps, slot, v, 1, d);
			s = skipsp(e);
			if (!*s)
				return;
		}
	}
	const char *code = strstr(s, "Code=");
	if (code) {
		if (!(b = blk(ps, ps->dump)))
			b = blk(ps, ps->t->nblocks - 1);
		if (b) {
			code_bytes(b, code + 5);
			b->last_line = ps->line;
			ps->code_block = (int)(b - ps->t->b);
		}
		ps->dump = -1;
		return;
	}
	if (strstr(s, "Sysenter") || strstr(s, "PDPTE") || strstr(s, "PDPTR"))
		return; /* dump_vmcs lines whose RSP/CS:RIP are not the guest's registers */
	if (first_gpr_line(s))
		start_dump(ps, s);
	else if ((strstr(s, "EIP=") || strstr(s, "RIP=")) &&
		 (ps->dump < 0 || blk(ps, ps->dump)->have[XG_TR_RIP]))
		start_dump(ps, s); /* a dump whose first lines were cut off */
	if (ps->dump < 0)
		return;
	if (qemu_segment(ps, s) || table_line(ps, s) || lower_segment(ps, s) ||
	    kvmtool_segment(ps, s) || vmcs_segment(ps, s) || km_segment(ps, s) || vmcs_cr(ps, s) ||
	    km_bytes(ps, s))
		return;
	int spaced =
	    islower((unsigned char)s[0]) && strchr(s, '=') == NULL && strchr(s, ':') == NULL;
	reg_tokens(ps, s, spaced);
	/* "rip 00000000003d721c rflags 00000006" and friends; and the PSTATE mode word */
	if ((b = blk(ps, ps->dump)) && b->have[XG_TR_PSTATE])
		b->arch = 1;
}

/* A QEMU segment line cut by a wrap: 1 to join the next line with a space (a whole word
 * ended the line), 2 to join it directly (the last word is shorter than QEMU prints it:
 * selector 4 digits, base 8 or 16, limit and flags 8). */
static int needs_join(const char *s)
{
	const char *p = s;
	int si, words = 0, last = 0;
	uint64_t v;
	size_t n = strlen(s);

	/* dump_vmcs' "CR0: actual=0x..., shadow=0x..., gh_mask=..." wrapped after a comma */
	if ((starts_ci(s, "CR0:") || starts_ci(s, "CR4:")) && strstr(s, "actual=") &&
	    !strstr(s, "gh_mask=") && n && s[n - 1] == ',')
		return 1;
	while (isalpha((unsigned char)*p))
		p++;
	si = seg_index(s, (size_t)(p - s));
	p = skipsp(p);
	if (si < 0 || *p != '=')
		return 0;
	p++;
	for (;;) {
		const char *e;
		int d;
		p = skipsp(p);
		if (!(d = hexnum(p, &v, &e)) || (*e && *e != ' '))
			break;
		last = d;
		words++;
		p = e;
	}
	if (words == 0 || *skipsp(p))
		return 0;
	if ((words == 1 && last < 4) || (words == 2 && last != 8 && last != 16) ||
	    (words >= 3 && last < 8))
		return 2;
	return words < 4 ? 1 : 0;
}

/* A Code= line whose last byte or marker was cut ("... ff <0" / "f> aa ..."). */
static int code_cut(const char *s)
{
	const char *c = strstr(s, "Code="), *t;

	if (!c || !*(c + 5))
		return 0;
	t = strrchr(c, ' ');
	t = t ? t + 1 : c + 5;
	if (*t == '<' || *t == '[')
		return !strchr(t, '>') && !strchr(t, ']');
	return strlen(t) == 1 && (hexval((unsigned char)*t) >= 0 || *t == '?');
}

/* The register value at the end of s is shorter than its width and the next line starts
 * with the rest (a terminal wrap in the middle of "RCX=000000000000" "0002"). */
static int value_cut(const char *s, const char *next)
{
	const char *eq = strrchr(s, '=');
	uint64_t v;
	const char *e;
	int d;

	if (!eq || strchr(eq, ' '))
		return 0;
	d = hexnum(eq + 1, &v, &e);
	if (!d || *e || (d == 8 || d == 16))
		return 0;
	d = hexnum(next, &v, &e);
	return d > 0 && (!*e || *e == ' ');
}

void xg_triage_parse(const char *text, size_t len, struct xg_triage *t)
{
	struct pstate ps = {.t = t,
			    .dump = -1,
			    .last_header = -1,
			    .dangling = -1,
			    .code_block = -1,
			    .km_seg = -1,
			    .qemu_kind = "qemu"};
	char cur[XG_TRIAGE_MAX_LINE * 2], next[XG_TRIAGE_MAX_LINE];
	size_t pos = 0;
	int have_next = 0, next_line = 0;

	memset(t, 0, sizeof(*t));
	/* a first pass for the words that name things for the whole text */
	for (size_t i = 0; i < len && !ps.vendor;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		size_t l = e - i < XG_TRIAGE_MAX_LINE - 1 ? e - i : XG_TRIAGE_MAX_LINE - 1;
		memcpy(next, text + i,
		       l); /* the raw line: prefixes like "kvm_intel: " name things */
		next[l] = 0;
		vendor_words(&ps, next);
		normalize(text + i, l, next, sizeof(next));
		vendor_words(&ps, next);
		if (strstr(next, "qemu-kvm"))
			ps.qemu_kind = "qemu-kvm";
		if (!ps.rust_hint)
			ps.rust_hint = rust_vmm(next);
		i = e + 1;
	}
	for (;;) {
		if (!have_next) {
			if (pos >= len)
				break;
			size_t e = pos;
			while (e < len && text[e] != '\n')
				e++;
			normalize(text + pos,
				  e - pos < XG_TRIAGE_MAX_LINE ? e - pos : XG_TRIAGE_MAX_LINE, next,
				  sizeof(next));
			pos = e + 1;
			next_line++;
			t->lines++;
		}
		snprintf(cur, sizeof(cur), "%s", next);
		ps.line = next_line;
		have_next = 0;
		/* join wrapped lines: read ahead one line */
		while (pos < len) {
			size_t e = pos;
			while (e < len && text[e] != '\n')
				e++;
			normalize(text + pos,
				  e - pos < XG_TRIAGE_MAX_LINE ? e - pos : XG_TRIAGE_MAX_LINE, next,
				  sizeof(next));
			pos = e + 1;
			next_line++;
			t->lines++;
			have_next = 1;
			size_t cl = strlen(cur);
			if (cl + strlen(next) + 2 >= sizeof(cur))
				break;
			int j = needs_join(cur);
			if (j == 1) {
				cur[cl] = ' ';
				snprintf(cur + cl + 1, sizeof(cur) - cl - 1, "%s", next);
			} else if (j == 2 || value_cut(cur, next) || code_cut(cur)) {
				snprintf(cur + cl, sizeof(cur) - cl, "%s", next);
			} else {
				break;
			}
			have_next = 0;
		}
		one_line(&ps, cur);
	}
	for (int i = 0; i < t->nblocks; i++) {
		struct xg_tri_block *b = &t->b[i];
		b->vendor_hint_value = ps.vendor;
		snprintf(b->vendor_hint, sizeof(b->vendor_hint), "%s", ps.vendor_why);
		if (b->vmm && !strcmp(b->vmm, "qemu") && !strcmp(ps.qemu_kind, "qemu-kvm"))
			b->vmm = "qemu-kvm";
	}
	/* the same header printed again by other vCPUs, with no dump of its own: fold it */
	for (int i = 1; i < t->nblocks; i++) {
		struct xg_tri_block *b = &t->b[i];
		if (b->have_regs || b->ncode || b->nitems)
			continue;
		for (int j = 0; j < i; j++) {
			struct xg_tri_block *a = &t->b[j];
			if (a->exit == b->exit && a->suberror == b->suberror &&
			    a->ndata == b->ndata && !memcmp(a->data, b->data, sizeof(a->data)) &&
			    a->hw_error == b->hw_error && a->exit_number == b->exit_number &&
			    !strcmp(a->err, b->err) && a->vmm == b->vmm) {
				a->duplicates++;
				memmove(b, b + 1, (size_t)(t->nblocks - i - 1) * sizeof(*b));
				t->nblocks--;
				i--;
				break;
			}
		}
	}
	if (!t->nblocks)
		snprintf(
		    t->why, sizeof(t->why),
		    "no KVM exit report, register dump or KVM kernel message found in %d line%s "
		    "(looked for QEMU's \"KVM internal error\", \"entry failed\", \"kvm run "
		    "failed\", register dumps, VMM and dmesg KVM messages)",
		    t->lines, t->lines == 1 ? "" : "s");
}
