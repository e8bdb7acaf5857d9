/*
 * vmm.h - the mini-VMM behind `exitgate run`: the guests of a configuration on /dev/kvm,
 * their vCPUs on threads, device models for IO and MMIO, every special exit through the
 * policy engine, a control socket, and a summary at the end.
 *
 *   vmm.c      guests, vCPU threads, the run loop, suspend/stop/dump requests, summary
 *   devices.c  the device models a config names (console, done, ram, pattern)
 *   ctl.c      the control socket (`exitgate ctl`): status, resume, stop, dump, reload
 */
#ifndef XG_VMM_H
#define XG_VMM_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

struct xg_vmm_opts {
	const char *config;	    /* the YAML file */
	const char *const *only;    /* guests to run (NULL: every guest with a vm: section) */
	int nonly;
	const char *ctl_path;	    /* control socket, or NULL */
	const char *stats_path;	    /* JSON summary, or NULL */
	double timeout;		    /* seconds, 0: the guests' own */
	int watch;		    /* reload on policy file changes (SIGHUP reloads anyway) */
	int quiet;		    /* no summary */
	const char *record_path;    /* --record: every exit handed to the engine (trace.h) */
	uint64_t record_max;	    /* --record-max bytes, 0: no cap */
	const char *metrics_path;   /* --metrics: Prometheus text file (metrics.c), or NULL */
	int paused;		    /* --paused: every vCPU waits for `exitgate ctl resume` */
	int log_json;		    /* --log-format json: each stderr line one JSON object */
	int no_progress;	    /* --no-progress: no status line on a terminal */
};

/* Exit statuses of `exitgate run`. The guest's own done code is never the status (it could
 * pass for one of these): it is in the summary and --stats, and a non-zero one makes the
 * status XG_RUN_GUEST. With several guests the highest status wins. */
#define XG_RUN_OK	0   /* every guest wrote done code 0 or halted */
#define XG_RUN_GUEST	1   /* a guest reported failure: a non-zero done code */
#define XG_RUN_SETUP	2   /* usage, config, payload, /dev/kvm */
#define XG_RUN_STOPPED	3   /* a guest was stopped (verdict, ctl, exit storm, signal) */
#define XG_RUN_SHUTDOWN 4   /* a guest shut down (triple fault) and the policy did not stop it */
#define XG_RUN_TIMEOUT	124 /* wall-clock limit */
#define XG_RUN_FAILED	125 /* a vCPU failed: KVM error, or no verdict could be carried out */

/* Run; returns the exit status. Messages go to stderr, guest console output to stdout. */
int xg_vmm_run(const struct xg_vmm_opts *o);
/* One line of the run's log on stderr ("exitgate: line", or a JSON object with
 * --log-format json); kind says where it comes from (run, engine, summary, ctl). The guest
 * and vCPU are the calling vCPU thread's, none on other threads. Safe from any thread. */
void xg_vmm_log(const char *kind, const char *line);

/* ---- metrics.c ---- */
#define XG_VMM_NREASONS	   64  /* exits by reason kept per vCPU; the rest count as "other" */
#define XG_METRICS_PERIOD 5.0 /* s between rewrites of the --metrics file */
struct xg_vmm;
/* vmm.c: guest gi's name, its exits by reason (XG_VMM_NREASONS + 1 words: the last one
 * counts the rest) and its engine counters, as --stats gives them; -1 past the last guest.
 * Any out pointer may be NULL. */
int xg_vmm_counters(struct xg_vmm *m, int gi, const char **name, uint64_t *by,
		    struct xg_stats *s);
/* The Prometheus text exposition of every guest's counters. 0, or -1 on a write error. */
int xg_metrics_print(struct xg_vmm *m, FILE *f);
/* The same into path, atomically (a temporary file renamed over it). -1 with why. */
int xg_metrics_file(struct xg_vmm *m, const char *path, char *why, size_t n);

/* ---- per architecture (x86/vmm_x86.c, arm64/kvm_arm64.c) ---- */
struct xg_kvm_vm;
struct xg_kvm_vcpu;
extern const int xg_kvm_arch;	   /* enum xg_arch: the guests this build runs */
extern const char xg_kvm_pc_reg[]; /* the PC's name for get_reg: "rip", "pc" */
/* Enable and probe the capabilities the verdicts need; what is missing is said once. */
int xg_kvm_vm_enable_caps(struct xg_kvm_vm *vm, const struct xg_vm_cfg *cfg, const char *guest,
			  struct xg_error *err);
/* The entry state: the stack pointer, and the first two argument registers (x86: RDI, RSI;
 * arm64: X0, X1) = a0, a1. */
int xg_kvm_vcpu_set_entry_args(struct xg_kvm_vcpu *v, uint64_t sp, uint64_t a0, uint64_t a1,
			       struct xg_error *err);

/* ---- devices.c ---- */
struct xg_dev {
	const struct xg_dev_cfg *cfg;
	uint8_t *mem;	 /* ram: the window's bytes */
	char line[256];	 /* console: the line being written */
	size_t len;
	uint64_t reads, writes;
};

struct xg_devs {
	struct xg_dev *d;
	size_t n;
	const char *guest;
	FILE *out;
	void *lock; /* pthread_mutex_t*, shared by the guest's vCPUs */
	/* set by the done port */
	int done;
	int done_mmio; /* ... through an MMIO done register */
	uint32_t code; /* the value written, all of its 1, 2 or 4 bytes */
	const atomic_int *erase; /* non-zero: erase the terminal's status line before a line */
};

int xg_devs_init(struct xg_devs *ds, const struct xg_vm_cfg *vm, const char *guest, FILE *out,
		 struct xg_error *err);
void xg_devs_free(struct xg_devs *ds);
/* 1 if a device took the port access (data filled for reads), 0 if none is there. */
int xg_devs_io(struct xg_devs *ds, uint16_t port, int is_write, void *data, unsigned size);
/* The same for MMIO: 1 handled, 0 no device at gpa. */
int xg_devs_mmio(struct xg_devs *ds, uint64_t gpa, int is_write, void *data, unsigned len);
/* The value the pattern device reads at byte offset off (the word at off & ~7). */
uint64_t xg_devs_pattern_word(uint64_t off);
/* Print what the console holds that ended without a newline. */
void xg_devs_flush(struct xg_devs *ds);

/* ---- ctl.c ---- */
#define XG_CTL_CLIENTS	64  /* connections served at once */
#define XG_CTL_DEADLINE 2.0 /* s to send a whole command line, and to take the answer */
#define XG_CTL_LINE	256 /* bytes of a command line, with its newline */
struct xg_vmm;
struct xg_ctl;
/* Listen on path (a stale socket file is replaced; a live one is an error); commands go to
 * xg_vmm_command(m, ...). */
struct xg_ctl *xg_ctl_open(const char *path, struct xg_vmm *m, struct xg_error *err);
/* Wait at most ms for the socket, its clients or wake_fd to be ready, and serve what is:
 * never blocks on a client. The caller drains wake_fd. */
void xg_ctl_poll(struct xg_ctl *c, int wake_fd, int ms);
/* A reload asked by SIGHUP, run on the control thread; coalesced with one not yet begun. */
void xg_ctl_reload(struct xg_ctl *c);
/* Close the socket and stop its thread: 0, or -1 if the thread is still inside a command
 * after grace seconds (then c stays allocated, and the run must not be freed under it). */
int xg_ctl_close(struct xg_ctl *c, double grace);
/* vmm.c: answer one command line; writes reply lines to f, returns 0 ok / -1 error. */
int xg_vmm_command(struct xg_vmm *m, const char *line, FILE *f);

#endif
