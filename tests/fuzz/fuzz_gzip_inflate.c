/* libFuzzer target for the gzip decoder of request bodies: the first two input bytes choose the
 * decoded-size limit, the rest is the body. What must always hold: no crash, out-of-bounds read
 * or leak; success stays within the limit and gives data that survives a round trip through
 * gzip_deflate; -EMSGSIZE only beyond the limit, with the output grown by at most one inflate
 * step more; every error has a message; what was in the output before is left alone. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/gzip_deflate.h"
#include "relay/gzip_inflate.h"

#define FUZZ_PREFIX "kept"
#define FUZZ_STEP (64u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_gzip_inflate: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* Up to 256 KiB in steps of 4 KiB: small enough to be reached, some above one step. */
    size_t limit = ((size_t)data[0] << 8 | data[1]) % 65u * 4096u;
    size_t length = size - 2;
    /* An exactly sized copy: reads past the end are caught by ASan. */
    char *body = malloc(length ? length : 1);
    fuzz_require(body != NULL, "memory");
    memcpy(body, data + 2, length);
    struct buffer out = BUFFER_INITIALIZER;
    fuzz_require(buffer_append(&out, FUZZ_PREFIX, strlen(FUZZ_PREFIX)) == 0, "memory");
    char error[256] = "";
    int result = gzip_inflate(body, length, limit, &out, error, sizeof error);
    fuzz_require(result == 0 || result == -EMSGSIZE || result == -EINVAL, "known result");
    fuzz_require(result == 0 || error[0] != '\0', "an error has a message");
    fuzz_require(out.length >= strlen(FUZZ_PREFIX) &&
                     memcmp(out.data, FUZZ_PREFIX, strlen(FUZZ_PREFIX)) == 0,
                 "what the output held stays");
    size_t decoded = out.length - strlen(FUZZ_PREFIX);
    if (result == 0) {
        fuzz_require(decoded <= limit, "success within the limit");
        struct buffer packed = BUFFER_INITIALIZER, again = BUFFER_INITIALIZER;
        fuzz_require(gzip_deflate(out.data + strlen(FUZZ_PREFIX), decoded, 1, &packed) == 0,
                     "memory");
        fuzz_require(gzip_inflate(packed.data, packed.length, limit, &again, error, sizeof error) ==
                         0,
                     "round trip decodes");
        fuzz_require(
            again.length == decoded &&
                (decoded == 0 || memcmp(again.data, out.data + strlen(FUZZ_PREFIX), decoded) == 0),
            "round trip gives the same bytes");
        buffer_release(&packed);
        buffer_release(&again);
    }
    if (result == -EMSGSIZE)
        fuzz_require(decoded > limit && decoded <= limit + FUZZ_STEP,
                     "too large means beyond the limit, by at most one step");
    buffer_release(&out);
    free(body);
    return 0;
}
