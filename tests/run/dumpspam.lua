-- dumpspam.lua - a dump for every emulation failure (then a skip): more than dump_max.
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		return xg.dump { xg.skip(), note = "spam" }
	end,
}
