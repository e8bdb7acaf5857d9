/*
 * config.h - the per-guest configuration, read from YAML with libyaml.
 *
 *   defaults:                      # applies to every guest, each key overridable
 *     limits: { instructions: 1000000, memory: 16M }
 *     on_error: inject UD          # a verdict: [dump] emulate | inject V | external_abort |
 *                                  #   suspend | resume | skip | stop
 *     dump_dir: /var/tmp/exitgate
 *     rate_limit: { logs_per_second: 5, burst: 20 }
 *   guests:
 *     web:
 *       policy: policies/default.lua   # relative to the config file
 *       params: { anything: [1, 2] }   # handed to the policy as xg.params
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

/* A parameter value (YAML node) handed to the policy. */
enum xg_param_type { XG_PARAM_SCALAR, XG_PARAM_MAP, XG_PARAM_SEQ };
struct xg_param {
	enum xg_param_type type;
	char *key;   /* in a map */
	char *value; /* scalar text */
	int plain;   /* an unquoted scalar: may be a number or a boolean */
	struct xg_param *child, *next;
};

struct xg_guest_cfg {
	char *name;
	char *policy; /* resolved path */
	int line;
	struct xg_param *params;
	uint64_t instructions; /* per handler call */
	uint64_t memory;       /* bytes per Lua state */
	char *on_error;	       /* verdict text */
	char *dump_dir;	       /* NULL: dumps are logged only */
	double logs_per_second;
	double burst;
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
#define XG_DEFAULT_ON_ERROR	"inject UD"

const struct xg_guest_cfg *xg_config_guest(const xg_config *cfg, const char *name);
xg_config *xg_config_copy(const xg_config *cfg, struct xg_error *err);

#endif
