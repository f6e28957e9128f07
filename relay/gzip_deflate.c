/* One-shot gzip with zlib: deflateBound sizes the output, so a single deflate call finishes. */
#include "relay/gzip_deflate.h"

#include <errno.h>
#include <zlib.h>

int gzip_deflate(const char *input, size_t length, int level, struct buffer *out)
{
    z_stream stream = {0};
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    buffer_clear(out);
    int result = 0;
    size_t bound = deflateBound(&stream, (uLong)length);
    if (buffer_reserve(out, bound) != 0) {
        result = -ENOMEM;
        goto cleanup;
    }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)length;
    stream.next_out = (Bytef *)out->data;
    stream.avail_out = (uInt)bound;
    if (deflate(&stream, Z_FINISH) != Z_STREAM_END)
        result = -ENOMEM; /* cannot happen with deflateBound's room */
    else
        out->length = stream.total_out;
cleanup:
    deflateEnd(&stream);
    return result;
}
