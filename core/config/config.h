/*
 * config.h - the per-guest configuration, read from YAML with libyaml.
 *
 *   defaults:                      # applies to every guest, each key overridable
 *     limits: { instructions: 1000000, memory: 16M, time_ms: 5,  # time_ms: CPU per call;
 *               store_entries: 1024, store_key: 256, store_value: 4K }
 *                                  #   loading the policy gets 10x instructions and time;
 *                                  #   memory counts the Lua state and xg.store
 *     on_error: inject UD          # a verdict: [dump] emulate | inject V | external_abort |
 *                                  #   suspend | resume | skip | stop
 *     dump_dir: /var/tmp/exitgate
 *     rate_limit: { logs_per_second: 5, burst: 20 }
 *     dump_max: 100                # dump files per vCPU and run; then counted, not written
 *     dump_keep: { count: 1000, bytes: 1G, age: 7d }  # retention of this guest's dumps in
 *                                  #   dump_dir, all runs: oldest removed first (0: no limit)
 *   guests:
 *     web:
 *       policy: policies/default.lua   # relative to the config file
 *       params: { anything: [1, 2] }   # handed to the policy as xg.params
 *       vm:                            # only `exitgate run` reads this (the mini-VMM)
 *         payload: demo.bin            # flat binary: relative to the config, then the
 *                                      #   guest directories (build/guests, share/exitgate)
 *         arch: x86_64                 # x86_64 | arm64: the guest's architecture
 *         memory: 64M                  # RAM at GPA 0 (arm64: at ram_base)
 *         ram_base: 0x40000000         # arm64 only (the default there)
 *         mode: long                   # long | real (x86 only)
 *         vcpus: 1                     # 1..1024, all start at the entry
 *         load: 0x100000               # where the payload goes; entry defaults to it
 *         entry: 0x100000
 *         timeout: 30                  # seconds of wall time, then the run stops
 *         msr_trap: [0x1a0, [0xc0010000, 0xc0010010]]  # MSRs (or ranges) KVM handles that
 *                                      #   should exit to the policy anyway
 *         storm: 100000                # the same exit at the same RIP this many times in a
 *                                      #   row stops the guest (0: never)
 *         devices:
 *           - { type: console, port: 0x3f8 }        # bytes written are the guest's output
 *           - { type: done, port: 0x501 }           # a write ends the run with that code
 *           # console and done take at: (a 4K MMIO page) instead of port: (on arm64 they must)
 *           - { type: ram, at: 0xd0000000, size: 64K }      # RAM-like MMIO window
 *           - { type: pattern, at: 0xd0100000, size: 4K }   # reads return a known pattern
 *
 * Every error names the file, the line and the key. Unknown keys are errors (a typo must not
 * silently mean "default"). The config keeps the text it was parsed from, so the engine
 * can take its own copy by parsing it again.
 */
#ifndef XG_CONFIG_H
#define XG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "exitgate.h"

/*
 * What a configuration may grow to. YAML aliases (*name) repeat an anchored node (&name)
 * wherever they are used, and every reader of params (the guest's config, each vCPU's Lua
 * state) expands them, so the limits count nodes after expansion: 390 bytes of nested
 * aliases could otherwise stand for gigabytes. A configuration over a limit is refused before
 * anything is built from it, with the file, line:column and the limit in the message. A
 * real configuration is nowhere near these (the examples have under 100 nodes, depth 6).
 */
#define XG_CONFIG_MAX_DEPTH   64	  /* collections inside each other; the top level is 1 */
#define XG_CONFIG_MAX_NODES   100000	  /* scalars, lists and mappings, aliases expanded */
#define XG_CONFIG_MAX_BYTES   (4u << 20)  /* scalar text (keys and values), aliases expanded */
#define XG_CONFIG_MAX_FILE    (16u << 20) /* the file itself, comments and all */
#define XG_CONFIG_MAX_ANCHORS 1000	  /* &names: libyaml looks each one up in a list */

#define XG_POLICY_MAX_FILE    (16u << 20) /* a policy file, and exitgate.lua */

/* Read the whole regular file at path (at most limit bytes, NUL-terminated) into a malloc'd
 * *text: a FIFO, a device, a directory or a file over the limit is refused with a message
 * naming `what` ("policy", "a configuration" ...). core/config/readfile.c. */
int xg_file_read(const char *path, const char *what, size_t limit, char **text, size_t *len,
		 struct xg_error *err);
/* What a stat mode that is not a regular file is, in words: "a FIFO (a named pipe), not a
 * file", "a directory, not a file" ... */
const char *xg_file_kind(unsigned mode);

/* A parameter value (YAML node) handed to the policy. Never deeper than
 * XG_CONFIG_MAX_DEPTH (less the levels above params), never cyclic. */
enum xg_param_type { XG_PARAM_SCALAR, XG_PARAM_MAP, XG_PARAM_SEQ };
struct xg_param {
	enum xg_param_type type;
	char *key;     /* in a map */
	char *value;   /* scalar text */
	int plain;     /* an unquoted scalar: may be a number or a boolean */
	unsigned refs; /* of a tree's root: the guests sharing it (defaults' params) */
	struct xg_param *child, *next;
};

/* Device models of the mini-VMM (core/backend/kvm/devices.c). */
enum xg_dev_type { XG_DEV_CONSOLE = 0, XG_DEV_DONE, XG_DEV_RAM, XG_DEV_PATTERN, XG_DEV_NTYPES };

struct xg_dev_cfg {
	enum xg_dev_type type;
	uint64_t at;   /* port (console, done with port:) or GPA */
	uint64_t size; /* ports or bytes */
	int port;      /* at is an I/O port (x86): console and done given port: */
	int line;
};

/* vm.arch (enum xg_arch, exitgate.h): x86_64 or arm64; `exitgate run` runs its build's own. */
const char *xg_config_arch_name(int arch);

struct xg_msr_range {
	uint32_t first, last; /* inclusive */
};

/* A range of guest RAM (private: ranges that start private). */
struct xg_gpa_range {
	uint64_t gpa, size;
};

/* vm.type: the KVM VM type (api.rst 4.2 KVM_CREATE_VM, x86 "KVM_X86_*_VM"). */
enum xg_vm_type { XG_VM_DEFAULT = 0, XG_VM_SW_PROTECTED = 1 };

struct xg_vm_cfg {
	int present; /* the guest has a vm: section */
	int type;    /* enum xg_vm_type */
	struct xg_gpa_range *priv; /* sw_protected: ranges that start private */
	size_t npriv;
	struct xg_gpa_range *plain; /* sw_protected: RAM in memslots without guest_memfd */
	size_t nplain;
	int line;
	int arch;	   /* enum xg_arch */
	uint64_t ram_base; /* GPA of RAM: 0 on x86, XG_KVM_ARM64_RAM_BASE by default on arm64 */
	char *payload; /* as written; resolved by `exitgate run` */
	uint64_t memory;
	int mode; /* enum xg_kvm_mode: 0 long, 1 real */
	int vcpus;
	uint64_t load, entry;
	double timeout; /* seconds, 0: none */
	uint64_t storm;
	struct xg_dev_cfg *devs;
	size_t ndevs;
	struct xg_msr_range *msr_trap;
	size_t nmsr_trap;
};

struct xg_guest_cfg {
	char *name;
	char *policy; /* resolved path */
	int line;
	struct xg_param *params;
	uint64_t instructions; /* per handler call */
	uint64_t memory;       /* bytes per Lua state (xg.store counted in) */
	uint64_t store_entries; /* xg.store keys per guest */
	uint64_t store_key;	/* bytes per xg.store key */
	uint64_t store_value;	/* bytes per xg.store string value */
	uint64_t time_ms;      /* time per handler call (10x for loading) */
	char *on_error;	       /* verdict text */
	char *dump_dir;	       /* NULL: the run's default (exitgate run), else logged only */
	double logs_per_second;
	double burst;
	uint64_t dump_max;
	/* Retention in dump_dir for this guest's dumps (every run): at most count files,
	 * bytes in all, none older than age seconds; 0 is no limit. */
	struct xg_dump_keep_cfg {
		uint64_t count, bytes, age;
	} dump_keep;
	struct xg_vm_cfg vm;
};

struct xg_config {
	char *path;	/* NULL when parsed from text */
	char *name;	/* for messages */
	char *base_dir; /* relative policy paths */
	char *text;
	size_t len;
	struct xg_guest_cfg defaults;
	struct xg_guest_cfg *guests;
	size_t n;
};

#define XG_DEFAULT_INSTRUCTIONS 1000000
#define XG_DEFAULT_MEMORY	(16u << 20)
#define XG_DEFAULT_STORE_ENTRIES 1024
#define XG_DEFAULT_STORE_KEY	 256
#define XG_DEFAULT_STORE_VALUE	 4096
#define XG_DEFAULT_TIME_MS	5
#define XG_DEFAULT_ON_ERROR	"inject UD"
#define XG_DEFAULT_DUMP_MAX	100
#define XG_DEFAULT_DUMP_KEEP	1000 /* dump_keep.count */
#define XG_DEFAULT_STORM	100000

const struct xg_guest_cfg *xg_config_guest(const xg_config *cfg, const char *name);
xg_config *xg_config_copy(const xg_config *cfg, struct xg_error *err);
/* Where `exitgate run` finds a guest's payload p: as written if absolute, else next to the
 * config (base_dir), in $XG_GUEST_PATH, the build's and the installed guest folders.
 * 0 with the path in out, or -1 with a message naming where it looked. */
int xg_config_find_payload(const char *base_dir, const char *p, char *out, size_t n,
			   struct xg_error *err);

#endif
