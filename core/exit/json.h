/* json.h - the one JSON string writer of exitgate's JSON (dumps, stats and status, decode,
 * triage, show, replay). */
#ifndef XG_EXIT_JSON_H
#define XG_EXIT_JSON_H

#include <stdio.h>

/* Write s as a JSON string (RFC 8259 escapes; bytes that are not UTF-8 become U+FFFD), or
 * null for NULL. */
void xg_json_str(FILE *f, const char *s);

#endif
