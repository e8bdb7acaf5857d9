#!/usr/bin/env bash
# t_run_hostile.sh - inputs written by an adversary against the issue 9 and 10 work, that the
# run let through:
# - text from the policy (xg.log, print, error messages, stop and suspend reasons) reached the
#   operator's terminal byte for byte: escape sequences (clear screen, retitle) and newlines
#   that forge whole lines, even "exitgate: status 0: every guest ended well" above the real
#   status line;
# - a NUL in a config string (YAML "\0") cut the string short in silence: the run used
#   another file than the one the config names;
# - a key given twice in one mapping (two `policy:` lines) silently took the last;
# - a NUL in a name a policy gives C (inject "UD\0junk", a register) cut the name short;
# - SIGTERM or SIGHUP while the run was setting up killed it (status 143/129, no summary);
# - --timeout nan meant no time limit;
# - --stats PATH renamed a new file over PATH whatever it was (a device node, a FIFO), and a
#   stats file that could not be written gave "status 125: every guest ended well";
# - a hex param of 2^63 or more (0xffffffffffffffff) became an imprecise float.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

# democfg POLICY OUT: the demo guest (x87/AVX MMIO emulation failures, one unknown MSR)
democfg() {
	cat >"$2" <<EOF
defaults:
  on_error: inject UD
guests:
  demo:
    policy: $1
    vm:
      payload: $GUESTS/demo.bin
      memory: 64M
      timeout: 30
      devices:
        - { type: console, port: 0x3f8 }
        - { type: done, port: 0x501 }
        - { type: ram, at: 0xd0000000, size: 64K }
        - { type: pattern, at: 0xd0100000, size: 4K }
EOF
}
# a control character other than newline: ESC, CR, BEL, NUL ... (what a terminal acts on)
ctrl() { LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]' <<<"$1"; }

cat >"$T/text.lua" <<'P'
local xg = require "exitgate"
local evil = "A\27[2J\27]0;owned\7\rB\nexitgate: status 0: every guest ended well"
return xg.policy {
	emulation_failure = function(e)
		xg.log(evil)
		print(evil)
		return xg.emulate()
	end,
	x86_rdmsr = function(e) return xg.stop(evil) end,
}
P
democfg "$T/text.lua" "$T/text.yaml"
xrun "$T/text.yaml"
[ $rc = 3 ]; ok $? "a policy's hostile text: the run ends as the policy said (status $rc)"
! ctrl "$ERR$OUT"; ok $? "... and no control character of the policy reaches the terminal"
[ "$(grep -c '^exitgate: status' <<<"$ERR")" = 1 ] && has "$ERR" '^exitgate: status 3'
ok $? "... nor a forged status line: one 'exitgate: status' line, the real one"
has "$ERR" 'A\.*\[2J'; ok $? "... the text is shown, its control characters as '.'"

cat >"$T/err.lua" <<'P'
local xg = require "exitgate"
return xg.policy {
	emulation_failure = function(e) return xg.emulate() end,
	x86_rdmsr = function(e) error("bad\27[2J\nexitgate: status 0: every guest ended well") end,
}
P
democfg "$T/err.lua" "$T/err.yaml"
xrun "$T/err.yaml"
! ctrl "$ERR" && [ "$(grep -c '^exitgate: status' <<<"$ERR")" = 1 ]
ok $? "an error message with escapes and a forged line: shown without them (status $rc)"
out=$(timeout 60 "$X" check "$T/err.lua" 2>&1)
! ctrl "$out" && ! has "$out" '^exitgate: status'
ok $? "... in exitgate check's report too"

# a NUL inside a config string
printf 'guests:\n  demo:\n    policy: "%s\\0junk"\n' "$SRC/policies/default.lua" >"$T/nul.yaml"
printf '    vm: { payload: %s, memory: 16M, timeout: 10 }\n' "$GUESTS/trial.bin" >>"$T/nul.yaml"
xrun "$T/nul.yaml"
[ $rc = 2 ] && has "$ERR" 'nul\.yaml:3.*NUL'
ok $? "a config string with a NUL in it: status 2 naming the line (status $rc: $(head -1 <<<"$ERR"))"
out=$(timeout 60 "$X" check "$T/nul.yaml" 2>&1)
[ $? = 1 ] && has "$out" 'NUL'; ok $? "... exitgate check says so too"
printf 'guests:\n  g:\n    policy: %s\n    params: { "a\\0b": 1 }\n' "$SRC/policies/default.lua" >"$T/nulkey.yaml"
out=$(timeout 60 "$X" check "$T/nulkey.yaml" 2>&1)
[ $? = 1 ] && has "$out" 'nulkey\.yaml:4.*NUL'; ok $? "... and in a key of params"

# a key twice in one mapping: YAML 1.2 (3.2.1.1) requires unique keys
cat >"$T/dup.yaml" <<EOF
guests:
  demo:
    policy: $SRC/policies/default.lua
    vm: { payload: $GUESTS/trial.bin, memory: 16M }
    policy: $T/text.lua
EOF
xrun "$T/dup.yaml"
[ $rc = 2 ] && has "$ERR" "dup\.yaml:5.*'policy'.*(twice|more than once|line 3)"
ok $? "a key given twice: status 2 naming both (status $rc: $(head -1 <<<"$ERR"))"
cat >"$T/dupp.yaml" <<EOF
guests:
  g:
    policy: $SRC/policies/default.lua
    params: { port: 1, mode: fast, port: 2 }
EOF
out=$(timeout 60 "$X" check "$T/dupp.yaml" 2>&1)
[ $? = 1 ] && has "$out" "dupp\.yaml:4.*'port'"; ok $? "... in params too (check: $(head -1 <<<"$out"))"
cat >"$T/dupl.yaml" <<EOF
guests:
  g:
    policy: $SRC/policies/default.lua
    limits:
      memory: 1M
      memory: 64M
EOF
out=$(timeout 60 "$X" check "$T/dupl.yaml" 2>&1)
[ $? = 1 ] && has "$out" "dupl\.yaml:6.*'memory'"; ok $? "... in limits too"

# a NUL inside a name a policy hands to C (a verdict's exception, convert's 'to', a register):
# C compared only up to it, so "UD\0junk" injected #UD and "rip\0junk" read RIP
for body in 'return xg.inject("UD\0junk")' \
	'return xg.convert { gpa = 0, size = 4096, to = "private\0junk" }' \
	'local r = vcpu:reg("rip\0junk") return xg.resume()' \
	'return xg.cache(xg.resume(), "insn\0junk")'; do
	printf 'local xg = require "exitgate"\nreturn xg.policy {\n\tdefault = function(e, vcpu)\n\t\t%s\n\tend,\n}\n' "$body" >"$T/nulname.lua"
	out=$(timeout 60 "$X" check "$T/nulname.lua" 2>&1)
	[ $? = 1 ] && has "$out" 'NUL|must be "private" or "shared"'; ok $? "a name with a NUL in it is refused: $body ($(head -1 <<<"$out" | cut -c1-150))"
done

# a signal while the run is still setting up (loading a policy state per vCPU takes a while
# here: 200 vCPUs): SIGTERM killed it by its default action (status 143, no summary) and so
# did SIGHUP, which the README promises is a reload; SIGTERM then waited for the whole
# setup before it stopped the run. Each load spins for 15 ms of the
# process's CPU time, so that setup takes 3 s or more on any machine: the loop of 300,000
# additions it had took ~4 ms once state builds got cheaper (2026-12-04), the whole run then
# ended by itself in under a second, and under the CI's load (the ThreadSanitizer pass) the
# signal came after it, status 0.
cat >"$T/slowload.lua" <<'P'
local xg = require "exitgate"
local t0 = os.clock()
while os.clock() - t0 < 0.015 do end
return xg.policy { emulation_failure = function(e) return xg.emulate() end }
P
sed -e "s|^      vcpus: 16$|      vcpus: 200|" -e "s|^      memory: 16M$|      memory: 64M|" \
	-e "s|^    policy: .*|    policy: $T/slowload.lua\n    limits: { time_ms: 2000, instructions: 100000000 }|" \
	"$(cfg many.yaml)" >"$T/slow.yaml"
for sig in TERM HUP; do
	timeout 120 "$X" run "$T/slow.yaml" >"$T/slow.out" 2>"$T/slow.err" &
	pid=$!
	BG_PIDS="$BG_PIDS $pid"
	# the signal goes in once the run has its handlers, while it is still loading states
	wait_caught $pid $sig || diag "the run had no $sig handler after 30 s"
	# SIGTERM a second in, among the vCPUs' states (setup takes 3 s), not in the first one's
	[ $sig = TERM ] && sleep 1
	kill -$sig $pid
	[ $sig = HUP ] && { sleep 1; kill -TERM $pid 2>/dev/null; }
	wait $pid
	rc=$?
	if [ $sig = TERM ]; then
		[ $rc = 3 ] && grep -q '^exitgate: status 3' "$T/slow.err"
		good=$?
		ok $good "SIGTERM during setup: the run stops with status 3 and says so (status $rc)"
		# at once, not after the other vCPUs' states: it ran the whole setup first
		# (200 x 15 ms here), then started every vCPU only to stop it
		# (on a loaded machine the signal may still come before the vCPUs: the engine's
		# check-load, the VM)
		next=$(sed -n "s/.*interrupted (SIGTERM) while setting up guest 'many' (vCPU \([0-9]*\) of 200 next): no guest ran.*/\1/p" "$T/slow.err")
		{ { [ -n "$next" ] && [ "$next" -lt 200 ]; } ||
			grep -q "interrupted (SIGTERM) while setting up guest 'many' (before its vCPUs): no guest ran" "$T/slow.err"; } &&
			! grep -q 'verdicts:' "$T/slow.err"
		ok $? "... at the next vCPU, no guest started: $(grep 'status 3' "$T/slow.err" | head -1)"
	else
		# a reload, not a death: the run goes on, and ends by itself (0) or by the later
		# SIGTERM (3), whichever comes first on this machine, with its summary
		{ [ $rc = 0 ] || [ $rc = 3 ]; } && grep -q "^exitgate: status $rc" "$T/slow.err"
		good=$?
		ok $good "SIGHUP during setup: the run goes on and ends with its summary, status 0 or 3 (status $rc)"
	fi
	# on stderr, so that prove shows it without -v (CI runs it so: one ASan run failed the
	# SIGTERM check with nothing more to read)
	[ $good = 0 ] || diag "the run's last words: $(tail -5 "$T/slow.err")" >&2
done

# --timeout nan (or inf): strtod takes them, and no comparison with NaN is true, so the run
# and check went on with no time limit at all, silently
for t in nan inf; do
	xrun --timeout $t "$(cfg trial.yaml)"
	[ $rc = 2 ] && has "$ERR" "timeout.*'$t'"; ok $? "run --timeout $t: status 2 and why (status $rc)"
	out=$(timeout 60 "$X" check --timeout $t "$SRC/policies/default.lua" 2>&1)
	[ $? = 2 ] && has "$out" "timeout.*'$t'"; ok $? "check --timeout $t: status 2 and why"
done

# --stats onto something that is not a regular file: the stats were written to PATH.tmp and
# renamed over PATH, so `--stats /dev/null` as root replaced the system's /dev/null with a
# regular file (seen here with /dev/full), and a FIFO a reader waited on was replaced too
if [ "$(id -u)" = 0 ] && mknod "$T/null" c 1 3 2>/dev/null; then
	xrun --stats "$T/null" "$(cfg trial.yaml)"
	[ $rc = 0 ] && [ -c "$T/null" ]
	ok $? "--stats onto a character device (a /dev/null): status 0, still the device (status $rc)"
else
	echo "ok $((n += 1)) # SKIP cannot make a device node here (not root)"
fi
mkfifo "$T/fifo"
timeout 60 cat "$T/fifo" >"$T/fromfifo" &
BG_PIDS="$BG_PIDS $!"
xrun --stats "$T/fifo" "$(cfg trial.yaml)"
wait
[ $rc = 0 ] && [ -p "$T/fifo" ] && [ "$(js "$T/fromfifo" '$d->{status}')" = 0 ]
ok $? "--stats onto a FIFO: the stats go through it to its reader, the FIFO stays (status $rc)"
xrun --stats "$T/nodir/x.json" "$(cfg trial.yaml)"
[ $rc = 125 ] && ! has "$ERR" '^exitgate: status 125: every guest ended well' && has "$ERR" '^exitgate: status 125: .*stats'
ok $? "stats that cannot be written: status 125 saying so, not 'every guest ended well' ($(tail -1 <<<"$ERR"))"

# a 64-bit hex param at or over 2^63 (an all-ones mask, an address): it became a float that
# had lost its low bits, so `e.data & xg.params.mask` raised; Lua's own hex literals wrap to
# an integer (Lua 5.4 manual 3.1), and so must a param
cat >"$T/hexp.lua" <<'P'
local xg = require "exitgate"
local p = xg.params
assert(math.type(p.all) == "integer" and p.all == -1, "all-ones is " .. tostring(p.all))
assert(math.type(p.top) == "integer" and p.top == math.mininteger, "2^63 is " .. tostring(p.top))
assert(p.addr == 0xffff800000001000, "the address is " .. tostring(p.addr))
assert(math.type(p.big) == "float", "a decimal over 2^63 stays a float")
return xg.policy { default = function(e) return xg.resume() end }
P
printf 'guests:\n  g:\n    policy: %s\n    params: { all: 0xffffffffffffffff, top: 0x8000000000000000, addr: 0xffff800000001000, big: 99999999999999999999 }\n' "$T/hexp.lua" >"$T/hexp.yaml"
out=$(timeout 60 "$X" check "$T/hexp.yaml" 2>&1)
[ $? = 0 ]; ok $? "64-bit hex params are integers, as Lua's hex literals ($(head -1 <<<"$out"))"

# a guest whose done code does not fit a byte (guests/wide.S: out %eax of 0x100): the done
# port kept the low byte, so the failure read as code 0, status 0
sed "s|trial\.bin|wide.bin|" "$(cfg trial.yaml)" >"$T/wide.yaml"
xrun --stats "$T/wide.json" "$T/wide.yaml"
[ $rc = 1 ] && has "$ERR" 'code 256'
ok $? "a done code of 0x100: status 1 with code 256 (status $rc: $(grep 'done' <<<"$ERR" | head -1))"
[ "$(js "$T/wide.json" '$d->{guests}[0]{code}')" = 256 ]; ok $? "... and code 256 in --stats"

finish
