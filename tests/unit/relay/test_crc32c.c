/* CRC-32C: known vectors, chaining, hardware = software. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "relay/crc32c.h"

Test(crc32c, check_value_of_123456789)
{
    cr_assert_eq(crc32c_update(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32c_update_software(0, "123456789", 9), 0xE3069283u);
}

Test(crc32c, rfc3720_vectors)
{
    unsigned char zeros[32], ones[32], ascending[32];
    memset(zeros, 0, sizeof zeros);
    memset(ones, 0xFF, sizeof ones);
    for (int i = 0; i < 32; i++)
        ascending[i] = (unsigned char)i;
    cr_assert_eq(crc32c_update(0, zeros, 32), 0x8A9136AAu);
    cr_assert_eq(crc32c_update(0, ones, 32), 0x62A8AB43u);
    cr_assert_eq(crc32c_update(0, ascending, 32), 0x46DD794Eu);
    cr_assert_eq(crc32c_update(0, "", 0), 0u);
}

Test(crc32c, chaining_equals_one_pass)
{
    const char *text = "The quick brown fox jumps over the lazy dog";
    size_t length = strlen(text);
    uint32_t whole = crc32c_update(0, text, length);
    cr_assert_eq(whole, 0x22620404u);
    for (size_t split = 0; split <= length; split++)
        cr_assert_eq(crc32c_update(crc32c_update(0, text, split), text + split, length - split),
                     whole, "split at %zu", split);
}

Test(crc32c, hardware_matches_software_on_random_data)
{
    if (!crc32c_hardware_available())
        cr_skip_test("no SSE4.2 on this CPU");
    unsigned char data[4099];
    unsigned state = 12345;
    for (size_t i = 0; i < sizeof data; i++) {
        state = state * 1103515245u + 12345u;
        data[i] = (unsigned char)(state >> 16);
    }
    for (size_t start = 0; start < 9; start++)
        for (size_t length = 0; length + start <= sizeof data; length += 37)
            cr_assert_eq(crc32c_update_hardware(0x1234u, data + start, length),
                         crc32c_update_software(0x1234u, data + start, length),
                         "start %zu length %zu", start, length);
}
