-- dumploop.lua - dumps every emulation failure and re-enters unchanged, so a guest of
-- faults.S writes dump after dump until it is killed (t_run_dumpdir.sh kills it with -9).
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		return xg.dump { xg.resume(), note = "again" }
	end,
}
