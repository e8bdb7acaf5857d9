-- failed.lua - policies whose verdicts cannot be carried out (t_run_failed.sh): the guest's
-- MSR exits get a verdict the VMM has no way to apply, and the on_error verdict (failed.yaml)
-- cannot be applied either, so the vCPU fails.
local xg = require "exitgate"

local mode = xg.params.mode

return xg.policy {
	msr = function(e)
		if mode == "abort" then
			return xg.external_abort() -- arm64 only: the x86 VMM has no such op
		end
		error("no answer for MSR " .. xg.hex(e.index))
	end,
}
