-- exitgate.lua - the module every policy gets from `require "exitgate"`.
--
-- Verdicts are plain tables ({verdict = "inject", exception = "UD"}); these helpers only
-- build them, the engine (core/engine/verdict.c) validates them and says what is wrong with
-- a bad one. The engine passes its C helpers as the chunk's argument; this file runs in the
-- policy's sandbox, so it can use nothing a policy could not.
local C = ...
local M = {}

M.version = C.version

-- x86 exception vectors (SDM Vol. 3A 6.3.1, Table 6-1).
M.exceptions = {
	DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10,
	NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19, VE = 20, CP = 21,
}

-- The verdicts that take no argument are built once per state and handed out again while
-- nothing has changed them, so that `return xg.emulate()` allocates nothing on the exit path
-- (a fresh table per call is garbage the collector must chase on every exit; t_noalloc).
-- A table a policy changed (a field added, removed or altered) is not handed out again: the
-- next call builds a new one. Two calls in one handler return the same table. The engine
-- keeps them (C.reusable, core/engine/sandbox.c) and knows them when a handler returns one.
local reusable = C.reusable

-- Re-enter the guest after emulating the instruction (the built-in emulator or the VMM's).
M.emulate = reusable("emulate")

-- Inject an exception into the guest at the instruction that exited.
-- x86: xg.inject "UD", xg.inject("GP", 0), xg.inject(14, errcode), and a page fault with the
-- address its handler finds in CR2: xg.inject("PF", {error_code = 2, cr2 = va}) (CR2 is
-- set first; without cr2 it keeps what it held; cr2 is refused for any other exception).
-- arm64 (a synchronous exception taken to EL1 at the guest's VBAR_EL1): xg.inject "undefined"
-- (ESR EC 0, unknown reason), or xg.inject("data_abort", {fsc = 0x10, far = va, wnr = true}):
-- EC 0x24/0x25 by the EL the guest was in, ISV 0, DFSC fsc (default 0x10, a synchronous
-- external abort), FAR far (default: the VA of the exit's access), WnR wnr (default: the
-- exit's).
function M.inject(exception, arg)
	if type(arg) == "table" then
		return { verdict = "inject", exception = exception, error_code = arg.error_code, cr2 = arg.cr2,
			fsc = arg.fsc, far = arg.far, wnr = arg.wnr }
	end
	return { verdict = "inject", exception = exception, error_code = arg }
end

-- arm64: an external abort (SEA) for the faulting access, by the VMM (KVM's
-- KVM_SET_VCPU_EVENTS ext_dabt_pending: KVM builds ESR and FAR from the abort it saw).
M.external_abort = reusable("external_abort")

-- Convert guest memory: xg.convert { gpa = e.gpa, size = e.size, to = "private" }.
function M.convert(t)
	if type(t) ~= "table" then
		error("xg.convert takes a table {gpa=, size=, to='private'|'shared'}", 2)
	end
	return { verdict = "convert", gpa = t.gpa, size = t.size, to = t.to }
end

-- Pause the vCPU (the VMM resumes it).
function M.suspend(reason)
	return { verdict = "suspend", reason = reason }
end

-- Re-enter the guest as it is (after a conversion, or to retry).
M.resume = reusable("resume")
M.retry = M.resume

-- Advance the instruction pointer past the faulting instruction and re-enter.
M.skip = reusable("skip")

-- Answer an RDMSR/WRMSR exit (x86_rdmsr, x86_wrmsr): RDMSR reads `value` (default 0), WRMSR
-- is accepted and its value dropped. To refuse the access the way the CPU refuses an MSR it
-- does not have, inject #GP instead: xg.inject("GP", 0).
function M.msr(value)
	return { verdict = "msr", value = value }
end

-- Stop the VM.
function M.stop(reason)
	return { verdict = "stop", reason = reason }
end

-- Write a triage dump, then apply another verdict: xg.dump { xg.inject "UD", note = "..." }.
function M.dump(t)
	if type(t) ~= "table" then
		error("xg.dump takes a table: xg.dump { <verdict>, note = '...' }", 2)
	end
	local v = t[1] or t["then"]
	return { verdict = "dump", ["then"] = v, note = t.note }
end

-- Declare that a verdict holds for every exit of the same shape: the engine answers the
-- next ones from its cache without entering Lua. by: "kind", "insn" (kind + instruction
-- bytes), "mmio" (kind + page + size + direction), "port", "msr", "gpa_page".
-- A shared verdict (xg.emulate() ...) stays as it is: its cached form is a table of its own,
-- {verdict = name, cache = by}, made once per kind and shape and handed out again while
-- nothing has changed it (a key added, altered or removed, a metatable set: then a new one
-- is made), so that an exit the cache cannot answer - its handler runs every time, e.g.
-- xg.cache(xg.emulate(), "mmio") on an emulation failure - allocates nothing either.
local cached = {}

local function intact(t, name, by)
	if getmetatable(t) ~= nil or rawget(t, "verdict") ~= name or rawget(t, "cache") ~= by then
		return false
	end
	local k = next(t)
	k = next(t, k)
	return next(t, k) == nil
end

function M.cache(v, by)
	if type(v) ~= "table" then
		error("xg.cache takes a verdict and a shape", 2)
	end
	by = by or "insn"
	if C.is_shared(v) then
		if type(by) ~= "string" then
			return { verdict = v.verdict, cache = by } -- the engine says what is wrong
		end
		local name = v.verdict
		local per = cached[name]
		if not per then
			per = {}
			cached[name] = per
		end
		local t = per[by]
		if not t or not intact(t, name, by) then
			t = { verdict = name, cache = by }
			per[by] = t
		end
		return t
	end
	v.cache = by
	return v
end

-- Wrap the handler table; the engine checks the names and the handlers when it loads.
function M.policy(t)
	if type(t) ~= "table" then
		error("xg.policy takes a table of handlers", 2)
	end
	return t
end

M.emulator = { supports = C.emulator_supports }
-- M.params, M.guest and M.vcpu_index are set by the engine when the state is given its
-- guest and vCPU (core/engine/sandbox.c xg_lstate_load), after this file has run.
M.log = C.log
M.store = C.store

-- Hex helpers for messages and dumps.
function M.hex(n)
	return string.format("0x%x", n)
end

function M.bytes_hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

return M
