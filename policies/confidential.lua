-- confidential.lua - for confidential guests (vm.type: sw_protected, or a VMM with SEV-SNP,
-- TDX, pKVM): memory conversions only where the configuration allows them.
--
-- params:
--   allow: [ { gpa: G, size: S }, ... ]  ranges a conversion may touch (default: none)
--   max_per_second: N                    conversions per second and vCPU (default 1000);
--                                        more are refused
--   fault_to: access | shared            a memory_fault converts to the side the access
--                                        wanted (access, the default: SEV-SNP, TDX) or to
--                                        shared (a software-protected VM, where the
--                                        attributes decide and a private page KVM cannot
--                                        serve has no guest_memfd behind it)
--   refuse_fault: stop | EXCEPTION       a memory_fault outside the ranges stops the guest
--                                        (stop, the default) or is refused with that
--                                        exception injected (GP, UD, ...: xg.inject; the
--                                        guest's handler sees it at the faulting access)
-- A KVM_HC_MAP_GPA_RANGE request inside the ranges is converted (the guest gets 0); outside
-- them, or over the rate, it is refused: xg.resume() leaves the VMM's -KVM_EPERM in the
-- guest's RAX (x86/hypercalls.rst 8). The first refusal is dumped, every decision is
-- logged (who asked, what range, what was decided: the audit trail). A memory fault
-- outside the ranges stops the guest (it cannot go on without the page) unless
-- refuse_fault names an exception to inject. Other exits are left to the default policy's
-- way: suspend with a dump.
local xg = require "exitgate"

local allow = {}
for i, r in ipairs(type(xg.params.allow) == "table" and xg.params.allow or {}) do
	if math.type(r.gpa) ~= "integer" or math.type(r.size) ~= "integer" or r.size <= 0 then
		error("confidential: params.allow[" .. i .. "] needs integer gpa and size > 0")
	end
	allow[#allow + 1] = { lo = r.gpa, size = r.size }
end
local max_rate = math.tointeger(xg.params.max_per_second) or 1000
local fault_to = xg.params.fault_to or "access"
if fault_to ~= "access" and fault_to ~= "shared" then
	error("confidential: params.fault_to must be 'access' or 'shared', not " .. tostring(fault_to))
end
local refuse_fault = xg.params.refuse_fault or "stop"
if refuse_fault ~= "stop" and (type(refuse_fault) ~= "string" or not refuse_fault:match "^%u+$") then
	error("confidential: params.refuse_fault must be 'stop' or an exception name (GP, UD, ...), not "
		.. tostring(refuse_fault))
end

-- Inside one allowed range, with no wrap (unsigned compares: GPAs may have bit 63 set).
local function allowed(gpa, size)
	for _, r in ipairs(allow) do
		local off = gpa - r.lo
		if math.ult(off, r.size) and not math.ult(r.size - off, size) then
			return true
		end
	end
	return false
end

local second, count, refused = -1, 0, false
local function over_rate()
	local now = os.time()
	if now ~= second then
		second, count = now, 0
	end
	count = count + 1
	return count > max_rate
end

-- A refusal: verdict (default xg.resume(): MAP_GPA_RANGE answered -KVM_EPERM), logged, the
-- first one dumped.
local function refuse(what, why, verdict)
	verdict = verdict or xg.resume()
	xg.log("refused " .. what .. ": " .. why)
	if not refused then
		refused = true
		return xg.dump { verdict, note = "first refusal: " .. what .. ": " .. why }
	end
	return verdict
end

return xg.policy {
	hypercall = function(e)
		local m = e.map_gpa_range
		if not m then
			return xg.dump { xg.suspend("confidential: hypercall " .. e.nr .. " is not MAP_GPA_RANGE") }
		end
		local size = m.npages * (m.page_size == "2M" and 0x200000 or m.page_size == "1G"
			and 0x40000000 or 0x1000)
		local to = m.encrypted and "private" or "shared"
		local what = "map_gpa_range " .. xg.hex(m.gpa) .. "+" .. xg.hex(size) .. " to " .. to
		if not allowed(m.gpa, size) then
			return refuse(what, "outside the allowed ranges")
		end
		if over_rate() then
			return refuse(what, "over " .. max_rate .. " conversions per second")
		end
		xg.log("convert " .. what)
		return xg.convert { gpa = m.gpa, size = size, to = to }
	end,
	memory_fault = function(e)
		local gpa = e.gpa & ~0xfff
		local size = ((e.gpa + e.size + 0xfff) & ~0xfff) - gpa
		local to = (fault_to == "shared" or not e.private) and "shared" or "private"
		local what = "memory_fault " .. xg.hex(gpa) .. "+" .. xg.hex(size) .. " to " .. to
		if not allowed(gpa, size) then
			if refuse_fault ~= "stop" then
				return refuse(what, "outside the allowed ranges", xg.inject(refuse_fault,
					refuse_fault == "GP" and 0 or nil))
			end
			return xg.dump { xg.stop("confidential: " .. what .. " outside the allowed ranges") }
		end
		if over_rate() then
			return xg.dump { xg.stop("confidential: " .. what .. ": over " .. max_rate
				.. " conversions per second") }
		end
		xg.log("convert " .. what)
		return xg.convert { gpa = gpa, size = size, to = to }
	end,
	default = function(e)
		return xg.dump { xg.suspend("confidential: no handler for " .. e.kind) }
	end,
}
