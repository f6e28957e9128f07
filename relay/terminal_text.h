/* Printing bytes that came from clients or upstreams (spool records, dead letters) for an operator.
 * Line protocol string values, database names and upstream answers may hold any byte, escape
 * sequences included; on a terminal those would move the cursor, retitle the window or write the
 * clipboard (OSC 52) of whoever runs spool-dump or `dlq show`. Redirected output stays byte for
 * byte, so a dump can still be compared or written back. */
#ifndef NEBENKOSTEN_RELAY_TERMINAL_TEXT_H
#define NEBENKOSTEN_RELAY_TERMINAL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* True when out is a terminal, i.e. when terminal_text_write should escape. */
bool terminal_text_is_terminal(FILE *out);

/* Writes length bytes of text (borrowed) to out. With escape, control characters other than tab
 * and newline (C0, DEL and the C1 range U+0080-U+009F) and bytes that are not UTF-8 are written
 * as \xNN, one per byte; everything else, backslashes included, as it is. Returns 0 or -1 (the
 * write failed). */
int terminal_text_write(FILE *out, const char *text, size_t length, bool escape);

#endif
