/*
 * t_arm64_exitgate.c - runs inside the arm64 lane's VM: the aarch64 `exitgate` (cross-built
 * statically with tests/vm/aarch64-linux-gnu.cmake, put at /bin/exitgate by the lane) runs
 * on arm64, and decodes the NISV example of examples/exits as arm64 by default (the host's
 * architecture). Its runs of arm64 guests are t_arm64_run.c.
 */
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vm_util.h"

#define RUN(out, ...)                                                                              \
	xg_vm_run_argv((char *const[]){"/bin/exitgate", __VA_ARGS__, NULL}, out, sizeof(out))

int main(void)
{
	static char out[65536];
	int st;

	if (!ok(access("/bin/exitgate", X_OK) == 0, "/bin/exitgate is in the initramfs"))
		return done_testing();
	st = RUN(out, "--version");
	is_int(st, 0, "exitgate --version exits 0");
	like(out, "exitgate ", "it prints its version");
	diag("%s", strtok(out, "\n") ? out : "(nothing)");

	st = RUN(out, "decode", "/share/exits/nisv-post-index-load.hex");
	is_int(st, 0, "exitgate decode of the NISV example exits 0");
	like(out, "reason:                          arm_nisv", "decoded as arm_nisv");
	like(out, "arch:                            arm64", "as arm64, this host's architecture");
	like(out, "fault_ipa:                       0x10000000", "with the example's fault_ipa");
	like(out, "dfsc_name:                       translation_fault_l2",
	     "and its ISS fields named");

	st = RUN(out, "run", "/nonexistent.yaml");
	ok(st == 2 && strstr(out, "/nonexistent.yaml"),
	   "exitgate run (the arm64 VMM: t_arm64_run) of a missing config: status 2, naming it "
	   "(status %d)",
	   st);
	return done_testing();
}
