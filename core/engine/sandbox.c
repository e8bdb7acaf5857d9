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
#include <time.h>

#include "xg_hot.h"
#include "action/emulate_arm64.h"
#include "disasm/disasm.h"
#include "engine/engine_int.h"
#include "exit/exit_lua.h"
#include "exit/names.h"
#include "xg_emu_arm64.h"
#include "xg_emu_x86.h"

#define XG_VCPU_MT	    "exitgate.vcpu"
#define XG_REGS_MT	    "exitgate.regs"

static char env_key, regs_key, module_key;



/* The state's xg_lstate, kept in the main thread's extra space (lua.h lua_getextraspace;
 * lstate.c lua_newthread copies it into every coroutine): a load, where lua_getallocf was a
 * call into liblua. */
_Static_assert(LUA_EXTRASPACE >= sizeof(void *), "LUA_EXTRASPACE holds a pointer");
static inline struct xg_lstate *get_ls(lua_State *L)
{
	return *(struct xg_lstate **)lua_getextraspace(L);
}

/* ---- memory ---------------------------------------------------------------------------- */

static void hook(lua_State *L, lua_Debug *ar);
static int kill_call(lua_State *L, struct xg_lstate *ls);

/*
 * Over the cap, the allocator fails (returns NULL) without killing at once: Lua then runs an
 * emergency full collection and asks again (lmem.c luaM_realloc_/luaM_malloc_ -> tryagain),
 * so a policy that only makes garbage is not killed for it. The same request failing again
 * after that collection is the kill. Some requests are never asked again (lauxlib's buffers
 * call the allocator directly and raise "not enough memory"): a refusal stays pending until
 * the same request succeeds, and the hook (set to fire at the next instruction) or the end of
 * the call makes a still-pending refusal the kill, so pcall cannot catch it either way.
 */
/*
 * A large allocation inside a call is work the hook does not see: a concatenation copying
 * megabytes is one instruction. It is charged as copying, and refused (the running thread
 * gets a memory error; the kill follows at the next instruction of the main thread, or the
 * end of the call) once the call is over its budget or its time, whichever thread runs.
 */
#define XG_BIG_ALLOC 65536

static int over_time(struct xg_lstate *ls);

static int big_alloc_refused(struct xg_lstate *ls, size_t grow)
{
	if (!ls->killed) {
		ls->spent += (uint64_t)(grow / 32);
		if (ls->spent >= ls->budget) {
			ls->killed = XG_FAIL_INSTRUCTIONS;
			ls->kill_in = "a large allocation";
		} else if (over_time(ls)) {
			ls->killed = XG_FAIL_TIME;
		} else {
			return 0;
		}
	}
	lua_sethook(ls->L, hook, LUA_MASKCOUNT, 1);
	return 1;
}

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct xg_lstate *ls = ud;
	void *p;

	if (!ptr)
		osize = 0;
	if (nsize == 0) {
		if (xg_arena_owns(&ls->arena, ptr))
			xg_arena_free(&ls->arena, ptr, osize);
		else
			free(ptr);
		ls->used -= osize;
		return NULL;
	}
	if (nsize > osize && nsize - osize >= XG_BIG_ALLOC && ls->in_call && !ls->lifted &&
	    big_alloc_refused(ls, nsize - osize))
		return NULL;
	/* the guest's xg.store counts against the cap too (engine.c) */
	if (nsize > osize && !ls->lifted &&
	    ls->used +
		    (ls->store ? atomic_load_explicit(&ls->store->bytes, memory_order_relaxed)
			       : 0) +
		    (nsize - osize) >
		ls->limit) {
		if (ls->in_call && !ls->killed) {
			if (ls->mem_pending && ls->refused_ptr == ptr &&
			    ls->refused_osize == osize && ls->refused_nsize == nsize) {
				ls->killed = XG_FAIL_MEMORY;
			} else {
				ls->mem_pending = 1;
				ls->refused_ptr = ptr;
				ls->refused_osize = osize;
				ls->refused_nsize = nsize;
			}
			lua_sethook(ls->L, hook, LUA_MASKCOUNT, 1);
		}
		return NULL;
	}
	/* while the state is built, from its arena (arena.c) */
	if (xg_arena_owns(&ls->arena, ptr) || (!ptr && ls->arena.open))
		p = xg_arena_realloc(&ls->arena, ptr, osize, nsize);
	else
		p = realloc(ptr, nsize);
	if (p) {
		ls->used = ls->used - osize + nsize;
		if (ls->mem_pending && ptr == ls->refused_ptr && osize == ls->refused_osize &&
		    nsize == ls->refused_nsize)
			ls->mem_pending = 0; /* the emergency collection made room */
	}
	return p;
}

/* ---- instructions and time ------------------------------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * Whether the call has used up its time. The coarse monotonic clock costs a few ns to read
 * (vDSO), so the hook and every metered C function can look at it; its tick (~4 ms) is added
 * to the deadline so that the call always gets at least its time. Wall time also counts the
 * time the host spent running other threads, so when the deadline has passed, the thread's
 * CPU clock (a system call, read only then) must confirm it: the call is killed once it has
 * used half its time again in CPU of its own since the deadline was first seen passed.
 * A call that spins is thus stopped within ~1.5x its time plus a tick; a vCPU thread that
 * was merely preempted is not killed for it.
 */
static int over_time_at(struct xg_lstate *ls, uint64_t now)
{
	uint64_t cpu;

	if (now < ls->deadline)
		return 0;
	cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (!ls->cpu_mark) {
		ls->cpu_mark = cpu ? cpu : 1;
		return 0;
	}
	return cpu - ls->cpu_mark >= ls->call_ns / 2;
}

static int over_time(struct xg_lstate *ls)
{
	return over_time_at(ls, clock_ns(CLOCK_MONOTONIC_COARSE));
}

/*
 * The count hook: charges the instructions run since it last fired (each thread's own hook
 * count), then looks at the clock. Most instructions take a few ns, but some do unbounded
 * work inside the VM where no hook fires: a field read through a 2000-table __index chain
 * (lvm.c luaV_finishget; large allocations are looked at by l_alloc). So the step adapts:
 * the first firing comes early (XG_FIRST_STEP), and while the instructions since the last
 * firing take longer than XG_HEAVY_NS the step is XG_FIRST_STEP, so the clock is looked at
 * every few milliseconds whatever the instructions cost. Normal code pays one hook call per
 * XG_STEP instructions.
 */
#define XG_STEP	      1000
#define XG_FIRST_STEP 100
#define XG_HEAVY_NS   200000

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
	int count = lua_gethookcount(L);
	uint64_t now;

	if (ar->event == LUA_HOOKLINE) {
		if (!ls->killed)
			trace_line(L, ls, ar);
		return;
	}
	if (!ls->in_call)
		return;
	if (!ls->killed) {
		ls->spent += (uint64_t)count;
		now = clock_ns(CLOCK_MONOTONIC);
		if (ls->mem_pending) {
			ls->killed = XG_FAIL_MEMORY;
		} else if (ls->spent >= ls->budget) {
			ls->killed = XG_FAIL_INSTRUCTIONS;
		} else if (over_time_at(ls, now)) {
			ls->killed = XG_FAIL_TIME;
		} else {
			/* wall time also grows when the thread is preempted: the step never
			 * goes below XG_FIRST_STEP and comes back when instructions are fast */
			if (ls->last_hook && now - ls->last_hook > XG_HEAVY_NS &&
			    ls->step > XG_FIRST_STEP)
				ls->step /= 10;
			else if (ls->last_hook && now - ls->last_hook < XG_HEAVY_NS / 10 &&
				 ls->step < XG_STEP && ls->budget >= XG_STEP)
				ls->step *= 10;
			if (count != ls->step)
				lua_sethook(L, hook, LUA_MASKCOUNT, ls->step);
			ls->last_hook = now;
			return;
		}
	}
	kill_call(L, ls);
}

/* Raises the kill. From now on every instruction, in this thread and in the main one, fails
 * (Redis), so a pcall in the policy that catches it cannot run a single instruction more. */
static int kill_call(lua_State *L, struct xg_lstate *ls)
{
	lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	if (L != ls->L)
		lua_sethook(ls->L, hook, LUA_MASKCOUNT, 1);
	if (ls->killed == XG_FAIL_MEMORY)
		return luaL_error(L, "memory limit of %I bytes exceeded", (lua_Integer)ls->limit);
	if (ls->killed == XG_FAIL_TIME)
		return luaL_error(L, "time limit of %I ms exceeded",
				  (lua_Integer)(ls->call_ns / 1000000));
	return luaL_error(L, "instruction limit of %I exceeded%s%s%s", (lua_Integer)ls->budget,
			  ls->kill_in ? " (in " : "", ls->kill_in ? ls->kill_in : "",
			  ls->kill_in ? ")" : "");
}

/*
 * Charges `units` instructions' worth of work that the C function `who` is about to do (the
 * hook never fires inside C functions), and looks at the clock; raises the kill if the budget
 * or the time is used up. Outside a call (the engine's own setup) it does nothing.
 */
static void charge(lua_State *L, double units, const char *who)
{
	struct xg_lstate *ls = get_ls(L);

	if (!ls->in_call || ls->lifted)
		return;
	if (!ls->killed) {
		if (!(units < (double)(ls->budget - ls->spent))) { /* NaN too */
			ls->spent = ls->budget;
			ls->killed = XG_FAIL_INSTRUCTIONS;
			ls->kill_in = who;
		} else {
			ls->spent += (uint64_t)units;
			if (!over_time(ls))
				return;
			ls->killed = XG_FAIL_TIME;
		}
	}
	kill_call(L, ls);
}

XG_HOT_LUA static void arm(struct xg_lstate *ls, uint64_t budget, uint64_t ns)
{
	ls->budget = budget;
	ls->spent = 0;
	ls->killed = XG_FAIL_NONE;
	ls->kill_in = NULL;
	ls->refused_ptr = NULL;
	ls->refused_nsize = 0;
	ls->mem_pending = 0;
	ls->call_ns = ns;
	/* the one reading serves the deadline and the time spent in Lua (xg_stats.lua_ns) */
	ls->t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	ls->deadline = ls->t0 + ns + ls->tick_ns;
	ls->cpu_mark = 0;
	ls->last_hook = 0;
	ls->step = budget < XG_STEP ? (int)budget : XG_STEP;
	ls->in_call = 1;
	lua_sethook(ls->L, hook, LUA_MASKCOUNT | (ls->trace_returns ? LUA_MASKLINE : 0),
		    ls->step < XG_FIRST_STEP ? ls->step : XG_FIRST_STEP);
}

XG_HOT_LUA static void disarm(struct xg_lstate *ls)
{
	lua_sethook(ls->L, NULL, 0, 0);
	ls->in_call = 0;
}

/* ---- metered C functions --------------------------------------------------------------- */

/*
 * Every library function a policy can reach whose work grows with its input is wrapped: the
 * wrapper charges the budget for the work before the function runs (bytes scanned or copied,
 * elements moved times the __index chain walked per element, pattern steps), and looks at
 * the clock after it. A unit is an instruction's worth of time (~2 ns measured on this class
 * of machine, Lua 5.4.4 -O2): memcpy-like work moves ~32 bytes in that time, byte-at-a-time
 * loops (case mapping, UTF-8 decoding, number parsing) ~4 bytes, the parser a fraction of a
 * byte, a table element read or written through the API ~1/4 element, a pattern step ~1.
 */
#define XG_COPY_BYTES	    32.0 /* bytes copied or memchr-scanned per unit */
#define XG_LOOP_BYTES	    4.0	 /* bytes handled one at a time per unit */
#define XG_ELEM_UNITS	    4.0	 /* per table element read or written */
#define XG_PATTERN_COST_MAX 1e7	 /* worst-case steps of one pattern call */
#define XG_PARSE_UNITS	    8.0	 /* per byte of source load() parses */

enum xg_cost {
	XG_COST_BYTES,	/* arg 1's length: string.lower/upper/reverse, utf8.offset, tonumber */
	XG_COST_SUB,	/* bytes copied of s[i..j], j defaulting to -1: string.sub */
	XG_COST_ULEN,	/* bytes decoded of s[i..j], j defaulting to -1: utf8.len */
	XG_COST_BYTE,	/* values pushed for s[i..j], j defaulting to i: string.byte,
			   utf8.codepoint */
	XG_COST_ARGS,	/* arguments, and the bytes of string ones: string.char/format,
			   utf8.char, table.pack */
	XG_COST_PACK,	/* string.pack: the arguments and up to 16 bytes per format option */
	XG_COST_UNPACK, /* string.unpack/packsize: format options and the data */
	XG_COST_REP,	/* string.rep: n copies of s and sep, and the n turns of its loop */
	XG_COST_FIND,	/* patterns: string.find, match, gmatch, gsub */
	XG_COST_MATCH,
	XG_COST_GMATCH,
	XG_COST_GSUB,
	XG_COST_CONCAT,	 /* t[i..j] read: table.concat(t, sep, i, j) */
	XG_COST_TUNPACK, /* t[i..j] read: table.unpack(t, i, j) */
	XG_COST_TINSERT, /* table.insert(t, pos, v): the elements after pos move */
	XG_COST_TREMOVE, /* table.remove(t, pos): likewise */
	XG_COST_TSORT,	 /* n log n comparisons */
	XG_COST_TMOVE,	 /* table.move: e - f + 1 reads and writes */
};

/* Links a missing key's lookup (event "__index") or store ("__newindex") walks from the
 * value at idx through tables set as that metamethod: Lua walks them in C (lvm.c
 * luaV_finishget, up to MAXTAGLOOP = 2000), where no hook fires. A function there is Lua and
 * is bounded by the hook. */
static int shared_index(struct xg_lstate *ls, lua_State *L, int idx);

static double chain(lua_State *L, int idx, const char *event)
{
	int d = 0;

	/* a shared verdict table is charged as the plain table it stands for (sandbox.c,
	 * "verdicts without arguments"), whose metatable has no __index */
	if (shared_index(get_ls(L), L, idx) >= 0)
		return 0;

	lua_pushvalue(L, idx);
	while (d < 2000 && lua_getmetatable(L, -1)) {
		lua_pushstring(L, event);
		lua_rawget(L, -2);
		lua_remove(L, -2);
		lua_remove(L, -2);
		if (!lua_istable(L, -1))
			break;
		d++;
	}
	lua_pop(L, 1);
	return d;
}

/* Elements in [i, j] of a sequence at arg 1 whose i and j are args ia and ia + 1 (defaults 1
 * and #t). */
static double trange(lua_State *L, int ia)
{
	lua_Integer i = luaL_optinteger(L, ia, 1);
	lua_Integer j = lua_isnoneornil(L, ia + 1) ? luaL_len(L, 1) : luaL_checkinteger(L, ia + 1);

	return j >= i ? (double)j - (double)i + 1 : 0;
}

/* Bytes of s[i..j] with string.sub's rules for negative and out-of-range positions. */
static double srange(lua_State *L, size_t len, int j_is_i)
{
	lua_Integer l = (lua_Integer)len, i = luaL_optinteger(L, 2, 1);
	lua_Integer j = luaL_optinteger(L, 3, j_is_i ? i : -1);

	if (i < 0)
		i = i < -l ? 1 : l + i + 1;
	if (i == 0)
		i = 1;
	if (j < 0)
		j = j < -l ? 0 : l + j + 1;
	if (j > l)
		j = l;
	return j >= i ? (double)(j - i + 1) : 0;
}

/* Worst-case steps of matching pattern p against a subject of n bytes: every start position
 * (unless anchored), times the pattern's length for one attempt, times n + 1 for each item
 * that can match any length (* + - repetitions, %b balance scans, %1..%9 back-references),
 * times 2 for each optional (?) item. Unlike the instruction count this is a bound, so the
 * real work is usually far smaller; calls whose bound is too large are refused. */
static double pattern_cost(const char *p, size_t pl, size_t n, int anchored_ok)
{
	double cost = (double)pl + 1, per = (double)n + 1;
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
			if (i < pl && p[i] == 'b') {
				i += 2;
				cost *= per;
			} else if (i < pl && p[i] >= '1' && p[i] <= '9') {
				cost *= per;
			} else if (i < pl && p[i] == 'f') {
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

/* Lua's own test: a find whose pattern has no special character is a plain search. */
static int no_specials(const char *p, size_t pl)
{
	for (size_t i = 0; i < pl; i++)
		if (strchr("^$*+?.([%-", p[i]))
			return 0;
	return 1;
}

static double pattern_units(lua_State *L, enum xg_cost k)
{
	size_t sl, pl;
	const char *s, *p;
	double c;

	s = luaL_checklstring(L, 1, &sl);
	p = luaL_checklstring(L, 2, &pl);
	if (k == XG_COST_FIND && (lua_toboolean(L, 4) || no_specials(p, pl))) {
		/* lstrlib.c lmemfind: memchr to each place the first byte occurs, then a memcmp
		 * of the rest there. The places are counted the same way (as cheap as the
		 * search at worst), stopping once they are more than the budget holds. */
		struct xg_lstate *ls = get_ls(L);
		double per = 1 + (double)pl / XG_COPY_BYTES,
		       left = (double)(ls->budget - ls->spent);
		double u = (double)sl / (8 * XG_COPY_BYTES);
		const char *q = s, *end = s + sl;
		if (!pl || pl > sl || !ls->in_call)
			return u;
		while (u <= left && (q = memchr(q, p[0], (size_t)(end - q))) != NULL) {
			u += per;
			q++;
		}
		return u;
	}
	c = pattern_cost(p, pl, sl, k != XG_COST_GMATCH);
	if (c > XG_PATTERN_COST_MAX)
		luaL_error(L,
			   "pattern '%s' is too costly for a %d-byte subject (worst case %f "
			   "steps, limit %f): use fewer repetitions or a shorter subject",
			   p, (int)sl, c, XG_PATTERN_COST_MAX);
	/* charged: the pattern's first item tried at every position; the worst case is bounded
	 * by the limit above and by the clock after the call */
	return (double)sl + 1 < c ? (double)sl + 1 : c;
}

static double args_units(lua_State *L, int from)
{
	double u = 0;
	int n = lua_gettop(L);

	for (int i = from; i <= n; i++)
		if (lua_type(L, i) == LUA_TSTRING)
			u += (double)lua_rawlen(L, i) / XG_COPY_BYTES;
	return u + n;
}

static double cost_of(lua_State *L, enum xg_cost k)
{
	size_t l = 0, sl = 0;
	double n, d, want;

	switch (k) {
	case XG_COST_BYTES:
		if (lua_type(L, 1) == LUA_TSTRING)
			return (double)lua_rawlen(L, 1) / XG_LOOP_BYTES;
		return 1;
	case XG_COST_SUB:
		luaL_checklstring(L, 1, &l);
		return 1 + srange(L, l, 0) / XG_COPY_BYTES;
	case XG_COST_ULEN:
		luaL_checklstring(L, 1, &l);
		return 1 + srange(L, l, 0) / XG_LOOP_BYTES;
	case XG_COST_BYTE:
		luaL_checklstring(L, 1, &l);
		return 1 + srange(L, l, 1);
	case XG_COST_ARGS:
		return args_units(L, 1);
	case XG_COST_PACK:
		luaL_checklstring(L, 1, &l);
		return args_units(L, 1) + (double)l * 2;
	case XG_COST_UNPACK:
		luaL_checklstring(L, 1, &l);
		if (lua_type(L, 2) == LUA_TSTRING)
			sl = lua_rawlen(L, 2);
		/* each format option handles up to 16 bytes (or a string, counted in sl) */
		return 1 + (double)l * 2 + (double)sl / XG_COPY_BYTES;
	case XG_COST_REP:
		luaL_checklstring(L, 1, &l);
		n = (double)luaL_checkinteger(L, 2);
		luaL_optlstring(L, 3, "", &sl);
		if (n <= 0)
			return 1;
		want = n * ((double)l + (double)sl); /* the result's bytes */
		if (want > (double)get_ls(L)->limit) {
			/* in whole bytes ("2097152", not Lua's "2097152.0") where they fit */
			if (want < 9.2e18)
				luaL_error(L,
					   "string.rep result of %I bytes is over the memory limit "
					   "(limits.memory: %I bytes)",
					   (lua_Integer)want, (lua_Integer)get_ls(L)->limit);
			luaL_error(L,
				   "string.rep result of %f bytes is over the memory limit "
				   "(limits.memory: %I bytes)",
				   want, (lua_Integer)get_ls(L)->limit);
		}
		/* lstrlib.c str_rep: a memcpy per copy, n turns even of an empty string */
		return n / 2 + want / XG_COPY_BYTES;
	case XG_COST_FIND:
	case XG_COST_MATCH:
	case XG_COST_GMATCH:
	case XG_COST_GSUB:
		return 1 + pattern_units(L, k);
	case XG_COST_CONCAT:
	case XG_COST_TUNPACK:
		if (!lua_istable(L, 1))
			return 1;
		return 1 + trange(L, k == XG_COST_CONCAT ? 3 : 2) * XG_ELEM_UNITS *
			       (1 + chain(L, 1, "__index"));
	case XG_COST_TINSERT:
	case XG_COST_TREMOVE:
		if (!lua_istable(L, 1))
			return 1;
		d = XG_ELEM_UNITS * (1 + chain(L, 1, "__index") + chain(L, 1, "__newindex"));
		if (lua_gettop(L) < (k == XG_COST_TINSERT ? 3 : 2))
			return d; /* at the end: nothing moves */
		return 1 + (double)luaL_len(L, 1) * d;
	case XG_COST_TSORT:
		if (!lua_istable(L, 1))
			return 1;
		n = (double)luaL_len(L, 1);
		d = XG_ELEM_UNITS * (1 + chain(L, 1, "__index") + chain(L, 1, "__newindex"));
		return 1 + (n > 1 ? n * log2(n) * 2 : 1) * d;
	case XG_COST_TMOVE: {
		lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
		if (e < f)
			return 1;
		/* a range of nils costs no memory: bound it before estimating */
		if ((lua_Unsigned)e - (lua_Unsigned)f >= (1u << 24))
			luaL_error(L, "table.move of more than 2^24 elements is not allowed");
		return 1 + ((double)e - (double)f + 1) * XG_ELEM_UNITS *
			       (1 + chain(L, 1, "__index") +
				chain(L, lua_isnoneornil(L, 5) ? 1 : 5, "__newindex"));
	}
	}
	return 1;
}

static double results_units(lua_State *L, int from)
{
	double u = 0;
	int n = lua_gettop(L);

	for (int i = from; i <= n; i++)
		if (lua_type(L, i) == LUA_TSTRING)
			u += (double)lua_rawlen(L, i) / XG_COPY_BYTES;
	return u;
}

/* library, name, the two as a kill names them ("string.rep"), the cost kind */
struct metered_fn {
	const char *lib, *name, *who;
	enum xg_cost cost;
};
#define XG_METERED(lib, name, cost) {#lib, #name, #lib "." #name, cost}
static const struct metered_fn metered_fns[] = {
    XG_METERED(string, byte, XG_COST_BYTE),	XG_METERED(string, sub, XG_COST_SUB),
    XG_METERED(string, lower, XG_COST_BYTES),	XG_METERED(string, upper, XG_COST_BYTES),
    XG_METERED(string, reverse, XG_COST_BYTES), XG_METERED(string, char, XG_COST_ARGS),
    XG_METERED(string, format, XG_COST_ARGS),	XG_METERED(string, pack, XG_COST_PACK),
    XG_METERED(string, unpack, XG_COST_UNPACK), XG_METERED(string, packsize, XG_COST_UNPACK),
    XG_METERED(string, rep, XG_COST_REP),	XG_METERED(string, find, XG_COST_FIND),
    XG_METERED(string, match, XG_COST_MATCH),	XG_METERED(string, gmatch, XG_COST_GMATCH),
    XG_METERED(string, gsub, XG_COST_GSUB),	XG_METERED(utf8, len, XG_COST_ULEN),
    XG_METERED(utf8, codepoint, XG_COST_BYTE),	XG_METERED(utf8, offset, XG_COST_BYTES),
    XG_METERED(utf8, char, XG_COST_ARGS),	XG_METERED(table, concat, XG_COST_CONCAT),
    XG_METERED(table, unpack, XG_COST_TUNPACK), XG_METERED(table, insert, XG_COST_TINSERT),
    XG_METERED(table, remove, XG_COST_TREMOVE), XG_METERED(table, sort, XG_COST_TSORT),
    XG_METERED(table, move, XG_COST_TMOVE),	XG_METERED(table, pack, XG_COST_ARGS),
    {"", "tonumber", "tonumber", XG_COST_BYTES},
};
#undef XG_METERED

/* upvalues: the library function, its metered_fns entry (a light userdata: a state's build
 * makes no string or number for it) */
static int metered(lua_State *L)
{
	const struct metered_fn *m = lua_touserdata(L, lua_upvalueindex(2));
	int n;

	charge(L, cost_of(L, m->cost), m->who);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	n = lua_gettop(L);
	/* what was built from values only known while it ran (concat, format, gsub results,
	 * __tostring strings) is charged after */
	charge(L, results_units(L, 1), m->who);
	return n;
}

/* tab[m->name] becomes the metered closure */
static void meter(lua_State *L, int tab, const struct metered_fn *m)
{
	lua_getfield(L, tab, m->name);
	lua_pushlightuserdata(L, (void *)m);
	lua_pushcclosure(L, metered, 2);
	lua_setfield(L, tab, m->name);
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

/*
 * Coroutines. Lua copies the creating thread's hook into a new thread, but a thread must not
 * depend on where it was made: one made while loading carries loading's hook step, up to 10x
 * a call's budget, and would run that much before its first charge. So each thread is
 * (re)hooked with the current call's step when it is made and whenever it is resumed with
 * another step (only then: setting a hook restarts its count, which must not be a way to run
 * uncharged instructions).
 */
static void rehook(lua_State *L, lua_State *co)
{
	struct xg_lstate *ls = get_ls(L);
	int step = ls->killed ? 1 : ls->step;

	if (co && ls->in_call && (lua_gethook(co) != hook || lua_gethookcount(co) != step))
		lua_sethook(co, hook, LUA_MASKCOUNT, step);
}

/* the function coroutine.wrap made; upvalues: it, its thread */
static int s_cowrapped(lua_State *L)
{
	rehook(L, lua_tothread(L, lua_upvalueindex(2)));
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* coroutine.create, coroutine.wrap (upvalue: Lua's) */
static int s_cocreate(lua_State *L)
{
	lua_State *co;

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	co = lua_tothread(L, -1);
	if (co) {
		rehook(L, co);
		return 1;
	}
	/* wrap: its function holds the thread as upvalue 1 */
	if (lua_getupvalue(L, -1, 1) && (co = lua_tothread(L, -1)) != NULL) {
		rehook(L, co);
		lua_pushcclosure(L, s_cowrapped, 2);
		return 1;
	}
	lua_pop(L, 1);
	return 1;
}

/* coroutine.resume (upvalue: Lua's) */
static int s_coresume(lua_State *L)
{
	rehook(L, lua_tothread(L, 1));
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* utf8.codes's iterator skips the continuation bytes after the position it is given
 * (lutf8lib.c iter_aux): called by hand at a run of them, each call scans the run. It is
 * charged for the run, which is counted first, only as far as the budget reaches. */
static int s_codes_iter(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	size_t len, k = 0;
	const char *s = luaL_checklstring(L, 1, &len);
	lua_Unsigned i = (lua_Unsigned)lua_tointeger(L, 2);
	double left = (double)(ls->budget - ls->spent) * XG_LOOP_BYTES;

	while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80 && (double)k <= left) {
		i++;
		k++;
	}
	charge(L, 1 + (double)k / XG_LOOP_BYTES, "utf8.codes");
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* utf8.codes (upvalue: Lua's): its iterator, charged */
static int s_codes(lua_State *L)
{
	int n;

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	n = lua_gettop(L);
	if (n >= 1 && lua_iscfunction(L, 1)) {
		lua_pushvalue(L, 1);
		lua_pushcclosure(L, s_codes_iter, 1);
		lua_replace(L, 1);
	}
	return n;
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
	int st;

	if (!s)
		return luaL_error(L, "load takes a string of Lua source in a policy");
	if (len > (64u << 10)) /* the parser runs in C, where no hook fires */
		return luaL_error(
		    L, "load: %d bytes of source is over the 64 KiB a policy may load", (int)len);
	charge(L, (double)len * XG_PARSE_UNITS, "load");
	st = luaL_loadbufferx(L, s, len, name, "t");
	charge(L, 0, "load");
	if (st != LUA_OK) {
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

	charge(L, args_units(L, 1), "print");
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

/* A register name: the VMM compares it as a C string, so one with a NUL byte inside would
 * name the register before the NUL ("rip\0junk" read RIP). */
static const char *reg_name(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);

	if (strlen(s) != len)
		luaL_error(L, "register name '%s...' has a NUL byte in it", s);
	return s;
}

static int regs_index(lua_State *L)
{
	return get_reg(L, reg_name(L));
}

static int vcpu_reg(lua_State *L)
{
	return get_reg(L, reg_name(L));
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

/* vcpu:translate then vcpu:read, without a Lua call between them */
static int vcpu_read_gva(lua_State *L)
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
	lua_settop(L, 3);
	lua_pushinteger(L, (lua_Integer)gpa);
	lua_replace(L, 2);
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

/* e.disasm of an arm64 data abort (arm_nisv, mmio, arm_sea): the word at PC, read through
 * the guest's stage-1 tables from RAM; nil when the VMM gives no arm64 state or it is not
 * readable. */
static int arm64_disasm(lua_State *L, struct xg_lstate *ls, const struct xg_exit *x)
{
	struct xg_emu_arm64_regs r;
	uint8_t w[4];
	char text[160], why[160];

	if ((x->reason != 28 && x->reason != 6 && x->reason != 41) || !ls->v ||
	    !ls->v->ops.get_arm64_regs || ls->v->ops.get_arm64_regs(ls->v->opaque, &r) ||
	    xg_arm64_read_virt(&ls->v->ops, ls->v->opaque, &r, r.pc, w, 4, why, sizeof(why)) < 4 ||
	    !xg_disasm_one(XG_ARCH_ARM64, w, 4, r.pc, text, sizeof(text)))
		return 0;
	lua_pushstring(L, text);
	return 1;
}

/* The code size an x86 vCPU runs at, as the emulator and dumps take it
 * (xg_emu_x86_code_bits); 64 when the VMM gives no x86 state. */
static unsigned x86_code_bits(struct xg_lstate *ls)
{
	struct xg_emu_x86_regs r;

	if (!ls->v || !ls->v->ops.get_x86_regs || ls->v->ops.get_x86_regs(ls->v->opaque, &r))
		return 64;
	return xg_emu_x86_code_bits(&r);
}

/* e.disasm, e.insn_class, e.regs, e.errno: computed only when a policy asks. exit_lua.c
 * calls this only for a live exit object (it checked), and the one exit object of this
 * state shows the exit of the running call, ls->x: no second check of the userdata. */
static int exit_fallback(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	const struct xg_exit *x = ls->x;
	const char *k = lua_tostring(L, 2);

	if (!x || !k)
		return 0;
	if (!strcmp(k, "disasm") && x->arch == XG_ARCH_ARM64)
		return arm64_disasm(L, ls, x);
	if (!strcmp(k, "disasm")) {
		char text[160];
		if (x->reason != 17 || strcmp(x->kind, "emulation_failure") ||
		    !x->u.internal.has_insn || !x->u.internal.insn_size)
			return 0;
		if (x->arch != XG_ARCH_X86_64 ||
		    !xg_disasm_x86(x86_code_bits(ls), x->u.internal.insn, x->u.internal.insn_size,
				   0, text, sizeof(text)))
			return 0;
		lua_pushstring(L, text);
		return 1;
	}
	if (!strcmp(k, "insn_class")) {
		/* only an emulation failure carries instruction bytes: on any other exit the
		 * decoder would format why not, for a nil */
		const char *c =
		    x->arch == XG_ARCH_X86_64 && ls->v && x->reason == 17 && x->u.internal.has_insn
			? xg_x86_insn_class(&ls->v->ops, ls->v->opaque, x)
			: NULL;
		if (!c)
			return 0;
		lua_pushstring(L, c);
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

/* ---- verdicts without arguments -------------------------------------------------------
 *
 * xg.emulate(), xg.skip(), xg.resume() and xg.external_abort() hand out one table per state
 * and kind again and again while nothing has changed it, so that `return xg.emulate()`
 * allocates nothing on the exit path (a fresh table per call is garbage the collector must
 * chase on every exit; t_noalloc). A table a policy changed is not handed out again: the
 * next call makes a new one. Two calls in one handler return the same table. When a handler
 * returns one, the engine knows it by its address.
 *
 * Such a table, while shared, holds no key of its own: it stands for {verdict = <name>}
 * through its kind's protected metatable (__index the kind's {verdict = <name>}). So every
 * assignment to it, to "verdict" too, finds its key absent and goes through __newindex
 * (Lua 5.4 manual 2.4), and the sandbox has no rawset (table.insert and table.move assign
 * through lua_seti, which honours __newindex: manual 4.1.2, 6.6). __newindex first makes it
 * the plain table it stood for ({verdict = <name>} with a metatable that only protects) and
 * takes it out of sharing, then stores what was assigned. Whether a table is still shared is
 * then one comparison of addresses, with no lookup: each lookup by key (the earlier design
 * kept the key raw and read it back twice per exit) was ~190 instructions and five more
 * functions of liblua on the exit's cold pages, ~50 ns per exit through Lua (issue 15).
 * What reads a table raw sees the table it stands for: the sandbox's rawget and next answer
 * {verdict = <name>} for a shared one, and its pairs hands out that next (Lua's own, which
 * reads raw, is out of reach); the engine's verdict reader asks xg_lstate_shared_kind first,
 * the load walks a policy file's shared table as the plain one, and the table functions'
 * costs count no __index chain for one (chain()).
 */

/* Which shared kind the value at idx is the table of, still shared; -1 for none. Any value
 * will do: only a shared table's address is in ls->shared_t (a collectable value's address
 * is its own while it lives, and the shared ones are anchored). */
XG_HOT_LUA static int shared_index(struct xg_lstate *ls, lua_State *L, int idx)
{
	const void *p = lua_topointer(L, idx);

	for (int i = 0; p && i < ls->n_shared; i++)
		if (p == ls->shared_t[i])
			return i;
	return -1;
}

enum xg_verdict_kind xg_lstate_shared_kind(lua_State *L, int idx)
{
	struct xg_lstate *ls = get_ls(L);
	int i = shared_index(ls, L, idx);

	return i < 0 ? XG_VERDICT_NONE : ls->shared_kind[i];
}

/* The verdict the handler returned at idx, when it is one of the shared tables: what
 * xg_verdict_from_lua would read from the table it stands for, without a lookup by name. */
XG_HOT_LUA static int shared_verdict(struct xg_lstate *ls, lua_State *L, int idx,
				     struct xg_verdict *out)
{
	int i = shared_index(ls, L, idx);

	if (i < 0)
		return 0;
	memset(out, 0, sizeof(*out));
	out->kind = ls->shared_kind[i];
	return 1;
}

/* Takes shared kind i's table at idx (absolute) out of sharing: it gets the key it stood for
 * and the metatable that only protects. The key may take an allocation (a policy's, under its
 * limits): the table stays shared and unchanged if that raises. */
static void shared_unshare(lua_State *L, struct xg_lstate *ls, int idx, int i)
{
	lua_pushstring(L, "verdict"); /* interned: anchored by ls, so no allocation */
	lua_pushstring(L, ls->shared_name[i]);
	lua_rawset(L, idx);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ls->plain_mt_ref);
	lua_setmetatable(L, idx);
	ls->shared_t[i] = NULL;
}

/* Whether the value at idx is the string "verdict" (the key a shared table stands for): the
 * state's interned string, so the same address (as shared_name). */
static int is_verdict_key(struct xg_lstate *ls, lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TSTRING && lua_tostring(L, idx) == ls->verdict_key;
}

/* __newindex of the shared tables (t, k, v): the table becomes the plain one it stood for,
 * then the value is stored as a plain assignment would. */
static int s_shared_newindex(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	int i = shared_index(ls, L, 1);

	/* its own name assigned to "verdict" leaves the table it stands for unchanged: it
	 * stays shared (the name is the state's interned string, so the same address) */
	if (i >= 0 && is_verdict_key(ls, L, 2) && lua_type(L, 3) == LUA_TSTRING &&
	    lua_tostring(L, 3) == ls->shared_name[i])
		return 0;
	if (i >= 0)
		shared_unshare(L, ls, 1, i);
	/* the errors lua_rawset would raise, here with the assigning line (luaL_error's
	 * level 1), as a plain assignment reports them */
	if (lua_isnil(L, 2))
		return luaL_error(L, "table index is nil");
	if (lua_type(L, 2) == LUA_TNUMBER && lua_tonumber(L, 2) != lua_tonumber(L, 2))
		return luaL_error(L, "table index is NaN");
	lua_settop(L, 3);
	lua_rawset(L, 1);
	return 0;
}

/* The sandbox's next(t [, k]): Lua's (lbaselib.c luaB_next), with a shared table read as the
 * table it stands for. */
static int s_next(lua_State *L)
{
	struct xg_lstate *ls;
	int i;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 2);
	ls = get_ls(L);
	i = shared_index(ls, L, 1);
	if (i >= 0) {
		if (lua_isnil(L, 2)) {
			lua_pushliteral(L, "verdict");
			lua_pushstring(L, ls->shared_name[i]);
			return 2;
		}
		if (!is_verdict_key(ls, L, 2)) {
			lua_pushliteral(L, "invalid key to 'next'");
			return lua_error(L); /* as lua_next raises it: no position */
		}
		lua_pushnil(L);
		return 1;
	}
	if (lua_next(L, 1))
		return 2;
	lua_pushnil(L);
	return 1;
}

/* The sandbox's rawget(t, k): Lua's (luaB_rawget), with a shared table read as the table it
 * stands for. */
static int s_rawget(lua_State *L)
{
	struct xg_lstate *ls;
	int i;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	lua_settop(L, 2);
	ls = get_ls(L);
	i = shared_index(ls, L, 1);
	if (i >= 0) {
		if (is_verdict_key(ls, L, 2))
			lua_pushstring(L, ls->shared_name[i]);
		else
			lua_pushnil(L);
		return 1;
	}
	lua_rawget(L, 1);
	return 1;
}

static int pairs_cont(lua_State *L, int status, lua_KContext k)
{
	(void)L, (void)status, (void)k;
	return 3;
}

/* The sandbox's pairs(t): Lua's (luaB_pairs: __pairs when the value has one), handing out
 * the sandbox's next, so that no next that reads a shared table raw is within reach. */
static int s_pairs(lua_State *L)
{
	luaL_checkany(L, 1);
	if (luaL_getmetafield(L, 1, "__pairs") == LUA_TNIL) {
		lua_pushcfunction(L, s_next);
		lua_pushvalue(L, 1);
		lua_pushnil(L);
	} else {
		lua_pushvalue(L, 1);
		lua_callk(L, 1, 3, 0, pairs_cont); /* __pairs may yield */
	}
	return 3;
}

/* Makes shared kind i's table anew, the one handed out from now on; leaves it on the
 * stack. */
static void shared_make(lua_State *L, struct xg_lstate *ls, int i)
{
	lua_createtable(L, 0, 0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ls->shared_mt_ref[i]);
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	lua_rawseti(L, LUA_REGISTRYINDEX, ls->shared_ref[i]); /* an existing slot: no allocation */
	ls->shared_t[i] = lua_topointer(L, -1);
}

/* xg.emulate() and its kind, one C function per kind (the kind is a constant, not read from
 * an upvalue): upvalue 1 the table handed out, 2 the kind's index in ls (for bind_handler).
 * Upvalue 1 is the table shared_t[i] points to while that is not NULL. */
static inline int shared_out(lua_State *L, int i)
{
	struct xg_lstate *ls = get_ls(L);

	if (!ls->shared_t[i]) {
		shared_make(L, ls, i);
		lua_copy(L, -1, lua_upvalueindex(1));
		return 1;
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	return 1;
}

#define XG_SHARED_FN(i)                                                                            \
	XG_HOT_LUA static int c_shared_##i(lua_State *L)                                          \
	{                                                                                          \
		return shared_out(L, i);                                                           \
	}
XG_SHARED_FN(0)
XG_SHARED_FN(1)
XG_SHARED_FN(2)
XG_SHARED_FN(3)
XG_SHARED_FN(4)
XG_SHARED_FN(5)
static const lua_CFunction c_shared[] = {c_shared_0, c_shared_1, c_shared_2,
					 c_shared_3, c_shared_4, c_shared_5};
_Static_assert(sizeof(c_shared) / sizeof(c_shared[0]) == XG_SHARED_MAX,
	       "one helper function per shared kind");

/* Whether f is one of the shared verdicts' helpers (xg.emulate ...). */
static int is_shared_fn(lua_CFunction f)
{
	for (int i = 0; i < XG_SHARED_MAX; i++)
		if (f == c_shared[i])
			return 1;
	return 0;
}

/* A protected metatable (__metatable: getmetatable gives false, setmetatable cannot take it
 * off; manual 6.1) with the shared tables' __newindex and __index the table at the top of
 * the stack (popped), or none; leaves the metatable's registry slot. */
static int shared_metatable(lua_State *L, int with_index)
{
	lua_createtable(L, 0, 3);
	if (with_index) {
		lua_insert(L, -2);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, s_shared_newindex);
		lua_setfield(L, -2, "__newindex");
	}
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* C.reusable(name) for lua/exitgate.lua, once per kind while the module loads (lifted):
 * the function that hands out the kind's shared table. */
static int c_reusable(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	const char *name = luaL_checkstring(L, 1);
	int k = 1, i = ls->n_shared;

	while (k < XG_VERDICT_COUNT && strcmp(name, xg_verdict_name((enum xg_verdict_kind)k)))
		k++;
	if (k == XG_VERDICT_COUNT || i == XG_SHARED_MAX)
		return luaL_error(L, "reusable: '%s' is not a verdict, or too many", name);
	if (!i) {
		/* the key, interned and anchored: shared_unshare pushes it, is_verdict_key
		 * compares with it */
		ls->verdict_key = lua_pushstring(L, "verdict");
		luaL_ref(L, LUA_REGISTRYINDEX);
		ls->plain_mt_ref = shared_metatable(L, 0);
	}
	lua_pushstring(L, name);
	ls->shared_name[i] = lua_tostring(L, -1);
	luaL_ref(L, LUA_REGISTRYINDEX);
	ls->shared_kind[i] = (enum xg_verdict_kind)k;
	/* the table a shared one stands for, the metatable's __index */
	lua_createtable(L, 0, 1);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "verdict");
	ls->shared_mt_ref[i] = shared_metatable(L, 1);
	lua_pushboolean(L, 0);
	ls->shared_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
	ls->n_shared++;
	shared_make(L, ls, i);
	lua_pushinteger(L, i);
	lua_pushcclosure(L, c_shared[i], 2);
	return 1;
}

/* C.is_shared(v) for xg.cache: whether the table v is the one its kind's helper hands out,
 * still shared (xg.cache copies it rather than mark it). */
static int c_is_shared(lua_State *L)
{
	lua_pushboolean(L, shared_index(get_ls(L), L, 1) >= 0);
	return 1;
}

static int c_emulator_supports(lua_State *L)
{
	const struct xg_exit *x = xg_exit_lua_check(L, 1);
	char why[256] = "";

	if (!x)
		return luaL_error(L, "xg.emulator.supports takes the exit object");
	if (xg_vcpu_can_emulate(get_ls(L)->v, x, why, sizeof(why))) {
		lua_pushboolean(L, 1);
		return 1;
	}
	/* false, and why not (the emulator's reason): local ok, why = xg.emulator.supports(e) */
	lua_pushboolean(L, 0);
	lua_pushstring(L, why[0] ? why : "not supported");
	return 2;
}

static int c_log(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	lua_Debug ar;
	char where[80] = "";

	charge(L, args_units(L, 1), "xg.log");
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

	/* every function whose work grows with its input charges for it */
	for (size_t i = 0; i < sizeof(metered_fns) / sizeof(metered_fns[0]); i++) {
		if (*metered_fns[i].lib)
			lua_getglobal(L, metered_fns[i].lib);
		else
			lua_pushglobaltable(L);
		meter(L, lua_gettop(L), &metered_fns[i]);
		lua_pop(L, 1);
	}
	lua_getglobal(L, "utf8");
	wrap(L, lua_gettop(L), "codes", s_codes);
	lua_pop(L, 1);
	lua_getglobal(L, "coroutine");
	wrap(L, lua_gettop(L), "create", s_cocreate);
	wrap(L, lua_gettop(L), "wrap", s_cocreate);
	wrap(L, lua_gettop(L), "resume", s_coresume);
	lua_pop(L, 1);

	/* string: no dump; its metatable (shared by every string) cannot be fetched or
	 * changed. */
	lua_getglobal(L, "string");
	strtab = lua_gettop(L);
	lua_pushnil(L);
	lua_setfield(L, strtab, "dump");
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushliteral(L, "string metatable is locked");
	lua_setfield(L, -2, "__metatable");
	lua_settop(L, 0);

	lua_createtable(L, 0, 32); /* the policy's _ENV (its ~30 names, no rehash) */
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
	/* raw reads that see a shared verdict table as the table it stands for */
	lua_pushcfunction(L, s_next);
	lua_setfield(L, 1, "next");
	lua_pushcfunction(L, s_pairs);
	lua_setfield(L, 1, "pairs");
	lua_pushcfunction(L, s_rawget);
	lua_setfield(L, 1, "rawget");
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
	ls->vcpu_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* an integer key: the registry's array */
	lua_newuserdatauv(L, 1, 0);
	luaL_newmetatable(L, XG_REGS_MT);
	luaL_setfuncs(L, rmeta, 0);
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &regs_key);

	ls->view = xg_exit_lua_open(L);
	xg_exit_lua_set_fallback(L, exit_fallback);
	xg_exit_lua_set_fallback_names(L, "disasm, regs, errno");
}

static int set_err(struct xg_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int pin_stack(struct xg_lstate *ls);
static int set_err(struct xg_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	xg_text_clean(err->msg);
	return -1;
}

/*
 * The message handler of every call into the policy. A string error already says where it
 * was raised; any other error object (error({code = 1}), error(nil)) gets the file and line
 * of the Lua function that raised it, so the message still points at the policy's line. It
 * calls no metamethod (a __tostring here would run with hooks off when the error came from
 * the hook: see s_xpcall).
 */
static int msgh(lua_State *L)
{
	lua_Debug ar;
	const char *where = NULL;

	if (lua_type(L, 1) == LUA_TSTRING)
		return 1;
	for (int level = 1; lua_getstack(L, level, &ar); level++)
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			lua_pushfstring(L, "%s:%d:", ar.short_src, ar.currentline);
			where = lua_tostring(L, -1);
			break;
		}
	if (lua_type(L, 1) == LUA_TNUMBER)
		lua_pushfstring(L, "%s error object is a number (%s)", where ? where : "",
				lua_tostring(L, 1));
	else
		lua_pushfstring(L,
				"%s error object is a %s value, not a message (error(\"text\") "
				"says what went wrong)",
				where ? where : "", luaL_typename(L, 1));
	return 1;
}

/* Lua calls this on an error outside any protected call, and then aborts the process. Every
 * entry into Lua is a lua_pcall (only an allocation failing in the C library itself, while
 * the engine builds a state, could still get here): say so instead of dying silently. */
static int at_panic(lua_State *L)
{
	struct xg_lstate *ls = get_ls(L);
	const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)";

	fprintf(stderr, "exitgate: unprotected Lua error in guest '%s' (policy %s): %s\n",
		ls ? ls->guest : "?", ls ? ls->chunk : "?", m);
	if (ls && ls->e)
		xg_engine_log(ls->e, "unprotected Lua error in guest '%s' (policy %s): %s",
			      ls->guest, ls->chunk, m);
	return 0;
}

/* Run the chunk at the top of the stack in the sandbox with a budget; leaves 1 result. */
static int run_chunk(struct xg_lstate *ls, int nargs, uint64_t budget, uint64_t ns,
		     const char *what, struct xg_error *err)
{
	lua_State *L = ls->L;
	int st, base;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &env_key);
	lua_setupvalue(L, -2 - nargs, 1);
	base = lua_gettop(L) - nargs;
	lua_pushcfunction(L, msgh);
	lua_insert(L, base);
	arm(ls, budget, ns);
	st = lua_pcall(L, nargs, 1, base);
	if (XG_UNLIKELY(ls->mem_pending && !ls->killed))
		ls->killed = XG_FAIL_MEMORY;
	disarm(ls);
	lua_remove(L, base);
	if (ls->killed || st != LUA_OK) {
		const char *m = st != LUA_OK ? lua_tostring(L, -1) : NULL;
		char detail[64] = "";
		if (ls->killed == XG_FAIL_TIME)
			snprintf(detail, sizeof(detail), " of %llu ms",
				 (unsigned long long)(ns / 1000000));
		else if (ls->killed == XG_FAIL_MEMORY) /* the same cap as a call's, not 10x */
			snprintf(detail, sizeof(detail), " of %zu bytes (limits.memory)", ls->limit);
		else if (ls->killed)
			snprintf(detail, sizeof(detail), " of %llu%s%s%s",
				 (unsigned long long)budget, ls->kill_in ? " (in " : "",
				 ls->kill_in ? ls->kill_in : "", ls->kill_in ? ")" : "");
		set_err(err, "%s: %s%s%s", what,
			ls->killed == XG_FAIL_MEMORY ? "memory limit exceeded while loading"
			: ls->killed == XG_FAIL_TIME ? "time limit exceeded while loading"
			: ls->killed		     ? "instruction limit exceeded while loading"
			: m			     ? m
						     : "error",
			ls->killed ? detail : "",
			ls->killed && ls->killed != XG_FAIL_MEMORY
			    ? " (loading may take 10x a call's limits)"
			    : "");
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

XG_HOT_LUA int xg_slot_of(const struct xg_exit *x)
{
	if (!x->known || x->reason >= XG_SLOT_REASONS)
		return XG_SLOT_UNKNOWN;
	/* an internal error of suberror 1 (KVM_INTERNAL_ERROR_EMULATION, api.rst 5: its kind
	 * is "emulation_failure", decode.c): told by the number, where reading the kind's first
	 * letter was a page of .rodata more on every call */
	if (x->reason == 17 && x->u.internal.suberror == 1)
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
	if (is_shared_fn(lua_tocfunction(L, -1))) {
		/* arm_nisv = xg.skip: the helper itself is the handler; it has no line */
		lua_getupvalue(L, -1, 2);
		snprintf(where, sizeof(where), "xg.%s",
			 xg_verdict_name(ls->shared_kind[lua_tointeger(L, -1)]));
		lua_pop(L, 1);
	} else {
		lua_pushvalue(L, -1);
		lua_getinfo(L, ">S", &ar);
		snprintf(where, sizeof(where), "%s:%d", ar.short_src, ar.linedefined);
	}
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

/* lua_dump's writer: appends to a growing buffer (struct bin). */
struct bin {
	char *p;
	size_t len, cap;
	int oom;
};

static int bin_write(lua_State *L, const void *p, size_t sz, void *ud)
{
	struct bin *b = ud;

	(void)L;
	if (b->len + sz > b->cap) {
		size_t cap = (b->len + sz) * 2;
		char *n = realloc(b->p, cap);
		if (!n) {
			b->oom = 1;
			return 1;
		}
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, sz);
	b->len += sz;
	return 0;
}

void xg_module_compile(struct xg_engine *e)
{
	/* a plain state of its own: nothing of it runs, it only parses our own module; the
	 * binary keeps its debug information, so errors still name exitgate.lua:line */
	lua_State *L = luaL_newstate();
	struct bin b = {0};

	if (!L)
		return;
	if (luaL_loadbufferx(L, e->lua_src, e->lua_len, "@exitgate.lua", "t") == LUA_OK &&
	    lua_dump(L, bin_write, &b, 0) == 0 && !b.oom) {
		e->lua_bin = b.p;
		e->lua_bin_len = b.len;
	} else {
		free(b.p);
	}
	lua_close(L);
}

/*
 * A state in two parts. The base (xg_lstate_base) is what no configuration decides: the
 * standard libraries, the sandbox's globals, the exitgate module run, the vcpu and register
 * objects and the exit view; it is nine tenths of a state's making (~40 us here). The
 * engine keeps bases made ahead (engine.c: the pool), so that a reload on many vCPUs makes
 * only the second part while the vCPUs wait: xg_lstate_load gives a base its guest (limits,
 * params, the store, dumps, on_error) and loads the policy. A base is used once: a policy
 * may change the module's tables as it loads, so a state is never loaded twice.
 */
struct xg_lstate *xg_lstate_base(struct xg_engine *e, struct xg_error *err)
{
	/* line aligned: the fields a call touches are the struct's first lines */
	struct xg_lstate *ls = aligned_alloc(64, (sizeof(*ls) + 63) & ~(size_t)63);
	lua_State *L;

	if (!ls) {
		set_err(err, "out of memory");
		return NULL;
	}
	memset(ls, 0, sizeof(*ls));
	ls->e = e;
	ls->index = -1;
	{
		struct timespec res;
		ls->tick_ns = clock_getres(CLOCK_MONOTONIC_COARSE, &res)
				  ? 4000000
				  : (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec;
	}
	/* the module's own limits until a guest's are given (xg_lstate_load) */
	ls->time_ns = XG_DEFAULT_TIME_MS * 1000000ull;
	for (int i = 0; i < XG_SLOTS; i++)
		ls->handlers[i] = LUA_NOREF;
	ls->cur_handler = LUA_NOREF;
	ls->lifted = 1; /* the standard libraries and the module are ours, not the policy's */
	xg_arena_init(&ls->arena, XG_ARENA_SIZE); /* without it, malloc serves the build */
	ls->L = L = lua_newstate(l_alloc, ls);
	if (!L) {
		set_err(err, "out of memory creating a Lua state");
		goto fail;
	}
	*(struct xg_lstate **)lua_getextraspace(L) = ls; /* get_ls; before any coroutine */
	lua_atpanic(L, at_panic);
	build_env(L, ls);

	/* the exitgate module */
	/* the module's bytecode, compiled once by the engine (ours, never a policy's: policies
	 * load as text only), else its text */
	if ((e->lua_bin
		 ? luaL_loadbufferx(L, e->lua_bin, e->lua_bin_len, "@exitgate.lua", "b")
		 : luaL_loadbufferx(L, e->lua_src, e->lua_len, "@exitgate.lua", "t")) != LUA_OK) {
		set_err(err, "lua/exitgate.lua: %s", lua_tostring(L, -1));
		goto fail;
	}
	/* what the module takes from C; the guest's own (params, guest, vcpu_index) are set
	 * on the module's table when a guest is given */
	lua_newtable(L);
	lua_pushstring(L, XG_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushcfunction(L, c_emulator_supports);
	lua_setfield(L, -2, "emulator_supports");
	lua_pushcfunction(L, c_reusable);
	lua_setfield(L, -2, "reusable");
	lua_pushcfunction(L, c_is_shared);
	lua_setfield(L, -2, "is_shared");
	lua_pushcfunction(L, c_log);
	lua_setfield(L, -2, "log");
	lua_newtable(L);
	lua_pushcfunction(L, c_store_get);
	lua_setfield(L, -2, "get");
	lua_pushcfunction(L, c_store_set);
	lua_setfield(L, -2, "set");
	lua_setfield(L, -2, "store");
	if (run_chunk(ls, 1, 10000000, 1000000000, "lua/exitgate.lua", err))
		goto fail;
	lua_rawsetp(L, LUA_REGISTRYINDEX, &module_key);
	lua_gc(L, LUA_GCCOLLECT);
	xg_lstate_log_flush(ls);
	return ls;
fail:
	xg_lstate_log_flush(ls);
	xg_lstate_free(ls);
	return NULL;
}

struct xg_lstate *xg_lstate_new(struct xg_engine *e, const struct xg_guest_cfg *g, const char *src,
				size_t len, struct xg_vcpu *v, int index, struct xg_error *err)
{
	struct xg_lstate *ls = xg_lstate_base(e, err);

	if (!ls || xg_lstate_load(ls, g, src, len, v, index, err))
		return NULL;
	return ls;
}

int xg_lstate_load(struct xg_lstate *ls, const struct xg_guest_cfg *g, const char *src, size_t len,
		   struct xg_vcpu *v, int index, struct xg_error *err)
{
	struct xg_engine *e = ls->e;
	lua_State *L = ls->L;
	char chunkname[128];
	char msg[256];
	size_t params_used;

	ls->v = v;
	ls->index = index;
	ls->limit = g->memory;
	ls->instructions = g->instructions;
	ls->time_ns = (g->time_ms ? g->time_ms : XG_DEFAULT_TIME_MS) * 1000000ull;
	ls->logs_per_second = g->logs_per_second;
	ls->burst = g->burst;
	ls->store_entries = g->store_entries;
	ls->store_key = g->store_key;
	ls->store_value = g->store_value;
	ls->store = xg_store_of(e, g->name);
	snprintf(ls->guest, sizeof(ls->guest), "%s", g->name);
	snprintf(ls->chunk, sizeof(ls->chunk), "%s", base_name(g->policy));
	if (g->dump_dir) {
		ls->dump_dir = strdup(g->dump_dir);
	} else if (e->dump_default) {
		ls->dump_dir = strdup(e->dump_default);
		ls->dump_dir_default = 1;
	}
	ls->dump_max = g->dump_max;
	ls->dump_keep = g->dump_keep;
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
	ls->on_error_default = !strcmp(g->on_error, XG_DEFAULT_ON_ERROR);
	/* the guest's own fields of the module (still ours: lifted) */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &module_key);
	lua_pushstring(L, g->name);
	lua_setfield(L, -2, "guest");
	lua_pushinteger(L, index);
	lua_setfield(L, -2, "vcpu_index");
	params_used = ls->used;
	if (xg_params_push(L, g->params, msg, sizeof(msg))) {
		set_err(err, "guest '%s': params: %s", g->name, msg);
		goto fail;
	}
	params_used = ls->used - params_used;
	lua_setfield(L, -2, "params");
	lua_settop(L, 0);
	ls->lifted = 0;
	/* params live in the policy's state and count against its limit: a state already over
	 * it would fail the policy's first allocation with a bare "not enough memory" */
	if (ls->used > ls->limit) {
		set_err(err,
			"guest '%s': params take %zu KiB of its Lua state, which holds %zu KiB "
			"before the policy runs, over limits.memory (%zu KiB): raise the limit or "
			"make params smaller",
			g->name, params_used >> 10, ls->used >> 10, ls->limit >> 10);
		goto fail;
	}

	/* the policy, under the guest's limits (load may do ten calls' worth of work) */
	snprintf(chunkname, sizeof(chunkname), "@%s", ls->chunk);
	if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK) {
		set_err(err, "policy %s", lua_tostring(L, -1));
		goto fail;
	}
	snprintf(msg, sizeof(msg), "policy %s", ls->chunk);
	if (run_chunk(ls, 0, g->instructions * 10, ls->time_ns * 10, msg, err))
		goto fail;
	if (!lua_istable(L, -1)) {
		set_err(err,
			"policy %s: the file must return the policy table (return xg.policy "
			"{ ... }), not %s",
			ls->chunk, luaL_typename(L, -1));
		goto fail;
	}
	/* the registry refs and names below are the engine's allocations: outside any call,
	 * an allocation refused for the policy's cap would be an unprotected error */
	ls->lifted = 1;
	{
		/* a shared verdict table (return xg.emulate()) is walked as the table it stands
		 * for, which is then not a policy: its key 'verdict' is not a handler */
		int i = shared_index(ls, L, -1);
		if (i >= 0)
			shared_unshare(L, ls, lua_absindex(L, -1), i);
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
		if (lua_iscfunction(L, -1) && !is_shared_fn(lua_tocfunction(L, -1))) {
			/* a library function has no file or line to report, and skips the
			 * argument checks a handler written for exits would make */
			set_err(err,
				"policy %s: handler '%s' is a C library function: a handler must "
				"be a Lua function (function(e, vcpu) ... end)",
				ls->chunk, k);
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
	if (pin_stack(ls)) {
		set_err(err, "out of memory loading policy %s", ls->chunk);
		goto fail;
	}
	ls->lifted = 0;
	ls->arena.open = 0; /* what the policy allocates from now on comes from malloc */
	xg_lstate_log_flush(ls);
	return 0;
fail:
	xg_lstate_log_flush(ls);
	xg_lstate_free(ls);
	return -1;
}

void xg_lstate_free(struct xg_lstate *ls)
{
	if (!ls)
		return;
	if (ls->L) {
		ls->lifted = 1;
		lua_close(ls->L);
	}
	xg_arena_fini(&ls->arena);
	free(ls->dump_dir);
	free(ls->src);
	free(ls);
}

/*
 * What every call pushes stays on the main thread's stack from the end of the load on: the
 * message handler, the exit object, the vcpu object (XG_STK_*), then each slot's handler
 * (ls->hidx). A call pushes copies of them (lua_pushvalue) and leaves the stack at
 * ls->stack_base again; nothing else runs on the main thread's stack after the load. Each
 * was read from the registry per call (lua_rawgeti: a table lookup and two more liblua
 * functions on the exit's cold pages; issue 15). -1 when the stack cannot grow (memory).
 */
enum { XG_STK_MSGH = 1, XG_STK_VIEW, XG_STK_VCPU };
_Static_assert(XG_STK_VCPU + XG_SLOTS <= 255, "hidx holds a stack index");

static int pin_stack(struct xg_lstate *ls)
{
	lua_State *L = ls->L;

	/* room for the handlers, and for what a call pushes above them (LUA_MINSTACK) */
	if (!lua_checkstack(L, XG_STK_VCPU + XG_SLOTS + LUA_MINSTACK))
		return -1;
	lua_pushcfunction(L, msgh);
	xg_exit_lua_push_object(L, ls->view);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ls->vcpu_ref);
	for (int i = 0; i < XG_SLOTS; i++) {
		ls->hidx[i] = 0;
		if (ls->handlers[i] != LUA_NOREF) {
			lua_rawgeti(L, LUA_REGISTRYINDEX, ls->handlers[i]);
			ls->hidx[i] = (unsigned char)lua_gettop(L);
		}
	}
	ls->stack_base = lua_gettop(L);
	return 0;
}

/* ":12" - the line of the handler's `return`, when traced (exitgate check) - or "". */
static const char *at_return(const struct xg_lstate *ls, char *buf, size_t n)
{
	buf[0] = 0;
	if (ls->trace_returns && ls->return_line > 0)
		snprintf(buf, n, ":%d", ls->return_line);
	return buf;
}

/* What reading a verdict in protected mode needs and gives back (see read_verdict). */
struct xg_read {
	int *cache_shape;
	struct xg_verdict *out;
	int rc; /* 0: a verdict in out; 2: bad verdict (msg says why) */
	char msg[300];
};

/* Reads the verdict (argument 2) inside a lua_pcall of xg_lstate_call, still under the call's
 * limits: an error it raises (memory) goes only into that pcall. */
static int read_verdict(lua_State *L)
{
	struct xg_read *c = lua_touserdata(L, 1);

	if (xg_verdict_from_lua(L, 2, c->out, c->cache_shape, c->msg, sizeof(c->msg)))
		c->rc = 2;
	return 0;
}

XG_HOT_LUA enum xg_fail xg_lstate_call(struct xg_lstate *ls, const struct xg_exit *x,
				       struct xg_verdict *out, int *cache_shape, char *msg,
				       size_t msg_size)
{
	lua_State *L = ls->L;
	int slot = xg_slot_of(x), h = ls->hidx[slot], res = ls->stack_base + 1, st, rc = 0;
	enum xg_fail f = XG_FAIL_NONE;
	char rl[16];
	struct xg_read c;

	ls->took_ns = 0; /* no call, no time: the engine adds took_ns after every return */
	if (!h) {
		slot = XG_SLOT_DEFAULT;
		h = ls->hidx[slot];
	}
	if (XG_UNLIKELY(!h)) {
		snprintf(msg, msg_size, "policy %s: no handler for exit kind '%s' and no default",
			 ls->chunk, x->kind);
		return XG_FAIL_NO_HANDLER;
	}
	*cache_shape = 0;
	ls->called = (unsigned char)slot;
	/*
	 * The handler is called straight from here: the function and its two arguments are
	 * copies of values on the stack below (pin_stack), so pushing them allocates nothing
	 * and cannot raise; pin_stack left LUA_MINSTACK free slots above them.
	 */
	lua_pushvalue(L, h);
	xg_exit_lua_set_view(ls->view, x);
	lua_pushvalue(L, XG_STK_VIEW);
	lua_pushvalue(L, XG_STK_VCPU);
	ls->x = x;
	ls->return_line = 0;
	ls->cur_handler = ls->trace_returns ? ls->handlers[slot] : LUA_NOREF;
	arm(ls, ls->instructions, ls->time_ns);
	st = lua_pcall(L, 2, 1, XG_STK_MSGH);
	if (XG_LIKELY(st == LUA_OK) && XG_UNLIKELY(!shared_verdict(ls, L, res, out))) {
		if (lua_isnil(L, res)) {
			rc = 1;
		} else {
			/* any other verdict is read under the same limits, in protected mode */
			c.cache_shape = cache_shape;
			c.out = out;
			c.rc = 0;
			lua_pushcfunction(L, read_verdict);
			lua_pushlightuserdata(L, &c);
			lua_pushvalue(L, res);
			st = lua_pcall(L, 2, 0, XG_STK_MSGH);
			rc = c.rc;
		}
	}
	ls->lifted = 0; /* an error may have left a C function of ours while it was lifted */
	if (XG_UNLIKELY(ls->mem_pending && !ls->killed))
		ls->killed = XG_FAIL_MEMORY;
	disarm(ls);
	/* The coarse clock again (a few ns; the fine one costs ~160 ns on these hosts, a tenth
	 * of a trivial call): a call counts whole ticks, so the sum is right on average over
	 * many calls (a call starts at a random point of a tick), not per call. */
	ls->took_ns = clock_ns(CLOCK_MONOTONIC_COARSE) - ls->t0;
	xg_exit_lua_end_view(ls->view);
	ls->x = NULL;
	if (XG_UNLIKELY(ls->killed)) {
		/* whatever a pcall in the policy made of it, the call was killed */
		f = ls->killed;
		if (f == XG_FAIL_MEMORY)
			snprintf(
			    msg, msg_size,
			    "policy %s: handler '%s' (%s) exceeded the memory limit of %zu bytes",
			    ls->chunk, x->kind, ls->where[slot], ls->limit);
		else if (f == XG_FAIL_TIME)
			snprintf(msg, msg_size,
				 "policy %s: handler '%s' (%s) exceeded the time limit of %llu ms "
				 "per call",
				 ls->chunk, x->kind, ls->where[slot],
				 (unsigned long long)(ls->time_ns / 1000000));
		else
			snprintf(msg, msg_size,
				 "policy %s: handler '%s' (%s) exceeded the instruction limit of "
				 "%llu per call%s%s%s",
				 ls->chunk, x->kind, ls->where[slot],
				 (unsigned long long)ls->instructions, ls->kill_in ? " (in " : "",
				 ls->kill_in ? ls->kill_in : "", ls->kill_in ? ")" : "");
	} else if (XG_UNLIKELY(st != LUA_OK)) {
		const char *m = lua_tostring(L, -1);
		f = st == LUA_ERRMEM ? XG_FAIL_MEMORY : XG_FAIL_ERROR;
		snprintf(msg, msg_size, "policy %s", m ? m : "(error object is not a string)");
		if (m && strncmp(m, ls->chunk, strlen(ls->chunk)))
			snprintf(msg, msg_size, "policy %s: handler '%s' (%s): %s", ls->chunk,
				 x->kind, ls->where[slot], m);
	} else if (XG_UNLIKELY(rc == 1)) {
		f = XG_FAIL_NO_VERDICT;
		snprintf(msg, msg_size,
			 "policy %s%s: handler '%s' (%s) returned no verdict (return xg.emulate(), "
			 "xg.inject \"UD\", ...)",
			 ls->chunk, at_return(ls, rl, sizeof(rl)), x->kind, ls->where[slot]);
	} else if (XG_UNLIKELY(rc == 2)) {
		f = XG_FAIL_BAD_VERDICT;
		snprintf(msg, msg_size, "policy %s%s: handler '%s' (%s): %s", ls->chunk,
			 at_return(ls, rl, sizeof(rl)), x->kind, ls->where[slot], c.msg);
	}
	if (XG_UNLIKELY(f != XG_FAIL_NONE))
		xg_text_clean(msg);
	lua_settop(L, ls->stack_base);
	return f;
}
