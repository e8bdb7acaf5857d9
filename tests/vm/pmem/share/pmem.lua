-- pmem.lua - for guests/pmem_convert.S: converts MAP_GPA_RANGE requests inside
-- [allow_gpa, allow_gpa + allow_size), refuses the others (xg.resume: the VMM answers
-- -KVM_EPERM), and logs what the host's shared view holds at the page each time; memory
-- faults (guests/pmem_fault.S) are answered by making the page shared.
local xg = require "exitgate"
local lo, size = xg.params.allow_gpa, xg.params.allow_size

return xg.policy {
	hypercall = function(e, vcpu)
		local m = e.map_gpa_range
		if not m then
			return xg.stop("hypercall " .. e.nr .. " is not MAP_GPA_RANGE")
		end
		local bytes = m.npages * (m.page_size == "2M" and 0x200000 or 0x1000)
		local to = m.encrypted and "private" or "shared"
		if m.gpa < lo or m.gpa - lo >= size or bytes > size - (m.gpa - lo) then
			xg.log("refused " .. xg.hex(m.gpa) .. " to " .. to)
			return xg.resume()
		end
		local ok, seen = pcall(vcpu.read, vcpu, m.gpa, 8)
		if xg.params.quiet then
			return xg.convert { gpa = m.gpa, size = bytes, to = to }
		end
		xg.log("map " .. xg.hex(m.gpa) .. " to " .. to .. (e.longmode and "" or " (real mode)")
			.. ": host sees "
			.. (ok and xg.bytes_hex(seen) or "nothing"))
		return xg.convert { gpa = m.gpa, size = bytes, to = to }
	end,
	-- In a sw_protected VM the attributes decide how an access goes (a private page is
	-- accessed as private): a memory fault here is a private page KVM cannot serve (its
	-- memslot has no guest_memfd), and the way on is to make it shared.
	memory_fault = function(e)
		local gpa = e.gpa & ~0xfff
		xg.log("memory_fault " .. xg.hex(e.gpa) .. (e.private and " private" or " shared")
			.. ": to shared")
		return xg.convert { gpa = gpa, size = ((e.gpa + e.size + 0xfff) & ~0xfff) - gpa,
		                    to = "shared" }
	end,
}
