/* Dead letters (dead_letter.h): one file per rejected batch under <spool dir>/dlq/<upstream>/,
 * in the spool's record format: a segment header, the batch as a data record, the upstream's
 * answer as a JSON record. */
#include "relay/dead_letter.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/buffer.h"
#include "relay/crc32c.h"
#include "relay/dead_letter_internal.h"
#include "relay/spool_internal.h"

#define DEAD_LETTER_PATH_MAX 4096
/* A bigger file cannot be a header and two records of at most SPOOL_RECORD_MAX bytes. */
#define DEAD_LETTER_FILE_MAX (SPOOL_SEGMENT_HEADER_SIZE + 2 * (uint64_t)SPOOL_RECORD_MAX)
#define DEAD_LETTER_SEQUENCE_DIGITS 20

struct dead_letter_entry {
    struct dead_letter letter;
    uint64_t answer_bytes;
    char upstream[SPOOL_CONSUMER_NAME_MAX + 1];
    uint8_t *file; /* the file's bytes: routing and lines point into them */
    char *answer;  /* the kept answer bytes */
};

bool dead_letter_upstream_valid(const char *name, size_t length)
{
    if (length == 0 || length > SPOOL_CONSUMER_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '.' || c == '-';
        if (!allowed)
            return false;
    }
    return true;
}

/* snprintf into a path buffer (DEAD_LETTER_PATH_MAX bytes). Returns 0 or -ENAMETOOLONG. */
__attribute__((format(printf, 2, 3))) static int dead_letter_path_format(char *out,
                                                                         const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(out, DEAD_LETTER_PATH_MAX, format, arguments);
    va_end(arguments);
    return written < 0 || written >= DEAD_LETTER_PATH_MAX ? -ENAMETOOLONG : 0;
}

/* The file of id under spool_dir and its directory (both DEAD_LETTER_PATH_MAX bytes). */
static int dead_letter_paths_make(const char *spool_dir, const struct dead_letter_id *id,
                                  char *directory, char *path, char *error, size_t error_size)
{
    if (dead_letter_path_format(directory, "%s/dlq/%s", spool_dir, id->upstream) != 0 ||
        dead_letter_path_format(path, "%s/%0*" PRIu64 ".dlq", directory,
                                DEAD_LETTER_SEQUENCE_DIGITS, id->first_sequence) != 0) {
        error_message_set(error, error_size, "dead-letter path under %s is too long", spool_dir);
        return -ENAMETOOLONG;
    }
    return 0;
}

static int dead_letter_directory_sync(const char *path, char *error, size_t error_size)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int code = fd < 0 ? errno : 0;
    if (fd >= 0 && fsync(fd) != 0)
        code = errno;
    if (fd >= 0 && close(fd) != 0 && code == 0)
        code = errno;
    if (code != 0)
        error_message_set(error, error_size, "fsync of the directory %s failed: %s", path,
                          strerror(code));
    return -code;
}

/* Creates directory path when missing, then fsyncs parent so the new name is durable. */
static int dead_letter_directory_ensure(const char *path, const char *parent, char *error,
                                        size_t error_size)
{
    if (mkdir(path, 0750) == 0)
        return dead_letter_directory_sync(parent, error, error_size);
    if (errno == EEXIST)
        return 0;
    int code = errno;
    error_message_set(error, error_size, "cannot create the dead-letter directory %s: %s", path,
                      strerror(code));
    return -code;
}

/* The answer record's JSON for letter (borrowed), owned (free with cJSON_free), or NULL (no
 * memory). */
static char *dead_letter_answer_json_build(const struct dead_letter *letter)
{
    size_t kept = letter->answer_length < DEAD_LETTER_ANSWER_MAX ? letter->answer_length
                                                                 : DEAD_LETTER_ANSWER_MAX;
    size_t text = dead_letter_text_prefix(letter->answer, kept);
    /* A cut through a character would turn a text answer into hex. */
    if (kept < letter->answer_length && kept - text < 4)
        kept = text;
    char time_text[64];
    dead_letter_time_format(letter->time_ns, time_text, sizeof time_text);
    char *answer = text == kept ? malloc(kept + 1) : dead_letter_hex_encode(letter->answer, kept);
    cJSON *object = cJSON_CreateObject();
    char *json = NULL;
    if (!answer || !object)
        goto done;
    if (text == kept) {
        if (kept > 0)
            memcpy(answer, letter->answer, kept);
        answer[kept] = '\0';
    }
    if (cJSON_AddStringToObject(object, "upstream", letter->upstream) &&
        cJSON_AddNumberToObject(object, "status", letter->status) &&
        cJSON_AddNumberToObject(object, "first_sequence", (double)letter->first_sequence) &&
        cJSON_AddNumberToObject(object, "last_sequence", (double)letter->last_sequence) &&
        cJSON_AddNumberToObject(object, "line_count", (double)letter->line_count) &&
        cJSON_AddStringToObject(object, "time", time_text) &&
        cJSON_AddStringToObject(object, text == kept ? "answer" : "answer_hex", answer) &&
        cJSON_AddNumberToObject(object, "answer_bytes", (double)letter->answer_length))
        json = cJSON_PrintUnformatted(object);
done:
    cJSON_Delete(object);
    free(answer);
    return json;
}

/* Appends one record of type (meta and payload borrowed) with its padding to out. */
static int dead_letter_record_append(struct buffer *out, uint8_t type, uint64_t sequence,
                                     uint32_t salt, const void *meta, size_t meta_length,
                                     const void *payload, size_t payload_length)
{
    uint8_t header[SPOOL_RECORD_HEADER_SIZE];
    spool_record_header_build(header, sequence, salt, 0, meta, meta_length, payload,
                              payload_length);
    if (type != SPOOL_RECORD_TYPE_DATA) { /* the CRC covers the type byte */
        header[4] = type;
        spool_put_u32(header + 20, 0);
        uint32_t crc = crc32c_update(0, header, sizeof header);
        crc = crc32c_update(crc, meta, meta_length);
        spool_put_u32(header + 20, crc32c_update(crc, payload, payload_length));
    }
    static const uint8_t zeros[8];
    size_t length = sizeof header + meta_length + payload_length;
    if (buffer_append(out, header, sizeof header) != 0 ||
        buffer_append(out, meta, meta_length) != 0 ||
        buffer_append(out, payload, payload_length) != 0 ||
        buffer_append(out, zeros, (size_t)spool_record_padded(length) - length) != 0)
        return -ENOMEM;
    return 0;
}

/* Writes bytes (borrowed) to temp, fsyncs, renames it to path, fsyncs directory. */
static int dead_letter_file_store(const char *directory, const char *temp, const char *path,
                                  const struct buffer *bytes, char *error, size_t error_size)
{
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        int code = errno;
        error_message_set(error, error_size, "cannot create the dead letter %s: %s", temp,
                          strerror(code));
        return -code;
    }
    int code = 0;
    for (size_t done = 0; done < bytes->length && code == 0;) {
        ssize_t written = write(fd, bytes->data + done, bytes->length - done);
        if (written > 0)
            done += (size_t)written;
        else if (written == 0 || errno != EINTR)
            code = written == 0 ? EIO : errno;
    }
    if (code == 0 && fsync(fd) != 0)
        code = errno;
    if (close(fd) != 0 && code == 0)
        code = errno;
    if (code == 0 && rename(temp, path) != 0)
        code = errno;
    if (code != 0) {
        error_message_set(error, error_size, "cannot write the dead letter %s: %s", path,
                          strerror(code));
        /* Best effort: a leftover temp file is never listed and is reused by the next write. */
        (void)unlink(temp);
        return -code;
    }
    return dead_letter_directory_sync(directory, error, error_size);
}

int dead_letter_write(const char *spool_dir, const struct dead_letter *letter, char *error,
                      size_t error_size)
{
    struct dead_letter_id id = {.first_sequence = letter->first_sequence};
    size_t upstream_length = strlen(letter->upstream);
    if (!dead_letter_upstream_valid(letter->upstream, upstream_length)) {
        error_message_set(error, error_size,
                          "dead letter: upstream name \"%s\" is not a consumer name "
                          "([A-Za-z0-9_.-], not starting with '.', at most %d bytes)",
                          letter->upstream, SPOOL_CONSUMER_NAME_MAX);
        return -EINVAL;
    }
    memcpy(id.upstream, letter->upstream, upstream_length + 1);
    if (letter->first_sequence == 0 || letter->last_sequence < letter->first_sequence) {
        error_message_set(error, error_size,
                          "dead letter for %s: sequence range %" PRIu64 "..%" PRIu64 " is invalid",
                          letter->upstream, letter->first_sequence, letter->last_sequence);
        return -EINVAL;
    }
    char dlq_dir[DEAD_LETTER_PATH_MAX], directory[DEAD_LETTER_PATH_MAX];
    char path[DEAD_LETTER_PATH_MAX], temp[DEAD_LETTER_PATH_MAX];
    int result = dead_letter_paths_make(spool_dir, &id, directory, path, error, error_size);
    if (result != 0)
        return result;
    if (dead_letter_path_format(dlq_dir, "%s/dlq", spool_dir) != 0 ||
        dead_letter_path_format(temp, "%s/.%0*" PRIu64 ".tmp", directory,
                                DEAD_LETTER_SEQUENCE_DIGITS, id.first_sequence) != 0) {
        error_message_set(error, error_size, "dead-letter path under %s is too long", spool_dir);
        return -ENAMETOOLONG;
    }
    struct buffer meta = BUFFER_INITIALIZER, file = BUFFER_INITIALIZER;
    char *json = NULL;
    result = spool_meta_encode(&letter->routing, &meta);
    if (result == 0 &&
        SPOOL_RECORD_HEADER_SIZE + meta.length + letter->lines_length > (uint64_t)SPOOL_RECORD_MAX)
        result = -EMSGSIZE;
    if (result != 0) {
        error_message_set(error, error_size,
                          "dead letter %s: the batch does not fit a spool record: %s", path,
                          spool_error_reason(result));
        goto done;
    }
    uint32_t salt = 0;
    if (getrandom(&salt, sizeof salt, GRND_NONBLOCK) != (ssize_t)sizeof salt)
        salt = (uint32_t)letter->time_ns ^ (uint32_t)((uint64_t)letter->time_ns >> 32);
    struct spool_segment_header header = {
        .id = letter->first_sequence,
        .created_ns = letter->time_ns,
        .first_sequence = letter->first_sequence,
        .salt = salt,
    };
    json = dead_letter_answer_json_build(letter);
    result = json && buffer_reserve(&file, SPOOL_SEGMENT_HEADER_SIZE) == 0 ? 0 : -ENOMEM;
    if (result == 0) {
        spool_segment_header_encode(&header, (uint8_t *)file.data);
        file.length = SPOOL_SEGMENT_HEADER_SIZE;
        result =
            dead_letter_record_append(&file, SPOOL_RECORD_TYPE_DATA, letter->first_sequence, salt,
                                      meta.data, meta.length, letter->lines, letter->lines_length);
    }
    if (result == 0)
        result =
            dead_letter_record_append(&file, DEAD_LETTER_RECORD_TYPE_ANSWER, letter->last_sequence,
                                      salt, NULL, 0, json, strlen(json));
    if (result != 0) {
        error_message_set(error, error_size, "dead letter %s: out of memory", path);
        goto done;
    }
    result = dead_letter_directory_ensure(dlq_dir, spool_dir, error, error_size);
    if (result == 0)
        result = dead_letter_directory_ensure(directory, dlq_dir, error, error_size);
    if (result == 0)
        result = dead_letter_file_store(directory, temp, path, &file, error, error_size);
done:
    cJSON_free(json);
    buffer_release(&meta);
    buffer_release(&file);
    return result;
}

/* Parses length decimal digits (borrowed) into *sequence. Returns 0 or -EINVAL. */
static int dead_letter_sequence_parse(const char *digits, size_t length, uint64_t *sequence)
{
    if (length == 0 || length > DEAD_LETTER_SEQUENCE_DIGITS)
        return -EINVAL;
    uint64_t value = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned digit = (unsigned)(digits[i] - '0');
        if (digit > 9 || value > (UINT64_MAX - digit) / 10)
            return -EINVAL;
        value = value * 10 + digit;
    }
    *sequence = value;
    return 0;
}

int dead_letter_id_parse(const char *text, size_t length, struct dead_letter_id *id)
{
    const char *slash = memchr(text, '/', length);
    if (!slash)
        return -EINVAL;
    size_t upstream_length = (size_t)(slash - text);
    uint64_t sequence;
    if (!dead_letter_upstream_valid(text, upstream_length) ||
        dead_letter_sequence_parse(slash + 1, length - upstream_length - 1, &sequence) != 0)
        return -EINVAL;
    memcpy(id->upstream, text, upstream_length);
    id->upstream[upstream_length] = '\0';
    id->first_sequence = sequence;
    return 0;
}

void dead_letter_id_format(const struct dead_letter_id *id, char *out)
{
    snprintf(out, DEAD_LETTER_ID_TEXT_SIZE, "%s/%" PRIu64, id->upstream, id->first_sequence);
}

struct dead_letter_id_list {
    struct dead_letter_id *ids;
    size_t count, capacity;
};

/* Adds the entries of dlq_dir/upstream (borrowed; a valid name) to list; a missing directory
 * (or a file of that name) has none. */
static int dead_letter_upstream_scan(const char *dlq_dir, const char *upstream,
                                     struct dead_letter_id_list *list, char *error,
                                     size_t error_size)
{
    char directory[DEAD_LETTER_PATH_MAX];
    if (dead_letter_path_format(directory, "%s/%s", dlq_dir, upstream) != 0) {
        error_message_set(error, error_size, "dead-letter path under %s is too long", dlq_dir);
        return -ENAMETOOLONG;
    }
    DIR *stream = opendir(directory);
    int code = stream ? 0 : errno;
    while (stream) {
        errno = 0;
        struct dirent *entry = readdir(stream);
        if (!entry) {
            code = errno;
            break;
        }
        struct dead_letter_id id;
        size_t digits = strspn(entry->d_name, "0123456789");
        if (digits != DEAD_LETTER_SEQUENCE_DIGITS || strcmp(entry->d_name + digits, ".dlq") != 0 ||
            dead_letter_sequence_parse(entry->d_name, digits, &id.first_sequence) != 0)
            continue;
        snprintf(id.upstream, sizeof id.upstream, "%s", upstream);
        if (list->count == list->capacity) {
            size_t capacity = list->capacity ? 2 * list->capacity : 16;
            struct dead_letter_id *grown = realloc(list->ids, capacity * sizeof *grown);
            if (!grown) {
                code = ENOMEM;
                break;
            }
            list->ids = grown;
            list->capacity = capacity;
        }
        list->ids[list->count++] = id;
    }
    if (stream)
        closedir(stream);
    if (code == ENOENT || code == ENOTDIR)
        return 0;
    if (code != 0)
        error_message_set(error, error_size, "cannot list the dead letters in %s: %s", directory,
                          strerror(code));
    return -code;
}

static int dead_letter_id_compare(const void *a, const void *b)
{
    const struct dead_letter_id *left = a, *right = b;
    int order = strcmp(left->upstream, right->upstream);
    if (order != 0)
        return order;
    return (left->first_sequence > right->first_sequence) -
           (left->first_sequence < right->first_sequence);
}

int dead_letter_entries_list(const char *spool_dir, const char *upstream,
                             struct dead_letter_id **ids, size_t *count, char *error,
                             size_t error_size)
{
    *ids = NULL;
    *count = 0;
    char dlq_dir[DEAD_LETTER_PATH_MAX];
    if (dead_letter_path_format(dlq_dir, "%s/dlq", spool_dir) != 0) {
        error_message_set(error, error_size, "dead-letter path under %s is too long", spool_dir);
        return -ENAMETOOLONG;
    }
    struct dead_letter_id_list list = {0};
    int result = 0;
    if (upstream) {
        if (!dead_letter_upstream_valid(upstream, strlen(upstream))) {
            error_message_set(error, error_size, "\"%s\" is not an upstream name", upstream);
            return -EINVAL;
        }
        result = dead_letter_upstream_scan(dlq_dir, upstream, &list, error, error_size);
    } else {
        DIR *stream = opendir(dlq_dir);
        if (!stream && errno == ENOENT)
            return 0;
        if (!stream) {
            int code = errno;
            error_message_set(error, error_size, "cannot list the dead letters in %s: %s", dlq_dir,
                              strerror(code));
            return -code;
        }
        while (result == 0) {
            errno = 0;
            struct dirent *entry = readdir(stream);
            if (!entry) {
                if (errno != 0) {
                    result = -errno;
                    error_message_set(error, error_size, "cannot list the dead letters in %s: %s",
                                      dlq_dir, strerror(-result));
                }
                break;
            }
            if (dead_letter_upstream_valid(entry->d_name, strlen(entry->d_name)))
                result =
                    dead_letter_upstream_scan(dlq_dir, entry->d_name, &list, error, error_size);
        }
        closedir(stream);
    }
    if (result != 0) {
        free(list.ids);
        return result;
    }
    if (list.count > 1)
        qsort(list.ids, list.count, sizeof *list.ids, dead_letter_id_compare);
    *ids = list.ids;
    *count = list.count;
    return 0;
}

/* Describes the damage of the file at path in error; returns -EBADMSG. */
__attribute__((format(printf, 4, 5))) static int
dead_letter_damaged(char *error, size_t error_size, const char *path, const char *format, ...)
{
    char reason[256];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(reason, sizeof reason, format, arguments);
    va_end(arguments);
    error_message_set(error, error_size, "dead letter %s is damaged: %s", path, reason);
    return -EBADMSG;
}

/* Checks the answer record at bytes (available bytes, borrowed): bounds, type, salt, CRC. Returns
 * its padded size with its JSON (borrowed from bytes) and sequence, or -1. */
static int64_t dead_letter_answer_record_decode(const uint8_t *bytes, size_t available,
                                                uint32_t salt, const char **json,
                                                size_t *json_length, uint64_t *sequence)
{
    if (available < SPOOL_RECORD_HEADER_SIZE)
        return -1;
    uint32_t length = spool_get_u32(bytes);
    if (length < SPOOL_RECORD_HEADER_SIZE || spool_record_padded(length) > available ||
        bytes[4] != DEAD_LETTER_RECORD_TYPE_ANSWER || bytes[5] != 0 ||
        spool_get_u16(bytes + 6) != 0 || spool_get_u32(bytes + 16) != salt)
        return -1;
    uint8_t header[SPOOL_RECORD_HEADER_SIZE];
    memcpy(header, bytes, sizeof header);
    spool_put_u32(header + 20, 0);
    uint32_t crc = crc32c_update(0, header, sizeof header);
    crc = crc32c_update(crc, bytes + sizeof header, length - sizeof header);
    if (crc != spool_get_u32(bytes + 20))
        return -1;
    *json = (const char *)bytes + sizeof header;
    *json_length = length - sizeof header;
    *sequence = spool_get_u64(bytes + 8);
    return (int64_t)spool_record_padded(length);
}

/* The whole number at name in object (borrowed) into *value. Returns 0 or -1 (missing, not a
 * whole number, negative or above 2^64). */
static int dead_letter_json_count_get(const cJSON *object, const char *name, uint64_t *value)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0 && item->valuedouble < 0x1p64))
        return -1;
    *value = (uint64_t)item->valuedouble;
    return (double)*value == item->valuedouble ? 0 : -1;
}

/* Fills entry's status, line count and answer from the answer JSON (borrowed, length bytes) and
 * checks it agrees with the name and headers. Returns 0, -EBADMSG (message in error), -ENOMEM. */
static int dead_letter_answer_json_read(struct dead_letter_entry *entry, const char *json,
                                        size_t length, const char *path, char *error,
                                        size_t error_size)
{
    struct dead_letter *letter = &entry->letter;
    cJSON *object = cJSON_ParseWithLength(json, length);
    if (!object)
        return dead_letter_damaged(error, error_size, path, "the answer record is not JSON");
    const char *upstream =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, "upstream"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, "answer"));
    const char *hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, "answer_hex"));
    uint64_t status = 0, first = 0, last = 0, line_count = 0, answer_bytes = 0;
    int result = 0;
    if (!upstream || strcmp(upstream, entry->upstream) != 0)
        result = dead_letter_damaged(error, error_size, path,
                                     "the answer names upstream \"%s\", the file is under \"%s\"",
                                     upstream ? upstream : "", entry->upstream);
    else if (dead_letter_json_count_get(object, "status", &status) != 0 || status > 999 ||
             dead_letter_json_count_get(object, "first_sequence", &first) != 0 ||
             dead_letter_json_count_get(object, "last_sequence", &last) != 0 ||
             dead_letter_json_count_get(object, "line_count", &line_count) != 0 ||
             line_count > SIZE_MAX ||
             dead_letter_json_count_get(object, "answer_bytes", &answer_bytes) != 0 ||
             !cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, "time")) ||
             (text == NULL) == (hex == NULL))
        result = dead_letter_damaged(error, error_size, path,
                                     "the answer JSON lacks a field or has a wrong type");
    else if ((double)first != (double)letter->first_sequence ||
             (double)last != (double)letter->last_sequence)
        result = dead_letter_damaged(error, error_size, path,
                                     "the answer JSON's sequences differ from the records'");
    if (result == 0 && text) {
        letter->answer_length = strlen(text);
        entry->answer = strdup(text);
        result = entry->answer ? 0 : -ENOMEM;
    } else if (result == 0) {
        result = dead_letter_hex_decode(hex, &entry->answer, &letter->answer_length);
        if (result == -1)
            result = dead_letter_damaged(error, error_size, path, "answer_hex is not hex digits");
    }
    if (result == 0 && answer_bytes < letter->answer_length)
        result = dead_letter_damaged(error, error_size, path,
                                     "answer_bytes is less than the answer kept");
    if (result == -ENOMEM)
        error_message_set(error, error_size, "out of memory reading %s", path);
    if (result == 0) {
        letter->status = (int)status;
        letter->line_count = (size_t)line_count;
        letter->answer = entry->answer;
        entry->answer_bytes = answer_bytes;
    }
    cJSON_Delete(object);
    return result;
}

/* Decodes entry->file (size bytes) of the entry id. Returns 0, -EBADMSG, -ENOMEM. */
static int dead_letter_file_decode(struct dead_letter_entry *entry, const struct dead_letter_id *id,
                                   size_t size, const char *path, char *error, size_t error_size)
{
    struct spool_segment_header header;
    uint32_t newer_version =
        size < SPOOL_SEGMENT_HEADER_SIZE ? 0 : spool_segment_header_newer_version(entry->file);
    if (newer_version != 0) {
        /* Not damage: a rolled-back relay cannot read it, and leaves it as it is. */
        error_message_set(error, error_size,
                          "dead letter %s was written by a newer meter-relay (spool format "
                          "version %" PRIu32 "; this one reads %d); left as it is",
                          path, newer_version, SPOOL_FORMAT_VERSION);
        return -EBADMSG;
    }
    if (size < SPOOL_SEGMENT_HEADER_SIZE || spool_segment_header_decode(entry->file, &header) != 0)
        return dead_letter_damaged(error, error_size, path, "no valid segment header");
    if (header.id != id->first_sequence || header.first_sequence != id->first_sequence)
        return dead_letter_damaged(error, error_size, path,
                                   "its header is of sequence %" PRIu64 ", not %" PRIu64,
                                   header.first_sequence, id->first_sequence);
    size_t at = SPOOL_SEGMENT_HEADER_SIZE, needed = 0;
    struct spool_record_view view;
    int64_t padded = spool_record_decode(entry->file + at, size - at, header.salt, &view, &needed);
    if (padded <= 0 || view.sequence != id->first_sequence)
        return dead_letter_damaged(error, error_size, path,
                                   "the data record at offset %zu is torn or corrupt", at);
    at += (size_t)padded;
    const char *json = NULL;
    size_t json_length = 0;
    uint64_t last_sequence = 0;
    padded = dead_letter_answer_record_decode(entry->file + at, size - at, header.salt, &json,
                                              &json_length, &last_sequence);
    if (padded < 0 || last_sequence < id->first_sequence)
        return dead_letter_damaged(error, error_size, path,
                                   "the answer record at offset %zu is torn or corrupt", at);
    at += (size_t)padded;
    if (at != size)
        return dead_letter_damaged(error, error_size, path, "%zu bytes follow the last record",
                                   size - at);
    entry->letter = (struct dead_letter){
        .upstream = entry->upstream,
        .routing = view.routing,
        .first_sequence = id->first_sequence,
        .last_sequence = last_sequence,
        .lines = view.payload,
        .lines_length = view.payload_length,
        .time_ns = header.created_ns,
    };
    return dead_letter_answer_json_read(entry, json, json_length, path, error, error_size);
}

/* Reads the whole file at path into entry->file. Returns its size, or a negative errno. */
static int64_t dead_letter_file_load(struct dead_letter_entry *entry,
                                     const struct dead_letter_id *id, const char *path, char *error,
                                     size_t error_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int code = errno;
        char text[DEAD_LETTER_ID_TEXT_SIZE];
        dead_letter_id_format(id, text);
        if (code == ENOENT)
            error_message_set(error, error_size, "no dead letter %s (%s)", text, path);
        else
            error_message_set(error, error_size, "cannot open the dead letter %s: %s", path,
                              strerror(code));
        return -code;
    }
    struct stat status;
    int64_t result = fstat(fd, &status) != 0 ? -errno : 0;
    if (result == 0 && (uint64_t)status.st_size > DEAD_LETTER_FILE_MAX)
        result = dead_letter_damaged(error, error_size, path,
                                     "%" PRIu64 " bytes, more than a dead letter can hold",
                                     (uint64_t)status.st_size);
    size_t size = result == 0 ? (size_t)status.st_size : 0;
    if (result == 0 && !(entry->file = malloc(size + 1)))
        result = -ENOMEM;
    for (size_t done = 0; result == 0 && done < size;) {
        ssize_t got = pread(fd, entry->file + done, size - done, (off_t)done);
        if (got > 0)
            done += (size_t)got;
        else if (got == 0)
            size = done; /* shrank meanwhile: the checks below report what is left */
        else if (errno != EINTR)
            result = -errno;
    }
    if (close(fd) != 0 && result == 0)
        result = -errno;
    if (result < 0 && result != -EBADMSG)
        error_message_set(error, error_size, "cannot read the dead letter %s: %s", path,
                          strerror((int)-result));
    return result < 0 ? result : (int64_t)size;
}

int dead_letter_entry_read(const char *spool_dir, const struct dead_letter_id *id,
                           struct dead_letter_entry **out, char *error, size_t error_size)
{
    *out = NULL;
    char directory[DEAD_LETTER_PATH_MAX], path[DEAD_LETTER_PATH_MAX];
    int result = dead_letter_paths_make(spool_dir, id, directory, path, error, error_size);
    if (result != 0)
        return result;
    struct dead_letter_entry *entry = calloc(1, sizeof *entry);
    if (!entry) {
        error_message_set(error, error_size, "out of memory reading %s", path);
        return -ENOMEM;
    }
    snprintf(entry->upstream, sizeof entry->upstream, "%s", id->upstream);
    int64_t size = dead_letter_file_load(entry, id, path, error, error_size);
    result = size < 0 ? (int)size
                      : dead_letter_file_decode(entry, id, (size_t)size, path, error, error_size);
    if (result != 0) {
        dead_letter_entry_free(entry);
        return result;
    }
    *out = entry;
    return 0;
}

const struct dead_letter *dead_letter_entry_letter(const struct dead_letter_entry *entry)
{
    return &entry->letter;
}

uint64_t dead_letter_entry_answer_bytes(const struct dead_letter_entry *entry)
{
    return entry->answer_bytes;
}

void dead_letter_entry_free(struct dead_letter_entry *entry)
{
    if (!entry)
        return;
    free(entry->file);
    free(entry->answer);
    free(entry);
}

int dead_letter_entry_remove(const char *spool_dir, const struct dead_letter_id *id, char *error,
                             size_t error_size)
{
    char directory[DEAD_LETTER_PATH_MAX], path[DEAD_LETTER_PATH_MAX];
    int result = dead_letter_paths_make(spool_dir, id, directory, path, error, error_size);
    if (result != 0)
        return result;
    if (unlink(path) != 0) {
        int code = errno;
        char text[DEAD_LETTER_ID_TEXT_SIZE];
        dead_letter_id_format(id, text);
        if (code == ENOENT)
            error_message_set(error, error_size, "no dead letter %s (%s)", text, path);
        else
            error_message_set(error, error_size, "cannot delete the dead letter %s: %s", path,
                              strerror(code));
        return -code;
    }
    return dead_letter_directory_sync(directory, error, error_size);
}
