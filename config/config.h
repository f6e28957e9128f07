/* The typed configuration of nebenkosten: config.yaml, meters.yaml and seasonal_patterns.yaml,
 * loaded with libyaml, validated as a whole (every problem is reported, each with file:line:col,
 * the dotted key, what was found and what is allowed), completed with defaults and with the
 * credentials from the secrets files (secrets/<name>.env).
 *
 * Relative paths in config.yaml (meters_config, seasonal_patterns_config, secrets_dir,
 * relay.spool.dir, logging.file) resolve against the directory of the config file; the loaded
 * configuration holds them as absolute paths. Without a config file the built-in defaults behave
 * as if an empty config/config.yaml existed (secrets in ./secrets, the spool in ./var/spool).
 * A key given as null (`key:`, `~`, `null`) takes its default. */
#ifndef NEBENKOSTEN_CONFIG_CONFIG_H
#define NEBENKOSTEN_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/cron.h"
#include "config/log.h"

/* Dates are days since 1970-01-01 (proleptic Gregorian). */
#define CONFIG_DATE_UNSET INT64_MIN
#define CONFIG_DATE_OPEN_END 2932896 /* 9999-12-31: a period that has not ended */

/* The default locations config_load(NULL, ...) tries, in this order. */
#define CONFIG_DEFAULT_PATH "config/config.yaml"
#define CONFIG_SYSTEM_PATH "/etc/nebenkosten/config.yaml"

enum config_api { CONFIG_API_V1, CONFIG_API_V2 };
enum config_auth { CONFIG_AUTH_NONE, CONFIG_AUTH_TOKEN, CONFIG_AUTH_BASIC };
enum config_sync_mode { CONFIG_SYNC_ALWAYS, CONFIG_SYNC_INTERVAL, CONFIG_SYNC_NONE };
enum config_compat { CONFIG_COMPAT_NONE, CONFIG_COMPAT_REFERENCE };
enum config_meter_type { CONFIG_METER_PHYSICAL, CONFIG_METER_MASTER, CONFIG_METER_VIRTUAL };
enum config_composition { CONFIG_COMPOSITION_SINGLE, CONFIG_COMPOSITION_SUM };
enum config_calculation { CONFIG_CALCULATION_SUBTRACTION };

/* A cron schedule as written and parsed. */
struct config_schedule {
    char *text;
    struct cron_expression expression;
};

struct config_influxdb {
    char *url; /* without a trailing '/' */
    char *bucket_raw;
    char *bucket_processed;
    int64_t timeout_ms; /* `timeout`: plain numbers are seconds */
    int retry_attempts;
    enum config_api api; /* how meter-batch talks to it, and the default upstream's api */
    char *org;           /* from the config, else INFLUX_ORG; NULL when neither */
    char *credentials;   /* secrets file name (in secrets_dir) */
    /* Resolved from the credentials file (or the environment); NULL when not set. */
    char *token;
    char *username;
    char *password;
};

struct config_tibber {
    bool enabled;
    char *api_url;
    int64_t polling_interval_ms; /* plain numbers are seconds */
    int lookback_hours;
    int max_lookback_hours;
    char *meter_id;
    char *home_id;     /* the Tibber home to fetch; NULL: the first with a subscription */
    char *credentials; /* secrets file name, default tibber.env */
    char *api_token;   /* TIBBER_API_TOKEN when enabled, else NULL */
};

struct config_gas_conversion {
    double energy_content; /* kWh per m³ */
    double z_factor;
};

struct config_workflow_analytics {
    struct config_schedule schedule; /* meter-batch reconcile */
    int start_year;
    int64_t timeout_ms; /* a run still going after this long is stopped (SIGTERM, then SIGKILL) */
};

struct config_workflow_tibber_sync {
    struct config_schedule schedule; /* meter-batch tibber (when tibber.enabled) */
    int64_t timeout_ms;
};

struct config_workflows {
    struct config_workflow_analytics analytics;
    struct config_workflow_tibber_sync tibber_sync;
    /* The meter-batch meter-relay starts (absolute); NULL = the meter-batch beside the running
     * meter-relay, else the one on PATH. */
    char *batch_program;
};

struct config_listen {
    char *host; /* "" = every interface; an IPv6 address without brackets */
    int port;   /* 0 = any free port */
};

struct config_sync {
    enum config_sync_mode mode;
    int64_t interval_ms; /* CONFIG_SYNC_INTERVAL only */
};

/* "always", "interval" or "none": the mode's name in config.yaml, /health and /metrics. */
const char *config_sync_mode_name(enum config_sync_mode mode);

struct config_spool {
    char *dir;
    struct config_sync sync;
    uint64_t max_bytes;
    uint64_t min_free_bytes;
    uint64_t segment_bytes;
    int64_t commit_max_delay_us; /* plain numbers are microseconds */
};

/* A v1 database (and retention policy) and the bucket it is written to. */
struct config_route {
    char *source; /* "db" or "db/rp" */
    char *bucket;
};

struct config_upstream {
    char *name;
    char *url; /* without a trailing '/' */
    enum config_api api;
    char *org; /* from the config, else INFLUX_ORG; required for v2 */
    char *credentials;
    struct config_route *routes; /* checked in order: "db/rp" before "db" is up to the user */
    size_t route_count;
    int batch_lines;
    uint64_t batch_bytes;
    bool gzip;
    int requests_in_flight; /* batches sent at once; only batches without a point in common */
    /* A batch short of batch_lines and batch_bytes goes out no sooner than this after the
     * request before it (0: at once). */
    int64_t batch_wait_ms;
    bool tls_verify;
    int64_t connect_timeout_ms;
    int64_t request_timeout_ms;
    int64_t backoff_initial_ms; /* first retry delay after a failure; doubles up to backoff_max */
    int64_t backoff_max_ms;
    int64_t pause_retry_ms; /* retry interval of an upstream paused by 401/403/404 */
    /* From the credentials file (or the environment); NULL when not set. */
    char *token;
    char *username;
    char *password;
};

struct config_user {
    char *name;
    char *password;
};

struct config_relay {
    struct config_listen listen;
    char *base_path; /* "" or "/prefix" without a trailing '/' */
    uint64_t max_body_bytes;
    uint64_t max_inflight_bytes;
    int64_t read_timeout_ms;
    int64_t write_timeout_ms;
    int64_t idle_timeout_ms;
    int max_connections;
    enum config_auth auth;
    char *credentials; /* secrets file with RELAY_TOKENS / RELAY_USERS */
    struct config_spool spool;
    struct config_upstream *upstreams; /* at least one after loading */
    size_t upstream_count;
    char *query_upstream; /* the name of one of the upstreams */
    /* From the credentials file when auth is on: RELAY_TOKENS="a,b" and RELAY_USERS="u:p,v:q". */
    char **auth_tokens;
    size_t auth_token_count;
    struct config_user *auth_users;
    size_t auth_user_count;
};

struct config_tag {
    char *key;
    char *value;
};

/* Which points are meter readings: measurement matches the glob, every listed tag has the given
 * value; the meter id is the value of id_tag, the reading the value of field. */
struct config_reading_rule {
    char *measurement;
    struct config_tag *tags;
    size_t tag_count;
    char *id_tag;
    char *field;
};

/* Plausibility limits of one meter (0 = off or learned from the data). */
struct config_meter_limits {
    char *meter_id;           /* NULL for stream.default_limits */
    double max_rate_per_hour; /* units of the meter per hour; above: spike_rate */
    int stuck_days;           /* no increase for this many days: stuck */
    int64_t stale_after_ms;   /* no reading for this long: stale (0 = k x usual cadence) */
    bool leak_check;          /* consumption in every hour of 24 h: leak */
};

struct config_stream {
    bool enabled;
    struct config_reading_rule *readings;
    size_t reading_count;
    int64_t checkpoint_interval_ms;
    struct config_meter_limits default_limits;
    struct config_meter_limits *limits;
    size_t limit_count;
};

struct config_analytics {
    char *timezone;
    enum config_compat compat;
};

struct config_period {
    int64_t start_date;
    int64_t end_date; /* CONFIG_DATE_OPEN_END when open */
    enum config_composition composition_type;
    char **source_meters;
    size_t source_meter_count;
    char *source_unit; /* defaults to the master's output_unit */
    bool apply_offset_from_previous_period;
};

struct config_unit_conversion {
    char *meter_id;
    char *from_unit;
    char *to_unit;
};

struct config_meter {
    char *meter_id;
    enum config_meter_type type;
    char *output_unit;
    char *description; /* NULL when not given */
    /* physical */
    int64_t installation_date; /* CONFIG_DATE_UNSET when not given (a warning) */
    int64_t deinstallation_date;
    /* master */
    struct config_period *periods;
    size_t period_count;
    /* virtual */
    enum config_calculation calculation_type;
    char *base_meter;
    char **subtract_meters;
    size_t subtract_meter_count;
    struct config_unit_conversion *conversions;
    size_t conversion_count;
};

struct config_pattern {
    char *meter_id;
    double *monthly_percentages; /* 12 values, January first, normalised to sum 100 */
    size_t month_count;          /* 12 */
    double raw_percentages[12];  /* as written (analytics.compat: reference may want them) */
    double raw_sum;              /* the sum as written */
    char *description;
};

struct config {
    char *path;      /* absolute path of the file read; NULL for the built-in defaults */
    char *directory; /* absolute; relative paths were resolved against it */
    struct config_influxdb influxdb;
    struct config_tibber tibber;
    struct config_gas_conversion gas_conversion;
    struct config_workflows workflows;
    struct log_options logging;     /* logging.file is owned by the config (NULL = stderr) */
    char *meters_config;            /* absolute */
    char *seasonal_patterns_config; /* absolute */
    char *secrets_dir;              /* absolute */
    struct config_relay relay;
    struct config_stream stream;
    struct config_analytics analytics;
    struct config_meter *meters;
    size_t meter_count;
    struct config_pattern *patterns;
    size_t pattern_count;
};

/* What loading found. Zero-initialise before the first use; messages are owned by the struct. */
struct config_diagnostics {
    char **errors; /* "file:line:col: key: what was found and what is allowed" */
    size_t error_count;
    char **warnings;
    size_t warning_count;
    char **notes; /* e.g. that no file was found and the built-in defaults are used */
    size_t note_count;
    bool out_of_memory; /* some message could not be stored */
};
void config_diagnostics_free(struct config_diagnostics *diagnostics);

/* In-memory text standing in for a file (tests, fuzzing). All borrowed. */
struct config_text {
    const char *file_name; /* shown in messages */
    const char *data;
    size_t length;
};

struct config_load_options {
    /* false: meters.yaml, seasonal_patterns.yaml and secrets files are not read (unless given
     * below) and no secret is resolved or required. */
    bool read_files;
    const struct config_text *meters;   /* borrowed; used instead of the meters file */
    const struct config_text *patterns; /* borrowed; used instead of the patterns file */
};

/* Loads path (NULL: CONFIG_DEFAULT_PATH, then CONFIG_SYSTEM_PATH, then the built-in defaults with
 * a note) with the meter, pattern and secrets files it names. Returns 0 and an owned *out (free
 * with config_free), or -1 with *out = NULL when there were errors. Errors, warnings and notes are
 * appended to *diagnostics (borrowed) in both cases. */
int config_load(const char *path, struct config **out, struct config_diagnostics *diagnostics);

/* Like config_load, for config.yaml text in memory. file_name (borrowed) is shown in messages and
 * its directory is the base for relative paths; data is borrowed and need not be NUL-terminated.
 * options NULL = read the named files like config_load. */
int config_load_buffer(const char *file_name, const char *data, size_t length,
                       const struct config_load_options *options, struct config **out,
                       struct config_diagnostics *diagnostics);

/* The arguments of a command whose only options are -c/--config FILE and -h/--help (argv[0] is
 * the command's name). */
enum config_arguments {
    CONFIG_ARGUMENTS_RUN,         /* *path set (NULL: the default search) */
    CONFIG_ARGUMENTS_HELP,        /* print the usage to stdout, exit 0 */
    CONFIG_ARGUMENTS_USAGE_ERROR, /* what was wrong is on stderr: print the usage there, exit 2 */
};
/* command (borrowed) prefixes the messages ("meter-relay run"); *path borrows from argv. */
enum config_arguments config_arguments_parse(int argc, char **argv, const char *command,
                                             const char **path);

/* config_load for a command: writes every note ("note: ..."), error and warning ("warning: ...")
 * to messages (borrowed), one per line, and returns the owned config, or NULL when there were
 * errors. program (borrowed) prefixes the out-of-memory message. */
struct config *config_load_reporting(const char *path, FILE *messages, const char *program);

void config_free(struct config *config);

/* Writes the effective configuration as YAML: a config.yaml document with every key, a meters.yaml
 * document, a seasonal_patterns.yaml document and, when secrets were resolved, a document listing
 * them masked. config is borrowed. Returns 0, or -1 when writing failed. */
int config_print(const struct config *config, FILE *out);

/* `check-config [-c FILE]`: prints the effective configuration (stdout) and the warnings (stderr)
 * and returns 0, or prints every error to stderr, one per line, and returns 1; 2 on usage errors.
 */
int config_command_check(int argc, char **argv);

/* Lookups; the results are borrowed from config (NULL when absent). */
const struct config_meter *config_meter_find(const struct config *config, const char *meter_id);
const struct config_pattern *config_pattern_find(const struct config *config, const char *meter_id);
const struct config_upstream *config_upstream_find(const struct config *config, const char *name);
/* The limits of meter_id: its stream.limits entry, else stream.default_limits. */
const struct config_meter_limits *config_limits_find(const struct config *config,
                                                     const char *meter_id);

/* The factor that converts a value in from_unit into to_unit (kWh <-> MWh <-> Wh, m³ <-> l, and
 * gas m³ <-> kWh via gas_conversion.energy_content x z_factor). config is borrowed. Returns 0, or
 * -1 when the units cannot be converted. */
int config_unit_factor(const struct config *config, const char *from_unit, const char *to_unit,
                       double *factor);

#endif
