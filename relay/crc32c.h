/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of spool records, segment
 * headers and cursor slots. Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * run time), else a slicing-by-8 table. */
#ifndef NEBENKOSTEN_RELAY_CRC32C_H
#define NEBENKOSTEN_RELAY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 for a fresh checksum; the result of an earlier call to continue one) over
 * length bytes of data (borrowed), like zlib's crc32(): crc32c_update(crc32c_update(0, a), b)
 * equals the checksum of a followed by b. crc32c_update(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t length);

/* The two implementations, exported so tests can check they agree. crc32c_update_hardware must
 * only be called when crc32c_hardware_available() is true. */
uint32_t crc32c_update_software(uint32_t crc, const void *data, size_t length);
uint32_t crc32c_update_hardware(uint32_t crc, const void *data, size_t length);
int crc32c_hardware_available(void);

#endif
