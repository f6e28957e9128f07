/* gzip_deflate: what it writes is one gzip member that gzip_inflate (and so any gzip reader)
 * turns back into the input, byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/gzip_deflate.h"
#include "relay/gzip_inflate.h"

static void round_trip(const char *input, size_t length)
{
    struct buffer packed = BUFFER_INITIALIZER, unpacked = BUFFER_INITIALIZER;
    cr_assert_eq(gzip_deflate(input, length, GZIP_DEFLATE_LEVEL, &packed), 0);
    cr_assert_geq(packed.length, 18, "gzip header and trailer");
    cr_assert_eq((unsigned char)packed.data[0], 0x1f);
    cr_assert_eq((unsigned char)packed.data[1], 0x8b);
    char error[256];
    cr_assert_eq(
        gzip_inflate(packed.data, packed.length, length + 1, &unpacked, error, sizeof error), 0,
        "%s", error);
    cr_assert_eq(unpacked.length, length);
    cr_assert(length == 0 || memcmp(unpacked.data, input, length) == 0);
    buffer_release(&packed);
    buffer_release(&unpacked);
}

Test(gzip_deflate, empty_input)
{
    round_trip("", 0);
}

Test(gzip_deflate, line_protocol_compresses_and_survives)
{
    size_t length = 0;
    char *text = malloc(1 << 20);
    cr_assert_not_null(text);
    for (int i = 0; length + 100 < (1 << 20); i++)
        length += (size_t)snprintf(text + length, (1 << 20) - length,
                                   "kWh,entity_id=meter_%d value=%d.5 %d000000000\n", i % 7, i,
                                   1700000000 + i);
    struct buffer packed = BUFFER_INITIALIZER;
    cr_assert_eq(gzip_deflate(text, length, GZIP_DEFLATE_LEVEL, &packed), 0);
    cr_assert_lt(packed.length, length / 4, "line protocol compresses well");
    buffer_release(&packed);
    round_trip(text, length);
    free(text);
}

Test(gzip_deflate, replaces_what_the_buffer_held)
{
    struct buffer packed = BUFFER_INITIALIZER;
    cr_assert_eq(buffer_append(&packed, "old", 3), 0);
    cr_assert_eq(gzip_deflate("x\n", 2, GZIP_DEFLATE_LEVEL, &packed), 0);
    cr_assert_eq((unsigned char)packed.data[0], 0x1f);
    buffer_release(&packed);
}
