-- msr.lua - answers for guests/msr.S: a value for one unknown MSR, a register the guest can
-- write and read back for another, #GP (as a CPU without the MSR raises) for the rest, and
-- a value of its own for IA32_MISC_ENABLE, which msr.yaml traps although KVM knows it.
local xg = require "exitgate"

local kept = {}

return xg.policy {
	x86_rdmsr = function(e)
		if e.index == 0x4b564d99 then
			return xg.msr(0x1122334455667788)
		elseif e.index == 0x4b564d9a then
			return xg.msr(kept[e.index] or 0)
		elseif e.index == 0x1a0 then
			return xg.msr(0x5a5a0001)
		end
		return xg.inject("GP", 0)
	end,

	x86_wrmsr = function(e)
		if e.index == 0x4b564d9a then
			kept[e.index] = e.data
			return xg.msr()
		end
		return xg.inject("GP", 0)
	end,
}
