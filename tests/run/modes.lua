-- modes.lua - for guests/modes.S: dump every access to the unclaimed port (one in real mode,
-- one in 32-bit protected mode) and to the MMIO address no device has, then let each go on.
local xg = require "exitgate"

return xg.policy {
	io = function(e)
		return xg.dump { xg.resume(), note = "io " .. xg.hex(e.port) }
	end,
	mmio = function(e)
		return xg.dump { xg.resume(), note = "mmio " .. xg.hex(e.phys_addr) }
	end,
}
