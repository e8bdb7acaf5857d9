/*
 * dump.h - the triage dump: one JSON file per event, for the person who has to find out
 * what a guest did.
 *
 * A dump holds what the engine knew when it decided: who (guest, vCPU, policy file and the
 * handler's file:line), why (trigger, verdict that applied after the dump, the policy's note,
 * the failure message when on_error applied), the decoded exit (the same fields as
 * `exitgate decode --json`), the instruction (bytes as reported, disassembly in the vCPU's
 * mode), the registers the VMM can read (x86: with GDTR, IDTR, TR, LDTR), the events the
 * vCPU has pending or injected (get_x86_events), the memory operand of the instruction at
 * RIP with the GPA and what the VMM has there (describe_gpa), and guest memory: the code
 * around RIP and the top of the stack (outside 64-bit mode up to SS's limit), each read
 * through the vCPU ops (guest-virtual addresses translated by the guest's own page tables).
 * What cannot be read (a missing op, an unmapped page) is recorded as an "error" string in
 * its place; a dump never fails because the guest state is odd.
 *
 * The file is written atomically: "<dir>/.<name>.<pid>.tmp", fsync, rename to
 * "<dir>/<name>" with <name> = "<guest>-<run>-vcpu<N>-<seq>.json", so a reader never sees half
 * a dump. <run> is the run's identity (xg_dump_run_id: its UTC start time to the microsecond
 * and the pid, "20261201T224405.123456Z-4242"), so a second run into the same directory never
 * meets the first one's names, and the names of one guest sort by time (seq has six digits).
 * The rename never replaces a file that is there (RENAME_NOREPLACE). The directory is
 * created (mode 0750) when missing; the default directory (xg_dump_default_dir) with its
 * parents, mode 0700. Each dump names the run ("run") and the file of the previous dump of
 * the same vCPU in that run ("previous", null for the first), so that a person can follow a
 * vCPU's dumps backwards; xg_dump_retain keeps a guest's dumps in a directory within limits. A writer killed mid-dump leaves its temp file, which
 * carries its pid: xg_dump_clean removes those whose writer is gone.
 */
#ifndef XG_DUMP_H
#define XG_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exitgate.h"

struct xg_dump_req {
	const char *dir;      /* the guest's dump_dir (required) */
	const char *guest;    /* guest name */
	const char *run;      /* the run's identity (xg_dump_run_id); NULL: this process's */
	int vcpu;	      /* vCPU index */
	uint64_t seq;	      /* per-vCPU sequence number, part of the file name */
	const char *policy;   /* policy file as messages show it ("default.lua"), or NULL */
	const char *handler;  /* "default.lua:14" of the handler that decided, or NULL */
	const char *trigger;  /* "policy" | "on_error" | "ctl" | "storm" ... */
	const char *verdict;  /* the verdict that applies after the dump ("inject", ...) */
	const char *note;     /* the policy's note, or NULL */
	const char *error;    /* the failure message when on_error applied, or NULL */
	const char *previous; /* file name of this vCPU's previous dump in this run, or NULL */
	int dir_is_default;   /* dir is xg_dump_default_dir's: made with its parents, 0700 */
	const struct xg_exit *x;	 /* the exit (NULL: no exit in hand) */
	const struct xg_vcpu_ops *ops;	 /* to read registers and memory; may be NULL */
	void *opaque;
};

/* Write the dump. 0 with the final path in path[0..path_size), or -1 with why in err (and
 * no file left behind). */
int xg_dump_write(const struct xg_dump_req *r, char *path, size_t path_size, struct xg_error *err);

/* A new run identity: "<UTC start time to the microsecond>Z-<pid>", with ".<n>" after the
 * second one a process makes in the same microsecond. Sorts by time. */
void xg_dump_run_id(char *buf, size_t n);

/* Remove the temp files dead writers left in dir: ".<name>.json.<pid>.tmp" whose pid is no
 * longer a process, and ".<name>.json.tmp" (the format before the pid was in the name) older
 * than XG_DUMP_STALE_SECONDS. A live writer's temp file is never touched; nor is anything
 * that is not a regular file or not named like a dump's temp file. Returns how many were
 * removed (0 when dir does not exist); what could not be removed is said in err->msg (""
 * otherwise). */
#define XG_DUMP_STALE_SECONDS 600
int xg_dump_clean(const char *dir, struct xg_error *err);

/* The dump directory when none is configured: $XDG_STATE_HOME/exitgate/dumps when
 * XDG_STATE_HOME is set (an absolute path, XDG Base Directory Specification 0.8), else
 * /var/lib/exitgate/dumps for root (euid 0), else $HOME/.local/state/exitgate/dumps. 0, or
 * -1 when there is none (no HOME for a user) or it does not fit n. */
int xg_dump_default_dir(char *buf, size_t n);

/* Retention: among guest's dumps in dir (every run's "<guest>-<run>-vcpu<N>-<seq>.json"),
 * remove the oldest (by modification time, then name) until at most count are left, they hold
 * at most bytes in all, and none is older than age seconds; 0 is no limit for each. The file
 * named spare (a dump just written) is never removed, nor anything not named like one of this
 * guest's dumps. Returns how many were removed; what could not be is said in err->msg ("" if
 * nothing went wrong). */
int xg_dump_retain(const char *dir, const char *guest, uint64_t count, uint64_t bytes,
		   uint64_t age, const char *spare, struct xg_error *err);

#endif
