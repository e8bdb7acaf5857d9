#!/usr/bin/env bash
# The pmem VM lane, as one TAP stream for prove: see tests/vm/lane.sh and tests/vm/pmem/.
exec bash "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/vm/lane.sh" pmem
