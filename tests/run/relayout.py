#!/usr/bin/env python3
# relayout.py - rewrites a record of `exitgate run --record` (format: core/trace/trace.h) as
# if its host had kept the AVX-512 registers elsewhere in the XSAVE image, for
# t_run_record_layout.sh. Written apart from exitgate's reader and its xg_emu_x86_xs_move, so
# that the test does not grade exitgate's code with itself; chunk checksums by zlib.
#
#   relayout.py IN OUT --to amd|intel   HEAD says the vendor's offsets, and every get_xsave /
#                                       set_xsave blob has its opmask, ZMM_Hi256 and Hi16_ZMM
#                                       components moved there (their old bytes zeroed)
#   relayout.py IN OUT --v2             a version 2 record: HEAD without the layout
#   relayout.py IN OUT --head SIZE OPMASK ZMMH HI16ZMM
#                                       HEAD says these (any numbers), the blobs untouched
#   relayout.py IN OUT --mark-all       every set_xsave blob marks x87, SSE, AVX and the AVX-512
#                                       components in use (XSTATE_BV |= 0xe7), their bytes kept:
#                                       what an emulator before 66a2344 wrote, the same state
#   relayout.py IN OUT --flip-xmm       the first set_xsave blob with SSE in use has XMM0's
#                                       byte 0 flipped: another state
#   relayout.py IN --show               prints HEAD's version, image size and layout
#                                       ("3 2688 832,896,1408 N"; 0 for version 2) and N,
#                                       how many blobs have AVX-512 state in use (in_use)
# Prints, for --to/--v2/--head, the byte offset of HEAD's layout in OUT (the refusal names it).
import struct
import sys
import zlib

LAYOUTS = {"amd": (832, 896, 1408), "intel": (1088, 1152, 1664)}
SIZES = (64, 512, 1024)  # opmask, ZMM_Hi256, Hi16_ZMM (SDM Vol. 1 13.2)
GET_XSAVE, SET_XSAVE = 15, 16  # enum xg_trc_kind
XSTATE_BV = 512


def chunks(b):
    assert b[:8] == b"XGTRACE\n", "not a record"
    at = 8
    while at < len(b):
        t, n = struct.unpack_from("<II", b, at)
        yield t, bytearray(b[at + 8 : at + 8 + n])
        at += 12 + n


def pack(t, p):
    h = struct.pack("<II", t, len(p))
    return h + bytes(p) + struct.pack("<I", zlib.crc32(h + bytes(p)) & 0xFFFFFFFF)


def head_tail(p):
    """offset in p of what follows the config string (the layout, version 3)"""
    at = 4 + 1 + 1 + 2 + 4 + 8
    for _ in range(3):
        (n,) = struct.unpack_from("<H", p, at)
        at += 2 + n
    return at


def blobs(p):
    """(offset, length, kind) of each op blob in an EXIT payload"""
    at = 8 + 8 + 4
    (n,) = struct.unpack_from("<H", p, at)
    at += 2 + n + 4
    (rl,) = struct.unpack_from("<I", p, at)
    at += 4 + rl + 6
    (n,) = struct.unpack_from("<H", p, at)
    at += 2 + n
    (nops,) = struct.unpack_from("<I", p, at)
    at += 4
    for _ in range(nops):
        kind = p[at]
        (blen,) = struct.unpack_from("<I", p, at + 1 + 1 + 4 + 24)
        at += 1 + 1 + 4 + 24 + 4
        yield at, blen, kind
        at += blen


def move(img, old, new):
    parts = [bytes(img[o : o + s]) for o, s in zip(old, SIZES)]
    for o, s in zip(old, SIZES):
        img[o : o + s] = bytes(s)
    for o, s, part in zip(new, SIZES, parts):
        img[o : o + s] = part


def in_use(img):
    """AVX-512 state in use: an XSTATE_BV bit 5-7 set and its component not all zero at
    either vendor's place (zero is its initial state, SDM Vol. 1 13.6)"""
    for c in range(3):
        if img[XSTATE_BV] & (0x20 << c):
            for lay in LAYOUTS.values():
                if any(img[lay[c] : lay[c] + SIZES[c]]):
                    return True
    return False


def main():
    src = open(sys.argv[1], "rb").read()
    if sys.argv[2] == "--show":
        used = 0
        for t, p in chunks(src):
            if t == 1:
                (ver,) = struct.unpack_from("<I", p, 0)
                tail = head_tail(p)
                lay = struct.unpack_from("<4I", p, tail) if ver >= 3 else (0, 0, 0, 0)
            elif t == 2:
                for at, blen, kind in blobs(p):
                    if kind in (GET_XSAVE, SET_XSAVE) and blen > XSTATE_BV:
                        used += in_use(p[at : at + blen])
        print(ver, lay[0], ",".join(map(str, lay[1:])), used)
        return
    out, mode, args = sys.argv[2], sys.argv[3], sys.argv[4:]
    res = bytearray(src[:8])
    old = None
    where = None
    flipped = False
    for t, p in chunks(src):
        if t == 1:
            tail = head_tail(p)
            where = len(res) + 8 + tail
            old = struct.unpack_from("<4I", p, tail)[1:]
            if mode == "--v2":
                p = p[:tail]
                struct.pack_into("<I", p, 0, 2)
            elif mode == "--head":
                p[tail:] = struct.pack("<4I", *map(int, args))
            elif mode == "--to":
                p[tail + 4 :] = struct.pack("<3I", *LAYOUTS[args[0]])
        elif t == 2 and mode in ("--mark-all", "--flip-xmm"):
            for at, blen, kind in blobs(p):
                if kind != SET_XSAVE or blen <= XSTATE_BV:
                    continue
                if mode == "--mark-all":
                    p[at + XSTATE_BV] |= 0xE7
                elif p[at + XSTATE_BV] & 2 and not flipped:
                    p[at + 160] ^= 0x01  # XMM0 byte 0 (SDM Vol. 1 13.4.1)
                    flipped = True
        elif t == 2 and mode == "--to":
            for at, blen, kind in blobs(p):
                if kind in (GET_XSAVE, SET_XSAVE) and blen:
                    img = p[at : at + blen]
                    move(img, old, LAYOUTS[args[0]])
                    p[at : at + blen] = img
        res += pack(t, p)
    open(out, "wb").write(res)
    print(where)


main()
