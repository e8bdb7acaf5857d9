/*
 * cmd_test.c - `exitgate test FILE...`: policy writers' own tests. A test file is Lua; it
 * loads a policy into a real engine with a fake vCPU, feeds it constructed or recorded
 * exits and asserts on what the engine did. Output is TAP, so `prove` runs test files.
 *
 *   local p = policy "../../policies/default.lua"            -- path relative to the test
 *   local p = policy("x.lua", { params = "{ strict: true }", on_error = "stop",
 *                              instructions = 1000, memory = "1M" })
 *   local r = p:exit { kind = "emulation_failure", insn = "d9 00", regs = { rip = 0x1000 } }
 *   is(r.verdict, "inject", "unknown instruction -> #UD"); is(r.vector, 6)
 *   r = p:exit { hex = "../../examples/exits/memory-fault-private.hex", errno = 14 }
 *   ok(r.dumped); like(r.error, "bad_verdict"); done_testing()
 *
 * An exit spec: kind (or reason = number), arch ("x86_64"/"arm64"), and per kind: insn
 * (hex) for emulation_failure; gpa, len, write for mmio; port, out, size for io; index,
 * write for msr; gpa, size, private for memory_fault; esr_iss, fault_ipa for arm_nisv; nr,
 * args for hypercall; type for system_event; or hex = a commented hex kvm_run file; or
 * record = a file of `exitgate run --record` and index = n (the exit `exitgate replay` prints
 * as #n, default 0): its kvm_run, arch, and the registers and guest memory the vCPU was
 * read for (the first answer to each, memory within 64 KiB of the first page read), which
 * regs and mem below may override. record_exits(file) is the number of exits a record holds.
 * regs = { name = value } and mem = { [gpa] = "bytes" } set the fake vCPU first (an arm64
 * vCPU's registers are x0..x30, sp, pc, pstate (default EL1h), sctlr_el1, tcr_el1, ttbr0/1_el1;
 * the instruction of an arm64 data abort is the word at pc in mem).
 *
 * The result: verdict, next ("run", "pause", "stop", "error"), fail (nil or the reason),
 * error (the message), cached, dumped, vector, error_code, esr and far (an arm64 exception
 * taken: inject "undefined"/"data_abort"), emulated, aborted, converted =
 * { gpa, size, to }, paused (the reason), msr (the value an msr verdict answered), rip
 * (after the verdict), logs (the lines the exit logged: xg.log, print, the engine's reports).
 *
 * Also: p:logs() (every line since the last call, load time included), p:store(key) (the
 * guest's xg.store value), p:reload() (re-read the policy file: true, or false and the error;
 * the old policy stays on failure), p:stats().
 */
#include <errno.h>
#include <lauxlib.h>
#include <linux/kvm.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "trace/trace.h"
#include "xg_emu_arm64.h"

#define POLICY_MT "exitgate.test.policy"
#define NREGS	  64

struct treg {
	char name[16];
	uint64_t val;
};

struct tvcpu {
	struct treg regs[NREGS];
	int nregs;
	uint8_t mem[0x10000];
	uint64_t mem_base;
	int injected, vector, has_code;
	uint32_t code;
	int emulated, aborted, converted, to_private, paused;
	uint64_t conv_gpa, conv_size;
	char pause_reason[128];
	int msr_answered, msr_error;
	uint64_t msr_value;
	int synced; /* an arm64 synchronous exception taken (inject_arm64_sync) */
	uint32_t esr;
	uint64_t far;
};

#define MAX_LOG 10000 /* lines a policy's log keeps for the test (the rest are counted) */

struct tpolicy {
	xg_engine *e;
	xg_vcpu *v;
	struct tvcpu *t;
	char **log; /* what the policy logged (xg.log, print, the engine's reports) */
	size_t nlog, taken, dropped;
	enum xg_arch arch;
	char dir[512];
};

static struct treg *reg(struct tvcpu *t, const char *name, int create)
{
	for (int i = 0; i < t->nregs; i++)
		if (!strcmp(t->regs[i].name, name))
			return &t->regs[i];
	if (!create || t->nregs == NREGS)
		return NULL;
	snprintf(t->regs[t->nregs].name, sizeof(t->regs[0].name), "%s", name);
	t->regs[t->nregs].val = 0;
	return &t->regs[t->nregs++];
}

static int t_get_reg(void *o, const char *n, uint64_t *v)
{
	struct treg *r = reg(o, n, 0);

	if (!r)
		return -ENOENT;
	*v = r->val;
	return 0;
}

static int t_set_reg(void *o, const char *n, uint64_t v)
{
	struct treg *r = reg(o, n, 1);

	if (!r)
		return -ENOSPC;
	r->val = v;
	return 0;
}

static int t_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct tvcpu *t = o;

	if (gpa < t->mem_base || gpa - t->mem_base >= sizeof(t->mem) ||
	    len > sizeof(t->mem) - (gpa - t->mem_base))
		return -EFAULT;
	memcpy(buf, t->mem + (gpa - t->mem_base), len);
	return 0;
}

static int t_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	*gpa = gva; /* identity: tests give guest-physical addresses */
	return 0;
}

static int t_inject(void *o, unsigned vector, int has, uint32_t code)
{
	struct tvcpu *t = o;

	t->injected++;
	t->vector = (int)vector;
	t->has_code = has;
	t->code = code;
	return 0;
}

static int t_abort(void *o)
{
	((struct tvcpu *)o)->aborted++;
	return 0;
}

static int t_attrs(void *o, uint64_t gpa, uint64_t size, int priv)
{
	struct tvcpu *t = o;

	t->converted++;
	t->conv_gpa = gpa;
	t->conv_size = size;
	t->to_private = priv;
	return 0;
}

static int t_emulate(void *o, const struct xg_exit *x)
{
	((struct tvcpu *)o)->emulated++;
	return 0;
}

static int t_pause(void *o, const char *why)
{
	struct tvcpu *t = o;

	t->paused++;
	snprintf(t->pause_reason, sizeof(t->pause_reason), "%s", why);
	return 0;
}

static int t_msr_reply(void *o, int error, uint64_t value)
{
	struct tvcpu *t = o;

	t->msr_answered = 1;
	t->msr_error = error;
	t->msr_value = value;
	return 0;
}

/* An arm64 vCPU in a test: the registers by name ("x0".."x30", "sp", "pc", "pstate",
 * "sctlr_el1", "tcr_el1", "ttbr0_el1", "ttbr1_el1"), at EL1h (pstate 0x3c5) unless the test
 * sets pstate; memory is the test's mem = { ... }. */
static const char *const a64_sys[] = {"sctlr_el1", "tcr_el1", "ttbr0_el1", "ttbr1_el1"};

static int t_get_arm64_regs(void *o, struct xg_emu_arm64_regs *r)
{
	char n[8];
	uint64_t *sys[] = {&r->sctlr_el1, &r->tcr_el1, &r->ttbr0_el1, &r->ttbr1_el1};

	memset(r, 0, sizeof(*r));
	r->pstate = 0x3c5;
	for (int i = 0; i < 31; i++) {
		snprintf(n, sizeof(n), "x%d", i);
		t_get_reg(o, n, &r->x[i]);
	}
	t_get_reg(o, "sp", &r->sp);
	t_get_reg(o, "pc", &r->pc);
	t_get_reg(o, "pstate", &r->pstate);
	for (int i = 0; i < 4; i++)
		t_get_reg(o, a64_sys[i], sys[i]);
	return 0;
}

static int t_set_arm64_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	char n[8];

	for (int i = 0; i < 31; i++) {
		snprintf(n, sizeof(n), "x%d", i);
		if (t_set_reg(o, n, r->x[i]))
			return -ENOSPC;
	}
	if (t_set_reg(o, "sp", r->sp) || t_set_reg(o, "pc", r->pc) ||
	    t_set_reg(o, "pstate", r->pstate))
		return -ENOSPC;
	return 0;
}

static int t_get_arm64_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	memset(v, 0, sizeof(*v));
	return 0;
}

static int t_set_arm64_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	return 0;
}

static int t_arm64_sync(void *o, uint32_t esr, uint64_t far)
{
	struct tvcpu *t = o;

	t->synced++;
	t->esr = esr;
	t->far = far;
	return 0;
}

/* xg.emulator.supports(e) in a test: exitgate's emulator decides from the bytes alone, as
 * for a 64-bit guest; on arm64 from the instruction at the test's pc (in its mem). */
static int t_can_emulate(void *o, const struct xg_exit *x)
{
	static const struct xg_vcpu_ops a64 = {
	    .read_gpa = t_read,
	    .get_arm64_regs = t_get_arm64_regs,
	    .set_arm64_regs = t_set_arm64_regs,
	    .get_arm64_vregs = t_get_arm64_vregs,
	    .set_arm64_vregs = t_set_arm64_vregs,
	    .inject_arm64_sync = t_arm64_sync,
	};
	char why[128];

	if (x->arch == XG_ARCH_ARM64)
		return xg_emulate_arm64_supports(&a64, o, x, why, sizeof(why));
	return xg_emulate_x86_supports(NULL, NULL, x, why, sizeof(why));
}

static const struct xg_vcpu_ops tops = {
    .get_reg = t_get_reg,
    .set_reg = t_set_reg,
    .read_gpa = t_read,
    .translate_gva = t_translate,
    .inject_exception = t_inject,
    .inject_external_abort = t_abort,
    .set_memory_attributes = t_attrs,
    .emulate = t_emulate,
    .can_emulate = t_can_emulate,
    .pause = t_pause,
    .msr_reply = t_msr_reply,
    .get_arm64_regs = t_get_arm64_regs,
    .set_arm64_regs = t_set_arm64_regs,
    .get_arm64_vregs = t_get_arm64_vregs,
    .set_arm64_vregs = t_set_arm64_vregs,
    .inject_arm64_sync = t_arm64_sync,
};

/* The engine's log: kept for r.logs and p:logs(); shown as TAP comments with
 * XG_TEST_VERBOSE. */
static void keep_log(void *ud, const char *line)
{
	struct tpolicy *p = ud;
	char *l;

	if (getenv("XG_TEST_VERBOSE"))
		printf("# log: %s\n", line);
	if (p->nlog >= MAX_LOG || !(l = strdup(line))) {
		p->dropped++;
		return;
	}
	if (!(p->nlog & (p->nlog - 1)) || !p->log) {
		char **nl = realloc(p->log, (p->nlog ? p->nlog * 2 : 16) * sizeof(*nl));
		if (!nl) {
			free(l);
			p->dropped++;
			return;
		}
		p->log = nl;
	}
	p->log[p->nlog++] = l;
}

/* Lines [from, p->nlog) as a Lua array. */
static void push_log(lua_State *L, struct tpolicy *p, size_t from)
{
	lua_createtable(L, (int)(p->nlog - from), 0);
	for (size_t i = from; i < p->nlog; i++) {
		lua_pushstring(L, p->log[i]);
		lua_rawseti(L, -2, (lua_Integer)(i - from + 1));
	}
}

static const char *test_dir(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "xg_test_dir");
	const char *d = lua_tostring(L, -1);
	lua_pop(L, 1);
	return d ? d : ".";
}

static void resolve(lua_State *L, const char *p, char *out, size_t n)
{
	if (p[0] == '/')
		snprintf(out, n, "%s", p);
	else
		snprintf(out, n, "%s/%s", test_dir(L), p);
}

static const char *opt_str(lua_State *L, int t, const char *k)
{
	const char *s = NULL;

	if (lua_istable(L, t) && lua_getfield(L, t, k) != LUA_TNIL) {
		s = lua_tostring(L, -1);
		if (!s)
			luaL_error(L, "policy option '%s' must be a string", k);
	}
	if (lua_istable(L, t))
		lua_pop(L, 1);
	return s;
}

/* policy(path [, opts]) */
static int l_policy(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const char *params = opt_str(L, 2, "params"), *on_error = opt_str(L, 2, "on_error");
	const char *ins = opt_str(L, 2, "instructions"), *mem = opt_str(L, 2, "memory");
	const char *arch = opt_str(L, 2, "arch");
	char abs[1024], yaml[4096];
	struct xg_error err;
	struct tpolicy *p;
	xg_config *cfg;
	int n;

	resolve(L, path, abs, sizeof(abs));
	n = snprintf(yaml, sizeof(yaml), "guests:\n  test:\n    policy: '%s'\n", abs);
	if (params)
		n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "    params: %s\n", params);
	if (on_error)
		n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "    on_error: %s\n", on_error);
	if (ins || mem)
		n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "    limits: {%s%s%s%s%s}\n",
			      ins ? " instructions: " : "", ins ? ins : "", ins && mem ? "," : "",
			      mem ? " memory: " : "", mem ? mem : "");
	if (n >= (int)sizeof(yaml))
		return luaL_error(L, "policy options too long");
	cfg = xg_config_parse(yaml, (size_t)n, "test options", NULL, &err);
	if (!cfg)
		return luaL_error(L, "%s", err.msg);
	p = lua_newuserdatauv(L, sizeof(*p), 0);
	memset(p, 0, sizeof(*p));
	luaL_setmetatable(L, POLICY_MT);
	p->arch = XG_ARCH_X86_64;
	if (arch && xg_arch_from_name(arch, &p->arch)) {
		xg_config_free(cfg);
		return luaL_error(L, "unknown arch '%s'", arch);
	}
	p->e = xg_engine_new(cfg, &err);
	xg_config_free(cfg);
	if (!p->e)
		return luaL_error(L, "%s", err.msg);
	xg_engine_set_log(p->e, keep_log, p);
	p->t = calloc(1, sizeof(*p->t));
	p->v = p->t ? xg_vcpu_attach(p->e, "test", 0, &tops, p->t, &err) : NULL;
	if (!p->v)
		return luaL_error(L, "%s", p->t ? err.msg : "out of memory");
	return 1;
}

static int l_policy_gc(lua_State *L)
{
	struct tpolicy *p = luaL_checkudata(L, 1, POLICY_MT);

	xg_vcpu_detach(p->v);
	xg_engine_free(p->e);
	free(p->t);
	for (size_t i = 0; i < p->nlog; i++)
		free(p->log[i]);
	free(p->log);
	p->log = NULL;
	p->nlog = p->taken = 0;
	p->v = NULL;
	p->e = NULL;
	p->t = NULL;
	return 0;
}

static lua_Integer get_int(lua_State *L, int t, const char *k, lua_Integer def)
{
	lua_Integer v = def;

	if (lua_getfield(L, t, k) != LUA_TNIL) {
		int isnum;
		v = lua_tointegerx(L, -1, &isnum);
		if (!isnum)
			luaL_error(L, "exit field '%s' must be an integer", k);
	}
	lua_pop(L, 1);
	return v;
}

static int get_bool(lua_State *L, int t, const char *k)
{
	lua_getfield(L, t, k);
	int b = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return b;
}

static size_t hex_bytes(lua_State *L, const char *s, uint8_t *out, size_t max)
{
	uint8_t *b;
	size_t n;
	struct xg_error err;

	if (xg_cli_parse_hex(s, strlen(s), &b, &n, &err))
		luaL_error(L, "insn: %s", err.msg);
	if (n > max) {
		free(b);
		luaL_error(L, "insn: %d bytes, at most %d", (int)n, (int)max);
	}
	memcpy(out, b, n);
	free(b);
	return n;
}

static uint32_t reason_of(lua_State *L, const char *k)
{
	static const struct {
		const char *k;
		uint32_t r;
	} m[] = {{"emulation_failure", 17}, {"msr", 29}, {"bus_lock", 33}};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcmp(k, m[i].k))
			return m[i].r;
	for (uint32_t r = 0; r < 64; r++) {
		const char *n = xg_exit_reason_name(r);
		if (n && !strcmp(n, k))
			return r;
	}
	luaL_error(L, "exit kind '%s' is not known", k);
	return 0;
}

/* Build the kvm_run of spec (table at index t) into run. */
static size_t build_run(lua_State *L, int t, uint8_t *run, size_t size)
{
	struct kvm_run *kr = (struct kvm_run *)run;
	const char *kind = NULL, *hex;
	uint32_t reason;

	memset(run, 0, size);
	if (lua_getfield(L, t, "hex") == LUA_TSTRING) {
		char path[1024];
		uint8_t *text, *b;
		size_t tl, n;
		struct xg_error err;
		hex = lua_tostring(L, -1);
		resolve(L, hex, path, sizeof(path));
		if (xg_cli_read_all(path, &text, &tl, &err))
			luaL_error(L, "%s", err.msg);
		if (xg_cli_parse_hex((const char *)text, tl, &b, &n, &err)) {
			free(text);
			luaL_error(L, "%s: %s", path, err.msg);
		}
		free(text);
		memcpy(run, b, n < size ? n : size);
		free(b);
		lua_pop(L, 1);
		return size;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, t, "kind") == LUA_TSTRING)
		kind = lua_tostring(L, -1);
	reason = kind ? reason_of(L, kind) : (uint32_t)get_int(L, t, "reason", 0);
	lua_pop(L, 1);
	kr->exit_reason = reason;
	switch (reason) {
	case KVM_EXIT_INTERNAL_ERROR:
		kr->emulation_failure.suberror =
		    (uint32_t)get_int(L, t, "suberror", KVM_INTERNAL_ERROR_EMULATION);
		kr->emulation_failure.ndata = (uint32_t)get_int(L, t, "ndata", 3);
		if (lua_getfield(L, t, "insn") == LUA_TSTRING) {
			kr->emulation_failure.flags =
			    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
			kr->emulation_failure.insn_size = (uint8_t)hex_bytes(
			    L, lua_tostring(L, -1), kr->emulation_failure.insn_bytes, 15);
		}
		lua_pop(L, 1);
		break;
	case KVM_EXIT_MMIO:
		kr->mmio.phys_addr = (uint64_t)get_int(L, t, "gpa", 0);
		kr->mmio.len = (uint32_t)get_int(L, t, "len", 4);
		kr->mmio.is_write = (uint8_t)get_bool(L, t, "write");
		break;
	case KVM_EXIT_IO:
		kr->io.port = (uint16_t)get_int(L, t, "port", 0);
		kr->io.size = (uint8_t)get_int(L, t, "size", 1);
		kr->io.count = 1;
		kr->io.direction = (uint8_t)get_bool(L, t, "out");
		kr->io.data_offset = 1024;
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		if (get_bool(L, t, "write"))
			kr->exit_reason = KVM_EXIT_X86_WRMSR;
		kr->msr.index = (uint32_t)get_int(L, t, "index", 0);
		kr->msr.data = (uint64_t)get_int(L, t, "data", 0);
		kr->msr.reason = 1;
		break;
	case 39: { /* memory_fault: flags, gpa, size */
		uint64_t w[3] = {get_bool(L, t, "private") ? 8u : 0u,
				 (uint64_t)get_int(L, t, "gpa", 0),
				 (uint64_t)get_int(L, t, "size", 4096)};
		memcpy(run + 32, w, sizeof(w));
		break;
	}
	case KVM_EXIT_ARM_NISV:
		kr->arm_nisv.esr_iss = (uint64_t)get_int(L, t, "esr_iss", 0);
		kr->arm_nisv.fault_ipa = (uint64_t)get_int(L, t, "fault_ipa", 0);
		break;
	case KVM_EXIT_HYPERCALL:
		kr->hypercall.nr = (uint64_t)get_int(L, t, "nr", 0);
		if (lua_getfield(L, t, "args") == LUA_TTABLE)
			for (int i = 0; i < 6; i++) {
				lua_rawgeti(L, -1, i + 1);
				kr->hypercall.args[i] = (uint64_t)lua_tointeger(L, -1);
				lua_pop(L, 1);
			}
		lua_pop(L, 1);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		kr->system_event.type = (uint32_t)get_int(L, t, "type", 0);
		break;
	default:
		break;
	}
	return size;
}

/* p:exit{record = file, index = n}: exit n of a record into run[0..4096) and the fake vCPU;
 * *arch from the record when the spec gives none. Errors name the file and the offset. */
static void from_record(lua_State *L, struct tvcpu *t, const char *file, lua_Integer index,
			uint8_t *run, enum xg_arch *arch)
{
	char path[1024];
	struct xg_trc trc;
	struct xg_error err;
	const struct xg_trc_exit *x;
	int have_mem = 0;

	resolve(L, file, path, sizeof(path));
	if (xg_trc_load(path, &trc, &err))
		luaL_error(L, "%s", err.msg);
	if (index < 0 || (uint64_t)index >= trc.nexits) {
		size_t n = trc.nexits;
		xg_trc_free(&trc);
		luaL_error(L, "%s: no exit %I: the record holds %I (0 to %I)", path, index,
			   (lua_Integer)n, (lua_Integer)n - 1);
	}
	x = &trc.exits[index];
	if (arch)
		*arch = (enum xg_arch)trc.arch;
	memset(run, 0, 4096);
	memcpy(run, x->run, x->run_len);
	/* the state when the exit came: the first answer to each read (the baseline is taken
	 * before the policy runs), so the ops are applied last to first */
	for (uint32_t i = 0; i < x->nops && !have_mem; i++)
		if (x->ops[i].kind == XG_TRC_READ_GPA && !x->ops[i].rc) {
			t->mem_base = x->ops[i].a & ~0xfffull;
			memset(t->mem, 0, sizeof(t->mem));
			have_mem = 1;
		}
	for (uint32_t i = x->nops; i-- > 0;) {
		const struct xg_trc_op *op = &x->ops[i];
		if (op->rc)
			continue;
		if (op->kind == XG_TRC_GET_REG && op->blen < 16) {
			char name[16];
			memcpy(name, op->blob, op->blen);
			name[op->blen] = 0;
			t_set_reg(t, name, op->a);
		} else if (op->kind == XG_TRC_READ_GPA && op->a >= t->mem_base &&
			   op->a - t->mem_base < sizeof(t->mem) &&
			   op->blen <= sizeof(t->mem) - (op->a - t->mem_base)) {
			memcpy(t->mem + (op->a - t->mem_base), op->blob, op->blen);
		}
	}
	xg_trc_free(&trc);
}

/* record_exits(file): how many exits a record holds */
static int l_record_exits(lua_State *L)
{
	char path[1024];
	struct xg_trc trc;
	struct xg_error err;
	size_t n;

	resolve(L, luaL_checkstring(L, 1), path, sizeof(path));
	if (xg_trc_load(path, &trc, &err))
		return luaL_error(L, "%s", err.msg);
	n = trc.nexits;
	xg_trc_free(&trc);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

static const char *next_name(enum xg_next n)
{
	static const char *const names[] = {"run", "pause", "stop", "error"};

	return (unsigned)n < 4 ? names[n] : "?";
}

/* p:exit(spec) */
static int l_exit(lua_State *L)
{
	struct tpolicy *p = luaL_checkudata(L, 1, POLICY_MT);
	struct tvcpu *t = p->t;
	_Alignas(8) uint8_t run[4096];
	struct xg_exit_opts o = {p->arch, XG_HW_VMX};
	const char *arch = NULL;
	struct xg_result r;
	struct xg_exit x;
	struct xg_error err;
	uint64_t rip = 0;
	size_t mark;
	int have_run = 0;

	luaL_checktype(L, 2, LUA_TTABLE);
	if (!p->v)
		return luaL_error(L, "policy object already closed");
	if (lua_getfield(L, 2, "arch") == LUA_TSTRING)
		arch = lua_tostring(L, -1);
	lua_pop(L, 1);
	if (arch && xg_arch_from_name(arch, &o.arch))
		return luaL_error(L, "unknown arch '%s'", arch);
	if (lua_getfield(L, 2, "record") == LUA_TSTRING) {
		if (!arch)
			o.arch = p->arch;
		from_record(L, t, lua_tostring(L, -1), get_int(L, 2, "index", 0), run,
			    arch ? NULL : &o.arch);
		have_run = 1;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 2, "regs") == LUA_TTABLE) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			t_set_reg(t, luaL_checkstring(L, -2), (uint64_t)luaL_checkinteger(L, -1));
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 2, "mem") == LUA_TTABLE) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			size_t len;
			const char *b = luaL_checklstring(L, -1, &len);
			uint64_t gpa = (uint64_t)luaL_checkinteger(L, -2);
			t->mem_base = gpa & ~0xfffull;
			if (gpa - t->mem_base + len > sizeof(t->mem))
				return luaL_error(L, "mem: at most 64 KiB from the page of 0x%I",
						  (lua_Integer)gpa);
			memcpy(t->mem + (gpa - t->mem_base), b, len);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (!have_run)
		build_run(L, 2, run, sizeof(run));
	t->injected = t->emulated = t->aborted = t->converted = t->paused = 0;
	t->msr_answered = 0;
	t->synced = 0;
	t->pause_reason[0] = 0;
	if (xg_exit_decode(&x, run, sizeof(run), &o, &err))
		return luaL_error(L, "%s", err.msg);
	mark = p->nlog;
	r = xg_handle_decoded(p->v, &x);

	lua_newtable(L);
	lua_pushstring(L, r.verdict ? xg_verdict_name(r.verdict) : "none");
	lua_setfield(L, -2, "verdict");
	lua_pushstring(L, next_name(r.next));
	lua_setfield(L, -2, "next");
	if (r.fail) {
		lua_pushstring(L, xg_fail_name(r.fail));
		lua_setfield(L, -2, "fail");
		lua_pushstring(L, xg_vcpu_last_error(p->v));
		lua_setfield(L, -2, "error");
	}
	lua_pushboolean(L, r.cached);
	lua_setfield(L, -2, "cached");
	lua_pushboolean(L, r.dumped);
	lua_setfield(L, -2, "dumped");
	if (t->injected) {
		lua_pushinteger(L, t->vector);
		lua_setfield(L, -2, "vector");
		if (t->has_code) {
			lua_pushinteger(L, t->code);
			lua_setfield(L, -2, "error_code");
		}
	}
	if (t->synced) {
		lua_pushinteger(L, t->esr);
		lua_setfield(L, -2, "esr");
		lua_pushinteger(L, (lua_Integer)t->far);
		lua_setfield(L, -2, "far");
	}
	lua_pushboolean(L, t->emulated);
	lua_setfield(L, -2, "emulated");
	lua_pushboolean(L, t->aborted);
	lua_setfield(L, -2, "aborted");
	if (t->converted) {
		lua_createtable(L, 0, 3);
		lua_pushinteger(L, (lua_Integer)t->conv_gpa);
		lua_setfield(L, -2, "gpa");
		lua_pushinteger(L, (lua_Integer)t->conv_size);
		lua_setfield(L, -2, "size");
		lua_pushstring(L, t->to_private ? "private" : "shared");
		lua_setfield(L, -2, "to");
		lua_setfield(L, -2, "converted");
	}
	if (t->paused) {
		lua_pushstring(L, t->pause_reason);
		lua_setfield(L, -2, "paused");
	}
	if (t->msr_answered) {
		lua_pushinteger(L, (lua_Integer)t->msr_value);
		lua_setfield(L, -2, "msr");
	}
	if (!t_get_reg(t, o.arch == XG_ARCH_ARM64 ? "pc" : "rip", &rip)) {
		lua_pushinteger(L, (lua_Integer)rip);
		lua_setfield(L, -2, "rip");
	}
	push_log(L, p, mark);
	lua_setfield(L, -2, "logs");
	return 1;
}

/* p:logs(): every line logged since the last p:logs() (load time included), as an array. */
static int l_logs(lua_State *L)
{
	struct tpolicy *p = luaL_checkudata(L, 1, POLICY_MT);

	push_log(L, p, p->taken);
	p->taken = p->nlog;
	if (p->dropped) {
		lua_pushfstring(L, "(%I more lines were not kept)", (lua_Integer)p->dropped);
		lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
		p->dropped = 0;
	}
	return 1;
}

/* p:reload(): re-read the policy file, as a running VMM's reload does (the new policy
 * serves from the next exit). true, or false and the error (the old policy stays). */
static int l_reload(lua_State *L)
{
	struct tpolicy *p = luaL_checkudata(L, 1, POLICY_MT);
	struct xg_error err = {{0}};

	if (xg_engine_reload(p->e, &err)) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, err.msg);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* p:store(key): the value the policy's xg.store holds for key (nil when none). */
static int l_store(lua_State *L)
{
	struct tpolicy *p = luaL_checkudata(L, 1, POLICY_MT);
	struct xg_store_value v;
	size_t kl;
	const char *k;

	if (lua_type(L, 2) == LUA_TNUMBER) /* xg.store keys numbers by their text */
		lua_tostring(L, 2);
	k = luaL_checklstring(L, 2, &kl);
	if (xg_engine_store_get(p->e, "test", k, kl, &v))
		return luaL_error(L, "out of memory");
	switch (v.type) {
	case XG_STORE_BOOLEAN:
		lua_pushboolean(L, (int)v.i);
		break;
	case XG_STORE_INTEGER:
		lua_pushinteger(L, (lua_Integer)v.i);
		break;
	case XG_STORE_NUMBER:
		lua_pushnumber(L, v.d);
		break;
	case XG_STORE_STRING:
		lua_pushlstring(L, v.s, v.len);
		free(v.s);
		break;
	default:
		lua_pushnil(L);
	}
	return 1;
}

/* p:stats() */
static int l_stats(lua_State *L)
{
	struct tpolicy *p = luaL_checkudata(L, 1, POLICY_MT);
	struct xg_stats s;

	xg_vcpu_stats(p->v, &s);
	lua_newtable(L);
	lua_pushinteger(L, (lua_Integer)s.exits);
	lua_setfield(L, -2, "exits");
	lua_pushinteger(L, (lua_Integer)s.lua_calls);
	lua_setfield(L, -2, "lua_calls");
	lua_pushinteger(L, (lua_Integer)s.cache_hits);
	lua_setfield(L, -2, "cache_hits");
	lua_pushinteger(L, (lua_Integer)s.cache_misses);
	lua_setfield(L, -2, "cache_misses");
	lua_pushinteger(L, (lua_Integer)s.dumps);
	lua_setfield(L, -2, "dumps");
	return 1;
}

/* The TAP side, in Lua: the functions a test file calls. */
static const char tap_lua[] =
    "local n, failed, planned = 0, 0, nil\n"
    "local function report(c, name, ...)\n"
    "  n = n + 1\n"
    "  io.write((c and 'ok ' or 'not ok ') .. n .. (name and (' - ' .. tostring(name)) or '') .. "
    "'\\n')\n"
    "  if not c then\n"
    "    failed = failed + 1\n"
    "    local info = debug.getinfo(3, 'Sl')\n"
    "    if info then io.write(string.format('#   Failed test at %s line %d.\\n', info.short_src, "
    "info.currentline)) end\n"
    "    for _, l in ipairs({...}) do io.write('#   ' .. l .. '\\n') end\n"
    "  end\n"
    "  return c\n"
    "end\n"
    "function plan(k) planned = k io.write('1..' .. k .. '\\n') end\n"
    "function ok(c, name) return report(not not c, name) end\n"
    "function is(got, want, name)\n"
    "  return report(got == want, name, '     got: ' .. tostring(got), '  wanted: ' .. "
    "tostring(want))\n"
    "end\n"
    "function isnt(got, want, name)\n"
    "  return report(got ~= want, name, '     got: ' .. tostring(got), '  wanted anything else')\n"
    "end\n"
    "function like(got, pat, name)\n"
    "  return report(type(got) == 'string' and got:find(pat, 1, true) ~= nil, name,\n"
    "    '     got: ' .. tostring(got), '  wanted something containing: ' .. pat)\n"
    "end\n"
    "function diag(...) io.write('# ' .. table.concat({...}, ' ') .. '\\n') end\n"
    "function done_testing() if not planned then planned = n io.write('1..' .. n .. '\\n') end\n"
    "  return failed end\n"
    "function __xg_failed() return failed, n, planned end\n";

static int run_file(const char *path)
{
	lua_State *L = luaL_newstate();
	static const luaL_Reg pm[] = {{"exit", l_exit},	{"stats", l_stats}, {"logs", l_logs},
				      {"reload", l_reload}, {"store", l_store}, {NULL, NULL}};
	char dir[1024];
	char *slash;
	int rc = 0, st;

	if (!L) {
		printf("1..0 # SKIP out of memory\n");
		return 1;
	}
	luaL_openlibs(L);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	lua_pushstring(L, dir);
	lua_setfield(L, LUA_REGISTRYINDEX, "xg_test_dir");
	luaL_newmetatable(L, POLICY_MT);
	lua_pushcfunction(L, l_policy_gc);
	lua_setfield(L, -2, "__gc");
	luaL_newlib(L, pm);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	lua_register(L, "policy", l_policy);
	lua_register(L, "record_exits", l_record_exits);
	if (luaL_dostring(L, tap_lua)) {
		fprintf(stderr, "exitgate test: %s\n", lua_tostring(L, -1));
		lua_close(L);
		return 2;
	}
	fflush(stdout);
	st = luaL_loadfilex(L, path, "t");
	if (st == LUA_OK)
		st = lua_pcall(L, 0, 0, 0);
	if (st != LUA_OK) {
		printf("not ok - %s died: %s\n", path, lua_tostring(L, -1));
		rc = 1;
	}
	lua_getglobal(L, "__xg_failed");
	lua_call(L, 0, 3);
	int failed = (int)lua_tointeger(L, -3), n = (int)lua_tointeger(L, -2);
	int planned = lua_isnil(L, -1) ? -1 : (int)lua_tointeger(L, -1);
	lua_pop(L, 3);
	if (st != LUA_OK) {
		printf("1..%d\n", n + 1);
	} else if (planned < 0) {
		/* the file did not call done_testing: print the plan for it */
		lua_getglobal(L, "done_testing");
		lua_call(L, 0, 1);
		lua_pop(L, 1);
	} else if (planned != n) {
		printf("# planned %d tests but ran %d\n", planned, n);
		rc = 1;
	}
	lua_close(L);
	fflush(stdout);
	return rc || failed ? 1 : 0;
}

int xg_cmd_test(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(
		    argc < 2 ? stderr : stdout,
		    "usage: exitgate test FILE.lua...\n\n"
		    "Runs policy tests: each file loads a policy with policy(path, opts), feeds\n"
		    "it exits with p:exit{...} and asserts with ok/is/isnt/like; TAP on stdout,\n"
		    "so `prove --exec 'exitgate test' tests/policies/*.lua` runs them.\n"
		    "r.logs holds the lines the exit logged (xg.log, print); p:logs() every\n"
		    "line since its last call; p:store(key) a value of xg.store; p:reload()\n"
		    "re-reads the policy file (true, or false and the error). The exit specs\n"
		    "and result fields: man exitgate-policy (TESTS).\n");
		return argc < 2 ? 2 : 0;
	}
	for (int i = 1; i < argc; i++)
		rc |= run_file(argv[i]);
	return rc;
}
