/* terminal_text_write: what an operator's terminal gets from spool-dump and `dlq show`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/terminal_text.h"

/* The output of terminal_text_write for length bytes of text, owned by the caller. */
static char *written(const char *text, size_t length, bool escape)
{
    char *out = NULL;
    size_t out_length = 0;
    FILE *stream = open_memstream(&out, &out_length);
    cr_assert_not_null(stream);
    cr_assert_eq(terminal_text_write(stream, text, length, escape), 0);
    cr_assert_eq(fclose(stream), 0);
    return out;
}

static void assert_escaped(const char *text, size_t length, const char *expected)
{
    char *out = written(text, length, true);
    cr_assert_str_eq(out, expected);
    free(out);
}

Test(terminal_text, line_protocol_without_controls_is_unchanged)
{
    const char *line = "m\\ 1,t=\\\"x\\\" s=\"tab\there \\\\ ok\",v=1 1600000000000000000\n";
    assert_escaped(line, strlen(line), line);
}

Test(terminal_text, escape_sequences_are_shown_not_sent)
{
    const char *osc52 = "m s=\"\x1b]52;c;cm0gLXJmIH4=\x07\" 1\n";
    assert_escaped(osc52, strlen(osc52), "m s=\"\\x1B]52;c;cm0gLXJmIH4=\\x07\" 1\n");
    assert_escaped("a\rb\x7f", 4, "a\\x0Db\\x7F");
    assert_escaped("nul\0end", 7, "nul\\x00end");
}

Test(terminal_text, utf8_text_stays_and_c1_controls_and_broken_bytes_are_shown)
{
    assert_escaped("Zähler ✓ 𝄞", strlen("Zähler ✓ 𝄞"), "Zähler ✓ 𝄞");
    assert_escaped("\xc2\x9b"
                   "31m",
                   5, "\\xC2\\x9B31m");        /* CSI as a UTF-8 C1 control */
    assert_escaped("\xc2\xa0", 2, "\xc2\xa0"); /* U+00A0, the first code point after C1 */
    assert_escaped("\x9b"
                   "x",
                   2, "\\x9Bx"); /* CSI as a lone 8-bit byte */
    assert_escaped("\xc2"
                   "A",
                   2, "\\xC2A");                          /* a broken sequence: one byte shown */
    assert_escaped("end\xc2", 4, "end\\xC2");             /* cut at the end of the text */
    assert_escaped("\xed\xa0\x80", 3, "\\xED\\xA0\\x80"); /* a surrogate */
}

Test(terminal_text, without_escape_the_bytes_go_out_unchanged)
{
    const char text[] = "m s=\"\x1b[2J\xc2\x9b\x9b\" 1\n";
    char *out = written(text, sizeof text - 1, false);
    cr_assert_eq(memcmp(out, text, sizeof text), 0);
    free(out);
}
