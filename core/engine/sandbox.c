/*
 * sandbox.c - one bounded Lua state running one guest's policy (see engine_int.h).
 *
 * What bounds it, and why each piece is there (../shared/notes/lua-embedding.md):
 * - memory: a lua_Alloc with a per-state cap (HAProxy tune.lua.maxmem, Suricata max-bytes).
 *   Hitting it during a call is a kill, like the instruction limit: a policy cannot catch
 *   the out-of-memory error with pcall and keep going.
 * - instructions: a count hook with the budget reset on every call (Suricata). When the
 *   budget is spent the hook raises an error and re-arms itself to fire on every following
 *   instruction (Redis), so a pcall inside the policy that catches the kill cannot run a
 *   single instruction more. The engine also looks at the kill flag after the call.
 * - C functions: the hook never fires inside them. The only library functions whose time is
 *   not bounded by their input size and the memory cap are the pattern matchers
 *   (find/match/gmatch/gsub backtrack exponentially: ("a*"):rep(30).."c"), so they are
 *   wrapped with a cost estimate that refuses patterns too costly for their subject.
 * - globals: the policy runs with its own _ENV built from an allow-list (Suricata), locked
 *   with __newindex/__index guards and a protected metatable. No io, os beyond clock/time,
 *   debug, package, dofile/loadfile, string.dump, collectgarbage control; `load` takes
 *   text only into the sandbox; `require` returns only the engine's modules. Chunks are
 *   loaded in text mode: crafted bytecode can crash the interpreter.
 */
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm/disasm.h"
#include "engine/engine_int.h"
#include "exit/exit_lua.h"
#include "exit/names.h"

#define XG_PATTERN_COST_MAX 1e7
#define XG_VCPU_MT	    "exitgate.vcpu"
#define XG_REGS_MT	    "exitgate.regs"

static char env_key, vcpu_key, regs_key, module_key;



static struct xg_lstate *get_ls(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ud;
}

/* ---- memory ---------------------------------------------------------------------------- */

static void hook(lua_State *L, lua_Debug *ar);

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct xg_lstate *ls = ud;
	void *p;

	if (!ptr)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		ls->used -= osize;
		return NULL;
	}
	/* the guest's xg.store counts against the cap too (engine.c) */
	if (nsize > osize && !ls->lifted &&
	    ls->used +
		    (ls->store ? atomic_load_explicit(&ls->store->bytes, memory_order_relaxed)
			       : 0) +
		    (nsize - osize) >
		ls->limit) {
		if (ls->in_call && !ls->killed) {
			ls->killed = XG_FAIL_MEMORY;
			lua_sethook(ls->L, hook, LUA_MASKCOUNT, 1);
		}
		return NULL;
	}
	p = realloc(ptr, nsize);
	if (p)
		ls->used = ls->used - osize + nsize;
	return p;
}

/* ---- instructions ---------------------------------------------------------------------- */

/* exitgate check: the last line the handler itself ran is the line of its `return` (or
 * the `end` it fell off); a tail call (`return xg.emulate()`) leaves the handler's frame
 * before any return event, so it is the line events that tell. */
static void trace_line(lua_State *L, struct xg_lstate *ls, lua_Debug *ar)
{
	if (L != ls->L || ls->cur_handler == LUA_NOREF || !lua_getinfo(L, "lf", ar))
		return;
	lua_rawgeti(L, LUA_REGISTRYINDEX, ls->cur_handler);
	if (lua_rawequal(L, -1, -2))
		ls->return_line = ar->currentline;
	lua_pop(L, 2);
}

static void hook(lua_State *L, lua_Debug *ar)
{
	struct xg_lstate *ls = get_ls(L);

	if (ar->event == LUA_HOOKLINE) {
		if (!ls->killed)
			trace_line(L, ls, ar);
		return;
	}
	if (!ls->killed) {
		ls->spent += (uint64_t)ls->step;
		if (ls->spent < ls->budget)
			return;
		ls->killed = XG_FAIL_INSTRUCTIONS;
	}
	/* From now on every instruction, in this thread and in the main one, fails. */
	lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	if (L != ls->L)
		lua_sethook(ls->L, hook, LUA_MASKCOUNT, 1);
	if (ls->killed == XG_FAIL_MEMORY)
		luaL_error(L, "memory limit of %I bytes exceeded", (lua_Integer)ls->limit);
	luaL_error(L, "instruction limit of %I exceeded", (lua_Integer)ls->budget);
}

static void arm(struct xg_lstate *ls, uint64_t budget)
{
	ls->budget = budget;
	ls->spent = 0;
	ls->killed = XG_FAIL_NONE;
	ls->step = budget < 1000 ? (int)budget : 1000;
	ls->in_call = 1;
	lua_sethook(ls->L, hook, LUA_MASKCOUNT | (ls->trace_returns ? LUA_MASKLINE : 0), ls->step);
}

static void disarm(struct xg_lstate *ls)
{
	lua_sethook(ls->L, NULL, 0, 0);
	ls->in_call = 0;
}

/* ---- guarded C functions --------------------------------------------------------------- */

/* Worst-case steps of matching pattern p against a subject of n bytes: each variable
 * repetition (* + -) can try every length, each optional (?) two ways, from every start. */
static double pattern_cost(const char *p, size_t pl, size_t n, int anchored_ok)
{
	double cost = 1, per = (double)n + 1;
	size_t i = 0;
	int anchored = 0;

	if (anchored_ok && pl && p[0] == '^') {
		anchored = 1;
		i = 1;
	}
	for (; i < pl; i++) {
		char c = p[i];
		if (c == '%') {
			i++;
			if (i < pl && (p[i] == 'b'))
				i += 2;
			else if (i < pl && p[i] == 'f') {
				i++;
				goto set;
			}
			continue;
		}
		if (c == '[') {
		set:
			i++;
			if (i < pl && p[i] == '^')
				i++;
			if (i < pl && p[i] == ']')
				i++;
			while (i < pl && p[i] != ']') {
				if (p[i] == '%')
					i++;
				i++;
			}
			continue;
		}
		if (i == 0)
			continue;
		if (c == '*' || c == '+' || c == '-')
			cost *= per;
		else if (c == '?')
			cost *= 2;
	}
	return anchored ? cost : cost * per;
}

static int guarded(lua_State *L, int plain_arg, int anchored_ok)
{
	size_t sl, pl;
	const char *s = luaL_checklstring(L, 1, &sl);
	const char *p = luaL_checklstring(L, 2, &pl);

	(void)s;
	if (!(plain_arg && lua_toboolean(L, plain_arg))) {
		double c = pattern_cost(p, pl, sl, anchored_ok);
		if (c > XG_PATTERN_COST_MAX)
			return luaL_error(L,
					  "pattern '%s' is too costly for a %d-byte subject "
					  "(worst case %f steps, limit %f): use fewer repetitions "
					  "or a shorter subject",
					  p, (int)sl, c, XG_PATTERN_COST_MAX);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

static int g_find(lua_State *L)
{
	return guarded(L, 4, 1);
}

static int g_match(lua_State *L)
{
	return guarded(L, 0, 1);
}

static int g_gmatch(lua_State *L)
{
	return guarded(L, 0, 0);
}

static int g_gsub(lua_State *L)
{
	return guarded(L, 0, 1);
}

static int g_rep(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	size_t l, sepl = 0;
	lua_Integer n;

	luaL_checklstring(L, 1, &l);
	n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &sepl);
	if (n > 0 && (double)n * (double)(l + sepl) > (double)ls->limit)
		return luaL_error(L, "string.rep result of %f bytes is over the memory limit",
				  (double)n * (double)(l + sepl));
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* Lua runs a message handler with hooks off when the error came from a hook (ldo.c: the
 * hook's allowhook is restored only when the error reaches a pcall), so xpcall's handler
 * would escape the instruction limit. This xpcall calls it after the error is caught. */
static int s_xpcall(lua_State *L)
{
	int n = lua_gettop(L), st;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	for (int i = 3; i <= n; i++)
		lua_pushvalue(L, i);
	st = lua_pcall(L, n - 2, LUA_MULTRET, 0);
	if (st == LUA_OK)
		return lua_gettop(L) - n;
	if (get_ls(L)->killed)
		return lua_error(L);
	lua_pushvalue(L, 2);
	lua_insert(L, -2);
	lua_pcall(L, 1, 1, 0);
	lua_pushboolean(L, 0);
	lua_insert(L, -2);
	return 2;
}

/* Finalizers run with hooks off (lgc.c GCTM): a __gc loop would never be stopped. */
static int s_setmetatable(lua_State *L)
{
	if (lua_istable(L, 2)) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "__gc metamethods are not allowed in a policy (they "
					     "run outside the instruction limit)");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* table.move over a range of nils loops in C without allocating: bound the range. */
static int s_tmove(lua_State *L)
{
	lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);

	if (e >= f && (lua_Unsigned)e - (lua_Unsigned)f >= (1u << 24))
		return luaL_error(L, "table.move of more than 2^24 elements is not allowed");
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

static void wrap(lua_State *L, int strtab, const char *name, lua_CFunction f)
{
	lua_getfield(L, strtab, name);
	lua_pushcclosure(L, f, 1);
	lua_setfield(L, strtab, name);
}

/* load(text [, name [, mode [, env]]]): text only, into the sandbox unless env is given. */
static int s_load(lua_State *L)
{
	size_t len;
	const char *s = lua_tolstring(L, 1, &len);
	const char *name = luaL_optstring(L, 2, "=(load)");

	if (!s)
		return luaL_error(L, "load takes a string of Lua source in a policy");
	if (len > (64u << 10)) /* the parser runs in C, where no hook fires */
		return luaL_error(
		    L, "load: %d bytes of source is over the 64 KiB a policy may load", (int)len);
	if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		return 2;
	}
	if (!lua_isnoneornil(L, 4))
		lua_pushvalue(L, 4);
	else
		lua_rawgetp(L, LUA_REGISTRYINDEX, &env_key);
	lua_setupvalue(L, -2, 1);
	return 1;
}

static int s_require(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);

	if (strcmp(name, "exitgate"))
		return luaL_error(L,
				  "module '%s' is not available: a policy may require only "
				  "\"exitgate\"",
				  name);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &module_key);
	return 1;
}

static int s_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "count");

	if (strcmp(opt, "count"))
		return luaL_error(L, "collectgarbage('%s') is not allowed in a policy", opt);
	lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
			      (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024);
	return 1;
}

static int s_print(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	luaL_Buffer b;
	int n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	if (ls->v)
		xg_lstate_log(ls, "%s[%d] %s: %s", ls->guest, ls->index, ls->chunk,
			      lua_tostring(L, -1));
	else
		xg_lstate_log(ls, "%s: %s", ls->chunk, lua_tostring(L, -1));
	return 0;
}

static int env_index(lua_State *L)
{
	return luaL_error(L, "global '%s' is not defined (policies see only the sandbox's names)",
			  luaL_tolstring(L, 2, NULL));
}

static int env_newindex(lua_State *L)
{
	return luaL_error(L, "globals are locked: declare '%s' local", luaL_tolstring(L, 2, NULL));
}

/* ---- the vCPU, registers and lazy exit fields ------------------------------------------ */

static struct xg_lstate *need_call(lua_State *L, const char *what)
{
	struct xg_lstate *ls = get_ls(L);

	if (!ls->in_call || !ls->x)
		luaL_error(L, "%s is only available while a handler runs", what);
	if (!ls->v)
		luaL_error(L, "%s: no vCPU here (exitgate check runs handlers without one)", what);
	return ls;
}

static int get_reg(lua_State *L, const char *name)
{
	struct xg_lstate *ls = need_call(L, "registers");
	uint64_t val;
	int rc;

	if (!ls->v->ops.get_reg)
		return luaL_error(L, "reading registers is not supported by this VMM");
	ls->lifted = 1; /* the VMM's op may call back into nothing Lua-owned; allocation is ours */
	rc = ls->v->ops.get_reg(ls->v->opaque, name, &val);
	ls->lifted = 0;
	if (rc)
		return luaL_error(L, "register '%s': %s", name, strerror(-rc));
	lua_pushinteger(L, (lua_Integer)val);
	return 1;
}

static int regs_index(lua_State *L)
{
	return get_reg(L, luaL_checkstring(L, 2));
}

static int vcpu_reg(lua_State *L)
{
	return get_reg(L, luaL_checkstring(L, 2));
}

static int vcpu_read(lua_State *L)
{
	struct xg_lstate *ls = need_call(L, "guest memory");
	lua_Integer gpa = luaL_checkinteger(L, 2), len = luaL_checkinteger(L, 3);
	char buf[4096];
	int rc;

	luaL_argcheck(L, len > 0 && len <= (lua_Integer)sizeof(buf), 3, "length must be 1..4096");
	if (!ls->v->ops.read_gpa)
		return luaL_error(L, "reading guest memory is not supported by this VMM");
	rc = ls->v->ops.read_gpa(ls->v->opaque, (uint64_t)gpa, buf, (size_t)len);
	if (rc) {
		luaL_pushfail(L);
		lua_pushfstring(L, "read of %I bytes at gpa 0x%I: %s", len, gpa, strerror(-rc));
		return 2;
	}
	lua_pushlstring(L, buf, (size_t)len);
	return 1;
}

static int vcpu_translate(lua_State *L)
{
	struct xg_lstate *ls = need_call(L, "address translation");
	lua_Integer gva = luaL_checkinteger(L, 2);
	uint64_t gpa;
	int rc;

	if (!ls->v->ops.translate_gva)
		return luaL_error(L, "translating addresses is not supported by this VMM");
	rc = ls->v->ops.translate_gva(ls->v->opaque, (uint64_t)gva, &gpa);
	if (rc) {
		luaL_pushfail(L);
		lua_pushfstring(L, "gva 0x%I: %s", gva, strerror(-rc));
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)gpa);
	return 1;
}

static int vcpu_read_gva(lua_State *L)
{
	lua_settop(L, 3);
	lua_pushcfunction(L, vcpu_translate);
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_call(L, 2, 2);
	if (lua_isnil(L, -2))
		return 2;
	lua_pop(L, 1);
	lua_replace(L, 2);
	lua_settop(L, 3);
	return vcpu_read(L);
}

static int vcpu_index(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	const char *k = luaL_checkstring(L, 2);

	if (!strcmp(k, "index"))
		lua_pushinteger(L, ls->index);
	else if (!strcmp(k, "guest"))
		lua_pushstring(L, ls->guest);
	else if (!strcmp(k, "regs"))
		lua_rawgetp(L, LUA_REGISTRYINDEX, &regs_key);
	else if (!strcmp(k, "reg"))
		lua_pushcfunction(L, vcpu_reg);
	else if (!strcmp(k, "read"))
		lua_pushcfunction(L, vcpu_read);
	else if (!strcmp(k, "read_gva"))
		lua_pushcfunction(L, vcpu_read_gva);
	else if (!strcmp(k, "translate"))
		lua_pushcfunction(L, vcpu_translate);
	else
		lua_pushnil(L);
	return 1;
}

static int ro_newindex(lua_State *L)
{
	return luaL_error(L, "the vCPU object is read-only");
}

/* e.disasm, e.regs, e.errno: computed only when a policy asks. */
static int exit_fallback(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	const struct xg_exit *x = xg_exit_lua_check(L, 1);
	const char *k = lua_tostring(L, 2);

	if (!x || !k)
		return 0;
	if (!strcmp(k, "disasm")) {
		char text[160];
		if (x->reason != 17 || strcmp(x->kind, "emulation_failure") ||
		    !x->u.internal.has_insn || !x->u.internal.insn_size)
			return 0;
		if (!xg_disasm_one(x->arch, x->u.internal.insn, x->u.internal.insn_size, 0, text,
				   sizeof(text)))
			return 0;
		lua_pushstring(L, text);
		return 1;
	}
	if (!strcmp(k, "regs")) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &regs_key);
		return 1;
	}
	if (!strcmp(k, "errno")) {
		lua_pushinteger(L, ls->kvm_errno);
		return 1;
	}
	return -1; /* not a name of the exit: exit_lua.c raises the error */
}

/* ---- the exitgate module's C side ------------------------------------------------------ */

static int c_emulator_supports(lua_State *L)
{
	const struct xg_exit *x = xg_exit_lua_check(L, 1);

	if (!x)
		return luaL_error(L, "xg.emulator.supports takes the exit object");
	lua_pushboolean(L, xg_vcpu_can_emulate(get_ls(L)->v, x));
	return 1;
}

static int c_log(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	lua_Debug ar;
	char where[80] = "";

	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
		snprintf(where, sizeof(where), "%s:%d", ar.short_src, ar.currentline);
	luaL_tolstring(L, 1, NULL);
	if (ls->v)
		xg_lstate_log(ls, "%s[%d] %s: %s", ls->guest, ls->index, where,
			      lua_tostring(L, -1));
	else
		xg_lstate_log(ls, "%s: %s", where, lua_tostring(L, -1));
	return 0;
}

static int c_store_get(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	size_t kl;
	const char *k = luaL_checklstring(L, 1, &kl);

	xg_store_push(ls, L, k, kl);
	return 1;
}

static int c_store_set(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	size_t kl;
	const char *k = luaL_checklstring(L, 1, &kl);
	char msg[256];

	lua_settop(L, 2);
	if (xg_store_set(ls, L, k, kl, 2, msg, sizeof(msg)))
		return luaL_error(L, "%s", msg);
	return 0;
}

static void push_param(lua_State *L, const struct xg_param *p)
{
	if (p->type == XG_PARAM_SCALAR) {
		char *end;
		long long i;
		double d;
		if (p->plain && (!strcmp(p->value, "true") || !strcmp(p->value, "false"))) {
			lua_pushboolean(L, p->value[0] == 't');
			return;
		}
		if (p->plain && *p->value) {
			errno = 0;
			i = strtoll(p->value, &end, 0);
			if (!*end && !errno) {
				lua_pushinteger(L, i);
				return;
			}
			d = strtod(p->value, &end);
			if (!*end) {
				lua_pushnumber(L, d);
				return;
			}
		}
		lua_pushstring(L, p->value);
		return;
	}
	lua_newtable(L);
	int n = 0;
	for (const struct xg_param *c = p->child; c; c = c->next) {
		push_param(L, c);
		if (p->type == XG_PARAM_SEQ)
			lua_rawseti(L, -2, ++n);
		else
			lua_setfield(L, -2, c->key);
	}
}

/* ---- building the state ---------------------------------------------------------------- */

static const char *const allowed_globals[] = {
    "assert", "error",	  "ipairs",	  "next",	  "pairs",    "pcall",
    "select", "tonumber", "tostring",	  "type",	  "xpcall",   "rawequal",
    "rawlen", "rawget",	  "getmetatable", "setmetatable", "_VERSION", NULL,
};
static const char *const allowed_libs[] = {"string", "table", "math", "utf8", "coroutine", NULL};

static void build_env(lua_State *L, struct xg_lstate *ls)
{
	int strtab;

	luaL_requiref(L, "_G", luaopen_base, 1);
	luaL_requiref(L, "string", luaopen_string, 1);
	luaL_requiref(L, "table", luaopen_table, 1);
	luaL_requiref(L, "math", luaopen_math, 1);
	luaL_requiref(L, "utf8", luaopen_utf8, 1);
	luaL_requiref(L, "coroutine", luaopen_coroutine, 1);
	luaL_requiref(L, "os", luaopen_os, 1);
	lua_settop(L, 0);

	/* string: no dump, guarded patterns and rep; its metatable (shared by every string)
	 * cannot be fetched or changed. */
	lua_getglobal(L, "string");
	strtab = lua_gettop(L);
	lua_pushnil(L);
	lua_setfield(L, strtab, "dump");
	wrap(L, strtab, "find", g_find);
	wrap(L, strtab, "match", g_match);
	wrap(L, strtab, "gmatch", g_gmatch);
	wrap(L, strtab, "gsub", g_gsub);
	wrap(L, strtab, "rep", g_rep);
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushliteral(L, "string metatable is locked");
	lua_setfield(L, -2, "__metatable");
	lua_settop(L, 0);

	lua_newtable(L); /* the policy's _ENV */
	for (const char *const *g = allowed_globals; *g; g++) {
		lua_getglobal(L, *g);
		lua_setfield(L, 1, *g);
	}
	for (const char *const *g = allowed_libs; *g; g++) {
		lua_getglobal(L, *g);
		lua_setfield(L, 1, *g);
	}
	lua_newtable(L);
	lua_getglobal(L, "os");
	lua_getfield(L, -1, "clock");
	lua_setfield(L, -3, "clock");
	lua_getfield(L, -1, "time");
	lua_setfield(L, -3, "time");
	lua_pop(L, 1);
	lua_setfield(L, 1, "os");
	lua_pushcfunction(L, s_load);
	lua_setfield(L, 1, "load");
	lua_pushcfunction(L, s_xpcall);
	lua_setfield(L, 1, "xpcall");
	wrap(L, 1, "setmetatable", s_setmetatable);
	lua_getfield(L, 1, "table");
	wrap(L, lua_gettop(L), "move", s_tmove);
	lua_pop(L, 1);
	lua_pushcfunction(L, s_require);
	lua_setfield(L, 1, "require");
	lua_pushcfunction(L, s_collectgarbage);
	lua_setfield(L, 1, "collectgarbage");
	lua_pushcfunction(L, s_print);
	lua_setfield(L, 1, "print");
	lua_pushvalue(L, 1);
	lua_setfield(L, 1, "_G");
	lua_newtable(L);
	lua_pushcfunction(L, env_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, env_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushliteral(L, "globals are locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, 1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &env_key);

	/* vCPU object and register proxy, one each per state */
	static const luaL_Reg vmeta[] = {
	    {"__index", vcpu_index}, {"__newindex", ro_newindex}, {NULL, NULL}};
	static const luaL_Reg rmeta[] = {
	    {"__index", regs_index}, {"__newindex", ro_newindex}, {NULL, NULL}};
	lua_newuserdatauv(L, 1, 0);
	luaL_newmetatable(L, XG_VCPU_MT);
	luaL_setfuncs(L, vmeta, 0);
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &vcpu_key);
	lua_newuserdatauv(L, 1, 0);
	luaL_newmetatable(L, XG_REGS_MT);
	luaL_setfuncs(L, rmeta, 0);
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &regs_key);

	xg_exit_lua_open(L);
	xg_exit_lua_set_fallback(L, exit_fallback);
	xg_exit_lua_set_fallback_names(L, "disasm, regs, errno");
	(void)ls;
}

static int set_err(struct xg_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int set_err(struct xg_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Run the chunk at the top of the stack in the sandbox with a budget; leaves 1 result. */
static int run_chunk(struct xg_lstate *ls, int nargs, uint64_t budget, const char *what,
		     struct xg_error *err)
{
	lua_State *L = ls->L;
	int st;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &env_key);
	lua_setupvalue(L, -2 - nargs, 1);
	arm(ls, budget);
	st = lua_pcall(L, nargs, 1, 0);
	disarm(ls);
	if (ls->killed || st != LUA_OK) {
		const char *m = st != LUA_OK ? lua_tostring(L, -1) : NULL;
		set_err(err, "%s: %s", what,
			ls->killed == XG_FAIL_MEMORY ? "memory limit exceeded while loading"
			: ls->killed		     ? "instruction limit exceeded while loading"
			: m			     ? m
						     : "error");
		lua_settop(L, 0);
		return -1;
	}
	return 0;
}

static const char *handler_names[XG_SLOT_REASONS + 4];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void init_names(void)
{
	int n = 0;

	for (uint32_t r = 0; r < XG_SLOT_REASONS; r++) {
		const char *k = xg_names_exit_kind(r);
		int dup = 0;
		if (!k)
			continue;
		for (int i = 0; i < n; i++)
			dup |= !strcmp(handler_names[i], k);
		if (!dup)
			handler_names[n++] = k;
	}
	handler_names[n++] = "emulation_failure";
	handler_names[n++] = "default";
	handler_names[n] = NULL;
}

const char *const *xg_handler_names(void)
{
	pthread_once(&names_once, init_names);
	return handler_names;
}

int xg_slot_of(const struct xg_exit *x)
{
	if (!x->known || x->reason >= XG_SLOT_REASONS)
		return XG_SLOT_UNKNOWN;
	if (x->reason == 17 && x->kind[0] == 'e')
		return XG_SLOT_EMULATION;
	return (int)x->reason;
}

/* Assign the handler on top of the stack to every slot of kind `k`; 0, or -1 if no such
 * kind. Pops the function. */
static int bind_handler(struct xg_lstate *ls, const char *k, int by_exit_name)
{
	lua_State *L = ls->L;
	int slots[XG_SLOTS], n = 0;
	lua_Debug ar;
	char where[72];

	if (by_exit_name) {
		/* an exit's own name where it differs from its kind (x86_rdmsr within msr):
		 * bound after the kinds, so the narrower handler wins */
		for (uint32_t r = 0; r < XG_SLOT_REASONS; r++) {
			const char *en = xg_exit_reason_name(r), *kk = xg_names_exit_kind(r);
			if (en && kk && strcmp(en, kk) && !strcmp(en, k))
				slots[n++] = (int)r;
		}
	} else if (!strcmp(k, "default")) {
		slots[n++] = XG_SLOT_DEFAULT;
	} else if (!strcmp(k, "emulation_failure")) {
		slots[n++] = XG_SLOT_EMULATION;
	} else {
		for (uint32_t r = 0; r < XG_SLOT_REASONS; r++) {
			const char *kk = xg_names_exit_kind(r);
			if (kk && !strcmp(kk, k))
				slots[n++] = (int)r;
		}
		if (!strcmp(k, "unknown"))
			slots[n++] = XG_SLOT_UNKNOWN;
	}
	if (!n) {
		lua_pop(L, 1);
		return -1;
	}
	lua_pushvalue(L, -1);
	lua_getinfo(L, ">S", &ar);
	snprintf(where, sizeof(where), "%s:%d", ar.short_src, ar.linedefined);
	for (int i = 0; i < n; i++) {
		lua_pushvalue(L, -1);
		ls->handlers[slots[i]] = luaL_ref(L, LUA_REGISTRYINDEX);
		snprintf(ls->where[slots[i]], sizeof(ls->where[0]), "%s", where);
	}
	lua_pop(L, 1);
	return 0;
}

static int is_kind_name(const char *k)
{
	for (const char *const *n = xg_handler_names(); *n; n++)
		if (!strcmp(*n, k))
			return 1;
	return !strcmp(k, "unknown");
}

/* Closest known handler name, for "did you mean". */
static const char *closest(const char *k)
{
	const char *best = NULL;
	size_t bestd = 4;

	for (const char *const *n = xg_handler_names(); *n; n++) {
		size_t a = strlen(k), b = strlen(*n), d = 0;
		size_t m = a < b ? a : b;
		for (size_t i = 0; i < m; i++)
			d += k[i] != (*n)[i];
		d += a > b ? a - b : b - a;
		if (!strncmp(k, *n, b) || !strncmp(k, *n, a)) /* mmio_write -> mmio */
			d = 1;
		if (d < bestd) {
			bestd = d;
			best = *n;
		}
	}
	return best;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

struct xg_lstate *xg_lstate_new(struct xg_engine *e, const struct xg_guest_cfg *g, const char *src,
				size_t len, struct xg_vcpu *v, int index, struct xg_error *err)
{
	struct xg_lstate *ls = calloc(1, sizeof(*ls));
	lua_State *L;
	char chunkname[128];
	char msg[256];

	if (!ls) {
		set_err(err, "out of memory");
		return NULL;
	}
	ls->e = e;
	ls->v = v;
	ls->index = index;
	ls->limit = g->memory;
	ls->instructions = g->instructions;
	ls->logs_per_second = g->logs_per_second;
	ls->burst = g->burst;
	ls->store_entries = g->store_entries;
	ls->store_key = g->store_key;
	ls->store_value = g->store_value;
	ls->store = xg_store_of(e, g->name);
	snprintf(ls->guest, sizeof(ls->guest), "%s", g->name);
	snprintf(ls->chunk, sizeof(ls->chunk), "%s", base_name(g->policy));
	for (int i = 0; i < XG_SLOTS; i++)
		ls->handlers[i] = LUA_NOREF;
	ls->cur_handler = LUA_NOREF;
	if (g->dump_dir)
		ls->dump_dir = strdup(g->dump_dir);
	ls->dump_max = g->dump_max;
	ls->src = malloc(len + 1);
	if (!ls->src) {
		set_err(err, "out of memory");
		goto fail;
	}
	memcpy(ls->src, src, len);
	ls->src[len] = 0;
	ls->src_len = len;
	if (xg_verdict_parse_text(g->on_error, &ls->on_error, msg, sizeof(msg))) {
		set_err(err, "guest '%s': on_error: %s", g->name, msg);
		goto fail;
	}
	ls->lifted = 1; /* the standard libraries and the module are ours, not the policy's */
	ls->L = L = lua_newstate(l_alloc, ls);
	if (!L) {
		set_err(err, "out of memory creating a Lua state");
		goto fail;
	}
	build_env(L, ls);

	/* the exitgate module */
	if (luaL_loadbufferx(L, e->lua_src, e->lua_len, "@exitgate.lua", "t") != LUA_OK) {
		set_err(err, "lua/exitgate.lua: %s", lua_tostring(L, -1));
		goto fail;
	}
	lua_newtable(L);
	lua_pushstring(L, XG_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushcfunction(L, c_emulator_supports);
	lua_setfield(L, -2, "emulator_supports");
	lua_pushcfunction(L, c_log);
	lua_setfield(L, -2, "log");
	lua_pushstring(L, g->name);
	lua_setfield(L, -2, "guest");
	lua_pushinteger(L, index);
	lua_setfield(L, -2, "vcpu_index");
	if (g->params)
		push_param(L, g->params);
	else
		lua_newtable(L);
	lua_setfield(L, -2, "params");
	lua_newtable(L);
	lua_pushcfunction(L, c_store_get);
	lua_setfield(L, -2, "get");
	lua_pushcfunction(L, c_store_set);
	lua_setfield(L, -2, "set");
	lua_setfield(L, -2, "store");
	if (run_chunk(ls, 1, 10000000, "lua/exitgate.lua", err))
		goto fail;
	lua_rawsetp(L, LUA_REGISTRYINDEX, &module_key);
	lua_gc(L, LUA_GCCOLLECT);
	ls->lifted = 0;

	/* the policy, under the guest's limits (load may do ten calls' worth of work) */
	snprintf(chunkname, sizeof(chunkname), "@%s", ls->chunk);
	if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK) {
		set_err(err, "policy %s", lua_tostring(L, -1));
		goto fail;
	}
	snprintf(msg, sizeof(msg), "policy %s", ls->chunk);
	if (run_chunk(ls, 0, g->instructions * 10, msg, err))
		goto fail;
	if (!lua_istable(L, -1)) {
		set_err(err,
			"policy %s: the file must return the policy table (return xg.policy "
			"{ ... }), not %s",
			ls->chunk, luaL_typename(L, -1));
		goto fail;
	}
	for (int pass = 0; pass < 2; pass++) {
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		if (!k) {
			set_err(err, "policy %s: handler keys must be exit kind names, not %s",
				ls->chunk, luaL_typename(L, -2));
			goto fail;
		}
		if (!lua_isfunction(L, -1)) {
			set_err(err, "policy %s: handler '%s' must be a function, not %s",
				ls->chunk, k, luaL_typename(L, -1));
			goto fail;
		}
		/* pass 0 binds kinds, pass 1 exit names (the narrower handler wins);
		 * bind_handler pops the function either way */
		if (bind_handler(ls, k, pass) == 0 || pass == 0 || is_kind_name(k))
			continue;
		{
			const char *c = closest(k);
			set_err(err,
				"policy %s: '%s' is not an exit kind%s%s%s (kinds: "
				"emulation_failure, io, mmio, msr, hypercall, memory_fault, "
				"arm_nisv, shutdown, system_event, ... and default)",
				ls->chunk, k, c ? " (did you mean '" : "", c ? c : "",
				c ? "'?)" : "");
			goto fail;
		}
	}
	}
	lua_settop(L, 0);
	xg_lstate_log_flush(ls);
	return ls;
fail:
	xg_lstate_log_flush(ls);
	xg_lstate_free(ls);
	return NULL;
}

void xg_lstate_free(struct xg_lstate *ls)
{
	if (!ls)
		return;
	if (ls->L) {
		ls->lifted = 1;
		lua_close(ls->L);
	}
	free(ls->dump_dir);
	free(ls->src);
	free(ls);
}

/* ":12" - the line of the handler's `return`, when traced (exitgate check) - or "". */
static const char *at_return(const struct xg_lstate *ls, char *buf, size_t n)
{
	buf[0] = 0;
	if (ls->trace_returns && ls->return_line > 0)
		snprintf(buf, n, ":%d", ls->return_line);
	return buf;
}

enum xg_fail xg_lstate_call(struct xg_lstate *ls, const struct xg_exit *x, struct xg_verdict *out,
			    int *cache_shape, char *msg, size_t msg_size)
{
	lua_State *L = ls->L;
	int slot = xg_slot_of(x), ref = ls->handlers[slot], st;
	enum xg_fail f = XG_FAIL_NONE;
	char vm[300], rl[16];

	if (ref == LUA_NOREF) {
		slot = XG_SLOT_DEFAULT;
		ref = ls->handlers[slot];
	}
	if (ref == LUA_NOREF) {
		snprintf(msg, msg_size, "policy %s: no handler for exit kind '%s' and no default",
			 ls->chunk, x->kind);
		return XG_FAIL_NO_HANDLER;
	}
	*cache_shape = 0;
	lua_settop(L, 0);
	ls->lifted = 1; /* the arguments are the engine's allocations, not the policy's */
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	xg_exit_lua_push(L, x);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &vcpu_key);
	ls->lifted = 0;
	ls->x = x;
	ls->return_line = 0;
	ls->cur_handler = ls->trace_returns ? ref : LUA_NOREF;
	arm(ls, ls->instructions);
	st = lua_pcall(L, 2, 1, 0);
	disarm(ls);
	xg_exit_lua_expire(L);
	ls->x = NULL;
	if (ls->killed) {
		/* whatever a pcall in the policy made of it, the call was killed */
		f = ls->killed;
		if (f == XG_FAIL_MEMORY)
			snprintf(
			    msg, msg_size,
			    "policy %s: handler '%s' (%s) exceeded the memory limit of %zu bytes",
			    ls->chunk, x->kind, ls->where[slot], ls->limit);
		else
			snprintf(msg, msg_size,
				 "policy %s: handler '%s' (%s) exceeded the instruction limit of "
				 "%llu per call",
				 ls->chunk, x->kind, ls->where[slot],
				 (unsigned long long)ls->instructions);
	} else if (st != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		f = st == LUA_ERRMEM ? XG_FAIL_MEMORY : XG_FAIL_ERROR;
		snprintf(msg, msg_size, "policy %s", m ? m : "(error object is not a string)");
		if (m && strncmp(m, ls->chunk, strlen(ls->chunk)))
			snprintf(msg, msg_size, "policy %s: handler '%s' (%s): %s", ls->chunk,
				 x->kind, ls->where[slot], m);
	} else if (lua_isnil(L, -1)) {
		f = XG_FAIL_NO_VERDICT;
		snprintf(msg, msg_size,
			 "policy %s%s: handler '%s' (%s) returned no verdict (return xg.emulate(), "
			 "xg.inject \"UD\", ...)",
			 ls->chunk, at_return(ls, rl, sizeof(rl)), x->kind, ls->where[slot]);
	} else if (xg_verdict_from_lua(L, -1, out, cache_shape, vm, sizeof(vm))) {
		f = XG_FAIL_BAD_VERDICT;
		snprintf(msg, msg_size, "policy %s%s: handler '%s' (%s): %s", ls->chunk,
			 at_return(ls, rl, sizeof(rl)), x->kind, ls->where[slot], vm);
	}
	lua_settop(L, 0);
	return f;
}
