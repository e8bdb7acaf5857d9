/*
 * verdict.c - verdicts: from the policy's table (validated, with a message that says what
 * is wrong), from on_error text in the config, and applied through the VMM's vCPU ops.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xg_hot.h"
#include "action/emulate_arm64.h"
#include "action/emulate_x86.h"
#include "disasm/disasm.h"
#include "xg_emu_arm64.h"
#include "xg_emu_x86.h"
#include "dump/dump.h"
#include "engine/engine_int.h"
#include "exit/names.h"

static const char *const verdict_names[XG_VERDICT_COUNT] = {
    [XG_VERDICT_NONE] = "none",	      [XG_VERDICT_EMULATE] = "emulate",
    [XG_VERDICT_INJECT] = "inject",   [XG_VERDICT_EXTERNAL_ABORT] = "external_abort",
    [XG_VERDICT_CONVERT] = "convert", [XG_VERDICT_SUSPEND] = "suspend",
    [XG_VERDICT_RESUME] = "resume",   [XG_VERDICT_SKIP] = "skip",
    [XG_VERDICT_STOP] = "stop",	      [XG_VERDICT_MSR] = "msr",
};
#define VERDICT_LIST                                                                               \
	"emulate, inject, external_abort, convert, suspend, resume, skip, stop, msr, dump"

static const char *const fail_names[XG_FAIL_COUNT] = {
    [XG_FAIL_NONE] = "none",
    [XG_FAIL_ERROR] = "error",
    [XG_FAIL_INSTRUCTIONS] = "instruction_limit",
    [XG_FAIL_MEMORY] = "memory_limit",
    [XG_FAIL_NO_VERDICT] = "no_verdict",
    [XG_FAIL_BAD_VERDICT] = "bad_verdict",
    [XG_FAIL_NO_HANDLER] = "no_handler",
    [XG_FAIL_ACTION] = "action_failed",
    [XG_FAIL_TIME] = "time_limit",
};

const char *xg_verdict_name(enum xg_verdict_kind k)
{
	return (unsigned)k < XG_VERDICT_COUNT ? verdict_names[k] : "?";
}

const char *xg_fail_name(enum xg_fail f)
{
	return (unsigned)f < XG_FAIL_COUNT ? fail_names[f] : "?";
}

/* x86 exception mnemonics (SDM Vol. 3A 6.3.1, Table 6-1); error code pushed by those. */
static const struct {
	const char *name;
	uint8_t vector, has_code;
} exceptions[] = {
    {"DE", 0, 0},  {"DB", 1, 0},  {"NMI", 2, 0}, {"BP", 3, 0},	{"OF", 4, 0},
    {"BR", 5, 0},  {"UD", 6, 0},  {"NM", 7, 0},	 {"DF", 8, 1},	{"TS", 10, 1},
    {"NP", 11, 1}, {"SS", 12, 1}, {"GP", 13, 1}, {"PF", 14, 1}, {"MF", 16, 0},
    {"AC", 17, 1}, {"MC", 18, 0}, {"XM", 19, 0}, {"VE", 20, 0}, {"CP", 21, 1},
};

/* "UD" for 6 ...; "vector N" for the reserved ones. */
static const char *vector_words(unsigned vector, char *buf, size_t n)
{
	const char *name = xg_names_x86_vector(vector);

	if (name)
		snprintf(buf, n, "#%s (vector %u)", name, vector);
	else
		snprintf(buf, n, "vector %u", vector);
	return buf;
}

static int exception_by_name(const char *s, struct xg_verdict *v)
{
	for (size_t i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++)
		if (!strcmp(s, exceptions[i].name) ||
		    (s[0] == '#' && !strcmp(s + 1, exceptions[i].name))) {
			v->vector = exceptions[i].vector;
			v->has_error_code = exceptions[i].has_code;
			v->error_code = 0;
			return 0;
		}
	return -1;
}

/* arm64 synchronous exceptions a policy injects (ARM ARM D17.2.37, ESR_ELx.EC). */
static int arm64_by_name(const char *s, struct xg_verdict *v)
{
	if (!strcmp(s, "data_abort"))
		v->a64 = XG_A64_DATA_ABORT;
	else if (!strcmp(s, "undefined"))
		v->a64 = XG_A64_UNDEFINED;
	else
		return -1;
	v->fsc = 0x10; /* synchronous External abort, what the memory system gives */
	return 0;
}

static int kind_by_name(const char *s)
{
	for (int k = 1; k < XG_VERDICT_COUNT; k++)
		if (!strcmp(s, verdict_names[k]))
			return k;
	return -1;
}

static int bad(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Field k of the table at idx (an absolute index), read raw: a verdict's metatable is never
 * consulted, so no __index of the policy's runs while the engine reads what it returned. */
static int field(lua_State *L, int idx, const char *k)
{
	lua_pushstring(L, k);
	return lua_rawget(L, idx);
}

/* Integer field k of the table at idx, required or not: a Lua integer, not a float or a
 * numeric string (which would be rounded or converted behind the policy writer's back). */
static int int_field(lua_State *L, int idx, const char *k, int required, uint64_t *out,
		     const char *verdict, char *msg, size_t n)
{
	int t = field(L, idx, k), isint = t == LUA_TNUMBER && lua_isinteger(L, -1);
	lua_Integer i = isint ? lua_tointeger(L, -1) : 0;

	lua_pop(L, 1);
	if (t == LUA_TNIL && !required)
		return 1;
	if (t == LUA_TNIL)
		return bad(msg, n, "verdict '%s' needs '%s' (an integer)", verdict, k);
	if (!isint)
		return bad(msg, n, "verdict '%s': '%s' must be an integer, not %s", verdict, k,
			   t == LUA_TNUMBER ? "a float" : lua_typename(L, t));
	*out = (uint64_t)i;
	return 0;
}

static void str_field(lua_State *L, int idx, const char *k, char *out, size_t n)
{
	if (field(L, idx, k) == LUA_TSTRING) {
		snprintf(out, n, "%s", lua_tostring(L, -1));
		xg_text_clean(out);
	}
	lua_pop(L, 1);
}

/* The name at the top of the stack, for a lookup by strcmp: one with a NUL byte inside (Lua
 * strings may hold one) would match by its part before the NUL ("UD\0junk" as UD), so it
 * gets a stand-in that matches no name and says why. */
#define NUL_NAME "(a name with a NUL byte in it)"
static const char *name_str(lua_State *L)
{
	size_t len;
	const char *s = lua_tolstring(L, -1, &len);

	return s && strlen(s) == len ? s : NUL_NAME;
}

static const char *const arm64_only[] = {"fsc", "far", "wnr", NULL};

/* The fields of an arm64 inject: xg.inject("data_abort", {fsc = 0x10, far = va, wnr = true}),
 * each optional (fsc 0x10, the exit's FAR and WnR); xg.inject "undefined" takes none. */
static int arm64_fields(lua_State *L, int idx, struct xg_verdict *v, const char *name, char *msg,
			size_t n)
{
	uint64_t u;
	int r, t;

	if (field(L, idx, "error_code") != LUA_TNIL) {
		lua_pop(L, 1);
		return bad(msg, n,
			   "verdict 'inject': an arm64 exception has no error_code (data_abort "
			   "takes {fsc =, far =, wnr =})");
	}
	lua_pop(L, 1);
	if (field(L, idx, "cr2") != LUA_TNIL) {
		lua_pop(L, 1);
		return bad(msg, n,
			   "verdict 'inject': cr2 is an x86 page fault's address; on arm64 "
			   "data_abort takes it as far");
	}
	lua_pop(L, 1);
	if (v->a64 == XG_A64_UNDEFINED) {
		for (const char *const *a = arm64_only; *a; a++) {
			t = field(L, idx, *a);
			lua_pop(L, 1);
			if (t != LUA_TNIL)
				return bad(msg, n,
					   "verdict 'inject': 'undefined' takes no '%s' (only "
					   "data_abort does)",
					   *a);
		}
		return 0;
	}
	r = int_field(L, idx, "fsc", 0, &u, name, msg, n);
	if (r < 0)
		return -1;
	if (r == 0) {
		/* DFSC is ESR_ELx.ISS[5:0] (ARM ARM D17.2.37) */
		if (u > 0x3f)
			return bad(msg, n,
				   "verdict 'inject': fsc 0x%llx is not a data fault status code "
				   "(6 bits: 0x10 external abort, 0x04-0x07 translation, 0x0c-0x0f "
				   "permission, 0x21 alignment ...)",
				   (unsigned long long)u);
		v->fsc = (uint8_t)u;
	}
	r = int_field(L, idx, "far", 0, &v->far, name, msg, n);
	if (r < 0)
		return -1;
	v->has_far = r == 0;
	t = field(L, idx, "wnr");
	if (t == LUA_TBOOLEAN) {
		v->has_wnr = 1;
		v->wnr = (uint8_t)lua_toboolean(L, -1);
	} else if (t != LUA_TNIL) {
		lua_pop(L, 1);
		return bad(msg, n, "verdict 'inject': 'wnr' is true (a write) or false (a read)");
	}
	lua_pop(L, 1);
	return 0;
}

static int from_lua(lua_State *L, int idx, struct xg_verdict *v, int *cache_shape, int depth,
		    char *msg, size_t n)
{
	const char *name;
	int k;
	uint64_t u;

	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx))
		return bad(msg, n,
			   "a verdict is a table built by xg.emulate(), xg.inject \"UD\", ...; "
			   "got %s",
			   luaL_typename(L, idx));
	/* a shared table (xg.emulate() ...) holds no key while shared: it stands for
	 * {verdict = <name>} (sandbox.c), nested in a dump verdict too */
	k = xg_lstate_shared_kind(L, idx);
	if (k != XG_VERDICT_NONE) {
		memset(v, 0, sizeof(*v));
		v->kind = (enum xg_verdict_kind)k;
		return 0;
	}
	if (field(L, idx, "verdict") != LUA_TSTRING) {
		lua_pop(L, 1);
		return bad(msg, n,
			   "the table has no 'verdict' name: build verdicts with the xg "
			   "helpers (" VERDICT_LIST ")");
	}
	name = name_str(L);
	k = kind_by_name(name);
	if (k < 0 && !strcmp(name, "dump")) {
		lua_pop(L, 1);
		if (depth)
			return bad(msg, n, "verdict 'dump' cannot be nested in another dump");
		str_field(L, idx, "note", v->reason, sizeof(v->reason));
		if (field(L, idx, "then") == LUA_TNIL) {
			lua_pop(L, 1);
			return bad(msg, n,
				   "verdict 'dump' needs the verdict to apply after it: "
				   "xg.dump { xg.inject \"UD\" }");
		}
		char note[sizeof(v->reason)];
		memcpy(note, v->reason, sizeof(note));
		int rc = from_lua(L, -1, v, cache_shape, depth + 1, msg, n);
		lua_pop(L, 1);
		if (rc)
			return rc;
		v->dump = 1;
		if (note[0])
			memcpy(v->reason, note, sizeof(note));
		goto cache;
	}
	if (k < 0) {
		int r = bad(msg, n, "verdict '%s' is not one of " VERDICT_LIST, name);
		lua_pop(L, 1);
		return r;
	}
	lua_pop(L, 1);
	memset(v, 0, sizeof(*v));
	v->kind = (enum xg_verdict_kind)k;
	switch (v->kind) {
	case XG_VERDICT_INJECT: {
		int t = field(L, idx, "exception");
		if (t == LUA_TSTRING && !arm64_by_name(name_str(L), v)) {
			lua_pop(L, 1);
			return arm64_fields(L, idx, v, name, msg, n);
		}
		if (t == LUA_TSTRING) {
			if (exception_by_name(name_str(L), v)) {
				bad(msg, n,
				    "verdict 'inject': exception '%s' is not one of DE, DB, NMI, "
				    "BP, OF, BR, UD, NM, DF, TS, NP, SS, GP, PF, MF, AC, MC, "
				    "XM, VE, CP (or a vector number 0..31) on x86, nor "
				    "data_abort, undefined on arm64",
				    name_str(L));
				lua_pop(L, 1);
				return -1;
			}
		} else if (t == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 &&
			   lua_tointeger(L, -1) < 32) {
			v->vector = (uint8_t)lua_tointeger(L, -1);
		} else {
			lua_pop(L, 1);
			return bad(msg, n,
				   "verdict 'inject' needs an exception: a name (\"UD\", "
				   "\"GP\" ...) or a vector 0..31");
		}
		lua_pop(L, 1);
		for (const char *const *a = arm64_only; *a; a++) {
			int ta = field(L, idx, *a);
			lua_pop(L, 1);
			if (ta != LUA_TNIL)
				return bad(
				    msg, n,
				    "verdict 'inject': '%s' belongs to arm64's data_abort, not "
				    "to an x86 exception",
				    *a);
		}
		int r = int_field(L, idx, "error_code", 0, &u, name, msg, n);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (u > 0xffffffffu)
				return bad(msg, n, "verdict 'inject': error_code is 32 bits");
			v->has_error_code = 1;
			v->error_code = (uint32_t)u;
		}
		/* #PF's faulting linear address goes to CR2 before the fault is delivered (SDM
		 * Vol. 3A 6.15, interrupt 14: "the processor loads the CR2 register"): without
		 * it the guest's handler reads the address of some earlier fault */
		r = int_field(L, idx, "cr2", 0, &v->far, name, msg, n);
		if (r < 0)
			return -1;
		if (r == 0 && v->vector != 14) {
			char vec[48];
			return bad(msg, n,
				   "verdict 'inject': cr2 is the faulting address of a page "
				   "fault (PF, vector 14), not of %s",
				   vector_words(v->vector, vec, sizeof(vec)));
		}
		v->has_far = r == 0;
		break;
	}
	case XG_VERDICT_CONVERT: {
		if (int_field(L, idx, "gpa", 1, &v->gpa, name, msg, n) ||
		    int_field(L, idx, "size", 1, &v->size, name, msg, n))
			return -1;
		if (!v->size)
			return bad(msg, n, "verdict 'convert': size must be > 0");
		if ((v->gpa | v->size) & 0xfff)
			return bad(msg, n,
				   "verdict 'convert': gpa 0x%llx and size 0x%llx must be "
				   "page aligned (4 KiB)",
				   (unsigned long long)v->gpa, (unsigned long long)v->size);
		/* a range past the top of the guest physical address space wraps: refuse it
		 * rather than convert from gpa to the bottom of memory */
		if (v->gpa + v->size < v->gpa)
			return bad(msg, n,
				   "verdict 'convert': gpa 0x%llx + size 0x%llx wraps past 2^64",
				   (unsigned long long)v->gpa, (unsigned long long)v->size);
		const char *to = field(L, idx, "to") == LUA_TSTRING ? name_str(L) : NULL;
		if (!to || (strcmp(to, "private") && strcmp(to, "shared"))) {
			lua_pop(L, 1);
			return bad(msg, n,
				   "verdict 'convert': 'to' must be \"private\" or \"shared\"");
		}
		v->to_private = to[0] == 'p';
		lua_pop(L, 1);
		break;
	}
	case XG_VERDICT_SUSPEND:
	case XG_VERDICT_STOP:
		str_field(L, idx, "reason", v->reason, sizeof(v->reason));
		break;
	case XG_VERDICT_MSR:
		if (int_field(L, idx, "value", 0, &v->value, name, msg, n) < 0)
			return -1;
		break;
	default:
		break;
	}
cache:
	if (depth == 0) {
		int t = field(L, idx, "cache");
		if (t == LUA_TSTRING) {
			*cache_shape = xg_cache_shape_from_name(name_str(L));
			if (!*cache_shape) {
				bad(msg, n,
				    "cache shape '%s' is not one of kind, insn, mmio, port, msr, "
				    "gpa_page",
				    name_str(L));
				lua_pop(L, 1);
				return -1;
			}
		} else if (t != LUA_TNIL) {
			lua_pop(L, 1);
			return bad(msg, n, "'cache' must be a shape name (xg.cache(v, \"insn\"))");
		}
		lua_pop(L, 1);
	}
	return 0;
}

int xg_verdict_from_lua(lua_State *L, int idx, struct xg_verdict *v, int *cache_shape, char *msg,
			size_t n)
{
	memset(v, 0, sizeof(*v));
	*cache_shape = 0;
	return from_lua(L, idx, v, cache_shape, 0, msg, n);
}

/* "inject UD", "dump inject GP", "suspend", "stop", "resume", "skip", "emulate",
 * "external_abort". */
int xg_verdict_parse_text(const char *text, struct xg_verdict *v, char *msg, size_t n)
{
	char buf[128], *w[4] = {0}, *save = NULL;
	int nw = 0, i = 0, k;

	memset(v, 0, sizeof(*v));
	if (!text)
		text = "inject UD";
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *t = strtok_r(buf, " \t", &save); t && nw < 4; t = strtok_r(NULL, " \t", &save))
		w[nw++] = t;
	if (nw && !strcmp(w[0], "dump")) {
		v->dump = 1;
		i = 1;
	}
	if (i >= nw)
		return bad(msg, n, "'%s' names no verdict (one of " VERDICT_LIST ")", text);
	k = kind_by_name(w[i]);
	if (k < 0 || k == XG_VERDICT_CONVERT)
		return bad(msg, n,
			   "'%s' is not a verdict on_error can take (emulate, inject V, "
			   "external_abort, suspend, resume, skip, stop, optionally after "
			   "'dump')",
			   w[i]);
	v->kind = (enum xg_verdict_kind)k;
	if (k == XG_VERDICT_INJECT) {
		if (i + 1 >= nw || (exception_by_name(w[i + 1], v) && arm64_by_name(w[i + 1], v)))
			return bad(msg, n,
				   "'%s': inject needs an exception name (UD, GP, ... on x86; "
				   "data_abort, undefined on arm64)",
				   text);
		i++;
	}
	if (i + 1 < nw)
		return bad(msg, n, "'%s': unexpected '%s'", text, w[i + 1]);
	if (k == XG_VERDICT_SUSPEND || k == XG_VERDICT_STOP)
		snprintf(v->reason, sizeof(v->reason), "on_error");
	return 0;
}

/* ---- applying -------------------------------------------------------------------------- */

/* Write a dump of x (NULL: no exit in hand) for this vCPU: a JSON file in the guest's
 * dump_dir (core/dump), or a log line when there is none. At most dump_max files per vCPU;
 * past that they are counted and one line says so. 0, or -1 with err. Cold: a dump is a
 * triage event, and inlined it made xg_verdict_apply 14 KiB on the Lua call's pages. */
__attribute__((noinline, cold)) static int write_dump(struct xg_vcpu *v, const struct xg_exit *x,
						      const char *verdict, const char *note,
						      char *path, size_t path_size,
						      struct xg_error *err)
{
	struct xg_lstate *ls = v->ls;
	struct xg_error kerr;
	const char *base;
	int removed;
	char own[4096];
	struct xg_dump_req r = {
	    .dir = ls->dump_dir,
	    .guest = ls->guest,
	    .run = v->e->run_id,
	    .vcpu = ls->index,
	    .policy = ls->chunk,
	    .handler = v->dump_handler,
	    .trigger = v->dump_trigger ? v->dump_trigger : "policy",
	    .verdict = verdict,
	    .note = note && note[0] ? note : NULL,
	    .error = v->dump_error,
	    .previous = v->dump_prev[0] ? v->dump_prev : NULL,
	    .dir_is_default = ls->dump_dir_default,
	    .x = x,
	    .ops = &v->ops,
	    .opaque = v->opaque,
	};

	if (!ls->dump_dir) {
		char text[160] = "";
		if (x && x->reason == 17 && x->u.internal.has_insn && x->u.internal.insn_size)
			xg_disasm_one(x->arch, x->u.internal.insn, x->u.internal.insn_size, 0,
				      text, sizeof(text));
		xg_st_add(&v->st, XG_ST(dumps), 1);
		xg_vcpu_log(v, "dump %s[%d]: exit %s (%s)%s%s then %s%s%s (no dump_dir: logged only)",
			    ls->guest, ls->index, x ? x->name : "none", x ? x->kind : "-",
			    text[0] ? ": " : "", text, verdict, note && note[0] ? ": " : "",
			    note ? note : "");
		snprintf(err->msg, sizeof(err->msg),
			 "guest '%s' has no dump_dir: the dump went to the log", ls->guest);
		return -1;
	}
	if (v->dump_seq >= ls->dump_max) {
		if (v->dumps_suppressed++ == 0)
			xg_vcpu_log(v,
				    "%s[%d]: dump limit reached (dump_max %llu): further dumps "
				    "are counted, not written",
				    ls->guest, ls->index, (unsigned long long)ls->dump_max);
		snprintf(err->msg, sizeof(err->msg),
			 "dump limit reached (dump_max %llu for %s[%d]); raise dump_max in the "
			 "config",
			 (unsigned long long)ls->dump_max, ls->guest, ls->index);
		return -1;
	}
	if (!path || !path_size)
		path = own, path_size = sizeof(own);
	r.seq = ++v->dump_seq;
	if (xg_dump_write(&r, path, path_size, err)) {
		xg_vcpu_log(v, "dump %s[%d]: %s", ls->guest, ls->index, err->msg);
		return -1;
	}
	xg_st_add(&v->st, XG_ST(dumps), 1);
	xg_vcpu_log(v, "dump %s[%d]: %s", ls->guest, ls->index, path);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strlen(base) < sizeof(v->dump_prev)) /* a dump's name always fits (dump.c) */
		memcpy(v->dump_prev, base, strlen(base) + 1);
	removed = xg_dump_retain(ls->dump_dir, ls->guest, ls->dump_keep.count, ls->dump_keep.bytes,
				 ls->dump_keep.age, v->dump_prev, &kerr);
	if (removed)
		xg_vcpu_log(v, "dump %s[%d]: removed %d old dump%s of %s from %s (dump_keep)",
			    ls->guest, ls->index, removed, removed == 1 ? "" : "s", ls->guest,
			    ls->dump_dir);
	if (kerr.msg[0])
		xg_vcpu_log(v, "dump %s[%d]: %s", ls->guest, ls->index, kerr.msg);
	return 0;
}

int xg_vcpu_dump(xg_vcpu *v, const char *note, char *path, size_t path_size, struct xg_error *err)
{
	const char *t = v->dump_trigger;
	int rc;

	v->dump_trigger = "ctl";
	rc = write_dump(v, v->x.name ? &v->x : NULL, "none", note, path, path_size, err);
	v->dump_trigger = t;
	return rc;
}

#define NEED(op, what)                                                                             \
	do {                                                                                       \
		if (!v->ops.op) {                                                                  \
			snprintf(msg, n,                                                           \
				 "verdict '%s' needs the VMM's %s op, which it does not "          \
				 "provide",                                                        \
				 xg_verdict_name(vd->kind), what);                                 \
			return XG_NEXT_ERROR;                                                      \
		}                                                                                  \
	} while (0)

/* An op of the VMM failed: say which verdict, what the VMM was asked to do (in words, for
 * the person reading the log; never the C call) and the errno it gave. */
static void op_failed(char *msg, size_t n, const struct xg_verdict *vd, int rc, const char *fmt,
		      ...) __attribute__((format(printf, 5, 6)));
static void op_failed(char *msg, size_t n, const struct xg_verdict *vd, int rc, const char *fmt,
		      ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, n, "verdict '%s': %s (%s)", xg_verdict_name(vd->kind), what,
		 strerror(rc < 0 ? -rc : rc));
}

/* OP(call, "what the VMM could not do", ...): return XG_NEXT_ERROR with the words when the
 * op fails. */
#define OP(call, ...)                                                                              \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_) {                                                                         \
			op_failed(msg, n, vd, rc_, __VA_ARGS__);                                   \
			return XG_NEXT_ERROR;                                                      \
		}                                                                                  \
	} while (0)

/* An arm64 synchronous exception taken to EL1 (ARM ARM D1.10.2) with ESR_EL1 built per
 * D17.2.37: EC 0x24 (from EL0) or 0x25 (from EL1) for a data abort, 0x00 (unknown reason)
 * for an undefined instruction; IL = 1 (A64 instructions are 32 bits); for the abort
 * ISV = 0, WnR as the exit says (or the policy), DFSC = fsc; FAR_EL1 the faulting VA. */
static enum xg_next inject_arm64(struct xg_vcpu *v, const struct xg_exit *x,
				 const struct xg_verdict *vd, char *msg, size_t n)
{
	const char *what = vd->a64 == XG_A64_DATA_ABORT ? "data_abort" : "undefined";
	struct xg_emu_arm64_regs regs;
	uint32_t esr = 1u << 25;
	uint64_t far = 0;
	unsigned el;
	int wnr = 0;

	if (x->arch != XG_ARCH_ARM64) {
		snprintf(msg, n,
			 "verdict 'inject': '%s' is an arm64 exception and this exit is from an "
			 "%s vCPU%s",
			 what, x->arch_name,
			 x->arch == XG_ARCH_X86_64 ? " (there: xg.inject \"UD\", \"GP\" ...)" : "");
		return XG_NEXT_ERROR;
	}
	NEED(inject_arm64_sync, "inject_arm64_sync");
	NEED(get_arm64_regs, "get_arm64_regs (the EL the guest is in picks the ESR's EC)");
	OP(v->ops.get_arm64_regs(v->opaque, &regs), "the VMM could not read the registers");
	el = (unsigned)((regs.pstate >> 2) & 3);
	if ((regs.pstate & (1u << 4)) || el > 1) {
		snprintf(msg, n,
			 "verdict 'inject': the vCPU is in %s (PSTATE 0x%llx); exitgate takes "
			 "exceptions from AArch64 EL0 and EL1 only",
			 (regs.pstate & (1u << 4)) ? "AArch32 state" : "EL2 or EL3",
			 (unsigned long long)regs.pstate);
		return XG_NEXT_ERROR;
	}
	if (vd->a64 == XG_A64_DATA_ABORT) {
		char why[256];
		if (x->reason == 28)
			wnr = x->u.arm_nisv.iss.wnr;
		else if (x->reason == 6)
			wnr = x->u.mmio.is_write;
		if (vd->has_wnr)
			wnr = vd->wnr;
		if (vd->has_far) {
			far = vd->far;
		} else if (xg_arm64_fault_va(&v->ops, v->opaque, x, &far, why, sizeof(why))) {
			snprintf(msg, n,
				 "verdict 'inject': the data abort's FAR (the VA of the access) "
				 "cannot be found: %s; give it: xg.inject(\"data_abort\", {far = "
				 "...})",
				 why);
			return XG_NEXT_ERROR;
		}
		esr |= (el ? 0x25u : 0x24u) << 26 | (wnr ? 1u << 6 : 0) | vd->fsc;
	}
	OP(v->ops.inject_arm64_sync(v->opaque, esr, far),
	   "the VMM could not take %s (ESR 0x%08x) in the vCPU at its %s exit",
	   vd->a64 == XG_A64_DATA_ABORT ? "a data abort" : "an undefined instruction", esr,
	   x->name ? x->name : x->kind);
	return XG_NEXT_RUN;
}

XG_HOT enum xg_next xg_verdict_emulate_x86(struct xg_vcpu *v, const struct xg_exit *x, char *msg,
					   size_t n)
{
	struct xg_emu_x86_result res;
	uint64_t hits = v->memo.hits;
	char why[160];
	int rc = xg_emulate_x86_status(&v->ops, v->opaque, x, &v->memo, &res, why, sizeof(why));

	xg_st_add(&v->st, XG_ST(emulated), 1);
	xg_st_add(&v->st, XG_ST(emulated_memo), v->memo.hits - hits);
	if (XG_UNLIKELY(rc)) {
		snprintf(msg, n, "verdict 'emulate': %s", why);
		return XG_NEXT_ERROR;
	}
	return XG_NEXT_RUN;
}

/* Returns what the loop does next, or XG_NEXT_ERROR with msg. */
XG_HOT_LUA enum xg_next xg_verdict_apply(struct xg_vcpu *v, const struct xg_exit *x,
					 const struct xg_verdict *vd, int *dumped, char *msg,
					 size_t n)
{
	if (XG_UNLIKELY(vd->dump)) {
		char path[512];
		struct xg_error err;
		write_dump(v, x, xg_verdict_name(vd->kind), vd->reason, path, sizeof(path), &err);
		*dumped = 1;
	}
	/* emulate, the verdict nearly every exit gets, ahead of the switch: the switch's jump
	 * table is in .rodata, one more page on every exit */
	if (XG_LIKELY(vd->kind == XG_VERDICT_EMULATE)) {
		if (XG_UNLIKELY(v->ops.emulate)) {
			OP(v->ops.emulate(v->opaque, x),
			   "the VMM's emulator could not carry out the instruction");
			return XG_NEXT_RUN;
		}
		if (XG_LIKELY(x->arch == XG_ARCH_X86_64 && v->ops.get_x86_regs))
			return xg_verdict_emulate_x86(v, x, msg, n);
		if (x->arch == XG_ARCH_ARM64 && v->ops.get_arm64_regs) {
			struct xg_emu_arm64_result res;
			char why[256];
			if (xg_emulate_arm64(&v->ops, v->opaque, x, &res, why, sizeof(why))) {
				snprintf(msg, n, "verdict 'emulate': %s", why);
				return XG_NEXT_ERROR;
			}
			return XG_NEXT_RUN;
		}
		NEED(emulate, "emulate (or get_x86_regs/get_arm64_regs ... for exitgate's "
			      "emulators)");
		return XG_NEXT_RUN;
	}
	switch (vd->kind) {
	case XG_VERDICT_INJECT: {
		char vec[48];
		if (vd->a64)
			return inject_arm64(v, x, vd, msg, n);
		if (x->arch != XG_ARCH_X86_64) {
			snprintf(
			    msg, n,
			    "verdict 'inject': %s is an x86 exception and this exit is from "
			    "an %s vCPU%s",
			    vector_words(vd->vector, vec, sizeof(vec)), x->arch_name,
			    x->arch == XG_ARCH_ARM64
				? " (there: xg.inject \"undefined\", xg.inject(\"data_abort\", "
				  "{...}) or xg.external_abort())"
				: "");
			return XG_NEXT_ERROR;
		}
		NEED(inject_exception, "inject_exception");
		if (vd->has_far) { /* xg.inject("PF", {cr2 = ...}): as the emulator's b_inject */
			NEED(set_reg, "set_reg (to set CR2)");
			OP(v->ops.set_reg(v->opaque, "cr2", vd->far),
			   "the VMM could not set CR2 to 0x%llx for the #PF",
			   (unsigned long long)vd->far);
		}
		/* which exit it was matters: after IO, MMIO and MSR exits the VMM must first
		 * undo the access (exitgate.h, inject_exception) */
		OP(v->ops.inject_exception(v->opaque, vd->vector, vd->has_error_code,
					   vd->error_code),
		   "the VMM could not inject %s into the vCPU at its %s exit",
		   vector_words(vd->vector, vec, sizeof(vec)), x->name ? x->name : x->kind);
		return XG_NEXT_RUN;
	}
	case XG_VERDICT_EXTERNAL_ABORT:
		NEED(inject_external_abort, "inject_external_abort");
		OP(v->ops.inject_external_abort(v->opaque),
		   "the VMM could not inject an external abort into the vCPU");
		return XG_NEXT_RUN;
	case XG_VERDICT_CONVERT:
		NEED(set_memory_attributes, "set_memory_attributes");
		OP(v->ops.set_memory_attributes(v->opaque, vd->gpa, vd->size, vd->to_private),
		   "the VMM could not make 0x%llx..0x%llx %s", (unsigned long long)vd->gpa,
		   (unsigned long long)(vd->gpa + vd->size - 1),
		   vd->to_private ? "private" : "shared");
		return XG_NEXT_RUN;
	case XG_VERDICT_SUSPEND:
		if (v->ops.pause)
			OP(v->ops.pause(v->opaque,
					vd->reason[0] ? vd->reason : "suspended by policy"),
			   "the VMM could not suspend the vCPU");
		return XG_NEXT_PAUSE;
	case XG_VERDICT_RESUME:
		return XG_NEXT_RUN;
	case XG_VERDICT_SKIP: {
		unsigned len;
		const char *pc = x->arch == XG_ARCH_ARM64 ? "pc" : "rip";
		uint64_t ip;
		char why[160];
		if (x->arch == XG_ARCH_ARM64)
			len = 4; /* A64 instructions are 4 bytes */
		else if (x->reason != 17 || !x->u.internal.has_insn || !x->u.internal.insn_size) {
			snprintf(msg, n,
				 "verdict 'skip': exit '%s' carries no instruction length "
				 "(only emulation failures with instruction bytes do on x86)",
				 x->kind);
			return XG_NEXT_ERROR;
		} else if (!(len = xg_x86_insn_length(&v->ops, v->opaque, x, why, sizeof(why)))) {
			/* KVM reports up to 15 bytes fetched at RIP, not the length: decode */
			snprintf(msg, n, "verdict 'skip': the instruction length is unknown: %s", why);
			return XG_NEXT_ERROR;
		}
		if (x->arch == XG_ARCH_ARM64 && (!v->ops.get_reg || !v->ops.set_reg) &&
		    v->ops.get_arm64_regs && v->ops.set_arm64_regs) {
			/* a VMM with the emulator's arm64 ops only */
			struct xg_emu_arm64_regs r;
			OP(v->ops.get_arm64_regs(v->opaque, &r), "the VMM could not read pc");
			r.pc += len;
			OP(v->ops.set_arm64_regs(v->opaque, &r),
			   "the VMM could not move pc past the instruction");
			return XG_NEXT_RUN;
		}
		NEED(get_reg, "get_reg");
		NEED(set_reg, "set_reg");
		OP(v->ops.get_reg(v->opaque, pc, &ip), "the VMM could not read %s", pc);
		OP(v->ops.set_reg(v->opaque, pc, ip + len),
		   "the VMM could not move %s past the instruction", pc);
		return XG_NEXT_RUN;
	}
	case XG_VERDICT_STOP:
		return XG_NEXT_STOP;
	case XG_VERDICT_MSR:
		if (x->reason != 29 && x->reason != 30 /* KVM_EXIT_X86_RDMSR, _WRMSR */) {
			snprintf(msg, n,
				 "verdict 'msr' answers x86_rdmsr/x86_wrmsr exits; this exit is %s",
				 x->kind);
			return XG_NEXT_ERROR;
		}
		NEED(msr_reply, "msr_reply");
		OP(v->ops.msr_reply(v->opaque, 0, vd->value),
		   "the VMM could not answer the MSR access");
		return XG_NEXT_RUN;
	default:
		snprintf(msg, n, "no verdict to apply");
		return XG_NEXT_ERROR;
	}
}

int xg_vcpu_can_emulate(struct xg_vcpu *v, const struct xg_exit *x, char *why, size_t n)
{
	if (!v) {
		snprintf(why, n, "no vCPU");
		return 0;
	}
	if (v->ops.emulate) {
		if (v->ops.can_emulate && v->ops.can_emulate(v->opaque, x) > 0)
			return 1;
		snprintf(why, n, "the VMM's emulator does not take this %s exit", x->kind);
		return 0;
	}
	if (x->arch == XG_ARCH_ARM64)
		return xg_emulate_arm64_supports(&v->ops, v->opaque, x, why, n);
	return xg_emulate_x86_supports(&v->ops, v->opaque, x, why, n);
}
