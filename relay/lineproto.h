/* Line protocol codec: the parser every write passes through, the normaliser that turns a
 * request body into spoolable lines, and the helpers to unescape, escape and format values.
 *
 * Grammar (line-protocol v2 reference, InfluxDB servers where they are stricter):
 *
 *   line        = measurement ("," tag_key "=" tag_value)* " "+ field ("," field)* [" "+ time] " "*
 *   field       = field_key "=" (float | integer "i" | unsigned "u" | string | boolean)
 *
 * - Leading spaces are skipped; blank lines and lines whose first non-space byte is '#' are
 *   skipped whatever they contain (InfluxDB servers do the same). Lines end in "\n" or "\r\n"; the
 *   last line may lack it; a lone "\r" is an error except at the very end of the input.
 * - Escapes (a backslash before any other byte is a literal backslash):
 *     measurement: "\," "\ "       tag keys, tag values, field keys: "\," "\=" "\ "
 *     string field values: "\"" "\\" only (as InfluxDB servers store them)
 * - Names (measurement, tag keys and values, field keys) are non-empty, valid UTF-8 without
 *   control characters (0x00-0x1F, 0x7F). String values may hold any byte sequence that is valid
 *   UTF-8, newlines included (such a point spans several physical lines).
 * - Tag keys "_measurement", "_field" and "time" are rejected, and so is a line whose only
 *   fields are named "time" (InfluxDB stores the point without its "time" fields when it has
 *   others, and drops it when it has none).
 *   Duplicate tag keys are rejected. Duplicate field keys of one type are accepted: InfluxDB
 *   keeps the last; the parser reports every field as written, in input order, and leaves that
 *   choice to readers. A field key written in two types is rejected: InfluxDB refuses the point
 *   ("field type conflict") and every other point of the write with it. Fields named "time" are
 *   exempt: InfluxDB drops them before it compares types.
 * - Numbers: float = ["-"] (digits ["." digits*] | "." digits) [("e"|"E") ["+"|"-"] digits];
 *   integer = ["-"] digits "i" within int64; unsigned = digits "u" within uint64. No "+", "_",
 *   hex, NaN or Inf; float literals that would round to +-infinity (from 2^1024 - 2^970 on) are
 *   rejected, underflow to 0 is not. Booleans: t T true True TRUE f F false False FALSE.
 * - Time: ["-"] digits in the request precision, scaled to ns with overflow detection; the result
 *   must lie within [LINEPROTO_TIME_MIN, LINEPROTO_TIME_MAX].
 * - The series key (measurement and tags as written) may be at most LINEPROTO_MAX_KEY_LENGTH
 *   bytes, and so may the key InfluxDB stores each field under: series key, its 4-byte
 *   separator "#!~#" and the field key (as written); InfluxDB refuses a longer one ("max key
 *   length exceeded"), so the relay would acknowledge a line its upstream never takes.
 * - A bad line is reported once; parsing resumes after the first newline at or after the
 *   problem (for an unterminated string: after the first newline after its opening quote), so
 *   the good lines of a batch stay usable.
 *
 * All slices point into the caller's input buffer (zero copy, escapes left in place). */
#ifndef NEBENKOSTEN_RELAY_LINEPROTO_H
#define NEBENKOSTEN_RELAY_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/buffer.h"

#define LINEPROTO_MAX_KEY_LENGTH 65535
/* InfluxDB's key of a field is series key, "#!~#", field key: the limit counts the separator. */
#define LINEPROTO_FIELD_SEPARATOR_LENGTH 4
#define LINEPROTO_TIME_MIN (-INT64_MAX + 1) /* -9223372036854775806 ns */
#define LINEPROTO_TIME_MAX (INT64_MAX - 1)  /* 9223372036854775806 ns */
#define LINEPROTO_REASON_SIZE 320
/* Room lineproto_int64_format and lineproto_float_format need (digits, sign, exponent, NUL). */
#define LINEPROTO_NUMBER_SIZE 32

enum lineproto_precision {
    LINEPROTO_PRECISION_NANOSECOND,
    LINEPROTO_PRECISION_MICROSECOND,
    LINEPROTO_PRECISION_MILLISECOND,
    LINEPROTO_PRECISION_SECOND,
    LINEPROTO_PRECISION_MINUTE,
    LINEPROTO_PRECISION_HOUR,
};

/* Bytes of the caller's buffer: borrowed, not NUL-terminated. */
struct lineproto_slice {
    const char *data;
    size_t length;
};

enum lineproto_value_type {
    LINEPROTO_VALUE_FLOAT,
    LINEPROTO_VALUE_INTEGER,
    LINEPROTO_VALUE_UNSIGNED,
    LINEPROTO_VALUE_STRING,
    LINEPROTO_VALUE_BOOLEAN,
};

/* The elements of a line, for the escape helpers: each has its own escape set. */
enum lineproto_element {
    LINEPROTO_ELEMENT_MEASUREMENT,
    LINEPROTO_ELEMENT_TAG_KEY,
    LINEPROTO_ELEMENT_TAG_VALUE,
    LINEPROTO_ELEMENT_FIELD_KEY,
    LINEPROTO_ELEMENT_STRING,
};

struct lineproto_tag {
    struct lineproto_slice key;   /* as written (escaped) */
    struct lineproto_slice value; /* as written (escaped) */
    bool escaped;                 /* key or value holds an escape sequence */
};

struct lineproto_field {
    struct lineproto_slice key; /* as written (escaped) */
    /* As written: float literal; integer/unsigned digits without the i/u suffix; the string
     * between its quotes, still escaped; the boolean literal. */
    struct lineproto_slice value;
    enum lineproto_value_type type;
    bool key_escaped;   /* key holds an escape sequence */
    bool value_escaped; /* string value holds \" or \\ */
    union {
        int64_t integer;           /* LINEPROTO_VALUE_INTEGER */
        uint64_t unsigned_integer; /* LINEPROTO_VALUE_UNSIGNED */
        bool boolean;              /* LINEPROTO_VALUE_BOOLEAN */
    } as;                          /* floats are converted on demand: lineproto_field_float() */
};

/* One parsed point. Slices borrow the input; tags and fields borrow the parser's arrays and are
 * valid until its next lineproto_parser_next() or lineproto_parser_destroy(). */
struct lineproto_point {
    size_t line_number; /* 1-based, of the line the point starts on */
    /* measurement .. end of timestamp or last field, as written (a string value with newlines
     * makes it span several physical lines) */
    struct lineproto_slice line;
    /* measurement, tags and fields as written: line without the timestamp and spaces before it */
    struct lineproto_slice body;
    struct lineproto_slice measurement; /* as written (escaped) */
    bool measurement_escaped;
    struct lineproto_slice series_key; /* measurement and tags as written */
    const struct lineproto_tag *tags;
    size_t tag_count;
    const struct lineproto_field *fields; /* at least one */
    size_t field_count;
    bool has_time;
    int64_t time;                     /* ns, when has_time */
    struct lineproto_slice time_text; /* as written, in the request precision; empty if absent */
};

/* A rejected line. */
struct lineproto_error {
    size_t line_number;                 /* 1-based */
    size_t column;                      /* 1-based byte offset within line where the problem is */
    struct lineproto_slice line;        /* the whole line as written (borrowed), without CR/LF */
    char reason[LINEPROTO_REASON_SIZE]; /* e.g. `invalid field value "12x" for field "temp": ...` */
};

enum lineproto_status {
    LINEPROTO_END = 0,        /* no more lines */
    LINEPROTO_POINT = 1,      /* point filled in */
    LINEPROTO_INVALID = -1,   /* error filled in; the next call continues with the next line */
    LINEPROTO_NO_MEMORY = -2, /* growing the tag/field arrays failed; the parse cannot continue */
};

struct lineproto_parser;

/* Returns an owned parser (free with lineproto_parser_destroy), or NULL when out of memory. One
 * parser is reused across requests: its tag and field arrays grow to the largest line seen. */
struct lineproto_parser *lineproto_parser_create(void);
/* Frees an owned parser; NULL is fine. */
void lineproto_parser_destroy(struct lineproto_parser *parser);
/* Starts parsing data (borrowed: must stay valid and unchanged while points are used). */
void lineproto_parser_start(struct lineproto_parser *parser, const char *data, size_t length,
                            enum lineproto_precision precision);
/* Parses the next non-blank, non-comment line into point (or error). point and error are
 * caller-owned; both are filled only for their status. */
enum lineproto_status lineproto_parser_next(struct lineproto_parser *parser,
                                            struct lineproto_point *point,
                                            struct lineproto_error *error);

/* Converts a float field's literal (validated at parse time) with strtod, which needs the C
 * numeric locale (the default unless a program calls setlocale). Returns 0, or -1 when field is
 * not a float or memory for a very long literal is lacking. field is borrowed. */
int lineproto_field_float(const struct lineproto_field *field, double *out);

/* Writes the unescaped form of escaped (borrowed) for element into out (caller-owned, at least
 * escaped.length bytes; never NUL-terminated) and returns its length (<= escaped.length). */
size_t lineproto_unescape(enum lineproto_element element, struct lineproto_slice escaped,
                          char *out);

/* Appends text (borrowed) escaped for element to out (without the quotes of a string value).
 * Returns 0, -ENOMEM, or -EINVAL for a name line protocol cannot express: empty, ending in a
 * backslash, holding control characters or invalid UTF-8. */
int lineproto_escape_append(struct buffer *out, enum lineproto_element element, const char *text,
                            size_t length);

/* Writes "unable to parse '<line>': <reason>" (InfluxDB's wording) into out (caller-owned, size
 * bytes, NUL-terminated when size > 0). Control characters and bytes that are not UTF-8 are shown
 * as \xNN so the text is safe in JSON and logs; a line longer than the room is cut with "...".
 * Returns the length written (excluding the NUL). error is borrowed. */
size_t lineproto_error_message(const struct lineproto_error *error, char *out, size_t size);

/* Writes text (borrowed) quoted for a message into out (caller-owned, size bytes, NUL-terminated):
 * "..." with control characters and invalid UTF-8 shown as \xNN, so the message stays valid
 * UTF-8 for JSON and headers; cut at a character boundary to about limit bytes with "...".
 * LINEPROTO_QUOTE_SIZE bytes hold LINEPROTO_QUOTE_LIMIT. Returns the length written. */
size_t lineproto_quote(char *out, size_t size, const char *text, size_t length, size_t limit);

#define LINEPROTO_QUOTE_LIMIT 64
#define LINEPROTO_QUOTE_SIZE (4 * LINEPROTO_QUOTE_LIMIT + 16)

/* Parses a precision as the write endpoints accept it: n ns u us µ ms s m h. text is borrowed.
 * Returns 0, or -1 for anything else. */
int lineproto_precision_parse(const char *text, size_t length, enum lineproto_precision *out);
/* The canonical name ("ns", "us", "ms", "s", "m", "h"); static storage. */
const char *lineproto_precision_name(enum lineproto_precision precision);
/* Nanoseconds per unit of precision. */
int64_t lineproto_precision_nanoseconds(enum lineproto_precision precision);
/* receive_time (ns) truncated to the precision (towards the past), in ns. */
int64_t lineproto_time_truncate(int64_t receive_time, enum lineproto_precision precision);

/* Writes value in decimal into out (caller-owned, LINEPROTO_NUMBER_SIZE bytes, NUL-terminated);
 * returns the length. */
size_t lineproto_int64_format(int64_t value, char *out);
/* Reads a decimal float text[0 .. length) (borrowed, need not be terminated; under 128 bytes) as
 * strtod does, bit for bit, the common short literals without strtod. Returns 0, or -1 when the
 * text is not wholly a finite number. */
int lineproto_float_parse(const char *text, size_t length, double *out);
/* Writes the shortest decimal that strtod reads back as exactly value (finite) into out
 * (caller-owned, LINEPROTO_NUMBER_SIZE bytes, NUL-terminated); returns the length. */
size_t lineproto_float_format(double value, char *out);

/* What lineproto_normalise did with a body. */
struct lineproto_normalise_result {
    size_t accepted;                    /* lines written to the output */
    size_t rejected;                    /* lines dropped */
    bool has_error;                     /* first_error is filled in (rejected > 0) */
    struct lineproto_error first_error; /* its line borrows the body */
};

/* Validates body (borrowed) in precision and appends every good line to out (caller-owned) as
 * spool-ready text: the original bytes from measurement to last field, then " <time in ns>\n"
 * (receive_time truncated to the precision when the line has none; a ns timestamp is copied as
 * written). Comment and blank lines are dropped; CRLF becomes LF. parser is borrowed and reused.
 * Returns 0, or -ENOMEM (out then holds a partial result the caller must discard). */
int lineproto_normalise(struct lineproto_parser *parser, const char *body, size_t length,
                        enum lineproto_precision precision, int64_t receive_time,
                        struct buffer *out, struct lineproto_normalise_result *result);

#endif
