-- inject.lua - the synchronous exceptions the inject guest expects, chosen by the fault
-- address of each NISV exit (examples/guests/arm64/inject.S says what it checks).
local xg = require "exitgate"

return xg.policy {
	arm_nisv = function(e)
		local off = e.fault_ipa - 0xd0010000
		xg.log(string.format("inject: arm_nisv at +0x%x", off))
		if off == 0x200 then
			return xg.inject("data_abort", { fsc = 0x07, far = 0xfeedf00d000 })
		elseif off == 0x210 then
			return xg.inject("data_abort", {})
		end
		return xg.inject "undefined"
	end,
	-- a load from where no device is (ISV = 1: KVM_EXIT_MMIO, not taken by a device)
	mmio = function(e)
		xg.log(string.format("inject: mmio at 0x%x", e.phys_addr))
		return xg.inject("data_abort", {})
	end,
	default = function(e)
		return xg.stop("inject.lua: unexpected exit " .. e.kind)
	end,
}
