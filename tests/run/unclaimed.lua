-- unclaimed.lua - for guests/unclaimed.S: each access to no device must arrive with the
-- fields the guest used; anything else stops the guest with the reason.
local xg = require "exitgate"

local want_mmio = {
	[0xd0200000] = { write = false, len = 4 },
	[0xd0200008] = { write = true, len = 4, value = 0xa5a5a5a5 },
}
local want_io = {
	[0x98] = { out = false, size = 1 },
	[0x97] = { out = true, size = 1, byte = 0x5a },
}

return xg.policy {
	mmio = function(e)
		local w = want_mmio[e.phys_addr]
		if not w then
			return xg.stop("mmio at unexpected " .. xg.hex(e.phys_addr))
		elseif w.write ~= e.is_write or w.len ~= e.len then
			return xg.stop("mmio " .. xg.hex(e.phys_addr) .. ": wrong direction or length")
		elseif w.value and e.value ~= w.value then
			return xg.stop("mmio write of " .. tostring(e.value) .. ", not " .. xg.hex(w.value))
		end
		return xg.resume()
	end,

	io = function(e)
		local w = want_io[e.port]
		if not w then
			return xg.stop("io at unexpected port " .. xg.hex(e.port))
		elseif (e.direction == "out") ~= w.out or e.size ~= w.size then
			return xg.stop("io port " .. xg.hex(e.port) .. ": wrong direction or size")
		elseif w.byte and e.data:byte(1) ~= w.byte then
			return xg.stop("io port " .. xg.hex(e.port) .. ": wrong data")
		end
		return xg.resume()
	end,
}
