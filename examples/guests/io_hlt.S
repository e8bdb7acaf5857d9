/*
 * io_hlt.S - one byte out to port 0xe9 (the debug console port), then HLT.
 *
 * Expected exits: KVM_EXIT_IO (out, 1 byte, port 0xe9, data 0x5a), then KVM_EXIT_HLT - the
 * VM has no in-kernel irqchip, so HLT goes to user space (api.rst 5 "KVM_EXIT_HLT").
 *
 * The three instructions encode the same in 16-, 32- and 64-bit mode (b0 5a, e6 e9, f4), so
 * tests run this one image in both long mode and real mode.
 */
	.code64
	.text
	.globl	_start
_start:
	movb	$0x5a, %al		/* the byte to write: recognisable in the exit */
	outb	%al, $0xe9		/* OUT imm8, AL (SDM Vol. 2B OUT) */
	hlt
