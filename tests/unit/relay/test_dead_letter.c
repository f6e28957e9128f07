/* Dead letters: write, list, read back byte for byte, answer cut at 64 KiB, binary answers,
 * damaged files, two upstreams with the same batch, remove; ids, time and answer previews. */
#include "relay/crc32c.h"
#include "relay/dead_letter.h"
#include "test_spool_support.h"

static char *directory;

static void dead_letter_setup(void)
{
    directory = temp_dir_make();
}

static void dead_letter_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(dead_letter_file, .init = dead_letter_setup, .fini = dead_letter_teardown);
TestSuite(dead_letter_text);

static const char test_lines[] = "power,meter=main value=1.5 1700000000000000000\n"
                                 "power,meter=main value=2.5 1700000001000000000\n"
                                 "gas,meter=\"x\" value=1i 1700000002000000000\n";

/* A letter of upstream (borrowed) covering 42..44 with test_lines and answer (borrowed). */
static struct dead_letter test_letter(const char *upstream, const char *answer, size_t length)
{
    struct dead_letter letter = {
        .upstream = upstream,
        .first_sequence = 42,
        .last_sequence = 44,
        .lines = test_lines,
        .lines_length = sizeof test_lines - 1,
        .line_count = 3,
        .status = 400,
        .answer = answer,
        .answer_length = length,
        .time_ns = 1714564800123456789LL,
    };
    letter.routing.db = (struct spool_slice){"home", 4};
    letter.routing.rp = (struct spool_slice){"autogen", 7};
    letter.routing.bucket = (struct spool_slice){"raw", 3};
    letter.routing.org = (struct spool_slice){"family", 6};
    letter.routing.consumers[0] = (struct spool_slice){"influx-a", 8};
    letter.routing.consumers[1] = (struct spool_slice){"stream", 6};
    letter.routing.consumer_count = 2;
    return letter;
}

static void test_write(const struct dead_letter *letter)
{
    char error[1024] = "";
    int result = dead_letter_write(directory, letter, error, sizeof error);
    cr_assert_eq(result, 0, "dead_letter_write: %d %s", result, error);
}

/* Reads the entry upstream/sequence, asserting success. Owned by the caller. */
static struct dead_letter_entry *test_read(const char *upstream, uint64_t sequence)
{
    struct dead_letter_id id = {.first_sequence = sequence};
    snprintf(id.upstream, sizeof id.upstream, "%s", upstream);
    struct dead_letter_entry *entry = NULL;
    char error[1024] = "";
    int result = dead_letter_entry_read(directory, &id, &entry, error, sizeof error);
    cr_assert_eq(result, 0, "dead_letter_entry_read: %d %s", result, error);
    return entry;
}

static void slice_assert(struct spool_slice slice, const char *expected)
{
    cr_assert_eq(slice.length, strlen(expected));
    cr_assert_eq(memcmp(slice.data, expected, slice.length), 0, "%.*s != %s", (int)slice.length,
                 slice.data, expected);
}

/* The path of upstream/sequence's file into out (4096 bytes). */
static void entry_path(char *out, const char *upstream, uint64_t sequence)
{
    snprintf(out, 4096, "%s/dlq/%s/%020" PRIu64 ".dlq", directory, upstream, sequence);
}

Test(dead_letter_file, write_list_read_back_exactly)
{
    const char answer[] =
        "{\"error\":\"partial write: field type conflict: input field \\\"value\\\" "
        "on measurement \\\"gas\\\" is type integer, already exists as type "
        "float dropped=1\"}\n";
    struct dead_letter letter = test_letter("influx-a", answer, sizeof answer - 1);
    test_write(&letter);

    char path[4096];
    entry_path(path, "influx-a", 42);
    cr_assert(path_exists(path), "no %s", path);
    char temp[4096];
    snprintf(temp, sizeof temp, "%s/dlq/influx-a/.%020d.tmp", directory, 42);
    cr_assert_not(path_exists(temp), "temp file left behind");

    struct dead_letter_id *ids = NULL;
    size_t count = 0;
    char error[1024] = "";
    cr_assert_eq(dead_letter_entries_list(directory, NULL, &ids, &count, error, sizeof error), 0,
                 "%s", error);
    cr_assert_eq(count, 1);
    cr_assert_str_eq(ids[0].upstream, "influx-a");
    cr_assert_eq(ids[0].first_sequence, 42);
    free(ids);

    struct dead_letter_entry *entry = test_read("influx-a", 42);
    const struct dead_letter *read = dead_letter_entry_letter(entry);
    cr_assert_str_eq(read->upstream, "influx-a");
    slice_assert(read->routing.db, "home");
    slice_assert(read->routing.rp, "autogen");
    slice_assert(read->routing.bucket, "raw");
    slice_assert(read->routing.org, "family");
    cr_assert_eq(read->routing.consumer_count, 2);
    slice_assert(read->routing.consumers[0], "influx-a");
    slice_assert(read->routing.consumers[1], "stream");
    cr_assert_eq(read->first_sequence, 42);
    cr_assert_eq(read->last_sequence, 44);
    cr_assert_eq(read->lines_length, sizeof test_lines - 1);
    cr_assert_eq(memcmp(read->lines, test_lines, sizeof test_lines - 1), 0);
    cr_assert_eq(read->line_count, 3);
    cr_assert_eq(read->status, 400);
    cr_assert_eq(read->answer_length, sizeof answer - 1);
    cr_assert_eq(memcmp(read->answer, answer, sizeof answer - 1), 0);
    cr_assert_eq(read->time_ns, 1714564800123456789LL);
    cr_assert_eq(dead_letter_entry_answer_bytes(entry), sizeof answer - 1);
    dead_letter_entry_free(entry);
}

Test(dead_letter_file, file_is_in_the_spool_record_format)
{
    struct dead_letter letter = test_letter("influx-a", "bad", 3);
    test_write(&letter);
    char path[4096];
    entry_path(path, "influx-a", 42);
    FILE *file = fopen(path, "rb");
    cr_assert_not_null(file);
    uint8_t bytes[4096];
    size_t size = fread(bytes, 1, sizeof bytes, file);
    cr_assert_eq(fclose(file), 0);

    struct spool_segment_header header;
    cr_assert_eq(spool_segment_header_decode(bytes, &header), 0);
    cr_assert_eq(header.id, 42);
    cr_assert_eq(header.first_sequence, 42);
    cr_assert_eq(header.created_ns, 1714564800123456789LL);
    struct spool_record_view view;
    size_t needed = 0;
    int64_t padded =
        spool_record_decode(bytes + SPOOL_SEGMENT_HEADER_SIZE, size - SPOOL_SEGMENT_HEADER_SIZE,
                            header.salt, &view, &needed);
    cr_assert_gt(padded, 0);
    cr_assert_eq(view.sequence, 42);
    cr_assert_eq(view.payload_length, sizeof test_lines - 1);
    const uint8_t *answer = bytes + SPOOL_SEGMENT_HEADER_SIZE + padded;
    uint32_t length = spool_get_u32(answer);
    cr_assert_eq(answer[4], DEAD_LETTER_RECORD_TYPE_ANSWER);
    cr_assert_eq(spool_get_u64(answer + 8), 44);
    cr_assert_eq(SPOOL_SEGMENT_HEADER_SIZE + (size_t)padded + spool_record_padded(length), size);
    const char expected[] = "{\"upstream\":\"influx-a\",\"status\":400,\"first_sequence\":42,"
                            "\"last_sequence\":44,\"line_count\":3,"
                            "\"time\":\"2024-05-01T12:00:00.123456789Z\",\"answer\":\"bad\","
                            "\"answer_bytes\":3}";
    cr_assert_eq(length - SPOOL_RECORD_HEADER_SIZE, sizeof expected - 1);
    cr_assert_eq(memcmp(answer + SPOOL_RECORD_HEADER_SIZE, expected, sizeof expected - 1), 0,
                 "%.*s", (int)(length - SPOOL_RECORD_HEADER_SIZE),
                 answer + SPOOL_RECORD_HEADER_SIZE);
}

Test(dead_letter_file, answer_is_cut_at_64_kib)
{
    size_t length = 100 * 1024;
    char *answer = malloc(length);
    cr_assert_not_null(answer);
    for (size_t i = 0; i < length; i++)
        answer[i] = (char)('a' + i % 26);
    struct dead_letter letter = test_letter("influx-a", answer, length);
    test_write(&letter);
    struct dead_letter_entry *entry = test_read("influx-a", 42);
    const struct dead_letter *read = dead_letter_entry_letter(entry);
    cr_assert_eq(read->answer_length, DEAD_LETTER_ANSWER_MAX);
    cr_assert_eq(memcmp(read->answer, answer, DEAD_LETTER_ANSWER_MAX), 0);
    cr_assert_eq(dead_letter_entry_answer_bytes(entry), length);
    dead_letter_entry_free(entry);

    /* 'x' then two-byte characters: the cut at 65536 falls inside one, which is dropped. */
    answer[0] = 'x';
    for (size_t i = 1; i + 1 < length; i += 2)
        memcpy(answer + i, "\xc3\xa9", 2);
    letter.first_sequence = letter.last_sequence = 50;
    letter.answer_length = length - 1;
    test_write(&letter);
    entry = test_read("influx-a", 50);
    read = dead_letter_entry_letter(entry);
    cr_assert_eq(read->answer_length, DEAD_LETTER_ANSWER_MAX - 1);
    cr_assert_eq(memcmp(read->answer, answer, DEAD_LETTER_ANSWER_MAX - 1), 0);
    cr_assert_eq(dead_letter_entry_answer_bytes(entry), length - 1);
    dead_letter_entry_free(entry);
    free(answer);
}

Test(dead_letter_file, binary_and_empty_answers_survive)
{
    const char binary[] = "\x1f\x8b\x08\x00gzip\xff\xfe\x00tail\xc3";
    struct dead_letter letter = test_letter("influx-a", binary, sizeof binary - 1);
    test_write(&letter);
    struct dead_letter_entry *entry = test_read("influx-a", 42);
    const struct dead_letter *read = dead_letter_entry_letter(entry);
    cr_assert_eq(read->answer_length, sizeof binary - 1);
    cr_assert_eq(memcmp(read->answer, binary, sizeof binary - 1), 0);
    dead_letter_entry_free(entry);

    letter = test_letter("influx-a", NULL, 0);
    letter.status = 422;
    test_write(&letter); /* replaces the entry of the same first sequence */
    entry = test_read("influx-a", 42);
    read = dead_letter_entry_letter(entry);
    cr_assert_eq(read->answer_length, 0);
    cr_assert_eq(read->status, 422);
    dead_letter_entry_free(entry);
}

/* Overwrites count bytes of upstream/42's file at offset (from the end when negative) with
 * bytes, or truncates it there when bytes is NULL. */
static void entry_damage(const char *upstream, long offset, const char *bytes, size_t count)
{
    char path[4096];
    entry_path(path, upstream, 42);
    long size = (long)file_size(path);
    long at = offset < 0 ? size + offset : offset;
    if (!bytes) {
        cr_assert_eq(truncate(path, at), 0);
        return;
    }
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, bytes, count, at), (ssize_t)count);
    cr_assert_eq(close(fd), 0);
}

/* Asserts that reading upstream/42 reports damage whose message contains needle. */
static void damage_assert(const char *upstream, const char *needle)
{
    struct dead_letter_id id = {.first_sequence = 42};
    snprintf(id.upstream, sizeof id.upstream, "%s", upstream);
    struct dead_letter_entry *entry = NULL;
    char error[1024] = "";
    cr_assert_eq(dead_letter_entry_read(directory, &id, &entry, error, sizeof error), -EBADMSG,
                 "%s", error);
    cr_assert_null(entry);
    cr_assert(strstr(error, "is damaged") && strstr(error, needle), "%s", error);
    char path[4096];
    entry_path(path, upstream, 42);
    cr_assert(strstr(error, path), "%s", error);
}

Test(dead_letter_file, damage_is_reported)
{
    struct dead_letter letter = test_letter("influx-a", "answer", 6);
    test_write(&letter);
    entry_damage("influx-a", SPOOL_SEGMENT_HEADER_SIZE + 60, "X", 1);
    damage_assert("influx-a", "data record at offset 64");

    test_write(&letter);
    entry_damage("influx-a", -20, "X", 1);
    damage_assert("influx-a", "answer record");

    test_write(&letter);
    entry_damage("influx-a", 3, "X", 1);
    damage_assert("influx-a", "no valid segment header");

    test_write(&letter);
    entry_damage("influx-a", -30, NULL, 0);
    damage_assert("influx-a", "answer record");

    test_write(&letter);
    entry_damage("influx-a", 10, NULL, 0);
    damage_assert("influx-a", "no valid segment header");

    test_write(&letter);
    char path[4096];
    entry_path(path, "influx-a", 42);
    entry_damage("influx-a", (long)file_size(path), "\0\0\0\0\0\0\0\0", 8);
    damage_assert("influx-a", "8 bytes follow the last record");

    /* An entry moved under another upstream or sequence does not belong there. */
    test_write(&letter);
    char other[4096], moved[4096];
    snprintf(other, sizeof other, "%s/dlq/influx-b", directory);
    cr_assert_eq(mkdir(other, 0750), 0);
    entry_path(moved, "influx-b", 42);
    cr_assert_eq(rename(path, moved), 0);
    damage_assert("influx-b", "names upstream \"influx-a\"");
    test_write(&letter);
    entry_path(moved, "influx-a", 7);
    cr_assert_eq(rename(path, moved), 0);
    struct dead_letter_id id = {.upstream = "influx-a", .first_sequence = 7};
    struct dead_letter_entry *entry = NULL;
    char error[1024] = "";
    cr_assert_eq(dead_letter_entry_read(directory, &id, &entry, error, sizeof error), -EBADMSG);
    cr_assert(strstr(error, "of sequence 42, not 7"), "%s", error);

    /* Listing looks at names only, so damaged entries are listed (and the reader says why). */
    struct dead_letter_id *ids = NULL;
    size_t count = 0;
    cr_assert_eq(dead_letter_entries_list(directory, NULL, &ids, &count, error, sizeof error), 0);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(ids[0].upstream, "influx-a");
    cr_assert_eq(ids[0].first_sequence, 7);
    cr_assert_str_eq(ids[1].upstream, "influx-b");
    free(ids);
}

Test(dead_letter_file, missing_entries_and_directories)
{
    struct dead_letter_id *ids = NULL;
    size_t count = 5;
    char error[1024] = "";
    cr_assert_eq(dead_letter_entries_list(directory, NULL, &ids, &count, error, sizeof error), 0);
    cr_assert_eq(count, 0);
    cr_assert_eq(dead_letter_entries_list(directory, "influx-a", &ids, &count, error, sizeof error),
                 0);
    cr_assert_eq(count, 0);
    struct dead_letter_id id = {.upstream = "influx-a", .first_sequence = 42};
    struct dead_letter_entry *entry = NULL;
    cr_assert_eq(dead_letter_entry_read(directory, &id, &entry, error, sizeof error), -ENOENT);
    cr_assert(strstr(error, "no dead letter influx-a/42"), "%s", error);
    cr_assert_eq(dead_letter_entry_remove(directory, &id, error, sizeof error), -ENOENT);
}

Test(dead_letter_file, two_upstreams_reject_the_same_batch)
{
    struct dead_letter a = test_letter("influx-a", "partial write", 13);
    struct dead_letter b = test_letter("vm.b_2", "unable to parse", 15);
    b.status = 422;
    test_write(&b);
    test_write(&a);
    a.first_sequence = 7;
    a.last_sequence = 7;
    test_write(&a);
    /* Stray files are not entries. */
    char stray[4096];
    snprintf(stray, sizeof stray, "%s/dlq/influx-a/notes.txt", directory);
    FILE *file = fopen(stray, "w");
    cr_assert_not_null(file);
    cr_assert_eq(fclose(file), 0);

    struct dead_letter_id *ids = NULL;
    size_t count = 0;
    char error[1024] = "";
    cr_assert_eq(dead_letter_entries_list(directory, NULL, &ids, &count, error, sizeof error), 0);
    cr_assert_eq(count, 3);
    char text[DEAD_LETTER_ID_TEXT_SIZE];
    const char *expected[] = {"influx-a/7", "influx-a/42", "vm.b_2/42"};
    for (size_t i = 0; i < count; i++) {
        dead_letter_id_format(&ids[i], text);
        cr_assert_str_eq(text, expected[i]);
    }
    free(ids);
    cr_assert_eq(dead_letter_entries_list(directory, "vm.b_2", &ids, &count, error, sizeof error),
                 0);
    cr_assert_eq(count, 1);
    cr_assert_eq(ids[0].first_sequence, 42);
    free(ids);

    struct dead_letter_entry *entry = test_read("vm.b_2", 42);
    cr_assert_eq(dead_letter_entry_letter(entry)->status, 422);
    cr_assert_eq(memcmp(dead_letter_entry_letter(entry)->answer, "unable to parse", 15), 0);
    dead_letter_entry_free(entry);
    entry = test_read("influx-a", 42);
    cr_assert_eq(dead_letter_entry_letter(entry)->status, 400);
    dead_letter_entry_free(entry);
}

Test(dead_letter_file, remove_deletes_one_entry)
{
    struct dead_letter letter = test_letter("influx-a", "x", 1);
    test_write(&letter);
    letter.first_sequence = letter.last_sequence = 45;
    test_write(&letter);
    struct dead_letter_id id = {.upstream = "influx-a", .first_sequence = 42};
    char error[1024] = "";
    cr_assert_eq(dead_letter_entry_remove(directory, &id, error, sizeof error), 0, "%s", error);
    cr_assert_eq(dead_letter_entry_remove(directory, &id, error, sizeof error), -ENOENT);
    struct dead_letter_id *ids = NULL;
    size_t count = 0;
    cr_assert_eq(dead_letter_entries_list(directory, NULL, &ids, &count, error, sizeof error), 0);
    cr_assert_eq(count, 1);
    cr_assert_eq(ids[0].first_sequence, 45);
    free(ids);
}

Test(dead_letter_file, bad_letters_are_refused)
{
    char error[1024] = "";
    struct dead_letter letter = test_letter("../escape", "x", 1);
    cr_assert_eq(dead_letter_write(directory, &letter, error, sizeof error), -EINVAL);
    cr_assert(strstr(error, "\"../escape\" is not a consumer name"), "%s", error);
    letter = test_letter(".hidden", "x", 1);
    cr_assert_eq(dead_letter_write(directory, &letter, error, sizeof error), -EINVAL);
    letter = test_letter("influx-a", "x", 1);
    letter.last_sequence = 41;
    cr_assert_eq(dead_letter_write(directory, &letter, error, sizeof error), -EINVAL);
    cr_assert(strstr(error, "42..41"), "%s", error);
    letter.first_sequence = letter.last_sequence = 0;
    cr_assert_eq(dead_letter_write(directory, &letter, error, sizeof error), -EINVAL);
    letter = test_letter("influx-a", "x", 1);
    letter.routing.consumer_count = SPOOL_CONSUMERS_MAX + 1;
    cr_assert_eq(dead_letter_write(directory, &letter, error, sizeof error), -EINVAL);
    letter = test_letter("influx-a", "x", 1);
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/not-there", directory);
    cr_assert_eq(dead_letter_write(missing, &letter, error, sizeof error), -ENOENT);
    cr_assert(strstr(error, missing), "%s", error);
}

Test(dead_letter_text, ids_parse_and_format)
{
    struct dead_letter_id id;
    cr_assert_eq(dead_letter_id_parse("influx-a/42", 11, &id), 0);
    cr_assert_str_eq(id.upstream, "influx-a");
    cr_assert_eq(id.first_sequence, 42);
    cr_assert_eq(dead_letter_id_parse("a/18446744073709551615", 22, &id), 0);
    cr_assert_eq(id.first_sequence, UINT64_MAX);
    char text[DEAD_LETTER_ID_TEXT_SIZE];
    dead_letter_id_format(&id, text);
    cr_assert_str_eq(text, "a/18446744073709551615");
    const char *bad[] = {
        "a",    "a/", "/42", ".a/1", "a/b/1", "a/x", "a/-1", "a/+1", "a/18446744073709551616",
        "a b/1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(dead_letter_id_parse(bad[i], strlen(bad[i]), &id), -EINVAL, "%s", bad[i]);
}

Test(dead_letter_text, time_is_rfc3339_utc)
{
    char text[64];
    dead_letter_time_format(1714564800123456789LL, text, sizeof text);
    cr_assert_str_eq(text, "2024-05-01T12:00:00.123456789Z");
    dead_letter_time_format(-1, text, sizeof text);
    cr_assert_str_eq(text, "1969-12-31T23:59:59.999999999Z");
}

Test(dead_letter_text, answer_preview_is_one_safe_line)
{
    char out[64];
    const char answer[] = "a\nb\\c\xff\xc3\xa9z";
    size_t length =
        dead_letter_answer_preview(answer, sizeof answer - 1, false, 10, out, sizeof out);
    cr_assert_str_eq(out, "a\\x0Ab\\\\c\\xFF\xc3\xa9z");
    cr_assert_eq(length, strlen(out));
    dead_letter_answer_preview(answer, sizeof answer - 1, false, 3, out, sizeof out);
    cr_assert_str_eq(out, "a\\x0Ab...");
    dead_letter_answer_preview("abc", 3, true, 10, out, sizeof out);
    cr_assert_str_eq(out, "abc...");
    dead_letter_answer_preview("abcdefgh", 8, false, 8, out, 6);
    cr_assert_str_eq(out, "abcde");
}

/* A downgrade: a newer relay (spool format version 2) wrote the dead letter. `dlq` cannot read
 * it and leaves it, and says that a newer relay wrote it, with both versions, rather than calling
 * a good file "damaged: no valid segment header". */
Test(dead_letter_file, entry_of_a_newer_format_version_is_named_not_damaged)
{
    struct dead_letter letter = test_letter("influx-a", "answer", 6);
    test_write(&letter);
    char path[4096];
    entry_path(path, "influx-a", 42);
    test_segment_version_set(path, SPOOL_FORMAT_VERSION + 1);

    struct dead_letter_id id = {.upstream = "influx-a", .first_sequence = 42};
    struct dead_letter_entry *entry = NULL;
    char error[1024] = "";
    cr_assert_eq(dead_letter_entry_read(directory, &id, &entry, error, sizeof error), -EBADMSG,
                 "%s", error);
    cr_assert_null(entry);
    cr_assert(strstr(error, path), "%s", error);
    cr_assert(strstr(error, "newer meter-relay (spool format version 2; this one reads 1)"), "%s",
              error);
    cr_assert_null(strstr(error, "damaged"), "%s", error);
    cr_assert(path_exists(path), "left as it is");
}
