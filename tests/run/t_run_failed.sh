#!/usr/bin/env bash
# t_run_failed.sh - a vCPU whose verdict cannot be carried out (nor its on_error verdict)
# fails: the vCPU and the guest end "failed", the run's status is 125 (never 0), the
# summary, --stats and `exitgate ctl status` agree, and no message quotes C source.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg failed.yaml)

# no_source TEXT: 0 when TEXT shows no C source: no `->`, no call with `opaque`, no file.c:N
no_source() { ! grep -qE -- '->|opaque|\(v\)|[a-z_]+\.c:[0-9]+|__func__' <<<"$1"; }

xrun --stats "$T/abort.json" "$c" abort
[ $rc = 125 ]; ok $? "a verdict the VMM cannot apply, and on_error neither: status 125 (got $rc)"
[ $rc = 125 ] || { diag "$OUT"; diag "$ERR"; }
s="$T/abort.json"
[ "$(js "$s" '$d->{guests}[0]{end}')" = failed ]; ok $? "stats: the guest ended failed ($(js "$s" '$d->{guests}[0]{end}'))"
[ "$(js "$s" '$d->{guests}[0]{vcpus}[0]{end}')" = failed ]; ok $? "stats: vCPU 0 ended failed ($(js "$s" '$d->{guests}[0]{vcpus}[0]{end}'))"
[ "$(js "$s" '$d->{status}')" = 125 ]; ok $? "stats: status 125 ($(js "$s" '$d->{status}'))"
has "$ERR" '^exitgate: abort: failed .*external_abort'; ok $? "the summary says the guest failed, and why"
has "$ERR" '^exitgate: status 125: '; ok $? "the summary says the status and what it means"
no_source "$ERR"; r=$?; ok $r "no message quotes C source"
[ $r = 0 ] || diag "$ERR"

# The outside tester's case: on_error `dump inject UD` on an MSR exit. Whatever the VMM
# makes of that #UD (it failed when the tester ran it; now the #UD is delivered, and msr.S,
# which has no IDT, shuts down), the run's status, the summary and --stats agree, and never
# say 0.
xrun --stats "$T/msrud.json" "$c" msrud
s="$T/msrud.json"
end=$(js "$s" '$d->{guests}[0]{end}'); vend=$(js "$s" '$d->{guests}[0]{vcpus}[0]{end}')
[ $rc != 0 ]; ok $? "on_error inject UD on an MSR exit: status not 0 (got $rc, end $end, vCPU $vend)"
case "$vend" in failed) [ "$end" = failed ] && [ $rc = 125 ] ;; *) [ "$end" = "$vend" ] ;; esac
ok $? "the guest ends as its vCPU did, failed with status 125 if it failed (status $rc, end $end, vCPU $vend)"
[ "$(js "$s" '$d->{status}')" = "$rc" ]; ok $? "stats: the same status ($(js "$s" '$d->{status}'))"
no_source "$ERR"; r=$?; ok $r "no message quotes C source"
[ $r = 0 ] || diag "$ERR"
finish
