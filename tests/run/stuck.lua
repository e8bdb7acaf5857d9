-- stuck.lua - a policy call that does not return: the io handler loops, and stuck.yaml gives
-- it an instruction budget of 10^15 (days) and the longest time limit (60 s). The run must
-- still end on --timeout or SIGTERM.
local xg = require "exitgate"

return xg.policy {
	io = function(e)
		local n = 0
		while true do
			n = n + 1
		end
		return xg.resume()
	end,
}
