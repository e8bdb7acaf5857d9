-- reload.lua - guests/reload.S reads MSR 0x4b564d99 until it is 2. t_run_reload.sh starts
-- the run with this file answering 1, then rewrites the number to 2 while the guest loops.
local xg = require "exitgate"

return xg.policy {
	x86_rdmsr = function(e)
		return xg.msr(1)
	end,
}
