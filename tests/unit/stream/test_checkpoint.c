/* The stream processor's checkpoint: round trip, and every way a file can be unusable. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/crc32c.h"
#include "stream/checkpoint.h"

static char root[64];
static char directory[128]; /* root/stream: absent until a checkpoint is written */
static char path[160];

static void directory_make(void)
{
    snprintf(root, sizeof root, "/tmp/nebenkosten-checkpoint-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(directory, sizeof directory, "%s/stream", root);
    snprintf(path, sizeof path, "%s/checkpoint", directory);
}

static int entry_remove(const char *name, const struct stat *status, int type, struct FTW *walk)
{
    (void)status, (void)type, (void)walk;
    return remove(name);
}

static void directory_remove(void)
{
    nftw(root, entry_remove, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(stream_checkpoint, .init = directory_make, .fini = directory_remove);

/* Adds the ids in order, each meter's bytes a pattern of its number. */
static void table_fill(struct stream_meter_table *table, const char *const *ids, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int added = 0;
        struct stream_meter_slot *slot =
            stream_meter_table_add(table, ids[i], strlen(ids[i]), &added);
        cr_assert_not_null(slot);
        cr_assert_eq(added, 1);
        unsigned char *bytes = (unsigned char *)&slot->meter;
        for (size_t j = 0; j < sizeof slot->meter; j++)
            bytes[j] = (unsigned char)(i * 31 + j * 7 + 1);
    }
}

static void checkpoint_write(const struct stream_checkpoint_position *position, const char *zone,
                             const struct stream_meter_table *table)
{
    struct buffer scratch = BUFFER_INITIALIZER;
    char error[512] = "";
    cr_assert_eq(
        stream_checkpoint_write(directory, position, zone, table, &scratch, error, sizeof error), 0,
        "%s", error);
    buffer_release(&scratch);
}

static void file_read(struct buffer *out)
{
    FILE *stream = fopen(path, "rb");
    cr_assert_not_null(stream, "%s", path);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, stream)) > 0)
        cr_assert_eq(buffer_append(out, chunk, got), 0);
    cr_assert_eq(fclose(stream), 0);
}

static void file_write(const char *data, size_t length)
{
    FILE *stream = fopen(path, "wb");
    cr_assert_not_null(stream, "%s", path);
    cr_assert_eq(fwrite(data, 1, length, stream), length);
    cr_assert_eq(fclose(stream), 0);
}

/* Loading must fail with a message naming the file and saying why, leaving table and position
 * empty. */
static void expect_load_fails(const char *zone, const char *reason, const char *what)
{
    struct stream_meter_table table = {0};
    struct stream_checkpoint_position position = {1, 2, 3, 4};
    char error[512] = "";
    cr_assert_eq(stream_checkpoint_load(directory, zone, &position, &table, error, sizeof error),
                 -1, "%s", what);
    cr_expect(strstr(error, path), "%s: \"%s\" names %s", what, error, path);
    if (reason)
        cr_expect(strstr(error, reason), "%s: \"%s\" says %s", what, error, reason);
    cr_expect_eq(table.count, 0, "%s", what);
    cr_expect_null(table.chunks, "%s", what);
    cr_expect_null(table.index, "%s", what);
    cr_expect_eq(position.position, 0, "%s", what);
    stream_meter_table_release(&table);
}

Test(stream_checkpoint, write_then_load_gives_the_same_meters_and_position)
{
    char long_id[201];
    memset(long_id, 'L', 200);
    long_id[200] = '\0';
    const char *const ids[] = {"sensor.strom", "wasser kalt", long_id, "gas,m³=1"};
    struct stream_meter_table written = {0};
    table_fill(&written, ids, 4);
    const struct stream_checkpoint_position position = {.position = 123456789012,
                                                        .derived_sequence = 77,
                                                        .baseline_mtime_ns = -1700000000123456789,
                                                        .baseline_size = 4096};
    checkpoint_write(&position, "Europe/Berlin", &written);

    struct stream_meter_table loaded = {0};
    struct stream_checkpoint_position read = {0};
    char error[512] = "";
    cr_assert_eq(
        stream_checkpoint_load(directory, "Europe/Berlin", &read, &loaded, error, sizeof error), 0,
        "%s", error);
    cr_expect_eq(read.position, 123456789012);
    cr_expect_eq(read.derived_sequence, 77);
    cr_expect_eq(read.baseline_mtime_ns, -1700000000123456789);
    cr_expect_eq(read.baseline_size, 4096);
    cr_assert_eq(loaded.count, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct stream_meter_slot *slot = stream_meter_table_slot(&loaded, i);
        cr_assert_eq(slot->id_length, strlen(ids[i]), "meter %zu", i);
        cr_expect_eq(memcmp(stream_meter_table_id(&loaded, slot), ids[i], strlen(ids[i])), 0,
                     "meter %zu is %s", i, ids[i]);
        cr_expect_eq(stream_meter_table_find(&loaded, ids[i], strlen(ids[i])), slot);
        cr_expect_eq(
            memcmp(&slot->meter, &stream_meter_table_slot(&written, i)->meter, sizeof slot->meter),
            0, "state of %s", ids[i]);
    }
    stream_meter_table_release(&loaded);
    stream_meter_table_release(&written);
}

Test(stream_checkpoint, image_build_and_write_make_the_same_file_as_write)
{
    static const char *const ids[] = {"a", "b"};
    struct stream_meter_table table = {0};
    table_fill(&table, ids, 2);
    const struct stream_checkpoint_position position = {.position = 3, .derived_sequence = 2};
    checkpoint_write(&position, "UTC", &table);
    struct buffer whole = BUFFER_INITIALIZER, image = BUFFER_INITIALIZER;
    file_read(&whole);
    cr_assert_eq(unlink(path), 0);

    cr_assert_eq(stream_checkpoint_image_build(&image, &position, "UTC", &table), 0);
    cr_expect_eq(image.length + 4, whole.length, "the image lacks only the CRC");
    char error[512] = "";
    cr_assert_eq(
        stream_checkpoint_image_write(directory, image.data, image.length, error, sizeof error), 0,
        "%s", error);
    buffer_clear(&image);
    file_read(&image);
    cr_assert_eq(image.length, whole.length);
    cr_expect_eq(memcmp(image.data, whole.data, whole.length), 0);
    buffer_release(&image);
    buffer_release(&whole);
    stream_meter_table_release(&table);
}

Test(stream_checkpoint, empty_table_round_trips)
{
    const struct stream_meter_table empty = {0};
    checkpoint_write(&(struct stream_checkpoint_position){.position = 5}, "UTC", &empty);
    struct stream_meter_table loaded = {0};
    struct stream_checkpoint_position read = {0};
    char error[512] = "";
    cr_assert_eq(stream_checkpoint_load(directory, "UTC", &read, &loaded, error, sizeof error), 0,
                 "%s", error);
    cr_expect_eq(read.position, 5);
    cr_expect_eq(loaded.count, 0);
    stream_meter_table_release(&loaded);
}

Test(stream_checkpoint, a_new_checkpoint_replaces_the_old)
{
    static const char *const first[] = {"a", "b", "c"}, *const second[] = {"d"};
    struct stream_meter_table table = {0};
    table_fill(&table, first, 3);
    checkpoint_write(&(struct stream_checkpoint_position){.position = 1}, "UTC", &table);
    stream_meter_table_release(&table);
    table_fill(&table, second, 1);
    checkpoint_write(&(struct stream_checkpoint_position){.position = 2}, "UTC", &table);
    stream_meter_table_release(&table);

    struct stream_checkpoint_position read = {0};
    char error[512] = "";
    cr_assert_eq(stream_checkpoint_load(directory, "UTC", &read, &table, error, sizeof error), 0,
                 "%s", error);
    cr_expect_eq(read.position, 2);
    cr_assert_eq(table.count, 1);
    cr_expect_not_null(stream_meter_table_find(&table, "d", 1));
    cr_expect_null(stream_meter_table_find(&table, "a", 1));
    stream_meter_table_release(&table);
}

Test(stream_checkpoint, no_checkpoint_is_not_an_error)
{
    struct stream_meter_table table = {0};
    struct stream_checkpoint_position position = {0};
    char error[512] = "";
    cr_expect_eq(stream_checkpoint_load(directory, "UTC", &position, &table, error, sizeof error),
                 1, "no directory: %s", error);
    cr_assert_eq(mkdir(directory, 0700), 0);
    cr_expect_eq(stream_checkpoint_load(directory, "UTC", &position, &table, error, sizeof error),
                 1, "no file: %s", error);
    cr_expect_eq(table.count, 0);
    stream_meter_table_release(&table);
}

Test(stream_checkpoint, directory_is_created_and_no_temporary_file_is_left)
{
    static const char *const ids[] = {"a"};
    struct stream_meter_table table = {0};
    table_fill(&table, ids, 1);
    checkpoint_write(&(struct stream_checkpoint_position){0}, "UTC", &table);
    stream_meter_table_release(&table);

    struct stat status;
    cr_assert_eq(stat(directory, &status), 0, "%s was created", directory);
    cr_expect(S_ISDIR(status.st_mode));
    DIR *listing = opendir(directory);
    cr_assert_not_null(listing);
    size_t entries = 0;
    for (const struct dirent *entry; (entry = readdir(listing));) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        cr_expect_str_eq(entry->d_name, "checkpoint");
        entries++;
    }
    closedir(listing);
    cr_expect_eq(entries, 1);
}

Test(stream_checkpoint, every_flipped_byte_is_detected)
{
    static const char *const ids[] = {"m1"};
    struct stream_meter_table table = {0};
    table_fill(&table, ids, 1);
    checkpoint_write(&(struct stream_checkpoint_position){.position = 9}, "UTC", &table);
    stream_meter_table_release(&table);
    struct buffer image = BUFFER_INITIALIZER;
    file_read(&image);
    cr_assert_gt(image.length, 12);
    for (size_t i = 0; i < image.length; i++) {
        image.data[i] ^= 0x10;
        file_write(image.data, image.length);
        image.data[i] ^= 0x10;
        char what[64];
        snprintf(what, sizeof what, "byte %zu flipped", i);
        expect_load_fails("UTC", NULL, what);
    }
    /* The undamaged image still loads, so the failures above were the flips'. */
    file_write(image.data, image.length);
    struct stream_checkpoint_position position = {0};
    char error[512] = "";
    cr_expect_eq(stream_checkpoint_load(directory, "UTC", &position, &table, error, sizeof error),
                 0, "%s", error);
    cr_expect_eq(table.count, 1);
    stream_meter_table_release(&table);
    buffer_release(&image);
}

Test(stream_checkpoint, every_truncation_is_detected)
{
    static const char *const ids[] = {"m1", "m2"};
    struct stream_meter_table table = {0};
    table_fill(&table, ids, 2);
    checkpoint_write(&(struct stream_checkpoint_position){.position = 9}, "UTC", &table);
    stream_meter_table_release(&table);
    struct buffer image = BUFFER_INITIALIZER;
    file_read(&image);
    for (size_t length = 0; length < image.length; length++) {
        file_write(image.data, length);
        char what[64];
        snprintf(what, sizeof what, "cut to %zu of %zu bytes", length, image.length);
        expect_load_fails("UTC", NULL, what);
    }
    buffer_release(&image);
}

Test(stream_checkpoint, another_zone_is_refused)
{
    static const char *const ids[] = {"a", "b"};
    struct stream_meter_table table = {0};
    table_fill(&table, ids, 2);
    checkpoint_write(&(struct stream_checkpoint_position){.position = 9}, "Europe/Berlin", &table);
    stream_meter_table_release(&table);
    expect_load_fails("UTC", "analytics.timezone", "UTC");
    expect_load_fails("Europe/Berlin2", "analytics.timezone", "Europe/Berlin2");
    expect_load_fails("Europe/Berli", "analytics.timezone", "Europe/Berli");
}

/* Overwrites the trailing CRC-32C so that only the change made to image is wrong. */
static void checksum_fix(struct buffer *image)
{
    uint32_t crc = crc32c_update(0, image->data, image->length - 4);
    for (int i = 0; i < 4; i++)
        image->data[image->length - 4 + (size_t)i] = (char)(crc >> (8 * i));
}

Test(stream_checkpoint, well_checksummed_nonsense_is_refused_and_the_table_left_empty)
{
    static const char *const ids[] = {"a", "b", "c"};
    struct stream_meter_table table = {0};
    table_fill(&table, ids, 3);
    checkpoint_write(&(struct stream_checkpoint_position){.position = 9}, "UTC", &table);
    stream_meter_table_release(&table);
    struct buffer image = BUFFER_INITIALIZER;
    file_read(&image);
    /* magic, version, state size, 4 x u64, zone, meter count; then per meter u16 + id + state. */
    const size_t header = 8 + 4 + 4 + 4 * 8 + 2 + strlen("UTC") + 8;
    const size_t meter = 2 + 1 + sizeof(struct stream_meter);
    cr_assert_eq(image.length, header + 3 * meter + 4);
    cr_assert_eq(image.data[header + 2 * meter + 2], 'c');

    image.data[header + 2 * meter + 2] = 'a';
    checksum_fix(&image);
    file_write(image.data, image.length);
    expect_load_fails("UTC", "twice", "a duplicate id");
    image.data[header + 2 * meter + 2] = 'c';

    image.data[12]++; /* the meter state size */
    checksum_fix(&image);
    file_write(image.data, image.length);
    expect_load_fails("UTC", "layout", "another state size");
    image.data[12]--;

    /* Four bytes between the meter list and a new checksum. */
    cr_assert_eq(buffer_append(&image, "xxxx", 4), 0);
    checksum_fix(&image);
    file_write(image.data, image.length);
    expect_load_fails("UTC", "after the meter list", "trailing bytes");
    buffer_release(&image);
}

/* Writes a checkpoint of an earlier layout: the meter state cut at old_size, zone UTC, position 7,
 * derived sequence 3, meters "a" and "b". */
static void old_checkpoint_write(uint8_t version, size_t old_size, const struct stream_meter *a,
                                 const struct stream_meter *b)
{
    static const char zone[] = "UTC";
    /* magic, version, state size, position 7, derived 3, baseline mtime and size, zone, meters */
    struct buffer image = BUFFER_INITIALIZER;
    uint8_t header[8 + 4 + 4 + 8 * 4 + 2 + 3 + 8] = {0};
    memcpy(header, "NKSTREAM", 8);
    header[8] = version;
    header[12] = (uint8_t)old_size;
    header[13] = (uint8_t)(old_size >> 8);
    header[16] = 7;
    header[24] = 3;
    header[48] = 3;
    memcpy(header + 50, zone, 3);
    header[53] = 2;
    cr_assert_eq(buffer_append(&image, header, sizeof header), 0);
    const struct stream_meter *meters[] = {a, b};
    for (int i = 0; i < 2; i++) {
        uint8_t id[3] = {1, 0, (uint8_t)('a' + i)};
        cr_assert_eq(buffer_append(&image, id, sizeof id), 0);
        cr_assert_eq(buffer_append(&image, meters[i], old_size), 0);
    }
    char error[512] = ""; /* the checksum is added by image_write */
    cr_assert_eq(
        stream_checkpoint_image_write(directory, image.data, image.length, error, sizeof error), 0,
        "%s", error);
    buffer_release(&image);
}

/* Loads the checkpoint old_checkpoint_write wrote, which must load, into table. */
static struct stream_checkpoint_position old_checkpoint_load(struct stream_meter_table *table)
{
    char error[512] = "";
    struct stream_checkpoint_position read = {0};
    cr_assert_eq(stream_checkpoint_load(directory, "UTC", &read, table, error, sizeof error), 0,
                 "%s", error);
    return read;
}

/* A checkpoint of the layout before stream_meter.offset_t (version 3) loads: the meters keep their
 * bytes, and a meter with an offset gets its last reading as the time of it (unknown, and the
 * safe guess for a re-seed). */
Test(stream_checkpoint, a_checkpoint_without_the_offset_time_loads)
{
    const size_t old_size = offsetof(struct stream_meter, offset_t);
    struct stream_meter with_offset = {.flags = STREAM_METER_LAST,
                                       .last_t = 1700000000000000000,
                                       .offset = 1005,
                                       .reading_count = 9};
    struct stream_meter without = {.flags = STREAM_METER_LAST, .last_t = 1700000000000000001};
    old_checkpoint_write(3, old_size, &with_offset, &without);

    struct stream_meter_table table = {0};
    struct stream_checkpoint_position read = old_checkpoint_load(&table);
    cr_expect_eq(read.position, 7);
    cr_expect_eq(read.derived_sequence, 3);
    cr_assert_eq(table.count, 2);
    const struct stream_meter *a = &stream_meter_table_find(&table, "a", 1)->meter;
    const struct stream_meter *b = &stream_meter_table_find(&table, "b", 1)->meter;
    cr_expect_eq(memcmp(a, &with_offset, old_size), 0);
    cr_expect_eq(a->offset_t, with_offset.last_t);
    cr_expect_eq(memcmp(b, &without, old_size), 0);
    cr_expect_eq(b->offset_t, 0);
    stream_meter_table_release(&table);
}

/* A checkpoint of the layout before the reading before last was kept (version 4) loads: the meters
 * keep their bytes and have no reading before last, so the outlier rule waits for two readings. */
Test(stream_checkpoint, a_checkpoint_without_the_reading_before_last_loads)
{
    const size_t old_size = offsetof(struct stream_meter, previous_t);
    struct stream_meter a_state = {.flags = STREAM_METER_LAST | STREAM_METER_DAILY,
                                   .last_t = 1700000000000000000,
                                   .last_raw = 1357,
                                   .offset = 12,
                                   .offset_t = 1600000000000000000};
    struct stream_meter b_state = {.flags = STREAM_METER_LAST, .last_t = 1700000000000000001};
    old_checkpoint_write(4, old_size, &a_state, &b_state);

    struct stream_meter_table table = {0};
    struct stream_checkpoint_position read = old_checkpoint_load(&table);
    cr_assert_eq(table.count, 2);
    const struct stream_meter *a = &stream_meter_table_find(&table, "a", 1)->meter;
    cr_expect_eq(memcmp(a, &a_state, old_size), 0);
    cr_expect_eq(a->offset_t, a_state.offset_t);
    cr_expect_not(a->flags & STREAM_METER_PREVIOUS);
    cr_expect_eq(a->previous_t, 0);
    cr_expect_eq(a->previous_raw, 0.0);
    stream_meter_table_release(&table);

    /* Version 4 with the size of another layout is refused, not misread. */
    old_checkpoint_write(4, offsetof(struct stream_meter, offset_t), &a_state, &b_state);
    char error[512] = "";
    cr_expect_neq(stream_checkpoint_load(directory, "UTC", &read, &table, error, sizeof error), 0);
    cr_expect(strstr(error, "layout") != NULL, "%s", error);
    stream_meter_table_release(&table);
}

/* A downgrade: a newer relay wrote checkpoint version 6. Refused (the processor starts its meters
 * afresh and the nightly batch recomputes), with a message that names the version found and the
 * versions this build reads, so the log says why: it said only "written by another version". */
Test(stream_checkpoint, a_newer_version_is_refused_naming_both_versions)
{
    static const char *const ids[] = {"a"};
    struct stream_meter_table table = {0};
    table_fill(&table, ids, 1);
    checkpoint_write(&(struct stream_checkpoint_position){.position = 9}, "UTC", &table);
    stream_meter_table_release(&table);
    struct buffer image = BUFFER_INITIALIZER;
    file_read(&image);
    cr_assert_eq(image.data[8], 5, "the version this test bumps");
    image.data[8] = 6;
    checksum_fix(&image);
    file_write(image.data, image.length);
    expect_load_fails("UTC", "version 6", "a newer version");
    expect_load_fails("UTC", "versions 3 to 5", "a newer version");
    buffer_release(&image);
}
