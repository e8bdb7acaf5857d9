#!/bin/sh
# Runs the policy test named by this link: t_policy_NAME -> tests/policies/NAME_test.lua,
# through `exitgate test` (TAP on stdout).
name=$(basename "$0")
name=${name#t_policy_}
exec "$XG_BUILD/exitgate" test "$XG_SOURCE/tests/policies/${name}_test.lua"
