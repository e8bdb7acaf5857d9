-- fault.lua - for guests/fault.S: every IO, MMIO and MSR exit it makes is answered with an
-- exception, chosen by the port, the MMIO offset or the MSR; the guest checks that each one
-- arrives as a fault at the instruction, with nothing of the instruction done.
local xg = require "exitgate"

local by_port = { [0x90] = xg.inject("GP", 0), [0x91] = xg.inject "UD" }
local by_mmio = {
	[0x000] = xg.inject("GP", 0),
	[0x100] = xg.inject "UD",
	[0x200] = xg.inject("PF", 2),
	[0x300] = xg.inject "DE",
}
local by_msr = { [0x4b564d90] = xg.inject("GP", 0), [0x4b564d91] = xg.inject "UD" }

local function msr(e)
	return by_msr[e.index] or xg.stop("msr at unexpected " .. xg.hex(e.index))
end

return xg.policy {
	io = function(e)
		return by_port[e.port] or xg.stop("io at unexpected port " .. xg.hex(e.port))
	end,
	mmio = function(e)
		if e.phys_addr == 0xd0200400 then -- the guest maps its first 4 GiB 1:1: VA = GPA
			return xg.inject("PF", { error_code = 2, cr2 = e.phys_addr })
		end
		return by_mmio[e.phys_addr - 0xd0200000]
			or xg.stop("mmio at unexpected " .. xg.hex(e.phys_addr))
	end,
	x86_rdmsr = msr,
	x86_wrmsr = msr,
	-- AVX moves fail to emulate at CPL 0 here: exitgate's emulator does them, and raises
	-- the guest's faults itself
	emulation_failure = function(e)
		return xg.emulate()
	end,
}
