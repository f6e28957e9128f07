/* On-disk codecs of the spool: segment header, record header, routing meta, and the buffered
 * reader that walks the records of one segment. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "config/error.h"
#include "relay/crc32c.h"
#include "relay/spool_internal.h"

static const uint8_t segment_magic[8] = {'N', 'K', 'S', 'P', 'O', 'O', 'L', 0};

/* A read window: large enough that scanning a 64 MiB segment takes few preads. */
#define SPOOL_READER_WINDOW (1u << 20)

void spool_segment_header_encode(const struct spool_segment_header *header, uint8_t *out)
{
    memset(out, 0, SPOOL_SEGMENT_HEADER_SIZE);
    memcpy(out, segment_magic, sizeof segment_magic);
    spool_put_u32(out + 8, SPOOL_FORMAT_VERSION);
    spool_put_u32(out + 12, SPOOL_SEGMENT_HEADER_SIZE);
    spool_put_u64(out + 16, header->id);
    spool_put_u64(out + 24, (uint64_t)header->created_ns);
    spool_put_u64(out + 32, header->first_sequence);
    spool_put_u32(out + 40, header->salt);
    spool_put_u32(out + 60, crc32c_update(0, out, 60));
}

int spool_segment_header_decode(const uint8_t *in, struct spool_segment_header *header)
{
    if (memcmp(in, segment_magic, sizeof segment_magic) != 0)
        return -1;
    if (spool_get_u32(in + 8) != SPOOL_FORMAT_VERSION ||
        spool_get_u32(in + 12) != SPOOL_SEGMENT_HEADER_SIZE)
        return -1;
    if (spool_get_u32(in + 60) != crc32c_update(0, in, 60))
        return -1;
    header->id = spool_get_u64(in + 16);
    header->created_ns = (int64_t)spool_get_u64(in + 24);
    header->first_sequence = spool_get_u64(in + 32);
    header->salt = spool_get_u32(in + 40);
    return 0;
}

uint32_t spool_segment_header_newer_version(const uint8_t *in)
{
    if (memcmp(in, segment_magic, sizeof segment_magic) != 0)
        return 0;
    uint32_t version = spool_get_u32(in + 8);
    if (version <= SPOOL_FORMAT_VERSION)
        return 0;
    /* The CRC must hold, or a flipped bit (or garbage after the magic) would stop the relay where
     * the segment is only corrupt: a newer format keeps these first 64 bytes' magic, version and
     * CRC where they are, whatever it adds after them. */
    if (spool_get_u32(in + 60) != crc32c_update(0, in, 60))
        return 0;
    return version;
}

void spool_newer_version_refusal_set(const struct spool *spool, const char *directory,
                                     const char *file_name, uint32_t version, char *error,
                                     size_t error_size)
{
    error_message_set(error, error_size,
                      "%s/%s: written by a newer meter-relay (spool format version %" PRIu32
                      "); this one reads spool format version %d: run the newer meter-relay until "
                      "its spool is delivered and empty, or move %s aside",
                      directory, file_name, version, SPOOL_FORMAT_VERSION, spool->dir);
}

static int meta_append_field(struct buffer *out, struct spool_slice field)
{
    if (field.length > UINT16_MAX)
        return -EMSGSIZE;
    uint8_t length[2];
    spool_put_u16(length, (uint16_t)field.length);
    if (buffer_append(out, length, 2) != 0 || buffer_append(out, field.data, field.length) != 0)
        return -ENOMEM;
    return 0;
}

/* The encoding alone, after whatever out already holds. */
static int meta_encode_fields(const struct spool_routing *routing, struct buffer *out)
{
    if (routing->consumer_count > SPOOL_CONSUMERS_MAX)
        return -EINVAL;
    uint8_t version = SPOOL_META_VERSION;
    if (buffer_append(out, &version, 1) != 0)
        return -ENOMEM;
    const struct spool_slice fields[] = {routing->db, routing->rp, routing->bucket, routing->org};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int result = meta_append_field(out, fields[i]);
        if (result != 0)
            return result;
    }
    uint8_t count = (uint8_t)routing->consumer_count;
    if (buffer_append(out, &count, 1) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < routing->consumer_count; i++) {
        const struct spool_slice *name = &routing->consumers[i];
        if (name->length > UINT8_MAX)
            return -EINVAL;
        uint8_t length = (uint8_t)name->length;
        if (buffer_append(out, &length, 1) != 0 ||
            buffer_append(out, name->data, name->length) != 0)
            return -ENOMEM;
    }
    return 0;
}

int spool_meta_encode(const struct spool_routing *routing, struct buffer *out)
{
    size_t start = out->length;
    int result = meta_encode_fields(routing, out);
    /* The limit is the record header's 16-bit meta length, so it applies to this encoding, not
     * to out: the forwarder appends the metas of thousands of records to one buffer. */
    if (result == 0 && out->length - start > UINT16_MAX)
        result = -EMSGSIZE;
    if (result != 0)
        out->length = start;
    return result;
}

int spool_meta_decode(const uint8_t *meta, size_t length, struct spool_routing *routing)
{
    memset(routing, 0, sizeof *routing);
    if (length < 1 || meta[0] != SPOOL_META_VERSION)
        return -1;
    size_t at = 1;
    struct spool_slice *fields[] = {&routing->db, &routing->rp, &routing->bucket, &routing->org};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (length - at < 2)
            return -1;
        size_t field_length = spool_get_u16(meta + at);
        at += 2;
        if (length - at < field_length)
            return -1;
        fields[i]->data = (const char *)meta + at;
        fields[i]->length = field_length;
        at += field_length;
    }
    if (length - at < 1)
        return -1;
    size_t count = meta[at++];
    if (count > SPOOL_CONSUMERS_MAX)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (length - at < 1)
            return -1;
        size_t name_length = meta[at++];
        if (length - at < name_length)
            return -1;
        routing->consumers[i].data = (const char *)meta + at;
        routing->consumers[i].length = name_length;
        at += name_length;
    }
    routing->consumer_count = count;
    return at == length ? 0 : -1;
}

void spool_record_header_build(uint8_t *header, uint64_t sequence, uint32_t salt, uint8_t flags,
                               const void *meta, size_t meta_length, const void *payload,
                               size_t payload_length)
{
    spool_put_u32(header, (uint32_t)(SPOOL_RECORD_HEADER_SIZE + meta_length + payload_length));
    header[4] = SPOOL_RECORD_TYPE_DATA;
    header[5] = flags;
    spool_put_u16(header + 6, (uint16_t)meta_length);
    spool_put_u64(header + 8, sequence);
    spool_put_u32(header + 16, salt);
    spool_put_u32(header + 20, 0);
    uint32_t crc = crc32c_update(0, header, SPOOL_RECORD_HEADER_SIZE);
    crc = crc32c_update(crc, meta, meta_length);
    crc = crc32c_update(crc, payload, payload_length);
    spool_put_u32(header + 20, crc);
}

int64_t spool_record_decode(const uint8_t *bytes, size_t available, uint32_t salt,
                            struct spool_record_view *view, size_t *needed)
{
    if (available < SPOOL_RECORD_HEADER_SIZE) {
        *needed = SPOOL_RECORD_HEADER_SIZE;
        return 0;
    }
    uint32_t length = spool_get_u32(bytes);
    size_t meta_length = spool_get_u16(bytes + 6);
    if (length < SPOOL_RECORD_HEADER_SIZE || length > SPOOL_RECORD_MAX ||
        bytes[4] != SPOOL_RECORD_TYPE_DATA || (bytes[5] & ~SPOOL_RECORD_FLAGS_KNOWN) != 0 ||
        meta_length > length - SPOOL_RECORD_HEADER_SIZE || spool_get_u32(bytes + 16) != salt)
        return -1;
    uint64_t padded = spool_record_padded(length);
    if (available < padded) {
        *needed = (size_t)padded;
        return 0;
    }
    uint8_t header[SPOOL_RECORD_HEADER_SIZE];
    memcpy(header, bytes, sizeof header);
    spool_put_u32(header + 20, 0);
    uint32_t crc = crc32c_update(0, header, sizeof header);
    crc = crc32c_update(crc, bytes + SPOOL_RECORD_HEADER_SIZE, length - SPOOL_RECORD_HEADER_SIZE);
    if (crc != spool_get_u32(bytes + 20))
        return -1;
    const uint8_t *meta = bytes + SPOOL_RECORD_HEADER_SIZE;
    if (spool_meta_decode(meta, meta_length, &view->routing) != 0)
        return -1;
    view->sequence = spool_get_u64(bytes + 8);
    view->flags = bytes[5];
    view->length = length;
    view->payload = (const char *)meta + meta_length;
    view->payload_length = length - SPOOL_RECORD_HEADER_SIZE - meta_length;
    return (int64_t)padded;
}

void spool_reader_init(struct spool_reader *reader, const struct spool_io *io, int fd,
                       uint32_t salt, uint64_t offset, uint64_t end)
{
    reader->io = io;
    reader->fd = fd;
    reader->salt = salt;
    reader->offset = offset;
    reader->end = end;
    reader->window = (struct buffer)BUFFER_INITIALIZER;
    reader->window_offset = 0;
}

void spool_reader_release(struct spool_reader *reader)
{
    buffer_release(&reader->window);
}

/* Makes bytes [offset, offset + wanted) available in the window, reading at least a window's
 * worth (capped at end). Returns 0, -EIO, -ENOMEM. */
static int reader_fill(struct spool_reader *reader, size_t wanted)
{
    size_t length = wanted > SPOOL_READER_WINDOW ? wanted : SPOOL_READER_WINDOW;
    if (length > reader->end - reader->offset)
        length = (size_t)(reader->end - reader->offset);
    buffer_clear(&reader->window);
    if (buffer_reserve(&reader->window, length) != 0)
        return -ENOMEM;
    size_t done = 0;
    while (done < length) {
        ssize_t got = reader->io->pread(reader->io->context, reader->fd, reader->window.data + done,
                                        length - done, (off_t)(reader->offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -EIO;
        done += (size_t)got;
    }
    reader->window.length = length;
    reader->window_offset = reader->offset;
    return 0;
}

int64_t spool_reader_peek(struct spool_reader *reader, struct spool_record_view *view)
{
    if (reader->offset >= reader->end)
        return 0;
    uint64_t left = reader->end - reader->offset;
    for (int attempt = 0; attempt < 3; attempt++) {
        const uint8_t *bytes = NULL;
        size_t available = 0;
        if (reader->offset >= reader->window_offset &&
            reader->offset < reader->window_offset + reader->window.length) {
            size_t skip = (size_t)(reader->offset - reader->window_offset);
            bytes = (const uint8_t *)reader->window.data + skip;
            available = reader->window.length - skip;
        }
        /* A segment rolls over when the next record does not fit, so its preallocated zero tail
         * can be shorter than a record header (8 or 16 bytes): that is its end, not a torn
         * record, or a full segment would be quarantined at the next start. */
        if (bytes && left < SPOOL_RECORD_HEADER_SIZE && available >= left)
            return spool_bytes_are_zero(bytes, (size_t)left) ? 0 : -EBADMSG;
        size_t needed = SPOOL_RECORD_HEADER_SIZE;
        if (bytes && available >= SPOOL_RECORD_HEADER_SIZE && spool_record_is_end(bytes))
            return 0;
        if (bytes) {
            int64_t padded = spool_record_decode(bytes, available, reader->salt, view, &needed);
            if (padded != 0)
                return padded < 0 ? -EBADMSG : padded;
        }
        if (needed > left && left >= SPOOL_RECORD_HEADER_SIZE)
            return -EBADMSG; /* the record would run past the end: torn */
        int result = reader_fill(reader, needed);
        if (result != 0)
            return result;
    }
    return -EBADMSG;
}
