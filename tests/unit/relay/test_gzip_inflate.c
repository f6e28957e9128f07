/* gzip_inflate: round trips, concatenated members, the decoded-size limit (gzip bombs), broken
 * streams. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "relay/gzip_inflate.h"

/* Compresses input into an owned gzip member; *length gets its size. */
static char *gzip_compress(const char *input, size_t input_length, size_t *length)
{
    z_stream stream = {0};
    cr_assert_eq(deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t capacity = deflateBound(&stream, input_length) + 64;
    char *output = malloc(capacity);
    cr_assert_not_null(output);
    stream.next_in = (unsigned char *)(uintptr_t)input;
    stream.avail_in = (unsigned int)input_length;
    stream.next_out = (unsigned char *)output;
    stream.avail_out = (unsigned int)capacity;
    cr_assert_eq(deflate(&stream, Z_FINISH), Z_STREAM_END);
    *length = capacity - stream.avail_out;
    deflateEnd(&stream);
    return output;
}

static const char sample[] = "power,room=kitchen watts=12.5 1700000000000000000\n"
                             "power,room=hall watts=3i 1700000000123000000\n";

Test(gzip_inflate, round_trip_appends_to_the_buffer)
{
    size_t length = 0;
    char *compressed = gzip_compress(sample, sizeof sample - 1, &length);
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(buffer_append(&out, "prefix:", 7), 0);
    char error[256] = "";
    cr_assert_eq(gzip_inflate(compressed, length, 1024, &out, error, sizeof error), 0, "%s", error);
    cr_assert_eq(out.length, 7 + sizeof sample - 1);
    cr_assert_eq(memcmp(out.data, "prefix:", 7), 0);
    cr_assert_eq(memcmp(out.data + 7, sample, sizeof sample - 1), 0);
    buffer_release(&out);
    free(compressed);
}

Test(gzip_inflate, concatenated_members_decode_as_one_body)
{
    size_t first_length = 0, second_length = 0;
    char *first = gzip_compress("a v=1\n", 6, &first_length);
    char *second = gzip_compress("b v=2\n", 6, &second_length);
    char *both = malloc(first_length + second_length);
    cr_assert_not_null(both);
    memcpy(both, first, first_length);
    memcpy(both + first_length, second, second_length);
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(gzip_inflate(both, first_length + second_length, 100, &out, NULL, 0), 0);
    cr_assert_eq(out.length, 12);
    cr_assert_eq(memcmp(out.data, "a v=1\nb v=2\n", 12), 0);
    buffer_release(&out);
    free(both);
    free(second);
    free(first);
}

Test(gzip_inflate, limit_is_inclusive)
{
    size_t length = 0;
    size_t size = sizeof sample - 1;
    char *compressed = gzip_compress(sample, size, &length);
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(gzip_inflate(compressed, length, size, &out, NULL, 0), 0);
    cr_assert_eq(out.length, size);
    buffer_clear(&out);
    char error[256] = "";
    cr_assert_eq(gzip_inflate(compressed, length, size - 1, &out, error, sizeof error), -EMSGSIZE);
    cr_assert_str_eq(error, "gzip body decodes to more than 94 bytes");
    buffer_release(&out);
    free(compressed);
}

Test(gzip_inflate, bomb_stops_at_the_limit_without_decoding_everything)
{
    size_t zeros_size = 16u * 1024u * 1024u;
    char *zeros = calloc(1, zeros_size);
    cr_assert_not_null(zeros);
    size_t length = 0;
    char *compressed = gzip_compress(zeros, zeros_size, &length);
    free(zeros);
    cr_assert_lt(length, 64u * 1024u, "a bomb is small: %zu bytes", length);
    struct buffer out = BUFFER_INITIALIZER;
    size_t limit = 1024u * 1024u;
    cr_assert_eq(gzip_inflate(compressed, length, limit, &out, NULL, 0), -EMSGSIZE);
    /* Output stops one chunk past the limit; the allocation stays near it. */
    cr_assert_leq(out.length, limit + 64u * 1024u);
    cr_assert_leq(out.capacity, 4u * limit);
    buffer_release(&out);
    free(compressed);
}

Test(gzip_inflate, truncated_stream_is_rejected)
{
    size_t length = 0;
    char *compressed = gzip_compress(sample, sizeof sample - 1, &length);
    struct buffer out = BUFFER_INITIALIZER;
    char error[256] = "";
    cr_assert_eq(gzip_inflate(compressed, length - 4, 1024, &out, error, sizeof error), -EINVAL);
    cr_assert_not_null(strstr(error, "gzip body is truncated"), "%s", error);
    buffer_release(&out);
    free(compressed);
}

Test(gzip_inflate, corrupt_data_is_rejected)
{
    size_t length = 0;
    char *compressed = gzip_compress(sample, sizeof sample - 1, &length);
    compressed[length - 6] ^= 0x55; /* inside the CRC-32 trailer */
    struct buffer out = BUFFER_INITIALIZER;
    char error[256] = "";
    cr_assert_eq(gzip_inflate(compressed, length, 1024, &out, error, sizeof error), -EINVAL);
    cr_assert_not_null(strstr(error, "gzip body is corrupt"), "%s", error);
    buffer_release(&out);
    free(compressed);
}

Test(gzip_inflate, plain_text_is_not_gzip)
{
    struct buffer out = BUFFER_INITIALIZER;
    char error[256] = "";
    cr_assert_eq(gzip_inflate(sample, sizeof sample - 1, 1024, &out, error, sizeof error), -EINVAL);
    cr_assert_str_eq(error, "gzip body is corrupt at byte 2: incorrect header check");
    buffer_release(&out);
}

Test(gzip_inflate, trailing_garbage_is_rejected)
{
    size_t length = 0;
    char *compressed = gzip_compress(sample, sizeof sample - 1, &length);
    char *padded = malloc(length + 3);
    cr_assert_not_null(padded);
    memcpy(padded, compressed, length);
    memcpy(padded + length, "xyz", 3);
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(gzip_inflate(padded, length + 3, 1024, &out, NULL, 0), -EINVAL);
    buffer_release(&out);
    free(padded);
    free(compressed);
}
