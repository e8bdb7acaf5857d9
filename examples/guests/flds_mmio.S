/*
 * flds_mmio.S - an x87 load from MMIO: the instruction KVM's emulator cannot do.
 *
 * The KVM backend starts this in 64-bit mode at 0x100000 (XG_KVM_LOAD_ADDR) with the first
 * 4 GiB identity-mapped. 0xd0000000 is XG_KVM_MMIO_BASE (core/backend/kvm/xg_kvm.h): mapped
 * by the guest page tables but backed by no memslot, so the load faults to KVM, which must
 * emulate it. KVM's x86 emulator has no x87 memory operands, so with
 * KVM_CAP_EXIT_ON_EMULATION_FAILURE enabled KVM_RUN returns KVM_EXIT_INTERNAL_ERROR,
 * suberror KVM_INTERNAL_ERROR_EMULATION, with the instruction bytes in data[]
 * (api.rst 5 "KVM_EXIT_INTERNAL_ERROR"); without the capability KVM injects #UD instead.
 */
	.code64
	.text
	.globl	_start
_start:
	movabs	$0xd0000000, %rax	/* XG_KVM_MMIO_BASE; movabs keeps it zero-extended */
	flds	(%rax)			/* d9 00: FLD m32fp (SDM Vol. 2A FLD) from MMIO */
	hlt				/* only reached if something emulated the load */
