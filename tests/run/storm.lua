-- storm.lua - a policy that never makes progress: every emulation failure is answered by
-- re-entering the guest unchanged, so the instruction fails again at once (vm.storm's case).
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		return xg.resume()
	end,
}
