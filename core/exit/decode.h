/*
 * decode.h - what the engine asks of the decoder beyond exitgate.h.
 */
#ifndef XG_EXIT_DECODE_H
#define XG_EXIT_DECODE_H

#include <stddef.h>

#include "exitgate.h"

/*
 * Would xg_exit_decode(.., run, run_size, opts) give exactly what *x holds, x having been
 * decoded by it with the same opts? 1 when the kvm_run header fields the decoder reads and the
 * union equal what x was decoded from (for an internal error its defined bytes: suberror,
 * ndata and ndata words; the decoder keeps the rest as zeros), for an exit whose decoding
 * reads nothing else (every reason but IO, whose data lies outside the union); else 0. A
 * repeated exit - the same instruction failing again - is then not decoded again: the
 * decoder's tables and the 1 KiB it writes stay out of the caches.
 */
int xg_exit_decode_same(const struct xg_exit *x, const void *run, size_t run_size);

#endif
