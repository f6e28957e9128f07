/* gzip request bodies: zlib streaming inflate into a buffer that never grows past the limit. */
#include "relay/gzip_inflate.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>

#include "config/error.h"

/* Output is produced in steps of this size, so the limit is overshot by at most one step. */
#define GZIP_INFLATE_CHUNK (64u * 1024u)
/* zlib: 15-bit window, +16 = gzip wrapper only. */
#define GZIP_WINDOW_BITS (15 + 16)

int gzip_inflate(const char *input, size_t length, size_t limit, struct buffer *out, char *error,
                 size_t error_size)
{
    z_stream stream = {0};
    if (inflateInit2(&stream, GZIP_WINDOW_BITS) != Z_OK) {
        error_message_set(error, error_size, "cannot start the gzip decoder: out of memory");
        return -ENOMEM;
    }
    size_t start = out->length;
    size_t remaining = length;
    const unsigned char *next = (const unsigned char *)input;
    int status = 0;
    bool member_done = false;
    for (;;) {
        if (stream.avail_in == 0 && remaining > 0) {
            /* avail_in is 32-bit: feed huge inputs in pieces. */
            unsigned int piece = remaining > UINT_MAX ? UINT_MAX : (unsigned int)remaining;
            stream.next_in = (unsigned char *)(uintptr_t)next;
            stream.avail_in = piece;
            next += piece;
            remaining -= piece;
        }
        if (member_done) {
            if (stream.avail_in == 0)
                break;
            /* Another gzip member follows (as `cat a.gz b.gz` makes). */
            if (inflateReset(&stream) != Z_OK) {
                status = -EINVAL;
                error_message_set(error, error_size, "gzip body: cannot restart the decoder");
                break;
            }
            member_done = false;
        }
        if (out->length - start > limit) {
            status = -EMSGSIZE;
            error_message_set(error, error_size, "gzip body decodes to more than %zu bytes", limit);
            break;
        }
        if (buffer_reserve(out, GZIP_INFLATE_CHUNK) != 0) {
            status = -ENOMEM;
            error_message_set(error, error_size, "out of memory decoding the gzip body");
            break;
        }
        stream.next_out = (unsigned char *)out->data + out->length;
        stream.avail_out = GZIP_INFLATE_CHUNK;
        int result = inflate(&stream, Z_NO_FLUSH);
        out->length += GZIP_INFLATE_CHUNK - stream.avail_out;
        if (result == Z_STREAM_END) {
            member_done = true;
            continue;
        }
        if (result == Z_OK)
            continue;
        if (result == Z_BUF_ERROR && stream.avail_in == 0 && remaining == 0) {
            status = -EINVAL;
            error_message_set(error, error_size,
                              "gzip body is truncated: the stream ends after %zu bytes", length);
            break;
        }
        if (result == Z_MEM_ERROR) {
            status = -ENOMEM;
            error_message_set(error, error_size, "out of memory decoding the gzip body");
            break;
        }
        status = -EINVAL;
        error_message_set(error, error_size, "gzip body is corrupt at byte %zu: %s",
                          length - remaining - stream.avail_in,
                          stream.msg ? stream.msg : "invalid data");
        break;
    }
    if (status == 0 && out->length - start > limit) {
        status = -EMSGSIZE;
        error_message_set(error, error_size, "gzip body decodes to more than %zu bytes", limit);
    }
    inflateEnd(&stream);
    return status;
}
