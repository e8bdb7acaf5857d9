-- nohandler.lua - a policy that handles port I/O only: every other exit finds no handler
-- and no default, so the guest's on_error verdict applies.
local xg = require "exitgate"

return xg.policy {
	io = function(e)
		return xg.resume()
	end,
}
