-- suspend.lua - park the vCPU on the guest's `out` to port 0x99 until a person (or a test)
-- resumes it with `exitgate ctl SOCKET resume`; any other unclaimed port goes on.
local xg = require "exitgate"

return xg.policy {
	io = function(e)
		if e.port == 0x99 then
			return xg.suspend "waiting"
		end
		return xg.resume()
	end,
}
