#!/usr/bin/env bash
# The test command: set up the environment, then run every test on the CPU.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# Two worker processes, each taking whole test files (module fixtures such as test_node.py's nodes stay in
# one process), each with one compute thread: while one waits for a node, a player or a command-line tool
# it started (a new interpreter spends about 2.5 s importing torch on one core), the other computes. One
# process with two threads left a quarter of two cores idle.
export OMP_NUM_THREADS=1
# glibc keeps what PyTorch frees (no block mapped on its own, no trimming) for the tests and every process
# they start. By default each forward pass maps its large activations afresh and the kernel zeroes every
# page again: a quarter of a forward pass's CPU time went to the kernel. The tests that measure resident memory start their
# processes with GLIBC_TUNABLES cleared. (Both measured in docs/development.md.)
export GLIBC_TUNABLES="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"
exec python -m pytest -q -n 2 --dist loadfile "$@"
