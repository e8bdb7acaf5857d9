#!/usr/bin/env bash
# The arm64 VM lane, as one TAP stream for prove: see tests/vm/lane.sh and tests/vm/arm64/.
exec bash "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/vm/lane.sh" arm64
