/*
 * t_engine_call.c - what the per-exit Lua call reuses from one exit to the next (sandbox.c
 * xg_lstate_call), seen from a policy.
 * - The exit object is one per state, bound to each exit in turn, and shows only the exit of
 *   the running call, never fields of an earlier one.
 * - The verdicts without arguments (xg.emulate(), xg.resume(), xg.skip(),
 *   xg.external_abort()) are one table per state, handed out again while nothing changed
 *   it; the engine knows such a table by its address when a handler returns it. What a
 *   policy does to one must still count: a field changed, added or removed before it is
 *   returned, or a changed table kept for later; and xg.cache must leave it as it is. A key
 *   added by any way the sandbox has (assignment, table.insert, table.move) takes the table
 *   out of sharing, and its metatable, which sees those, cannot be taken off.
 */
#include "engine_test.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local kept, kept_e\n"
    "local function nkeys(t) local n = 0 for _ in next, t do n = n + 1 end return n end\n"
    "local t = {\n"
    "  [1] = function() return xg.emulate() end,\n"
    /* a field of the shared table changed, before it is returned */
    "  [2] = function() local v = xg.emulate() v.verdict = 'resume' return v end,\n"
    "  [3] = function() local v = xg.resume() v.verdict = 'external_abort' return v end,\n"
    "  [4] = function() local v = xg.emulate() v.verdict = nil return v end,\n"
    "  [5] = function() local v = xg.resume() v.cache = 'port' return v end,\n"
    "  [6] = function() local v = xg.resume() v.verdict = 'inject' v.exception = 'GP' v.error_code "
    "= 3 return v end,\n"
    /* a field added that the verdict does not read: still that verdict */
    "  [7] = function() local v = xg.external_abort() v.note = 'x' return v end,\n"
    /* the changed tables above are not handed out again */
    "  [8] = function() local v = xg.emulate() local r = xg.resume()\n"
    "          return (v.verdict == 'emulate' and next(v, 'verdict') == nil and r.verdict == "
    "'resume'\n"
    "                  and next(r, 'verdict') == nil) and r or xg.stop 'changed one handed out' "
    "end,\n"
    /* one kept and changed after the call that got it: the next call gets a fresh one */
    "  [9] = function() kept = xg.resume() return kept end,\n"
    "  [10] = function() kept.verdict = 'stop' return xg.emulate() end,\n"
    "  [11] = function() local r = xg.resume() return rawequal(r, kept) and xg.stop 'kept' or r "
    "end,\n"
    /* two calls in one handler: the same table */
    "  [12] = function() return rawequal(xg.resume(), xg.resume()) and xg.resume() or xg.stop() "
    "end,\n"
    /* xg.cache copies a shared table rather than mark it */
    "  [13] = function() return xg.cache(xg.resume(), 'port') end,\n"
    "  [14] = function() local r = xg.resume() return r.cache == nil and r or xg.stop 'marked' "
    "end,\n"
    /* a plain table with the same contents is read the ordinary way */
    "  [15] = function() return { verdict = 'resume' } end,\n"
    "  [16] = function() return setmetatable({}, { __index = xg.resume() }) end,\n"
    /* keys added by the library's table functions, which assign through lua_seti */
    "  [22] = function() local v = xg.emulate() table.insert(v, 'x') return v end,\n"
    "  [23] = function() table.move({ 1, 2 }, 1, 2, 1, xg.resume()) return xg.emulate() end,\n"
    "  [24] = function() local v, r = xg.emulate(), xg.resume()\n"
    "          return (nkeys(v) == 1 and nkeys(r) == 1) and r or xg.stop 'added to, handed out' "
    "end,\n"
    /* removed and put back the same: a fresh one next time, the verdict still right */
    "  [25] = function() kept = xg.resume() kept.verdict = nil kept.verdict = 'resume' "
    "return kept end,\n"
    "  [26] = function() return (not rawequal(kept, xg.resume()) and nkeys(xg.resume()) == 1) "
    "and xg.resume() or xg.stop 'put back, handed out' end,\n"
    /* a changed one is no longer shared: xg.cache marks it as it is, with its fields */
    "  [28] = function() local v = xg.resume() v.note = 'mine' local c = xg.cache(v, 'port')\n"
    "          return (rawequal(c, v) and c.note == 'mine') and c or xg.stop 'copied' end,\n"
    /* the metatable that sees the additions cannot be read or taken off */
    "  [27] = function() local v = xg.resume()\n"
    "          return (getmetatable(v) == false and not pcall(setmetatable, v, nil)) and v "
    "or xg.stop 'metatable' end,\n"
    /* the exit object: a kept one shows the current exit, nested ones die with their call */
    "  [20] = function(e) kept_e = e return xg.resume() end,\n"
    "  [21] = function(e) return kept_e.port == 21 and xg.resume() or xg.stop 'stale view' end,\n"
    "}\n"
    "return xg.policy { io = function(e) return t[e.port](e) end,\n"
    "  mmio = function(e) return (rawequal(kept_e, e) and kept_e.phys_addr == 0x1230 and\n"
    "    not pcall(function() return kept_e.port end)) and xg.resume() or xg.stop 'leak' end }\n";

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_result r;
	struct xg_stats st;
	xg_engine *e = engine_with(policy, "    on_error: stop\n", &err);
	xg_vcpu *v;

	if (!e)
		bail("engine: %s", err.msg);
	v = attach(e, &f);

	r = io(v, 1);
	ok(r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE, "xg.emulate()");
	r = io(v, 2);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "the shared emulate table with its verdict changed to resume is a resume (%s)",
	   xg_verdict_name(r.verdict));
	r = io(v, 3);
	ok(r.verdict == XG_VERDICT_EXTERNAL_ABORT && f.aborts == 1,
	   "resume changed to external_abort is an external abort (%s)",
	   xg_verdict_name(r.verdict));
	r = io(v, 4);
	ok(r.fail == XG_FAIL_BAD_VERDICT, "its verdict removed, it is no verdict (%s)",
	   xg_fail_name(r.fail));
	like(xg_vcpu_last_error(v), "the table has no 'verdict' name", "%s", xg_vcpu_last_error(v));
	xg_vcpu_stats(v, &st);
	uint64_t hits = st.cache_hits;
	r = io(v, 5);
	ok(r.verdict == XG_VERDICT_RESUME && !r.cached, "resume with a cache shape added");
	r = io(v, 5);
	xg_vcpu_stats(v, &st);
	ok(r.verdict == XG_VERDICT_RESUME && r.cached && st.cache_hits == hits + 1,
	   "is cached: the next exit of that port comes from the cache");
	r = io(v, 6);
	ok(r.verdict == XG_VERDICT_INJECT && f.vector == 13 && f.code == 3,
	   "resume changed into inject GP 3 is that inject (%s, vector %u code %u)",
	   xg_verdict_name(r.verdict), f.vector, f.code);
	r = io(v, 7);
	ok(r.verdict == XG_VERDICT_EXTERNAL_ABORT && r.fail == XG_FAIL_NONE,
	   "a field the verdict does not read added: still external_abort");
	r = io(v, 8);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "a changed table is never handed out again: the next call gets {verdict = ...} (%s)",
	   r.reason ? r.reason : "");
	r = io(v, 9);
	ok(r.verdict == XG_VERDICT_RESUME, "a policy keeps the resume table it got");
	r = io(v, 10);
	ok(r.verdict == XG_VERDICT_EMULATE, "and changes it in a later call");
	r = io(v, 11);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "xg.resume() then gives a fresh table, not the kept one (%s)", r.reason ? r.reason : "");
	r = io(v, 12);
	ok(r.verdict == XG_VERDICT_RESUME, "two calls in one handler give the same table");
	r = io(v, 13);
	ok(r.verdict == XG_VERDICT_RESUME, "xg.cache(xg.resume(), 'port')");
	r = io(v, 14);
	ok(r.verdict == XG_VERDICT_RESUME && !r.cached,
	   "leaves the shared resume table unmarked (%s)", r.reason ? r.reason : "");
	r = io(v, 15);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "a plain {verdict = 'resume'} of the policy's own");
	r = io(v, 16);
	ok(r.fail == XG_FAIL_BAD_VERDICT,
	   "an empty table whose __index is the shared table is read raw: no verdict (%s)",
	   xg_fail_name(r.fail));
	r = io(v, 22);
	ok(r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE,
	   "table.insert into the shared emulate table: still emulate (%s)",
	   r.reason ? r.reason : "");
	r = io(v, 23);
	ok(r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE,
	   "table.move into the shared resume table (%s)", r.reason ? r.reason : "");
	r = io(v, 24);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "tables with keys added by table.insert and table.move are not handed out again (%s)",
	   r.reason ? r.reason : "");
	r = io(v, 25);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "its verdict removed and put back: a resume");
	r = io(v, 26);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "and it is not handed out again (%s)", r.reason ? r.reason : "");
	r = io(v, 27);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "getmetatable of a shared table is false, setmetatable cannot change it (%s)",
	   r.reason ? r.reason : "");
	r = io(v, 28);
	ok(r.verdict == XG_VERDICT_RESUME && !r.cached && r.fail == XG_FAIL_NONE,
	   "xg.cache of a shared table a field was added to marks that table (%s)",
	   r.reason ? r.reason : "");
	r = io(v, 28);
	ok(r.verdict == XG_VERDICT_RESUME && r.cached, "... and the port's next exit is cached");
	r = io(v, 20);
	ok(r.verdict == XG_VERDICT_RESUME, "a policy keeps the exit object");
	r = io(v, 21);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "in a later call the kept object shows that call's exit (%s)", r.reason ? r.reason : "");
	{
		struct run m;
		run_mmio(&m, 0x1230, 4, 0);
		r = xg_handle_exit(v, m.b, sizeof(m.b), 0);
		ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
		   "an exit of another kind: the kept object is this one, with none of the io "
		   "exit's fields (%s)",
		   r.reason ? r.reason : "");
	}
	r = io(v, 1);
	ok(r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE, "and xg.emulate() still is");

	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
