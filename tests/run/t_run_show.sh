#!/usr/bin/env bash
# t_run_show.sh - `exitgate show` renders every field a dump has for a person (issue 14):
# the previous dump of the vCPU, GDTR/IDTR/TR/LDTR, the pending and injected events, the
# memory operand (segment, effective and linear address, GPA or why none) and the region it
# hits, the exit's GPA and its region, the vector state (the registers the instruction
# names, the others that are not zero), the stack, and the instruction disassembled in the
# vCPU's mode (16-, 32- and 64-bit) - each value checked against the dump's JSON, on dumps
# of real guests (modes.yaml: real and 32-bit protected mode; dump.yaml: 64-bit AVX on a
# device; shutdown.yaml, faults.yaml: several dumps linked; evex.yaml: AVX-512 state, its
# values checked against what the guest loaded), events a real guest here never
# has pending (an edited dump), and the --json form links the previous dump too.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

for conf in modes.yaml dump.yaml shutdown.yaml faults.yaml evex.yaml; do
	rm -rf "$T/dumps"
	xrun "$(cfg "$conf")"
	files=($(ls "$T"/dumps/*.json 2>/dev/null))
	[ ${#files[@]} -gt 0 ]; ok $? "$conf: the run dumps (${#files[@]} dumps, status $rc)"
	if [ "$conf" = faults.yaml ]; then # one vCPU's five dumps, linked: kept for --json
		mkdir -p "$T/linked" && cp "${files[@]}" "$T/linked/"
		linked=($(ls "$T"/linked/*.json))
	fi
	for f in "${files[@]}"; do
		"$X" show "$f" >"$T/show.txt" 2>&1; src=$?
		miss=$(python3 - "$f" "$T/show.txt" <<'PY'
import json, sys, os
d = json.load(open(sys.argv[1])); text = open(sys.argv[2]).read()
want = []
prev = d.get('previous')
want.append(('previous', os.path.basename(prev) if prev else 'none (the first'))
r = d.get('registers', {})
for t in ('gdtr', 'idtr'):
    if t in r:
        want.append((t, '%s %s base %s, limit %s' % (t, ' ' * (19 - len(t)), r[t]['base'], r[t]['limit'])))
for s in ('tr', 'ldtr'):
    if s in r:
        want.append((s, '%s %s selector %s' % (s, ' ' * (19 - len(s)), r[s]['selector'])))
        if not r[s].get('unusable'):
            want.append((s + '.base', 'base %s, limit %s, type %d' % (r[s]['base'], r[s]['limit'], r[s]['type'])))
ev = d.get('events')
if isinstance(ev, dict) and 'error' not in ev:
    busy = False
    x = ev['exception']
    if x['pending'] or x['injected']:
        busy = True
        want.append(('exception', 'exception %d %s' % (x['vector'], 'pending' if x['pending'] else 'injected')))
    for k, label in (('nmi', 'NMI'),):
        if ev[k]['pending'] or ev[k]['injected']:
            busy = True; want.append((k, label))
    if ev['interrupt']['injected']:
        busy = True; want.append(('interrupt', 'interrupt %d injected' % ev['interrupt']['vector']))
    for cond, s in ((ev['interrupt']['shadow'], 'interrupt shadow'), (ev['nmi']['masked'], 'NMIs masked'),
                    (ev['smi']['pending'], 'SMI pending'), (ev['smi']['smm'], 'in SMM'),
                    (ev['triple_fault_pending'], 'triple fault pending')):
        if cond:
            busy = True; want.append((s, s))
    if not busy:
        want.append(('events', 'none pending or injected'))
a = d.get('access')
if isinstance(a, dict):
    for k in ('exit_gpa', 'exit_region', 'operand', 'linear', 'gpa', 'region', 'gpa_error', 'error'):
        if k in a:
            want.append(('access.' + k, a[k]))
    if 'effective_address' in a:
        want.append(('access.ea', '%s:%s' % (a['segment'], a['effective_address'])))
vec = d.get('vector')
if isinstance(vec, dict) and 'error' not in vec:
    want.append(('vector', 'xstate_bv %s, mxcsr %s, fcw %s, fsw %s' % (vec['xstate_bv'], vec['mxcsr'], vec['fcw'], vec['fsw'])))
    for part in ('used', 'nonzero'):
        for k, v in vec[part].items():
            want.append(('vector.%s.%s' % (part, k), '%-6s %s' % (k, v)))
c = d.get('code')
if isinstance(c, dict) and c.get('disasm'):
    want.append(('code.disasm', c['disasm'][0].split(': ', 1)[1]))
    want.append(('code.mode', {16: '16-bit', 32: '32-bit code', 64: '64-bit code'}[c['mode']]))
s = d.get('stack')
if isinstance(s, dict):
    sp = s.get('rsp') or s.get('sp')
    if sp:
        want.append(('stack', 'at %s' % sp))
    if 'bytes' in s and s['bytes']:
        want.append(('stack.bytes', ' '.join(s['bytes'][i:i + 2] for i in range(0, min(len(s['bytes']), 16), 2))))
miss = [k + ' (' + v + ')' for k, v in want if v not in text]
print('%d fields' % len(want) if not miss else 'missing: ' + '; '.join(miss))
PY
)
		[ $src = 0 ] && has "$miss" '^[0-9]+ fields$'
		ok $? "$conf: show $(basename "$f"): every field of the dump is there ($miss)"
	done
done
# the vector state holds what the guest loaded: guests/evex.S moves 32 bytes of the pattern
# device at 0x180 into ymm2 (EVEX.256: bits 511:256 zeroed) before any dump
f=$(ls "$T"/dumps/evex-*.json 2>/dev/null | head -1)
got=$(js "${f:-/nonexistent}" '$d->{vector}{nonzero}{zmm2} // $d->{vector}{nonzero}{ymm2}')
want=$(python3 -c '
M = (1 << 64) - 1
w = lambda off: 0x0123456789abcdef ^ (((off // 8 + 1) * 0x9e3779b97f4a7c15) & M)
print("0x%0128x" % sum(w(0x180 + 8 * i) << (64 * i) for i in range(4)))')
[ -n "$got" ] && [ "$got" = "$want" ]; ok $? "a dump's zmm2 is what the guest loaded into ymm2 (${got:0:40}...)"
has "$(js "$f" 'join " ", keys %{$d->{vector}{used}}')" '^k1$'
ok $? "... and the registers the dumped instruction names are there: $(js "$f" '$d->{insn}{disasm}') -> $(js "$f" 'join " ", keys %{$d->{vector}{used}}')"

# events: no guest here leaves one pending at an exit; a dump of the same shape says so
f=${files[0]}
perl -MJSON::PP -e '
	local $/; open(my $i, "<", $ARGV[0]) or die; my $d = JSON::PP->new->decode(<$i>);
	$d->{events}{exception} = {injected => 0, pending => 1, vector => 14, has_error_code => 1, error_code => "0x6"};
	$d->{events}{interrupt}{shadow} = 1; $d->{events}{nmi}{masked} = 1; $d->{events}{smi}{smm} = 1;
	print JSON::PP->new->encode($d);
' "$f" >"$T/events.json"
"$X" show "$T/events.json" >"$T/ev.txt" 2>&1; src=$?
t=$(cat "$T/ev.txt")
[ $src = 0 ] && has "$t" 'events +exception 14 pending, error code 0x6' && has "$t" 'interrupt shadow' &&
	has "$t" 'NMIs masked' && has "$t" 'in SMM' && ! has "$t" 'none pending'
ok $? "a pending #PF with its error code, an interrupt shadow, NMIs masked and SMM are shown ($(sed -n '/^  events/,/^  memory/p' "$T/ev.txt" | tr -s ' ' | tr '\n' '|'))"
# text with control characters (a policy's own dump writer, an edited dump; exitgate's
# writer cleans its notes): each is shown as the JSON escape a person reads back, never as
# itself nor as a bare letter ("\t" was shown as "t"); the other escapes are decoded
python3 - "$f" "$T/ctl.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d['note'] = 'a\tb\nc\rd\x01e\x7ff\\g"h\u00e9i\U0001F600j'
d['guest'] = 'g\tuest'
json.dump(d, open(sys.argv[2], 'w'))
PY
"$X" show "$T/ctl.json" >"$T/ctl.txt" 2>&1; src=$?
want='note: a\tb\nc\rd\u0001e\u007ff\g"héi😀j'
[ $src = 0 ] && grep -qF -- "$want" "$T/ctl.txt" && grep -qF 'ctl.json: g\tuest vCPU' "$T/ctl.txt"
ok $? "control characters in a dump's text are shown as their escapes: $(head -1 "$T/ctl.txt" | cut -c1-200)"
"$X" show --json "$T/ctl.json" >"$T/ctl-show.json" 2>&1
p=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["dump"]["note"])' "$T/ctl-show.json")
[ "$p" = "${want#note: }" ]; ok $? "... in the --json form too ('$p')"
# the --json form names the previous dump
"$X" show --json "${linked[@]}" >"$T/show.json" 2>&1
p=$(js "$T/show.json" '$d->[-1]{dump}{previous}')
[ ${#linked[@]} -ge 2 ] && [ -n "$p" ] && [ "$p" = "$(js "${linked[-1]}" '$d->{previous}')" ]
ok $? "show --json links the previous dump ('$p')"
finish
