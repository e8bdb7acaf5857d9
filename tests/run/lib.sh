# lib.sh - what the tests/run scripts share (sourced, not run): TAP output, a temp dir that
# is always removed, configs made runnable from it, JSON queries, and the /dev/kvm skip.
#
# Every `exitgate run` goes through xrun, under `timeout 60`, so that a hang fails one test
# instead of stopping the suite. A script that cannot run a guest here prints
# "1..0 # SKIP why" (need_kvm) and exits 0; anything else that goes wrong is a failure.
set -u
X="${XG_BUILD:?run through the test suite (XG_BUILD unset)}/exitgate"
SRC="${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}"
RUN_DIR="$SRC/tests/run"
GUESTS="$XG_BUILD/guests"
n=0 fail=0

T=$(mktemp -d "${TMPDIR:-/tmp}/xg-run.XXXXXX") || exit 1
# a guest without dump_dir dumps into $XDG_STATE_HOME/exitgate/dumps: here, never the
# home or /var/lib of whoever runs the suite
export XDG_STATE_HOME="$T/state"
BG_PIDS=""
cleanup() {
	# only the runs this script started in the background, by their pid
	for p in $BG_PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi
}
has() { grep -qE -- "$2" <<<"$1"; }
diag() { sed 's/^/# /' <<<"$1"; }
finish() {
	echo "1..$n"
	exit $fail
}

# cfg NAME.yaml [OUT]: tests/run/NAME.yaml copied to $T (or OUT) with the policy and payload
# paths made absolute (policies relative to tests/run, payloads in $XG_BUILD/guests unless
# they name a directory) and every dump_dir pointing at $T/dumps. Prints the copy's path.
cfg() {
	local out="${2:-$T/$1}"
	perl -pe '
		s{^(\s*policy:\s*)(?!/)(\S+)}{$1$ENV{RUN_DIR}/$2};
		s{^(\s*payload:\s*)(?![/.])(\S+)}{$1$ENV{GUESTS}/$2};
		s{^(\s*dump_dir:\s*)\S+}{$1$ENV{T}/dumps};
	' "$RUN_DIR/$1" >"$out" && echo "$out"
}
export RUN_DIR GUESTS T

# xrun ARGS...: `exitgate run ARGS` with stdout in $T/out, stderr in $T/err, status in $rc.
xrun() {
	timeout 60 "$X" run "$@" >"$T/out" 2>"$T/err"
	rc=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# js FILE PERL-EXPR: the value of an expression over the JSON document $d in FILE (empty
# when the file does not parse; the parse error goes to stderr).
js() {
	perl -MJSON::PP -e '
		local $/; open(my $f, "<", $ARGV[0]) or die "cannot open $ARGV[0]: $!\n";
		my $d = JSON::PP->new->decode(<$f>);
		my $v = eval $ARGV[1]; die $@ if $@;
		print defined $v ? (ref $v ? JSON::PP->new->canonical->encode($v) : $v) : "";
	' "$1" "$2"
}

# need_kvm: skip the whole script unless a trial guest runs on the KVM device (XG_KVM_DEV,
# which `exitgate run` honours, or /dev/kvm). A trial that fails for another reason does not
# skip: the tests run and say what is wrong.
need_kvm() {
	local dev=${XG_KVM_DEV:-/dev/kvm}
	if ! [ -r "$dev" ] || ! [ -w "$dev" ]; then
		echo "1..0 # SKIP $dev is missing or not read-writable for this user"
		exit 0
	fi
	local c
	c=$(cfg trial.yaml) || { echo "Bail out! cannot write a config in $T"; exit 1; }
	xrun --quiet "$c"
	if [ $rc = 2 ] && grep -qiE 'kvm|cannot run guests here' <<<"$ERR"; then
		echo "1..0 # SKIP $dev cannot run a guest here: $(head -1 <<<"$ERR")"
		exit 0
	fi
}

# wait_for FILE REGEX [SECONDS]: poll until a line of FILE matches (0) or the time is up (1).
wait_for() {
	local i
	for ((i = 0; i < ${3:-20} * 20; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# wait_caught PID SIG [SECONDS]: poll until the exitgate process PID or its child (PID may be
# its `timeout` wrapper) has a handler for signal SIG (/proc/PID/status SigCgt), 0; or the time
# is up, 1. A signal sent before that meets the default action: a sanitizer build on a loaded
# host takes more than the 0.3 s the tests once slept before it reaches main.
wait_caught() {
	local i p n bit m
	n=$(kill -l "$2") || return 1
	bit=$((1 << (n - 1)))
	for ((i = 0; i < ${3:-30} * 50; i++)); do
		for p in $(pgrep -P "$1") ; do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = exitgate ] || continue
			m=$(awk '/^SigCgt:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
			[ -n "$m" ] && (((0x$m & bit) != 0)) && return 0
		done
		sleep 0.02
	done
	return 1
}

# bg_run ARGS...: `exitgate run ARGS` in the background, pid in $pid, output in $T/bg.out and
# $T/bg.err. The files are emptied here, not by the job's redirection: wait_for must not see
# the previous run's lines before the new run truncates them.
bg_run() {
	: >"$T/bg.out"
	: >"$T/bg.err"
	timeout 60 "$X" run "$@" >>"$T/bg.out" 2>>"$T/bg.err" &
	pid=$!
	BG_PIDS="$BG_PIDS $pid"
}

# finish_run: wait for the run bg_run started; its status in $rc, its output in $OUT, $ERR.
finish_run() {
	wait "$pid"
	rc=$?
	OUT=$(cat "$T/bg.out")
	ERR=$(cat "$T/bg.err")
}

# ctl ARGS...: `exitgate ctl $sock ARGS`, its output in $CO and its status in $crc.
ctl() {
	CO=$(timeout 20 "$X" ctl "$sock" "$@" 2>&1)
	crc=$?
}
