#!/bin/sh
# `exitgate check` passes on every shipped policy and example configuration.
set -u
n=0
fail=0
for p in "$XG_SOURCE"/policies/*.lua "$XG_SOURCE"/examples/configs/*.yaml; do
	n=$((n + 1))
	if out=$("$XG_BUILD/exitgate" check "$p" 2>&1); then
		echo "ok $n - exitgate check $(basename "$p")"
	else
		echo "not ok $n - exitgate check $(basename "$p")"
		echo "$out" | sed 's/^/# /'
		fail=1
	fi
done
echo "1..$n"
exit $fail
