#!/usr/bin/env bash
# t_man.sh - the manual (issue 14): exitgate(1) and exitgate-policy(7) render without groff
# warnings and are found by `man` after `cmake --install`; exitgate-policy(7) names every
# field `exitgate decode --json` shows for every exit reason (0-127, each of the union's
# first-word subtypes 0-7, x86 and arm64) - decoded by the program, not read from the tables
# the page was made from; exitgate(1) and the bash completion name every command and every
# option the commands' own --help texts give; -h, --help, -V, --version and `help COMMAND`
# are uniform.
set -u
B="${XG_BUILD:?run through the test suite (XG_BUILD unset)}"
S="${XG_SOURCE:?}"
X="$B/exitgate"
M1="$B/doc/exitgate.1"
M7="$B/doc/exitgate-policy.7"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
for p in "$M1" "$M7"; do
	[ -s "$p" ]; ok $? "$(basename "$p") is built"
	if command -v groff >/dev/null; then
		w=$(groff -man -ww -z "$p" 2>&1)
		[ -z "$w" ]; ok $? "$(basename "$p") renders without groff warnings${w:+: $w}"
	else
		skip "groff is not installed (apt-get install groff-base; .ci/deps does)"
	fi
done

# every field decode shows, for every reason and subtype, on both architectures
python3 - "$X" "$M7" >"$T/fields.out" 2>&1 <<'PY'
import json, subprocess, sys, re
x, page = sys.argv[1], open(sys.argv[2]).read()
documented = set(re.findall(r'^\.B (\S+)$', page, re.M))
documented = {d.replace('\\-', '-') for d in documented}
keys, exits = set(), 0
def walk(o, prefix):
    for k, v in o.items():
        name = prefix + k
        keys.add(name)
        if isinstance(v, dict):
            walk(v, name + '.')
for arch in ('x86_64', 'arm64'):
    for r in range(128):
        for w in range(8):
            b = bytearray(288)
            b[8:12] = r.to_bytes(4, 'little')
            b[32:36] = w.to_bytes(4, 'little')
            out = subprocess.run([x, 'decode', '--json', '--arch', arch, '--hw', 'none',
                                  '--hex', b.hex()], capture_output=True, text=True)
            if out.returncode:
                print('decode failed', arch, r, w, out.stderr); sys.exit(1)
            walk(json.loads(out.stdout), '')
            exits += 1
missing = sorted(keys - documented)
print('%d exits decoded, %d distinct fields, %d documented' % (exits, len(keys), len(keys & documented)))
for m in missing:
    print('missing:', m)
sys.exit(1 if missing else 0)
PY
rc=$?
ok $rc "exitgate-policy(7) names every field decode --json shows: $(head -1 "$T/fields.out")"
[ $rc = 0 ] || sed 's/^/# /' "$T/fields.out" | head -20

# commands and options: the programs' own help texts against the page and the completion
cmds=$("$X" --help | awk '/^commands:/{f=1;next} f && /^  [a-z]/{print $1}')
[ -n "$cmds" ]; ok $? "exitgate --help lists commands: $(echo $cmds)"
for c in $cmds; do
	grep -q "^\.SS exitgate $c\b" "$M1"; ok $? "exitgate(1) has a section for '$c'"
	grep -qw "$c" "$S/doc/exitgate.bash"; ok $? "the bash completion knows '$c'"
	"$X" "$c" --help >"$T/help" 2>&1; rc=$?
	# the options: in the usage lines and the option list (not "prove --exec" in the prose)
	opts=$(grep -E -- '^(usage:|       exitgate| +--)' "$T/help" | grep -oE -- '--[a-z][a-z-]+' | sort -u)
	miss="" cmiss=""
	for o in $opts; do
		grep -q -- "$(sed 's/-/\\\\-/g' <<<"$o")" "$M1" || miss="$miss $o"
		grep -q -- "$o" "$S/doc/exitgate.bash" || cmiss="$cmiss $o"
	done
	[ $rc = 0 ] && [ -z "$miss" ]; ok $? "exitgate(1) documents every option of '$c --help' ($(echo $opts))${miss:+; missing:$miss}"
	[ -z "$cmiss" ]; ok $? "the completion offers every option of '$c'${cmiss:+; missing:$cmiss}"
	a=$("$X" "$c" -h 2>&1); ra=$?
	b=$("$X" help "$c" 2>&1); rb=$?
	[ $ra = 0 ] && [ $rb = 0 ] && [ "$a" = "$(cat "$T/help")" ] && [ "$b" = "$a" ]
	ok $? "'$c -h', '$c --help' and 'help $c': the same text, status 0"
	v=$("$X" "$c" --version 2>&1); rv=$?
	w=$("$X" "$c" -V 2>&1)
	[ $rv = 0 ] && [ "$v" = "$("$X" --version)" ] && [ "$w" = "$v" ]
	ok $? "'$c --version' and '$c -V' print the version ($v)"
done
"$X" help nosuch >/dev/null 2>&1
[ $? = 2 ]; ok $? "'help nosuch': status 2"

# installed: man finds both pages, the completion is in place
if ! command -v man >/dev/null; then
	skip "man is not installed (apt-get install man-db; .ci/deps does)"
elif cmake --install "$B" --prefix "$T/prefix" >"$T/install.log" 2>&1; then
	MANWIDTH=80 man -M "$T/prefix/share/man" exitgate 2>/dev/null | grep -q 'exitgate decode'
	ok $? "man exitgate works after cmake --install"
	MANWIDTH=80 man -M "$T/prefix/share/man" 7 exitgate-policy 2>/dev/null | grep -q 'EXIT KINDS'
	ok $? "man 7 exitgate-policy works after cmake --install"
	[ -f "$T/prefix/share/bash-completion/completions/exitgate" ]
	ok $? "the bash completion is installed"
	bash -c ". '$T/prefix/share/bash-completion/completions/exitgate'; COMP_WORDS=(exitgate de); COMP_CWORD=1; _exitgate; [ \"\${COMPREPLY[*]}\" = decode ]"
	ok $? "completing 'exitgate de' gives decode"
else
	ok 1 "cmake --install: $(tail -3 "$T/install.log")"
fi
echo "1..$n"
