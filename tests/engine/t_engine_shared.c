/*
 * t_engine_shared.c - the shared verdict tables (xg.emulate(), xg.resume(), xg.skip(),
 * xg.external_abort(); sandbox.c "verdicts without arguments") against a hostile policy.
 * While shared one holds no key: it stands for {verdict = <kind>} through its kind's protected
 * metatable, whose __newindex makes it that plain table, out of sharing, at the first
 * assignment; the engine knows a shared one by its address alone, and the sandbox's raw
 * reads (rawget, next, pairs) see the table it stands for. What must hold whatever a policy
 * does:
 * (a) a helper never hands out a table holding anything but exactly {verdict = <kind>};
 * (b) the engine reads a returned table as xg_verdict_from_lua would read it by name;
 * (c) no crash, hang or error outside the call;
 * (d) an error an assignment to one raises (a nil or NaN key) names the policy's line.
 * The ways Lua 5.4 changes a table other than by a plain assignment are tried one by one:
 * a proxy whose __newindex is the shared table (an existing key is then set raw on it),
 * load with the table as _ENV, table.remove/sort/concat/unpack/insert/move, clearing it
 * while traversing it, errors inside __newindex (nil and NaN keys), names equal by value,
 * a to-be-closed variable changing it after the return expression, a coroutine keeping
 * one across exits, the helper as the handler itself, the table as another's metatable,
 * xg.cache on changed and unchanged ones, tables taken out and dropped while garbage is
 * made (their addresses reused), memory and instruction kills while keys are added, two
 * vCPUs and a reload. Then a differential run on seeded random operations: the same
 * exits through a policy returning the tables themselves (the address check) and one
 * returning a plain copy of each (xg_verdict_from_lua by name) must give the same verdict,
 * failure and caching; and every helper call must give exactly {verdict = <kind>}.
 */
#include "engine_test.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local K = { 'emulate', 'resume', 'skip', 'external_abort' }\n"
    "local co\n"
    "local function nkeys(t) local n = 0 for _ in next, t do n = n + 1 end return n end\n"
    /* every helper gives exactly {verdict = <kind>} now */
    "local function clean()\n"
    "  for _, k in ipairs(K) do local v = xg[k]()\n"
    "    if nkeys(v) ~= 1 or rawget(v, 'verdict') ~= k then return false end end\n"
    "  return true end\n"
    "local function check(r) return clean() and r or xg.stop 'a changed table handed out' "
    "end\n"
    "local t = {\n"
    /* a proxy whose __newindex is the shared table: 'verdict' exists, so set raw on it */
    "  [1] = function() local v = xg.emulate()\n"
    "    setmetatable({}, { __newindex = v }).verdict = 'resume' return v end,\n"
    "  [2] = function() return check(xg.emulate(xg.resume(), 'x')) end,\n"
    /* a key added through the proxy: seen, so the cache shape is read */
    "  [3] = function() local v = xg.resume()\n"
    "    setmetatable({}, { __newindex = v }).cache = 'port' return v end,\n"
    /* the shared table as a loaded chunk's _ENV: its globals are its keys */
    "  [4] = function() local v = xg.resume() load('cache = \"port\"', '=x', 't', v)() "
    "return v end,\n"
    "  [5] = function() local v = xg.skip() load('verdict = \"resume\"', '=x', 't', v)() "
    "return v end,\n"
    /* table.remove of an empty sequence assigns t[0] = nil */
    "  [6] = function() local v = xg.external_abort() table.remove(v) return check(v) end,\n"
    /* what only reads leaves it shared */
    "  [7] = function() local v = xg.emulate() table.sort(v)\n"
    "    local _ = table.concat(v) .. select('#', table.unpack(v)) .. #v .. rawlen(v) .. "
    "tostring(v):sub(1, 5)\n"
    "    for _ in pairs(v) do end for _ in ipairs(v) do end\n"
    "    return rawequal(v, xg.emulate()) and v or xg.stop 'a read took it out' end,\n"
    /* cleared while traversed: no verdict; the next one handed out is whole */
    "  [8] = function() local v = xg.emulate() for k in pairs(v) do v[k] = nil end return v "
    "end,\n"
    "  [9] = function() return check(xg.emulate()) end,\n"
    /* __newindex raising (nil, NaN keys): the table unchanged, the verdict right */
    "  [10] = function() local v = xg.resume()\n"
    "    local a, b = pcall(function() v[nil] = 1 end), pcall(function() v[0/0] = 1 end)\n"
    "    return (not a and not b and nkeys(v) == 1) and check(v) or xg.stop 'nil, NaN' end,\n"
    /* nil assigned to absent keys */
    "  [11] = function() local v = xg.resume() v.x = nil v[1] = nil return check(v) end,\n"
    /* the kind's name built at run time is the same interned string: still shared */
    "  [12] = function() local v = xg.emulate() v.verdict = ('emu'):rep(1) .. 'late'\n"
    "    return rawequal(v, xg.emulate()) and v or xg.stop 'same name' end,\n"
    "  [13] = function() local v = xg.emulate() v.verdict = 'emulate\\0' return v end,\n"
    "  [14] = function() return check(xg.emulate()) end,\n"
    /* a to-be-closed variable changes it after the return expression was evaluated */
    "  [15] = function() local v = xg.resume()\n"
    "    local c <close> = setmetatable({}, { __close = function() v.cache = 'port' end })\n"
    "    return v end,\n"
    "  [16] = function() local v = xg.emulate()\n"
    "    local c <close> = setmetatable({}, { __close = function() v.verdict = 'external_abort' "
    "end })\n"
    "    return v end,\n"
    "  [17] = function() return check(xg.emulate()) end,\n"
    /* a coroutine keeps one across exits and changes it in a later one */
    "  [18] = function() co = coroutine.wrap(function() local v = xg.emulate()\n"
    "    coroutine.yield(v) v.verdict = 'stop' coroutine.yield(xg.emulate()) end) return co() "
    "end,\n"
    "  [19] = function() local w = co()\n"
    "    return (rawget(w, 'verdict') == 'emulate' and nkeys(w) == 1) and check(w) or "
    "xg.stop 'coroutine' end,\n"
    /* the emulate table changed, xg.emulate not called again: mmio = xg.emulate next */
    "  [20] = function() xg.emulate().cache = 'kind' return xg.resume() end,\n"
    "  [21] = function() xg.emulate().verdict = 'stop' return xg.resume() end,\n"
    /* another table's metatable, or its __index: unchanged, still shared */
    "  [22] = function() local v = xg.resume() local p = setmetatable({}, v)\n"
    "    local q = setmetatable({}, { __index = v }) local _ = tostring(p.x) .. q.verdict\n"
    "    return rawequal(v, xg.resume()) and v or xg.stop 'used as a metatable' end,\n"
    /* table.insert at a position, table.move within the table */
    "  [23] = function() local v = xg.external_abort() table.insert(v, 1, 'x') "
    "table.move(v, 1, 3, 2)\n"
    "    return (v[2] == 'x' and nkeys(v) == 3) and v or xg.stop 'insert, move' end,\n"
    "  [24] = function() return check(xg.external_abort()) end,\n"
    /* xg.cache of one whose verdict was changed: that table is marked, and read as it is */
    "  [25] = function() local v = xg.resume() v.verdict = 'emulate' local c = xg.cache(v, "
    "'port')\n"
    "    return rawequal(c, v) and check(c) or xg.stop 'copied' end,\n"
    /* xg.cache of an unchanged one, twice: two copies, the shared one unmarked */
    "  [26] = function() local a, b = xg.cache(xg.emulate(), 'port'), xg.cache(xg.emulate(), "
    "'insn')\n"
    "    return (not rawequal(a, b) and a.cache == 'port' and b.cache == 'insn' and\n"
    "      xg.emulate().cache == nil) and check(a) or xg.stop 'cache' end,\n"
    "  [27] = function() return xg.cache(xg.resume(), 'bogus') end,\n"
    "  [28] = function() return check(xg.resume()) end,\n"
    /* the key 'verdict' built at run time is the same key */
    "  [29] = function() local v = xg.resume() v[('verdict'):sub(1)] = 'emulate' return v end,\n"
    /* tables taken out of sharing and dropped among garbage; a plain table returned */
    "  [30] = function(e) for i = 1, 20 do local v = xg[K[i % 4 + 1]]() v.x = i\n"
    "      local g = {} for j = 1, 20 do g[j] = { j } end end\n"
    "    return { verdict = 'resume' } end,\n"
    /* raw reads see the table it stands for, and leave it shared */
    "  [31] = function() local v = xg.emulate() local n = 0 for _ in pairs(v) do n = n + 1 end\n"
    "    local k, x = next(v) local r = rawget(v, ('verdict'):sub(1))\n"
    "    if n == 1 and k == 'verdict' and x == 'emulate' and next(v, k) == nil and\n"
    "      r == 'emulate' and rawget(v, 'x') == nil and rawget(v, 1) == nil and\n"
    "      rawlen(v) == 0 and #v == 0 and v.x == nil and rawequal(v, xg.emulate()) then\n"
    "      return v end return xg.stop 'raw reads' end,\n"
    /* next with a key it does not hold: the error a plain table gives */
    "  [32] = function() local a, e1 = pcall(next, { verdict = 'skip' }, 'x')\n"
    "    local b, e2 = pcall(next, xg.skip(), 'x')\n"
    "    local c, e3 = pcall(rawget, xg.skip()) local d, e4 = pcall(rawget, {})\n"
    "    if not a and not b and e1 == e2 and not c and not d and e3 == e4 and\n"
    "      rawequal(xg.skip(), xg.skip()) then return xg.emulate() end\n"
    "    return xg.stop(tostring(e1) .. ' / ' .. tostring(e2) .. ' / ' .. tostring(e3)) end,\n"
    /* no next that reads it raw is within reach: pairs hands out the sandbox's */
    "  [35] = function() local rnext = pairs({}) local k, x = rnext(xg.emulate())\n"
    "    if k == 'verdict' and x == 'emulate' and rnext == next and\n"
    "      pairs(xg.emulate()) == rnext and rawequal(xg.emulate(), xg.emulate()) then\n"
    "      return xg.emulate() end return xg.stop 'a raw next' end,\n"
    /* the table functions charge it as the plain table (one instruction per element) */
    "  [36] = function() local a = pcall(table.concat, { verdict = 'resume' }, '', 1, 20000)\n"
    "    local b = pcall(table.concat, xg.resume(), '', 1, 20000)\n"
    "    if not a and not b then return xg.resume() end return xg.stop 'concat' end,\n"
    /* nested in a dump verdict */
    "  [33] = function() return xg.dump { xg.external_abort(), note = 'n' } end,\n"
    "  [34] = function() return xg.dump { xg.cache(xg.resume(), 'insn') } end,\n"
    "}\n"
    "return xg.policy { io = function(e) return t[e.port](e) end, mmio = xg.emulate }\n";

static struct xg_result mmio(xg_vcpu *v)
{
	struct run m;

	run_mmio(&m, 0x1230, 4, 0);
	return xg_handle_exit(v, m.b, sizeof(m.b), 0);
}

static const char *why(struct xg_result r)
{
	return r.reason && r.reason[0] ? r.reason : xg_fail_name(r.fail);
}

/* r is verdict k with no failure, and (cached >= 0) cached or not. */
static int is(struct xg_result r, enum xg_verdict_kind k, int cached)
{
	return r.verdict == k && r.fail == XG_FAIL_NONE && (cached < 0 || r.cached == cached);
}

static void cases(void)
{
	struct xg_error err;
	struct fake f = {0}, f1 = {0};
	struct xg_result r;
	xg_engine *e = engine_with(policy, "    on_error: stop\n    limits: { instructions: 200000 }\n",
				   &err);
	xg_vcpu *v, *v1;
	int bad = 0;

	if (!e)
		bail("engine: %s", err.msg);
	v = attach(e, &f);

	r = io(v, 1);
	ok(is(r, XG_VERDICT_RESUME, 0),
	   "'verdict' set raw through a proxy whose __newindex is the shared table: read (%s, "
	   "%s)",
	   xg_verdict_name(r.verdict), why(r));
	r = io(v, 2);
	ok(is(r, XG_VERDICT_EMULATE, 0), "and not handed out again (%s)", why(r));
	r = io(v, 3);
	ok(is(r, XG_VERDICT_RESUME, 0), "a key added through the proxy (%s)", why(r));
	r = io(v, 3);
	ok(is(r, XG_VERDICT_RESUME, 1), "is seen: its cache shape counts");
	r = io(v, 4);
	ok(is(r, XG_VERDICT_RESUME, 0), "a key added by a chunk whose _ENV it is (%s)", why(r));
	r = io(v, 4);
	ok(is(r, XG_VERDICT_RESUME, 1), "is seen: its cache shape counts");
	r = io(v, 5);
	ok(is(r, XG_VERDICT_RESUME, 0), "'verdict' set by such a chunk: read (%s, %s)",
	   xg_verdict_name(r.verdict), why(r));
	r = io(v, 6);
	ok(is(r, XG_VERDICT_EXTERNAL_ABORT, 0),
	   "table.remove of it: still external_abort, none changed handed out (%s)", why(r));
	r = io(v, 7);
	ok(is(r, XG_VERDICT_EMULATE, 0),
	   "sort, concat, unpack, #, rawlen, tostring, pairs, ipairs leave it shared (%s)", why(r));
	r = io(v, 8);
	ok(r.fail == XG_FAIL_BAD_VERDICT, "cleared while traversed: no verdict (%s)", why(r));
	r = io(v, 9);
	ok(is(r, XG_VERDICT_EMULATE, 0), "and not handed out again (%s)", why(r));
	r = io(v, 10);
	ok(is(r, XG_VERDICT_RESUME, 0),
	   "nil and NaN keys: __newindex raises, the table stays {verdict = 'resume'} (%s)",
	   why(r));
	r = io(v, 11);
	ok(is(r, XG_VERDICT_RESUME, 0), "nil assigned to absent keys (%s)", why(r));
	r = io(v, 12);
	ok(is(r, XG_VERDICT_EMULATE, 0), "its name built at run time: still shared (%s)", why(r));
	r = io(v, 13);
	ok(r.fail == XG_FAIL_BAD_VERDICT, "'emulate\\0': no verdict (%s)", why(r));
	r = io(v, 14);
	ok(is(r, XG_VERDICT_EMULATE, 0), "and not handed out again (%s)", why(r));
	r = io(v, 15);
	ok(is(r, XG_VERDICT_RESUME, 0), "a key added by a __close after the return (%s)", why(r));
	r = io(v, 15);
	ok(is(r, XG_VERDICT_RESUME, 1), "is seen: its cache shape counts");
	r = io(v, 16);
	ok(is(r, XG_VERDICT_EXTERNAL_ABORT, 0),
	   "'verdict' changed by a __close after the return: read (%s)",
	   xg_verdict_name(r.verdict));
	r = io(v, 17);
	ok(is(r, XG_VERDICT_EMULATE, 0), "and not handed out again (%s)", why(r));
	r = io(v, 18);
	ok(is(r, XG_VERDICT_EMULATE, 0), "a coroutine yields xg.emulate() (%s)", why(r));
	r = io(v, 19);
	ok(is(r, XG_VERDICT_EMULATE, 0),
	   "changes it in a later exit: the next xg.emulate() there is whole (%s)", why(r));
	r = io(v, 20);
	r = mmio(v);
	ok(is(r, XG_VERDICT_EMULATE, 0), "mmio = xg.emulate after a key was added to it (%s)",
	   why(r));
	r = mmio(v);
	ok(is(r, XG_VERDICT_EMULATE, 0), "twice: the added cache shape never reached the engine");
	r = io(v, 21);
	r = mmio(v);
	ok(is(r, XG_VERDICT_EMULATE, 0), "mmio = xg.emulate after its verdict was changed (%s)",
	   why(r));
	r = io(v, 22);
	ok(is(r, XG_VERDICT_RESUME, 0), "another table's metatable or __index: still shared (%s)",
	   why(r));
	int aborts = f.aborts;
	r = io(v, 23);
	ok(is(r, XG_VERDICT_EXTERNAL_ABORT, 0) && f.aborts == aborts + 1,
	   "table.insert at 1 and table.move within it: still external_abort (%s)", why(r));
	r = io(v, 24);
	ok(is(r, XG_VERDICT_EXTERNAL_ABORT, 0), "and not handed out again (%s)", why(r));
	r = io(v, 25);
	ok(is(r, XG_VERDICT_EMULATE, 0), "xg.cache of one changed to emulate marks it (%s)",
	   why(r));
	r = io(v, 25);
	ok(is(r, XG_VERDICT_EMULATE, 1), "and the port's next exit is a cached emulate");
	r = io(v, 26);
	ok(is(r, XG_VERDICT_EMULATE, 0), "xg.cache twice of the shared one: two copies (%s)",
	   why(r));
	r = io(v, 26);
	ok(is(r, XG_VERDICT_EMULATE, 1), "the first one's shape cached");
	r = io(v, 27);
	ok(r.fail == XG_FAIL_BAD_VERDICT, "xg.cache with a bad shape: refused (%s)", why(r));
	r = io(v, 28);
	ok(is(r, XG_VERDICT_RESUME, 0), "and the shared one untouched (%s)", why(r));
	r = io(v, 29);
	ok(is(r, XG_VERDICT_EMULATE, 0), "the key 'verdict' built at run time (%s)",
	   xg_verdict_name(r.verdict));
	for (int i = 0; i < 2000 && !bad; i++) {
		r = io(v, 30);
		bad = !is(r, XG_VERDICT_RESUME, 0);
		if (bad)
			diag("exit %d: %s, %s", i, xg_verdict_name(r.verdict), why(r));
	}
	ok(!bad, "2000 exits, each taking 20 tables out of sharing among garbage, then a plain "
		 "{verdict = 'resume'}: read right");
	r = io(v, 31);
	ok(is(r, XG_VERDICT_EMULATE, 0),
	   "pairs, next, rawget, rawlen, # read {verdict = 'emulate'} and leave it shared (%s)",
	   why(r));
	r = io(v, 32);
	ok(is(r, XG_VERDICT_EMULATE, 0),
	   "next with a key it lacks, rawget without a key: the errors of a plain table (%s)",
	   why(r));
	r = io(v, 35);
	ok(is(r, XG_VERDICT_EMULATE, 0),
	   "the next pairs hands out is the sandbox's: a shared table read through it (%s)",
	   why(r));
	r = io(v, 36);
	ok(is(r, XG_VERDICT_RESUME, 0),
	   "table.concat of 20,000 elements of it and of the plain table: charged alike, within "
	   "200,000 instructions (%s)",
	   why(r));
	r = io(v, 33);
	ok(is(r, XG_VERDICT_EXTERNAL_ABORT, 0) && r.dumped,
	   "xg.dump { xg.external_abort() }: dump, then external_abort (%s, %s)",
	   xg_verdict_name(r.verdict), why(r));
	r = io(v, 34);
	ok(is(r, XG_VERDICT_RESUME, 0) && r.dumped,
	   "xg.dump { xg.cache(xg.resume(), 'insn') }: dump, then resume (%s, %s)",
	   xg_verdict_name(r.verdict), why(r));

	/* a second vCPU: a state of its own, its tables its own */
	v1 = xg_vcpu_attach(e, "g", 1, &fake_ops, &f1, &err);
	if (!v1)
		bail("attach vCPU 1: %s", err.msg);
	r = io(v, 21);
	r = mmio(v1);
	ok(is(r, XG_VERDICT_EMULATE, 0), "vCPU 1: xg.emulate after vCPU 0 changed its own (%s)",
	   why(r));
	r = io(v1, 1);
	r = io(v, 12);
	ok(is(r, XG_VERDICT_EMULATE, 0), "vCPU 0: shared after vCPU 1 changed its own (%s)",
	   why(r));
	r = io(v1, 2);
	ok(is(r, XG_VERDICT_EMULATE, 0), "vCPU 1 too (%s)", why(r));
	xg_vcpu_detach(v1);

	/* a reload: the new state's tables */
	put_file("p.lua", policy);
	ok(xg_engine_reload(e, &err) == 0, "reload: %s", err.msg);
	r = io(v, 21);
	r = io(v, 1);
	ok(is(r, XG_VERDICT_RESUME, 0), "after a reload, 'verdict' set raw: read (%s)", why(r));
	r = io(v, 2);
	ok(is(r, XG_VERDICT_EMULATE, 0), "and not handed out again (%s)", why(r));
	r = mmio(v);
	ok(is(r, XG_VERDICT_EMULATE, 0), "mmio = xg.emulate (%s)", why(r));

	xg_vcpu_detach(v);
	xg_engine_free(e);
}

/* Keys added to the shared table until the memory or the instruction limit kills the call:
 * the kill lands in its __newindex's rawset (memory) or between two of them. */
static const char limits_policy[] =
    "local xg = require 'exitgate'\n"
    "local function nkeys(t) local n = 0 for _ in next, t do n = n + 1 end return n end\n"
    "local t = {\n"
    "  [1] = function() local v = xg.emulate()\n"
    "    pcall(function() for i = 1, 1e9 do v[i] = i end end) return v end,\n"
    "  [2] = function() local v = xg.resume() local i = 0\n"
    "    while true do i = i + 1 v['k' .. (i % 64)] = i end end,\n"
    "  [3] = function() local v = xg.external_abort() v[1] = 1\n"
    "    pcall(function() local g = {} for i = 1, 1e9 do g[i] = { i } end end) return v end,\n"
    "  [4] = function() for _, k in ipairs { 'emulate', 'resume', 'skip', 'external_abort' } do\n"
    "      local v = xg[k]() if nkeys(v) ~= 1 or rawget(v, 'verdict') ~= k then\n"
    "        return xg.stop 'changed one handed out' end end\n"
    "    return xg.emulate() end,\n"
    "}\n"
    "return xg.policy { io = function(e) return t[e.port]() end, mmio = xg.external_abort }\n";

static void limits(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_result r;
	xg_engine *e = engine_with(limits_policy,
				   "    on_error: stop\n    limits: { memory: 1M, instructions: "
				   "200000, time_ms: 20000 }\n",
				   &err);
	xg_vcpu *v;

	if (!e)
		bail("engine: %s", err.msg);
	v = attach(e, &f);
	r = io(v, 1);
	ok(r.fail == XG_FAIL_MEMORY,
	   "keys added to xg.emulate() up to the memory limit: killed (%s)", xg_fail_name(r.fail));
	r = io(v, 4);
	ok(is(r, XG_VERDICT_EMULATE, 0), "then every helper gives {verdict = <kind>} (%s)", why(r));
	r = io(v, 2);
	ok(r.fail == XG_FAIL_INSTRUCTIONS || r.fail == XG_FAIL_MEMORY,
	   "keys added to xg.resume() until the instruction limit: killed (%s)",
	   xg_fail_name(r.fail));
	r = io(v, 4);
	ok(is(r, XG_VERDICT_EMULATE, 0), "then every helper gives {verdict = <kind>} (%s)", why(r));
	r = io(v, 3);
	ok(r.fail == XG_FAIL_MEMORY,
	   "the memory limit reached with xg.external_abort() taken out (%s)",
	   xg_fail_name(r.fail));
	r = mmio(v);
	ok(is(r, XG_VERDICT_EXTERNAL_ABORT, 0), "mmio = xg.external_abort then (%s)", why(r));
	r = io(v, 4);
	ok(is(r, XG_VERDICT_EMULATE, 0), "and every helper gives {verdict = <kind>} (%s)", why(r));
	xg_vcpu_detach(v);
	xg_engine_free(e);
}

/*
 * The differential run. Port p chooses: the kind (p / 16 % 4), an argument a (p / 64 % 6),
 * an operation (p % 8) and its table (p % 16 >= 8: the one kept for that kind from an
 * earlier call, if any; else the helper's). The call keeps the table, then returns either
 * it or what the helper gives now (a odd / even). The ops: none; 'verdict' set to a name,
 * or removed; 'cache' set to a shape, or removed; table.insert; a key set through a proxy
 * whose __newindex is the table; xg.cache. Each call checks, before and after, that every
 * helper gives exactly {verdict = <kind>} (port 9999 says how many calls saw one that did
 * not; the check leaves what the call returns alone). COPY returns a plain copy of the
 * table (read by name) instead of the table itself (the address check). Caught by three
 * mutants of sandbox.c: __newindex not taking the table out, intact not comparing the
 * name, no metatable on the tables.
 */
static const char fuzz_tail[] =
    "local xg = require 'exitgate'\n"
    "local K = { 'emulate', 'resume', 'skip', 'external_abort' }\n"
    "local N = { 'emulate', 'resume', 'skip', 'external_abort', 'stop', 'nope' }\n"
    "local S = { 'port', 'insn', 'nope' }\n"
    "local kept, dirty = {}, 0\n"
    "local function clean()\n"
    "  for _, k in ipairs(K) do local v, n = xg[k](), 0\n"
    "    for _ in next, v do n = n + 1 end\n"
    "    if n ~= 1 or rawget(v, 'verdict') ~= k then return false end end\n"
    "  return true end\n"
    "local function out(v)\n"
    "  if not COPY then return v end\n"
    "  local c = {} for k, x in next, v do c[k] = x end return c end\n"
    "local function call(p)\n"
    "  if p == 9999 then return xg.stop(tostring(dirty)) end\n"
    "  if not clean() then dirty = dirty + 1 end\n"
    "  local kind, a, op = p // 16 % 4 + 1, p // 64 % 6 + 1, p % 8\n"
    "  local v = (p % 16 >= 8 and kept[kind]) or xg[K[kind]]()\n"
    "  if op == 1 then v.verdict = N[a]\n"
    "  elseif op == 2 then v.verdict = nil\n"
    /* 'port' is rarer: a port cached is a port the run no longer enters Lua for */
    "  elseif op == 3 then v.cache = S[a % 3 + 1] == 'port' and a ~= 1 and 'insn' or S[a % 3 + "
    "1]\n"
    "  elseif op == 4 then v.cache = nil\n"
    "  elseif op == 5 then table.insert(v, a)\n"
    "  elseif op == 6 then local px = setmetatable({}, { __newindex = v })\n"
    "    if a % 2 == 0 then px.verdict = N[a] else px['k' .. a] = a end\n"
    "  elseif op == 7 then v = xg.cache(v, a == 1 and 'port' or S[a % 2 + 2]) end\n"
    "  kept[kind] = v\n"
    "  if not clean() then dirty = dirty + 1 end\n"
    "  if a % 2 == 1 then return out(v) end\n"
    "  return out(xg[K[kind]]())\n"
    "end\n"
    "return xg.policy { io = function(e) return call(e.port) end }\n";

#define FUZZ_PORTS (16 * 4 * 6)
#define FUZZ_EXITS 6000

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fuzz(void)
{
	static char text[2][sizeof(fuzz_tail) + 64];
	struct xg_error err;
	struct fake f[2] = {{0}, {0}};
	xg_engine *e[2];
	xg_vcpu *v[2];
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20), s;
	const char *env = getenv("XG_SEED");
	int diffs = 0, dirty = 0, bad_shape = 0, cached = 0, read = 0;

	if (env)
		seed = strtoull(env, NULL, 0);
	s = seed * 0x9e3779b97f4a7c15ull + 1;
	if (!s)
		s = 1;
	for (int i = 0; i < 2; i++) {
		snprintf(text[i], sizeof(text[i]), "local COPY = %s\n%s", i ? "true" : "false",
			 fuzz_tail);
		e[i] = engine_with(text[i], "    on_error: stop\n", &err);
		if (!e[i])
			bail("engine %d: %s", i, err.msg);
		v[i] = attach(e[i], &f[i]);
	}
	for (int n = 0; n < FUZZ_EXITS; n++) {
		uint16_t port = (uint16_t)(rnd(&s) % FUZZ_PORTS);
		struct xg_result r[2];
		char why0[512];

		for (int i = 0; i < 2; i++)
			r[i] = io(v[i], port);
		snprintf(why0, sizeof(why0), "%s", why(r[0]));
		if (r[0].fail == XG_FAIL_BAD_VERDICT)
			bad_shape++;
		cached += r[0].cached;
		read += r[0].fail == XG_FAIL_NONE && !r[0].cached;
		if (r[0].verdict != r[1].verdict || r[0].fail != r[1].fail ||
		    r[0].cached != r[1].cached || strcmp(why0, why(r[1]))) {
			if (diffs++ < 5)
				diag(
				    "seed %llu exit %d port %u: shared %s/%s/%s%s, copy %s/%s/%s%s",
				    (unsigned long long)seed, n, port,
				    xg_verdict_name(r[0].verdict), xg_fail_name(r[0].fail), why0,
				    r[0].cached ? " cached" : "", xg_verdict_name(r[1].verdict),
				    xg_fail_name(r[1].fail), why(r[1]),
				    r[1].cached ? " cached" : "");
		}
	}
	ok(!diffs,
	   "%d random exits (seed %llu, XG_SEED=... repeats it): the tables themselves and plain "
	   "copies of them read alike (%d differ; %d read by Lua, %d cached, %d bad verdicts)",
	   FUZZ_EXITS, (unsigned long long)seed, diffs, read, cached, bad_shape);
	for (int i = 0; i < 2; i++) {
		struct xg_result r = io(v[i], 9999);
		if (r.verdict != XG_VERDICT_STOP || strcmp(why(r), "0"))
			dirty++;
		if (r.verdict == XG_VERDICT_STOP && strcmp(why(r), "0"))
			diag("%s: %s calls saw a helper hand out a changed table",
			     i ? "copy" : "shared", why(r));
	}
	ok(!dirty, "no helper handed out a changed table");
	for (int i = 0; i < 2; i++) {
		xg_vcpu_detach(v[i]);
		xg_engine_free(e[i]);
	}
}

/* An error a plain assignment raises (a nil or NaN key) names the policy's line, as it does
 * for any table (and did for these before they had a metatable): raised from __newindex, a
 * C function, Lua gives it no position (ldebug.c luaG_runerror adds one only in a Lua
 * function). Lines: the handlers are lines 3, 4 and 5. */
static const char where_policy[] = "local xg = require 'exitgate'\n"
				   "local t = {\n"
				   "  [1] = function() local v = {} v[nil] = 1 end,\n"
				   "  [2] = function() local v = xg.emulate() v[nil] = 1 end,\n"
				   "  [3] = function() local v = xg.resume() v[0/0] = 1 end,\n"
				   "}\n"
				   "return xg.policy { io = function(e) return t[e.port]() end }\n";

static void where(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_result r;
	xg_engine *e = engine_with(where_policy, "    on_error: stop\n", &err);
	xg_vcpu *v;

	if (!e)
		bail("engine: %s", err.msg);
	v = attach(e, &f);
	r = io(v, 1);
	like(why(r), "p.lua:3: table index is nil", "a nil key in a plain table: %s", why(r));
	r = io(v, 2);
	like(why(r), "p.lua:4: table index is nil", "a nil key in xg.emulate()'s table: %s",
	     why(r));
	r = io(v, 3);
	like(why(r), "p.lua:5: table index is NaN", "a NaN key in xg.resume()'s table: %s", why(r));
	xg_vcpu_detach(v);
	xg_engine_free(e);
}

/* A policy file returning a shared table is the table it stands for, {verdict = 'emulate'}:
 * not a policy (its key 'verdict' is not a handler), refused at load with that reason. */
static void as_policy(void)
{
	static const char *const texts[] = {
	    "local xg = require 'exitgate'\nreturn xg.emulate()\n",
	    "local xg = require 'exitgate'\nreturn xg.policy(xg.skip())\n",
	};
	for (int i = 0; i < 2; i++) {
		struct xg_error err = {0};
		struct fake f = {0};
		xg_engine *e = engine_with(texts[i], "", &err);
		xg_vcpu *v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err) : NULL;

		ok(!v && strstr(err.msg, "handler 'verdict' must be a function, not string"),
		   "a policy file returning %s: refused (%s)", i ? "xg.policy(xg.skip())" : "xg.emulate()",
		   err.msg);
		if (v)
			xg_vcpu_detach(v);
		xg_engine_free(e);
	}
}

int main(void)
{
	cases();
	as_policy();
	limits();
	fuzz();
	where();
	cleanup_dir();
	return done_testing();
}
