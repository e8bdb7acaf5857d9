/*
 * dump_in.c - xg_triage_from_dump(): one of exitgate's own dumps (core/dump) as a triage
 * block, so `exitgate show` says of it what `exitgate triage` says of another VMM's output.
 *
 * The dump is JSON exitgate wrote; it is read by a small scanner that finds keys in an
 * object's span (strings and nesting respected), not by a general parser: a dump that is
 * cut or edited gives what can still be found, and a message naming what is missing. The
 * exit comes from its "raw" kvm_run bytes, decoded by the exit model as `exitgate decode`
 * does; the registers and the code around RIP from "registers" and "code".
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/triage.h"

/* The end of the JSON value at p (a string, an object, an array or a scalar), or e. */
static const char *value_end(const char *p, const char *e)
{
	int depth = 0;

	if (p >= e)
		return e;
	if (*p == '"') {
		for (p++; p < e; p++) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				return p + 1;
		}
		return e;
	}
	if (*p != '{' && *p != '[') {
		while (p < e && *p != ',' && *p != '}' && *p != ']' && !isspace((unsigned char)*p))
			p++;
		return p;
	}
	for (; p < e; p++) {
		if (*p == '"') {
			p = value_end(p, e) - 1;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
	}
	return e;
}

/* The value of `key` among the members of the object spanning [o, e) ('{' at o), or NULL. */
static const char *member(const char *o, const char *e, const char *key, const char **vend)
{
	size_t kl = strlen(key);
	const char *p = o;

	if (p >= e || *p != '{')
		return NULL;
	p++;
	while (p < e) {
		while (p < e && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (p >= e || *p != '"')
			return NULL;
		const char *k = p + 1, *ke = value_end(p, e);
		p = ke;
		while (p < e && isspace((unsigned char)*p))
			p++;
		if (p >= e || *p != ':')
			return NULL;
		p++;
		while (p < e && isspace((unsigned char)*p))
			p++;
		if (p >= e)
			return NULL; /* a key with no value: the text is cut there */
		const char *ve = value_end(p, e);
		if ((size_t)(ke - 1 - k) == kl && !strncmp(k, key, kl)) {
			if (vend)
				*vend = ve;
			return p;
		}
		p = ve;
	}
	return NULL;
}

/* A number or a "0x..." string value in [v, ve): parsed from a bounded copy, since the
 * dump text need not end in a NUL where the value ends. */
static int num(const char *v, const char *ve, uint64_t *out)
{
	char buf[40], *end;
	size_t n = 0;

	if (!v || v >= ve)
		return 0;
	if (*v == '"')
		v++;
	while (v + n < ve && n + 1 < sizeof(buf) && (isalnum((unsigned char)v[n])))
		n++;
	memcpy(buf, v, n);
	buf[n] = 0;
	if (!isdigit((unsigned char)buf[0]))
		return 0;
	*out = strtoull(buf, &end, 0);
	return end != buf;
}

/* The number under key in the object [o, oe). */
static int mnum(const char *o, const char *oe, const char *key, uint64_t *out)
{
	const char *ve = NULL, *v = member(o, oe, key, &ve);

	return num(v, ve, out);
}

/* The 4 hex digits at p (before e) as a number, or -1. */
static long hex4(const char *p, const char *e)
{
	long c = 0;

	if (e - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return -1;
		c = c * 16 + (isdigit((unsigned char)p[i]) ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	}
	return c;
}

/* How a person is shown code point c that a JSON escape gave: a control character (C0, DEL)
 * as the escape that reads back as it (\t, \n, \r, \b, \f, else \u00XX; never itself,
 * which a terminal acts on), anything else in UTF-8. Into e[8]; its length. */
static size_t shown(unsigned long c, char *e)
{
	static const char named[] = "btn.fr"; /* the letters of 8 to 13 (11 has none) */

	if (c < 0x20 || c == 0x7f) {
		if (c >= 8 && c <= 13 && named[c - 8] != '.') {
			e[0] = '\\';
			e[1] = named[c - 8];
			return 2;
		}
		return (size_t)snprintf(e, 8, "\\u%04lx", c);
	}
	if (c < 0x80) {
		e[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		e[0] = (char)(0xc0 | c >> 6);
		e[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		e[0] = (char)(0xe0 | c >> 12);
		e[1] = (char)(0x80 | (c >> 6 & 0x3f));
		e[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	e[0] = (char)(0xf0 | c >> 18);
	e[1] = (char)(0x80 | (c >> 12 & 0x3f));
	e[2] = (char)(0x80 | (c >> 6 & 0x3f));
	e[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* The code point of the \u escape whose 'u' is at *p (before e), a surrogate pair taken
 * whole, U+FFFD for a broken one; *p is left on the escape's last character. */
static unsigned long uescape(const char **p, const char *e)
{
	long c = hex4(*p + 1, e), lo;

	if (c < 0)
		return 0xfffd;
	*p += 4;
	if (c < 0xd800 || c >= 0xe000)
		return (unsigned long)c;
	if (c < 0xdc00 && e - *p > 6 && (*p)[1] == '\\' && (*p)[2] == 'u' &&
	    (lo = hex4(*p + 3, e)) >= 0xdc00 && lo < 0xe000) {
		*p += 6;
		return 0x10000 + ((unsigned long)(c - 0xd800) << 10) + (unsigned long)(lo - 0xdc00);
	}
	return 0xfffd; /* half a pair */
}

/* A JSON string value as text for a person, into out[n]: the escapes decoded (RFC 8259 7),
 * but a control character shown as its escape (shown()). What does not fit is cut at a
 * character's boundary. */
static void str(const char *v, const char *ve, char *out, size_t n)
{
	static const char letter[] = "btnfr", code[] = "\b\t\n\f\r";
	size_t o = 0;

	out[0] = 0;
	if (!v || *v != '"')
		return;
	for (v++; v < ve - 1; v++) {
		unsigned long c = (unsigned char)*v;
		const char *l;
		char e[8];
		size_t k;
		int cp = 0; /* c is a code point (a \u escape's), not a byte of UTF-8 */

		if (c == '\\' && v + 1 < ve - 1) {
			c = (unsigned char)*++v;
			l = c ? strchr(letter, (int)c) : NULL;
			if (c == 'u') {
				c = uescape(&v, ve - 1);
				cp = 1;
			} else if (l) {
				c = (unsigned char)code[l - letter];
			}
			/* else \" \\ \/ stand for the character itself (and so, here, does any
			 * other one, which JSON does not allow) */
		}
		if (c < 0x80 || cp) {
			k = shown(c, e);
		} else {
			e[0] = (char)c; /* UTF-8 as the dump has it, byte by byte */
			k = 1;
		}
		if (o + k >= n)
			break;
		memcpy(out + o, e, k);
		o += k;
	}
	out[o] = 0;
}

static void field(const char *o, const char *oe, const char *key, char *out, size_t n)
{
	const char *ve, *v = member(o, oe, key, &ve);

	str(v, ve, out, n);
}

/* Hex digits of a string value into bytes; returns the count. */
static size_t hexbytes(const char *v, const char *ve, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (!v || *v != '"')
		return 0;
	for (v++; v + 1 < ve && n < cap && isxdigit((unsigned char)v[0]) &&
		  isxdigit((unsigned char)v[1]);
	     v += 2) {
		char b[3] = {v[0], v[1], 0};
		out[n++] = (uint8_t)strtoul(b, NULL, 16);
	}
	return n;
}

static void regs(const char *o, const char *oe, struct xg_tri_block *b)
{
	static const struct {
		const char *k;
		int slot;
	} names[] = {
	    {"rip", XG_TR_RIP}, {"rax", XG_TR_RAX},    {"rcx", XG_TR_RCX},	 {"rdx", XG_TR_RDX},
	    {"rbx", XG_TR_RBX}, {"rsp", XG_TR_RSP},    {"rbp", XG_TR_RBP},	 {"rsi", XG_TR_RSI},
	    {"rdi", XG_TR_RDI}, {"r8", XG_TR_R8},      {"r9", XG_TR_R9},	 {"r10", XG_TR_R10},
	    {"r11", XG_TR_R11}, {"r12", XG_TR_R12},    {"r13", XG_TR_R13},	 {"r14", XG_TR_R14},
	    {"r15", XG_TR_R15}, {"rflags", XG_TR_RFL}, {"cr0", XG_TR_CR0},	 {"cr2", XG_TR_CR2},
	    {"cr3", XG_TR_CR3}, {"cr4", XG_TR_CR4},    {"efer", XG_TR_EFER},	 {"cpl", XG_TR_CPL},
	    {"pc", XG_TR_PC},	{"sp", XG_TR_SP},      {"pstate", XG_TR_PSTATE},
	};
	static const char *const segs[XG_TS_COUNT] = {"es", "cs", "ss", "ds",
						      "fs", "gs", NULL, NULL};
	uint64_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mnum(o, oe, names[i].k, &v)) {
			b->reg[names[i].slot] = v;
			b->have[names[i].slot] = 1;
			b->have_regs = 1;
			b->regs_wide = 1;
		}
	for (int x = 0; x <= 30; x++) {
		char k[4];
		snprintf(k, sizeof(k), "x%d", x);
		if (mnum(o, oe, k, &v)) {
			b->reg[XG_TR_X0 + x] = v;
			b->have[XG_TR_X0 + x] = 1;
		}
	}
	for (int s = 0; s < XG_TS_COUNT; s++) {
		const char *se, *so = segs[s] ? member(o, oe, segs[s], &se) : NULL;
		struct xg_tri_segreg *sr = &b->seg[s];
		static const struct {
			const char *k;
			int shift, width;
		} f[] = {{"type", 8, 4}, {"s", 12, 1},	{"dpl", 13, 2}, {"present", 15, 1},
			 {"l", 21, 1},	 {"db", 22, 1}, {"g", 23, 1}};
		if (!so || *so != '{')
			continue;
		sr->have = 1;
		if (mnum(so, se, "selector", &v))
			sr->sel = (uint16_t)v;
		if (mnum(so, se, "base", &v))
			sr->base = v;
		if (mnum(so, se, "limit", &v))
			sr->limit = (uint32_t)v;
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (mnum(so, se, f[i].k, &v)) {
				sr->flags |= (uint32_t)(v & ((1u << f[i].width) - 1)) << f[i].shift;
				sr->have_flags = 1;
			}
	}
}

/* ---- the dump's own sections, for `exitgate show` ---- */

struct out {
	char *p;
	size_t n, len;
};

static void put(struct out *o, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void put(struct out *o, const char *label, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (o->len + 1 >= o->n)
		return;
	w = snprintf(o->p + o->len, o->n - o->len, "  %-20s ", label);
	if (w < 0 || (size_t)w >= o->n - o->len) {
		o->p[o->len] = 0;
		return;
	}
	o->len += (size_t)w;
	va_start(ap, fmt);
	w = vsnprintf(o->p + o->len, o->n - o->len, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w + 1 >= o->n - o->len) {
		o->p[o->len] = 0; /* a line that does not fit is left out whole */
		return;
	}
	o->len += (size_t)w;
	o->p[o->len++] = '\n';
	o->p[o->len] = 0;
}

/* A number member of the object [o, e); def when it is missing. */
static uint64_t numof(const char *o, const char *e, const char *key, uint64_t def)
{
	uint64_t v;

	return mnum(o, e, key, &v) ? v : def;
}

/* The "error" string of a section the dump could not fill ({"error": "..."}), or "". */
static int section_error(const char *o, const char *e, char *why, size_t n)
{
	field(o, e, "error", why, n);
	return why[0] != 0;
}

/* GDTR/IDTR (base, limit) and TR/LDTR (selector, base, limit, type, present/unusable), as
 * QEMU's `info registers` has them (SDM Vol. 3A 2.4: the four system-table registers). */
static void show_tables(struct out *o, const char *ro, const char *re)
{
	static const char *const tabs[] = {"gdtr", "idtr"}, *const segs[] = {"tr", "ldtr"};

	for (int i = 0; i < 2; i++) {
		const char *te, *to = member(ro, re, tabs[i], &te);
		uint64_t limit;
		if (!to || *to != '{')
			continue;
		limit = numof(to, te, "limit", 0);
		put(o, tabs[i], "base 0x%llx, limit 0x%llx%s",
		    (unsigned long long)numof(to, te, "base", 0), (unsigned long long)limit,
		    limit ? "" : " (empty)");
	}
	for (int i = 0; i < 2; i++) {
		const char *se, *so = member(ro, re, segs[i], &se);
		if (!so || *so != '{')
			continue;
		if (numof(so, se, "unusable", 0))
			put(o, segs[i], "selector 0x%llx, unusable",
			    (unsigned long long)numof(so, se, "selector", 0));
		else
			put(o, segs[i], "selector 0x%llx, base 0x%llx, limit 0x%llx, type %llu%s",
			    (unsigned long long)numof(so, se, "selector", 0),
			    (unsigned long long)numof(so, se, "base", 0),
			    (unsigned long long)numof(so, se, "limit", 0),
			    (unsigned long long)numof(so, se, "type", 0),
			    numof(so, se, "present", 0) ? ", present" : ", not present");
	}
}

/* Events KVM holds for the vCPU (api.rst 4.31 KVM_GET_VCPU_EVENTS): one line each that is
 * pending, injected or in effect, or "none". */
static void show_events(struct out *o, const char *eo, const char *ee)
{
	const char *xe, *xo = member(eo, ee, "exception", &xe);
	const char *ie, *io = member(eo, ee, "interrupt", &ie);
	const char *ne, *no = member(eo, ee, "nmi", &ne);
	const char *me, *mo = member(eo, ee, "smi", &me);
	char why[200];
	int any = 0;

	if (section_error(eo, ee, why, sizeof(why))) {
		put(o, "events", "not read: %s", why);
		return;
	}
	if (xo && *xo == '{' && (numof(xo, xe, "pending", 0) || numof(xo, xe, "injected", 0))) {
		char ec[40] = "";
		if (numof(xo, xe, "has_error_code", 0))
			snprintf(ec, sizeof(ec), ", error code 0x%llx",
				 (unsigned long long)numof(xo, xe, "error_code", 0));
		put(o, "events", "exception %llu %s%s", (unsigned long long)numof(xo, xe, "vector", 0),
		    numof(xo, xe, "pending", 0) ? "pending" : "injected", ec);
		any = 1;
	}
	if (io && *io == '{' && numof(io, ie, "injected", 0))
		put(o, any++ ? "" : "events", "interrupt %llu injected%s",
		    (unsigned long long)numof(io, ie, "vector", 0),
		    numof(io, ie, "soft", 0) ? " (software)" : "");
	if (io && *io == '{' && numof(io, ie, "shadow", 0))
		put(o, any++ ? "" : "events", "interrupt shadow (STI or MOV SS just before)");
	if (no && *no == '{' && (numof(no, ne, "pending", 0) || numof(no, ne, "injected", 0)))
		put(o, any++ ? "" : "events", "NMI %s", numof(no, ne, "pending", 0) ? "pending" : "injected");
	if (no && *no == '{' && numof(no, ne, "masked", 0))
		put(o, any++ ? "" : "events", "NMIs masked (inside an NMI handler)");
	if (mo && *mo == '{' && numof(mo, me, "pending", 0))
		put(o, any++ ? "" : "events", "SMI pending");
	if (mo && *mo == '{' && numof(mo, me, "smm", 0))
		put(o, any++ ? "" : "events", "in SMM");
	if (numof(eo, ee, "triple_fault_pending", 0))
		put(o, any++ ? "" : "events", "triple fault pending");
	if (!any)
		put(o, "events", "none pending or injected");
}

/* The memory operand of the instruction at RIP and what it hits; the exit's own GPA. */
static void show_access(struct out *o, const char *ao, const char *ae)
{
	char seg[8], what[200], why[256];
	uint64_t v;

	field(ao, ae, "exit_region", what, sizeof(what));
	if (mnum(ao, ae, "exit_gpa", &v))
		put(o, "exit gpa", "0x%llx%s%s", (unsigned long long)v, what[0] ? ": " : "", what);
	field(ao, ae, "operand", what, sizeof(what));
	if (what[0])
		put(o, "memory operand", "%s", what);
	field(ao, ae, "segment", seg, sizeof(seg));
	if (mnum(ao, ae, "effective_address", &v)) {
		put(o, "memory operand", "%s:0x%llx, linear 0x%llx", seg[0] ? seg : "?",
		    (unsigned long long)v, (unsigned long long)numof(ao, ae, "linear", 0));
		field(ao, ae, "gpa_error", why, sizeof(why));
		field(ao, ae, "region", what, sizeof(what));
		if (why[0])
			put(o, "operand gpa", "%s", why);
		else if (mnum(ao, ae, "gpa", &v))
			put(o, "operand gpa", "0x%llx%s%s", (unsigned long long)v, what[0] ? ": " : "",
			    what);
	}
	field(ao, ae, "error", why, sizeof(why));
	if (why[0])
		put(o, "memory operand", "not known: %s", why);
}

static void show_stack(struct out *o, const char *so, const char *se)
{
	char why[256];
	const char *ve, *v = member(so, se, "bytes", &ve);
	uint64_t sp = 0;
	int have = mnum(so, se, "rsp", &sp) || mnum(so, se, "sp", &sp);

	if (section_error(so, se, why, sizeof(why)) && !v) {
		if (have)
			put(o, "stack", "at 0x%llx: %s", (unsigned long long)sp, why);
		else
			put(o, "stack", "not read: %s", why);
		return;
	}
	if (v && *v == '"') {
		uint8_t b[64];
		size_t n = hexbytes(v, ve, b, sizeof(b));
		char hex[64 * 3 + 1] = "";
		for (size_t i = 0; i < n && i < 32; i++)
			snprintf(hex + 3 * i, 4, "%02x ", b[i]);
		if (have)
			put(o, "stack", "at 0x%llx: %s%s", (unsigned long long)sp, hex,
			    n > 32 ? "..." : "");
		else
			put(o, "stack", "%s%s", hex, n > 32 ? "..." : "");
	}
}

/* Each register of an object of "name": "0x..." members, a line each. */
static void show_regs(struct out *o, const char *ro, const char *re, const char *label)
{
	const char *p = ro + 1;

	while (p < re) {
		char name[16], val[140];
		const char *ke, *ve;

		while (p < re && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (p >= re || *p != '"')
			return;
		ke = value_end(p, re);
		str(p, ke, name, sizeof(name));
		p = ke;
		while (p < re && (isspace((unsigned char)*p) || *p == ':'))
			p++;
		ve = value_end(p, re);
		str(p, ve, val, sizeof(val));
		p = ve;
		put(o, label, "%-6s %s", name, val);
	}
}

/* The x87/SSE/AVX state: which components are in use, MXCSR, the x87 control and status
 * words, the registers the instruction names, the other ones that are not zero. */
static void show_vector(struct out *o, const char *vo, const char *ve)
{
	const char *ue, *uo = member(vo, ve, "used", &ue);
	const char *ne, *no = member(vo, ve, "nonzero", &ne);
	char why[200];

	if (section_error(vo, ve, why, sizeof(why))) {
		put(o, "vector state", "not read: %s", why);
		return;
	}
	put(o, "vector state", "xstate_bv 0x%llx, mxcsr 0x%llx, fcw 0x%llx, fsw 0x%llx",
	    (unsigned long long)numof(vo, ve, "xstate_bv", 0),
	    (unsigned long long)numof(vo, ve, "mxcsr", 0), (unsigned long long)numof(vo, ve, "fcw", 0),
	    (unsigned long long)numof(vo, ve, "fsw", 0));
	if (uo && *uo == '{')
		show_regs(o, uo, ue, "insn's vector regs");
	if (no && *no == '{')
		show_regs(o, no, ne, "other non-zero");
}

static void details(const char *s, const char *e, struct xg_tri_dump_info *info)
{
	struct out o = {info->details, sizeof(info->details), 0};
	const char *ve, *v;

	info->details[0] = 0;
	v = member(s, e, "previous", &ve);
	if (v && *v == '"')
		put(&o, "previous dump", "%s", info->previous);
	else if (v)
		put(&o, "previous dump", "none (the first of this vCPU in this run)");
	if ((v = member(s, e, "registers", &ve)) && *v == '{')
		show_tables(&o, v, ve);
	if ((v = member(s, e, "events", &ve)) && *v == '{')
		show_events(&o, v, ve);
	if ((v = member(s, e, "access", &ve)) && *v == '{')
		show_access(&o, v, ve);
	if ((v = member(s, e, "vector", &ve)) && *v == '{')
		show_vector(&o, v, ve);
	if ((v = member(s, e, "stack", &ve)) && *v == '{')
		show_stack(&o, v, ve);
}

int xg_triage_from_dump(const char *json, size_t len, struct xg_triage *t,
			struct xg_tri_dump_info *info, struct xg_error *err)
{
	const char *s = json, *e = json + len, *ve, *v;
	struct xg_tri_block *b;
	uint64_t n;

	memset(t, 0, sizeof(*t));
	memset(info, 0, sizeof(*info));
	while (s < e && isspace((unsigned char)*s))
		s++;
	e = value_end(s, e);
	if (s >= e || *s != '{' || !member(s, e, "exitgate_dump", NULL)) {
		snprintf(
		    err->msg, sizeof(err->msg),
		    "not an exitgate dump (no \"exitgate_dump\" key in a JSON object); for what "
		    "another VMM or the kernel printed use `exitgate triage`");
		return -1;
	}
	t->nblocks = 1;
	t->lines = 1;
	b = &t->b[0];
	b->first_line = b->last_line = 1;
	b->vmm = "exitgate";
	b->arch = -1;
	b->suberror = -1;
	b->cpu = -1;
	b->marker = -1;
	field(s, e, "guest", info->guest, sizeof(info->guest));
	field(s, e, "trigger", info->trigger, sizeof(info->trigger));
	field(s, e, "handler", info->handler, sizeof(info->handler));
	field(s, e, "verdict", info->verdict, sizeof(info->verdict));
	field(s, e, "note", info->note, sizeof(info->note));
	field(s, e, "error", info->error, sizeof(info->error));
	field(s, e, "time", info->time, sizeof(info->time));
	field(s, e, "previous", info->previous, sizeof(info->previous));
	details(s, e, info);
	info->vcpu = mnum(s, e, "vcpu", &n) ? (int)n : -1;
	info->seq = mnum(s, e, "seq", &n) ? (long long)n : -1;
	b->vcpu = info->vcpu;
	snprintf(b->message, sizeof(b->message),
		 "exitgate dump of %.48s vCPU %d (trigger %.24s, verdict %.24s)",
		 info->guest[0] ? info->guest : "?", info->vcpu,
		 info->trigger[0] ? info->trigger : "?", info->verdict[0] ? info->verdict : "?");

	/* the exit, from its raw kvm_run bytes */
	const char *xo, *xe;
	xo = member(s, e, "exit", &xe);
	if (xo && *xo == '{') {
		char arch[16];
		uint8_t *raw = malloc(4096);
		size_t nraw = 0;
		struct xg_exit x;
		struct xg_exit_opts eo = {XG_ARCH_X86_64, XG_HW_NONE};
		struct xg_error derr = {{0}};

		v = member(xo, xe, "arch", &ve);
		str(v, ve, arch, sizeof(arch));
		if (!strcmp(arch, "arm64"))
			eo.arch = XG_ARCH_ARM64;
		b->arch = eo.arch == XG_ARCH_ARM64 ? 1 : 0;
		/* "raw" is the exit union (kvm_run from byte 32); the header's exit_reason is
		 * "exit_reason": rebuild the struct kvm_run the exit model reads */
		v = member(xo, xe, "raw", &ve);
		if (raw && mnum(xo, xe, "exit_reason", &n)) {
			memset(raw, 0, 4096);
			for (int k = 0; k < 4; k++)
				raw[8 + k] = (uint8_t)(n >> (8 * k));
			nraw = 32 + hexbytes(v, ve, raw + 32, XG_RUN_UNION_SIZE);
		}
		if (raw && nraw == XG_RUN_MIN_SIZE && !xg_exit_decode(&x, raw, nraw, &eo, &derr)) {
			b->exit_number = x.reason;
			switch (x.reason) {
			case 17: /* KVM_EXIT_INTERNAL_ERROR */
				b->exit = XG_TX_INTERNAL;
				b->suberror = (int)x.u.internal.suberror;
				b->ndata = (int)x.u.internal.ndata_used;
				memcpy(b->data, x.u.internal.data, sizeof(b->data));
				if (x.u.internal.has_insn && x.u.internal.insn_size) {
					memcpy(b->code, x.u.internal.insn, x.u.internal.insn_size);
					memset(b->code_known, 1, x.u.internal.insn_size);
					b->ncode = x.u.internal.insn_size;
					b->marker = 0;
				}
				break;
			case 9: /* KVM_EXIT_FAIL_ENTRY */
				b->exit = XG_TX_FAIL_ENTRY;
				b->hw_error = x.u.fail_entry.reason;
				b->have_hw_error = 1;
				b->cpu = (int)x.u.fail_entry.cpu;
				b->have_cpu = 1;
				break;
			case 8: /* KVM_EXIT_SHUTDOWN */
				b->exit = XG_TX_SHUTDOWN;
				break;
			case 28: /* KVM_EXIT_ARM_NISV */
				b->exit = XG_TX_NISV;
				break;
			case 29: /* KVM_EXIT_X86_RDMSR */
			case 30: /* KVM_EXIT_X86_WRMSR */
				b->exit = XG_TX_MSR;
				b->nitems = 1;
				b->items[0].a = x.u.msr.index;
				b->items[0].b = x.u.msr.data;
				b->items[0].write = x.reason == 30;
				break;
			default:
				b->exit = XG_TX_EXIT_REASON;
				break;
			}
		} else {
			snprintf(b->err, sizeof(b->err), "exit.raw not decoded%s%.40s",
				 derr.msg[0] ? ": " : "", derr.msg);
		}
		free(raw);
	}

	/* the registers and the code around RIP */
	const char *ro, *re;
	if ((ro = member(s, e, "registers", &re)) && *ro == '{')
		regs(ro, re, b);
	const char *co, *ce;
	if ((co = member(s, e, "code", &ce)) && *co == '{') {
		uint64_t start, rip;
		uint8_t bytes[XG_TRIAGE_MAX_CODE];
		v = member(co, ce, "bytes", &ve);
		size_t nb = hexbytes(v, ve, bytes, sizeof(bytes));
		if (nb && mnum(co, ce, "start", &start) &&
		    mnum(co, ce, "rip", &rip) && rip >= start && rip - start < nb) {
			memcpy(b->code, bytes, nb);
			memset(b->code_known, 1, nb);
			b->ncode = (int)nb;
			b->marker = (int)(rip - start);
		}
	}
	return 0;
}
