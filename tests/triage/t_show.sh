#!/usr/bin/env bash
# t_show.sh - `exitgate show` on the dumps real runs write: every tests/run scenario that
# dumps (a dump verdict, shutdowns, on_error, engine failures, faults, a triple fault) is run
# on /dev/kvm, and each of its dumps is shown as text and as JSON; the JSON's facts must be
# the dump's own (the exit, RIP, CPL, the instruction bytes, who and why) - the round trip.
# Not a dump, a missing file and a cut dump are refused or read without a crash.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 absent (the JSON is checked with it)"; exit 0; }

for y in dump shutdown evex failed faults triple; do
	rm -rf "$T/dumps"
	xrun "$(cfg $y.yaml)"
	files=("$T"/dumps/*.json)
	[ -f "${files[0]}" ]; ok $? "$y: the run wrote dumps (${#files[@]}, status $rc)"
	for f in "${files[@]}"; do
		[ -f "$f" ] || continue
		b=${f##*/}
		out=$("$X" show "$f" 2>&1); r=$?
		{ [ $r = 0 ] && has "$out" "^$f: $(js "$f" '$d->{guest}') vCPU $(js "$f" '$d->{vcpu}') dump #" &&
			has "$out" '  verdict  '; }
		ok $? "$y: show $b as text (status $r)"
		[ $r = 0 ] || diag "$out"
		"$X" show --json "$f" >"$T/show.json" 2>"$T/show.err"; r=$?
		python3 - "$f" "$T/show.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
assert len(s) == 1, "one object per dump"
s = s[0]
bad = []
def want(k, got, exp):
    if got != exp:
        bad.append(f"{k}: show says {got!r}, the dump {exp!r}")
kinds = {"internal_error": "internal_error", "x86_rdmsr": "unhandled_msr", "x86_wrmsr": "unhandled_msr",
         "shutdown": "shutdown", "fail_entry": "fail_entry", "arm_nisv": "arm_nisv"}
want("exit", s["exit"], kinds.get(d["exit"]["reason"], "unhandled_exit") if d.get("exit") else None)
if d.get("exit", {}).get("reason") == "internal_error":
    want("suberror", s["suberror"]["number"], d["exit"]["suberror_number"])
regs = d.get("registers") or {}
if "rip" in regs:
    want("rip", s["rip"], regs["rip"])
if "cpl" in regs:
    want("cpl", s["cpl"], regs["cpl"])
if d.get("insn") and d["insn"].get("bytes"):
    got = (s.get("instruction") or {}).get("bytes", "").replace(" ", "")
    if not d["insn"]["bytes"].startswith(got) or not got:
        bad.append(f"instruction bytes {got!r} vs insn {d['insn']['bytes']!r}")
code = d.get("code") or {}
if code.get("disasm") and s.get("instruction"):
    first = code["disasm"][0].split(": ", 1)[1]
    want("instruction.text", s["instruction"]["text"], first)
for k in ("guest", "vcpu", "seq", "trigger", "verdict"):
    want("dump." + k, s["dump"][k], d[k] if d[k] is not None else "")
for b in bad:
    print("#", b)
sys.exit(1 if bad else 0)
PY
		ok $? "$y: show --json $b gives the dump's exit, RIP, CPL, instruction, who and why (status $r)"
	done
done

echo '{"not": "a dump"}' >"$T/other.json"
out=$("$X" show "$T/other.json" 2>&1); r=$?
{ [ $r = 2 ] && has "$out" 'not an exitgate dump.*exitgate triage'; ok $? "a JSON file that is no dump: status 2, says so and names triage"; }
out=$("$X" show "$T/none.json" 2>&1); r=$?
{ [ $r = 2 ] && has "$out" 'cannot open'; ok $? "a missing file: status 2"; }
rm -rf "$T/dumps"
xrun "$(cfg dump.yaml)"
f=$(ls "$T"/dumps/*.json | head -1)
for cut in 200 1500 4000; do
	head -c $cut "$f" >"$T/cut.json"
	"$X" show "$T/cut.json" >/dev/null 2>&1; r=$?
	[ $r -le 2 ]; ok $? "a dump cut at $cut bytes: status $r, no crash"
done
out=$("$X" show 2>&1); r=$?
{ [ $r = 2 ] && has "$out" 'name at least one dump'; ok $? "no file named: status 2 with usage"; }
finish
