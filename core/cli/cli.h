/*
 * cli.h - the `exitgate` command: one builtin per subcommand (git/kvmtool style). Each
 * returns the process exit status: 0 success, 1 the work found a problem (a failing
 * check), 2 usage or input error. Messages go to stderr and say what to do.
 */
#ifndef XG_CLI_H
#define XG_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "exitgate.h"

struct xg_cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int xg_cmd_decode(int argc, char **argv);
int xg_cmd_check(int argc, char **argv);
int xg_cmd_test(int argc, char **argv);
int xg_cmd_run(int argc, char **argv);
int xg_cmd_ctl(int argc, char **argv);
int xg_cmd_triage(int argc, char **argv);
int xg_cmd_show(int argc, char **argv);
int xg_cmd_replay(int argc, char **argv);

/* Read all of a file ("-" = stdin) into a malloc'ed buffer. */
int xg_cli_read_all(const char *path, uint8_t **buf, size_t *len, struct xg_error *err);

/*
 * Parse hex text into bytes: pairs of hex digits, whitespace and "0x"/"," separators
 * ignored, "#" comments to end of line. Returns 0, or -1 naming the line and column of the
 * first character that is not hex.
 */
int xg_cli_parse_hex(const char *text, size_t len, uint8_t **out, size_t *out_len,
		     struct xg_error *err);

#endif
