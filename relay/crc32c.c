#include "relay/crc32c.h"

#include <string.h>

#define CRC32C_POLYNOMIAL 0x82F63B78u

/* Spelling the slicing-by-8 tables out would take 8 KiB of literals; they are built once on first
 * use instead. The table is written before the flag with release order, so a
 * second thread sees either "not built" (and builds an identical copy) or a complete table. */
struct crc32c_table {
    uint32_t rows[8][256];
};

static const struct crc32c_table *crc32c_table_get(void)
{
    static struct crc32c_table table;
    static int built;
    if (__atomic_load_n(&built, __ATOMIC_ACQUIRE))
        return &table;
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (CRC32C_POLYNOMIAL & (0u - (crc & 1u)));
        table.rows[0][byte] = crc;
    }
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = table.rows[0][byte];
        for (int row = 1; row < 8; row++) {
            crc = table.rows[0][crc & 0xFF] ^ (crc >> 8);
            table.rows[row][byte] = crc;
        }
    }
    __atomic_store_n(&built, 1, __ATOMIC_RELEASE);
    return &table;
}

uint32_t crc32c_update_software(uint32_t crc, const void *data, size_t length)
{
    const struct crc32c_table *table = crc32c_table_get();
    const unsigned char *bytes = data;
    crc = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        word ^= crc; /* little-endian hosts only, like the rest of the spool */
        crc = table->rows[7][word & 0xFF] ^ table->rows[6][(word >> 8) & 0xFF] ^
              table->rows[5][(word >> 16) & 0xFF] ^ table->rows[4][(word >> 24) & 0xFF] ^
              table->rows[3][(word >> 32) & 0xFF] ^ table->rows[2][(word >> 40) & 0xFF] ^
              table->rows[1][(word >> 48) & 0xFF] ^ table->rows[0][word >> 56];
        bytes += 8;
        length -= 8;
    }
    while (length > 0) {
        crc = table->rows[0][(crc ^ *bytes) & 0xFF] ^ (crc >> 8);
        bytes++;
        length--;
    }
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_update_hardware(uint32_t crc, const void *data,
                                                                  size_t length)
{
    const unsigned char *bytes = data;
    uint64_t state = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        state = __builtin_ia32_crc32di(state, word);
        bytes += 8;
        length -= 8;
    }
    uint32_t state32 = (uint32_t)state;
    while (length > 0) {
        state32 = __builtin_ia32_crc32qi(state32, *bytes);
        bytes++;
        length--;
    }
    return ~state32;
}

int crc32c_hardware_available(void)
{
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}
#else
uint32_t crc32c_update_hardware(uint32_t crc, const void *data, size_t length)
{
    return crc32c_update_software(crc, data, length);
}

int crc32c_hardware_available(void)
{
    return 0;
}
#endif

uint32_t crc32c_update(uint32_t crc, const void *data, size_t length)
{
    if (crc32c_hardware_available())
        return crc32c_update_hardware(crc, data, length);
    return crc32c_update_software(crc, data, length);
}
