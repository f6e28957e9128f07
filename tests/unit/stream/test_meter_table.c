/* The stream processor's meters by id: lookups, stable slots, long ids, memory per meter. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/meter_table.h"

#define MANY_METERS 100000

static size_t id_make(char *id, size_t size, size_t number)
{
    int length = snprintf(id, size, "sensor.meter_%zu", number);
    cr_assert(length > 0 && (size_t)length < size);
    return (size_t)length;
}

static void expect_id(const struct stream_meter_table *table, const struct stream_meter_slot *slot,
                      const char *id, size_t length)
{
    cr_assert_eq(slot->id_length, length);
    cr_expect_eq(memcmp(stream_meter_table_id(table, slot), id, length), 0, "id of %.*s",
                 (int)length, id);
}

Test(stream_meter_table, empty_table_finds_nothing)
{
    struct stream_meter_table table = {0};
    cr_expect_null(stream_meter_table_find(&table, "a", 1));
    cr_expect_null(stream_meter_table_find(&table, "", 0));
    cr_expect_eq(stream_meter_table_bytes(&table), 0);
    stream_meter_table_release(&table);
    cr_expect_eq(table.count, 0);
}

Test(stream_meter_table, many_ids_are_found_again_in_slots_that_never_move)
{
    struct stream_meter_table table = {0};
    struct stream_meter_slot **slots = calloc(MANY_METERS, sizeof *slots);
    cr_assert_not_null(slots);
    char id[64];
    for (size_t i = 0; i < MANY_METERS; i++) {
        size_t length = id_make(id, sizeof id, i);
        int added = -1;
        slots[i] = stream_meter_table_add(&table, id, length, &added);
        cr_assert_not_null(slots[i]);
        cr_assert_eq(added, 1, "%s is new", id);
        cr_assert_eq(slots[i]->meter.reading_count, 0, "a new slot holds a zero meter");
        /* A mark that later adds must leave where it is. */
        slots[i]->meter.reading_count = (uint32_t)i + 1;
        slots[i]->meter.last_value = (double)i;
    }
    cr_assert_eq(table.count, MANY_METERS);
    for (size_t i = 0; i < MANY_METERS; i++) {
        size_t length = id_make(id, sizeof id, i);
        struct stream_meter_slot *found = stream_meter_table_find(&table, id, length);
        cr_assert_eq(found, slots[i], "%s moved or was lost", id);
        cr_assert_eq(stream_meter_table_slot(&table, i), slots[i], "slot %zu is %s", i, id);
        cr_assert_eq(found->meter.reading_count, (uint32_t)i + 1);
        cr_assert_eq(found->meter.last_value, (double)i);
        expect_id(&table, found, id, length);
        int added = -1;
        cr_assert_eq(stream_meter_table_add(&table, id, length, &added), slots[i]);
        cr_assert_eq(added, 0, "%s was there already", id);
    }
    cr_expect_eq(table.count, MANY_METERS, "adding known ids adds nothing");
    size_t length = id_make(id, sizeof id, MANY_METERS);
    cr_expect_null(stream_meter_table_find(&table, id, length));
    cr_expect_null(stream_meter_table_find(&table, "sensor.meter_1", 13), "a prefix is no match");
    cr_expect_null(stream_meter_table_find(&table, "", 0));

    size_t per_meter = stream_meter_table_bytes(&table) / MANY_METERS;
    cr_expect_lt(per_meter, 1024, "%zu bytes per meter", per_meter);
    cr_expect_geq(per_meter, sizeof(struct stream_meter_slot), "every slot is counted");
    free(slots);
    stream_meter_table_release(&table);
    cr_expect_eq(table.count, 0);
    cr_expect_null(table.chunks);
}

Test(stream_meter_table, long_ids_live_outside_the_slot)
{
    struct stream_meter_table table = {0};
    enum { LONG_IDS = 100, LONG_LENGTH = 200 };
    static char ids[LONG_IDS][LONG_LENGTH];
    struct stream_meter_slot *slots[LONG_IDS];
    /* Ids that differ only in their last bytes, many enough that the id text grows. */
    for (size_t i = 0; i < LONG_IDS; i++) {
        memset(ids[i], 'x', LONG_LENGTH);
        snprintf(ids[i] + LONG_LENGTH - 4, 4, "%03zu", i);
        ids[i][LONG_LENGTH - 1] = 'z';
        int added = 0;
        slots[i] = stream_meter_table_add(&table, ids[i], LONG_LENGTH, &added);
        cr_assert_not_null(slots[i]);
        cr_assert_eq(added, 1);
    }
    cr_assert_geq(table.ids_length, LONG_IDS * LONG_LENGTH);
    for (size_t i = 0; i < LONG_IDS; i++) {
        cr_assert_eq(stream_meter_table_find(&table, ids[i], LONG_LENGTH), slots[i]);
        expect_id(&table, slots[i], ids[i], LONG_LENGTH);
    }
    cr_expect_null(stream_meter_table_find(&table, ids[0], LONG_LENGTH - 1));
    stream_meter_table_release(&table);
}

Test(stream_meter_table, ids_at_the_inline_limit)
{
    cr_assert_eq(STREAM_METER_ID_INLINE, 48);
    struct stream_meter_table table = {0};
    char id48[48], id49[49];
    memset(id48, 'a', sizeof id48);
    memset(id49, 'a', sizeof id49);
    int added = 0;
    struct stream_meter_slot *slot48 = stream_meter_table_add(&table, id48, sizeof id48, &added);
    cr_assert_not_null(slot48);
    cr_assert_eq(added, 1);
    struct stream_meter_slot *slot49 = stream_meter_table_add(&table, id49, sizeof id49, &added);
    cr_assert_not_null(slot49);
    cr_assert_eq(added, 1, "49 a's are not 48 a's");
    cr_expect_eq(table.ids_length, 49, "only the 49-byte id lives in the id text");
    cr_expect_eq(stream_meter_table_id(&table, slot48), slot48->id_inline);
    cr_expect_eq(stream_meter_table_find(&table, id48, sizeof id48), slot48);
    cr_expect_eq(stream_meter_table_find(&table, id49, sizeof id49), slot49);
    expect_id(&table, slot48, id48, sizeof id48);
    expect_id(&table, slot49, id49, sizeof id49);
    cr_expect_null(stream_meter_table_find(&table, id49, 47));
    stream_meter_table_release(&table);
}

Test(stream_meter_table, ids_are_bytes_not_strings)
{
    struct stream_meter_table table = {0};
    int added = 0;
    struct stream_meter_slot *first = stream_meter_table_add(&table, "a\0b", 3, &added);
    struct stream_meter_slot *second = stream_meter_table_add(&table, "a\0c", 3, &added);
    cr_assert_not_null(first);
    cr_assert_not_null(second);
    cr_expect_eq(added, 1);
    cr_expect_neq(first, second);
    cr_expect_eq(stream_meter_table_find(&table, "a\0b", 3), first);
    cr_expect_eq(stream_meter_table_find(&table, "a\0c", 3), second);
    cr_expect_null(stream_meter_table_find(&table, "a", 1));
    stream_meter_table_release(&table);
}
