-- slowcall.lua - every emulation failure takes at least 12 ms of CPU in the handler before
-- it is emulated: t_run_obs.sh checks that the time spent in Lua is counted (slowcall.yaml
-- raises limits.time_ms for it). 12 ms is more than a tick of the coarse clock the engine
-- counts with (4 ms at HZ=250, 10 ms at HZ=100), so each call counts at least 2 ms.
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		local t = os.clock() + 0.012
		while os.clock() < t do
		end
		return xg.emulate()
	end,
}
