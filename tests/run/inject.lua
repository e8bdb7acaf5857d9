-- inject.lua - every instruction KVM cannot emulate gets #UD, as a CPU without it would
-- answer (guests/inject.S catches them in its IDT and counts them).
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		return xg.inject "UD"
	end,
}
