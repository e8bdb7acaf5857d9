-- shutdown.lua - answers to a triple fault (guests/triple.S) that do not stop the guest
-- (t_run_shutdown.sh): by xg.params.mode, no shutdown handler at all (on_error applies),
-- a dump then resume, or suspend. A shut-down vCPU cannot run on, whatever the answer.
local xg = require "exitgate"

local mode = xg.params.mode
local h = {
	io = function(e)
		return xg.resume()
	end,
}
if mode == "resume" then
	h.shutdown = function(e)
		return xg.dump { xg.resume(), note = "try again" }
	end
elseif mode == "suspend" then
	h.shutdown = function(e)
		return xg.suspend "look at it"
	end
end
return xg.policy(h)
