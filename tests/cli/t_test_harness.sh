#!/usr/bin/env bash
# t_test_harness.sh - what `exitgate test` gives a policy's author beyond feeding exits
# (issue 14: "the test harness cannot reload a policy or see the store and hides
# print/xg.log"): r.logs and p:logs() (print and xg.log lines, load time included),
# p:store(key), and p:reload() onto a new version, onto a broken one (the old one stays, the
# error is returned) and back. The test file below is run by the real `exitgate test`; its
# TAP must all pass.
set -u
X="${XG_BUILD:?run through the test suite (XG_BUILD unset)}/exitgate"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

cat >"$T/v1.lua" <<'P'
local xg = require "exitgate"
print("loaded v1")
return xg.policy {
	io = function(e)
		xg.store.set("hits", (xg.store.get("hits") or 0) + 1)
		xg.store.set("last", "port " .. e.port)
		xg.log("io at " .. e.port)
		return xg.resume()
	end,
}
P
cat >"$T/v2.lua" <<'P'
local xg = require "exitgate"
return xg.policy { io = function(e) print("v2 stops") return xg.stop("v2") end }
P
printf 'syntax error (\n' >"$T/bad.lua"
cp "$T/v1.lua" "$T/p.lua"

cat >"$T/harness_test.lua" <<EOF
local dir = "$T"
local function put(from)
	local s = assert(io.open(dir .. "/" .. from)):read("a")
	local f = assert(io.open(dir .. "/p.lua", "w")) f:write(s) f:close()
end
local p = policy "p.lua"
like(table.concat(p:logs(), "\n"), "loaded v1", "p:logs() has the load-time print")
is(#p:logs(), 0, "p:logs() again: nothing new")
local r = p:exit { kind = "io", port = 0x80, out = true, size = 1 }
is(r.verdict, "resume", "v1 resumes")
is(#r.logs, 1, "r.logs: the one line this exit logged")
like(r.logs[1], "io at 128", "... xg.log's text")
like(r.logs[1], "p.lua:7", "... with the policy's file and line")
p:exit { kind = "io", port = 0x81, out = true, size = 1 }
is(p:store("hits"), 2, "p:store: an integer the policy stored")
is(p:store("last"), "port 129", "p:store: a string")
is(p:store("nothing"), nil, "p:store: nil for a key never set")
put("v2.lua")
ok(p:reload(), "p:reload() onto v2")
r = p:exit { kind = "io", port = 0x80, out = true, size = 1 }
is(r.verdict, "stop", "v2 serves after the reload")
like(r.logs[1] or "", "v2 stops", "print in a handler reaches r.logs")
is(p:store("hits"), 2, "the store survived the reload")
put("bad.lua")
local good, err = p:reload()
is(good, false, "p:reload() onto a broken file fails")
like(err or "", "p.lua:1:", "... with the error and its line")
r = p:exit { kind = "io", port = 0x80, out = true, size = 1 }
is(r.verdict, "stop", "the old policy (v2) still serves")
put("v1.lua")
ok(p:reload(), "p:reload() back to v1")
like(table.concat(p:logs(), "\n"), "loaded v1", "its load-time print is logged again")
done_testing()
EOF

out=$("$X" test "$T/harness_test.lua" 2>&1); rc=$?
echo "$out" | sed 's/^/# inner: /'
n=$(grep -c '^ok' <<<"$out")
bad=$(grep -c '^not ok' <<<"$out")
echo "1..2"
if [ "$rc" = 0 ] && [ "$bad" = 0 ] && [ "$n" = 18 ]; then
	echo "ok 1 - exitgate test passes all 18 checks of the harness test"
else
	echo "not ok 1 - exitgate test: status $rc, $n ok, $bad not ok (want 18 ok)"
fi
h=$("$X" test --help)
if grep -q 'p:reload' <<<"$h" && grep -q 'p:store' <<<"$h" && grep -q 'r.logs' <<<"$h"; then
	echo "ok 2 - exitgate test --help names p:reload, p:store and r.logs"
else
	echo "not ok 2 - exitgate test --help does not name p:reload, p:store, r.logs"
fi
