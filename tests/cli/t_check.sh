#!/usr/bin/env bash
# t_check.sh - `exitgate check` as a person runs it on a policy they do not trust: a runtime
# error, a verdict for the wrong exit or a missing payload is an error (exit status 1); a
# policy that hangs or crashes the engine is an error of that file, reported within the
# timeout, never a hang or a crash of the command; a load-time log flood prints a bounded
# number of lines.
set -u
X="${XG_BUILD:?run through the test suite (XG_BUILD unset)}/exitgate"
T=$(mktemp -d /tmp/xg-t-check-XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
has() { grep -qE -- "$2" <<<"$1"; }
# the command's output and status; `timeout` only guards the suite against a hang
check() { out=$(timeout 300 "$X" check "$@" 2>"$T/stderr"); rc=$?; }

cat >"$T/good.lua" <<'P'
local xg = require 'exitgate'
return xg.policy {
  mmio = function(e) if xg.emulator.supports(e) then return xg.emulate() end return xg.inject 'UD' end,
  msr = function(e) return xg.msr(0) end,
  default = function(e) return xg.suspend(e.kind) end,
}
P
check "$T/good.lua"
ok $rc "a good policy: exit status 0"
has "$out" 'good.lua: ok$'; ok $? "and 'ok'"

cat >"$T/runtime.lua" <<'P'
local xg = require 'exitgate'
return {
  io = function(e)
    if e.idx == 3 then return xg.resume() end
    return xg.resume()
  end,
}
P
check "$T/runtime.lua"
[ $rc = 1 ]; ok $? "a handler that fails at run time: exit status 1 (was 0 with a warning)"
has "$out" "^error: policy runtime.lua:4: exit kind 'io' \(io\) has no field 'idx'"
ok $? "the error, its line, the kind and its fields"

cat >"$T/wrong.lua" <<'P'
local xg = require 'exitgate'
return {
  io = function(e)
    local v = xg.msr(1)
    return v
  end,
}
P
check "$T/wrong.lua"
[ $rc = 1 ] && has "$out" "^error: policy wrong.lua:5: handler 'io' \(wrong.lua:3\): verdict 'msr' answers"
ok $? "a verdict the exit cannot take: an error at the line of its return"

cat >"$T/vm.yaml" <<'P'
guests:
  a:
    policy: good.lua
    vm:
      payload: not-built.bin
P
check "$T/vm.yaml"
[ $rc = 1 ] && has "$out" "guest 'a': vm.payload: payload 'not-built.bin' not found"
ok $? "a configuration whose payload is missing: an error naming it"

# Hostile files: each must end with an error for that file, not hang or kill the command.
cat >"$T/loop-verdict.lua" <<'P'
return { io = function(e) return setmetatable({}, { __index = function() while true do end end }) end }
P
cat >"$T/error-verdict.lua" <<'P'
return { io = function(e) return setmetatable({}, { __index = function() error({}) end }) end }
P
cat >"$T/scan-load.lua" <<'P'
local s = ('a'):rep(4000000)
for i = 1, 1e9 do s:find('b', 1, true) end
return { io = function(e) end }
P
for f in loop-verdict error-verdict scan-load; do
	check --timeout 10 "$T/$f.lua" "$T/good.lua"
	[ $rc = 1 ] && has "$out" "^error: .*$f" && has "$out" "^$T/$f.lua: [0-9]+ errors?$" &&
		has "$out" "good.lua: ok$"
	ok $? "$f.lua: an error of that file, and the next file is still checked"
	[ $rc = 1 ] || sed 's/^/# /' <<<"$out"
done

cat >"$T/flood.lua" <<'P'
local xg = require 'exitgate'
for i = 1, 200000 do xg.log('flood ' .. i) print('flood', i) end
return { io = function(e) for i = 1, 20000 do xg.log('h') end return xg.resume() end }
P
cat >"$T/flood.yaml" <<'P'
guests:
  a:
    policy: flood.lua
    limits: { time_ms: 20000 }   # the rate limit, not the time limit, must bound it
    rate_limit: { logs_per_second: 0.01, burst: 20 }
P
check "$T/flood.yaml"
lines=$(wc -l <"$T/stderr")
[ $rc = 0 ] && [ "$lines" -lt 200 ]
ok $? "a policy logging 400,000 lines at each load prints $lines lines"
grep -q "more log lines of the policy suppressed" "$T/stderr"
ok $? "and says how many it dropped"

echo "1..$n"
exit $fail
