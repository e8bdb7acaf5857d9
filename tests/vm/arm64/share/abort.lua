-- abort.lua - every arm_nisv exit is logged with what the exit says, and answered with an
-- external abort (KVM_SET_VCPU_EVENTS ext_dabt_pending) for the guest's vector table.
local xg = require "exitgate"

return xg.policy {
	arm_nisv = function(e)
		xg.log(string.format("%s ipa 0x%x iss 0x%x dfsc %s", e.kind, e.fault_ipa, e.esr_iss,
			tostring(e.dfsc_name)))
		return xg.external_abort()
	end,
	default = function(e)
		return xg.stop("abort.lua: unexpected exit " .. e.kind)
	end,
}
