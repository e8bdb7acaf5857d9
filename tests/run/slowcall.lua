-- slowcall.lua - every emulation failure takes at least 2 ms of CPU in the handler before
-- it is emulated: t_run_obs.sh checks that the time spent in Lua is counted (slowcall.yaml
-- raises limits.time_ms for it).
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		local t = os.clock() + 0.002
		while os.clock() < t do
		end
		return xg.emulate()
	end,
}
