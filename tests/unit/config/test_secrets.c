#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/secrets.h"

/* Every test works in its own directory, so parallel test processes never share files. */
struct secrets_test_directory {
    char path[64];
    char file[128];
};

static void secrets_test_write(struct secrets_test_directory *directory, const char *name,
                               const char *content, mode_t mode)
{
    snprintf(directory->path, sizeof directory->path, "/tmp/nebenkosten-secrets-XXXXXX");
    cr_assert_not_null(mkdtemp(directory->path));
    snprintf(directory->file, sizeof directory->file, "%s/%s", directory->path, name);
    int fd = open(directory->file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    size_t length = strlen(content);
    cr_assert_eq(write(fd, content, length), (ssize_t)length);
    cr_assert_eq(fchmod(fd, mode), 0);
    cr_assert_eq(close(fd), 0);
}

static void secrets_test_remove(struct secrets_test_directory *directory)
{
    cr_assert_eq(unlink(directory->file), 0);
    cr_assert_eq(rmdir(directory->path), 0);
}

static struct secrets_file *secrets_test_load(struct secrets_test_directory *directory,
                                              const char *content)
{
    secrets_test_write(directory, "relay.env", content, 0600);
    struct secrets_file *file = NULL;
    char error[512] = "";
    cr_assert_eq(secrets_file_load(directory->file, true, &file, error, sizeof error), 0, "%s",
                 error);
    return file;
}

/* Loads content expecting an error; returns the error with the directory part removed. */
static void secrets_test_load_error(const char *content, const char *expected)
{
    struct secrets_test_directory directory;
    secrets_test_write(&directory, "relay.env", content, 0600);
    struct secrets_file *file = NULL;
    char error[512] = "";
    cr_assert_eq(secrets_file_load(directory.file, true, &file, error, sizeof error), -1,
                 "accepted %s", content);
    cr_assert_null(file);
    size_t prefix = strlen(directory.path) + 1;
    cr_assert_eq(strncmp(error, directory.path, prefix - 1), 0, "%s", error);
    cr_assert_str_eq(error + prefix, expected);
    secrets_test_remove(&directory);
}

Test(secrets_parse, plain_lines_comments_blank_lines_and_export)
{
    struct secrets_test_directory directory;
    struct secrets_file *file = secrets_test_load(&directory, "# relay clients\n"
                                                              "\n"
                                                              "NK_A=1\n"
                                                              "  NK_B = two words  \n"
                                                              "export NK_C=3\n"
                                                              "NK_D=pa#ss\r\n"
                                                              "NK_E=\n"
                                                              "NK_F=a=b");
    cr_assert_str_eq(secrets_file_get(file, "NK_A"), "1");
    cr_assert_str_eq(secrets_file_get(file, "NK_B"), "two words");
    cr_assert_str_eq(secrets_file_get(file, "NK_C"), "3");
    cr_assert_str_eq(secrets_file_get(file, "NK_D"), "pa#ss");
    cr_assert_str_eq(secrets_file_get(file, "NK_E"), "");
    cr_assert_str_eq(secrets_file_get(file, "NK_F"), "a=b");
    cr_assert_null(secrets_file_get(file, "NK_G"));
    cr_assert_null(secrets_file_get(file, "NK_"));
    cr_assert_str_eq(secrets_file_path(file), directory.file);
    secrets_file_free(file);
    secrets_test_remove(&directory);
}

Test(secrets_parse, quoted_values)
{
    struct secrets_test_directory directory;
    struct secrets_file *file =
        secrets_test_load(&directory, "NK_SINGLE=' keep \\n \"this\" '\n"
                                      "NK_DOUBLE=\"say \\\"hi\\\" \\\\ \\n\"\n"
                                      "NK_COMMENTED=\"value\"   # a note\n"
                                      "NK_EMPTY=''\n");
    cr_assert_str_eq(secrets_file_get(file, "NK_SINGLE"), " keep \\n \"this\" ");
    cr_assert_str_eq(secrets_file_get(file, "NK_DOUBLE"), "say \"hi\" \\ \\n");
    cr_assert_str_eq(secrets_file_get(file, "NK_COMMENTED"), "value");
    cr_assert_str_eq(secrets_file_get(file, "NK_EMPTY"), "");
    secrets_file_free(file);
    secrets_test_remove(&directory);
}

Test(secrets_parse, malformed_lines_name_file_and_line)
{
    secrets_test_load_error("NK_A=1\n\nNK_B 2\n",
                            "relay.env:3: expected KEY=value, found \"\xe2\x80\xa6\"");
    /* A long line may be a pasted token: it is shown masked. */
    secrets_test_load_error("# tokens\nabcdefghijklmnopqrstuvwxyz\n",
                            "relay.env:2: expected KEY=value, found \"abc\xe2\x80\xa6xyz\"");
    secrets_test_load_error("1NK=x\n", "relay.env:1: expected KEY=value with KEY made of letters, "
                                       "digits and _ (not starting with a digit), found key "
                                       "\"\xe2\x80\xa6\"");
    secrets_test_load_error("=x\n", "relay.env:1: expected KEY=value with KEY made of letters, "
                                    "digits and _ (not starting with a digit), found key \"\"");
    secrets_test_load_error("NK_A=\"open\n",
                            "relay.env:1: NK_A: expected a closing \" for the value, found end of "
                            "line");
    secrets_test_load_error("NK_A='open\n",
                            "relay.env:1: NK_A: expected a closing ' for the value, found end of "
                            "line");
    secrets_test_load_error("NK_A=\"x\" y\n", "relay.env:1: NK_A: expected end of line or a # "
                                              "comment after the closing quote, found more text");
    secrets_test_load_error("NK_A=1\nNK_A=2\n",
                            "relay.env:2: NK_A is set twice in this file; keep one of the lines");
}

/* A line that does not parse may hold a secret of any length: a password pasted without its key,
 * KEY and value without '=', a token with '=' padding. Its error names file and line and shows it
 * only masked ("…" below 12 characters), never the value itself. */
Test(secrets_parse, errors_never_show_a_short_secret)
{
    secrets_test_load_error("hunter2\n", "relay.env:1: expected KEY=value, found \"\xe2\x80\xa6\"");
    secrets_test_load_error("NK_A=1\nPW hunter2\n",
                            "relay.env:2: expected KEY=value, found \"\xe2\x80\xa6\"");
    secrets_test_load_error("export s3cr3t\n",
                            "relay.env:1: expected KEY=value, found \"\xe2\x80\xa6\"");
    secrets_test_load_error("ab:hunter2==\n", "relay.env:1: expected KEY=value with KEY made of "
                                              "letters, digits and _ (not starting with a "
                                              "digit), found key \"\xe2\x80\xa6\"");
    secrets_test_load_error("NK_A=\"hunter2\" x\n",
                            "relay.env:1: NK_A: expected end of line or a # comment after the "
                            "closing quote, found more text");
}

Test(secrets_permissions, group_readable_file_is_refused)
{
    struct secrets_test_directory directory;
    secrets_test_write(&directory, "influxdb.env", "INFLUX_TOKEN=abc\n", 0640);
    struct secrets_file *file = NULL;
    char error[512] = "";
    cr_assert_eq(secrets_file_load(directory.file, false, &file, error, sizeof error), -1);
    cr_assert_null(file);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s: refused: mode 0640 lets group or others access the secrets; run `chmod 600 %s`",
             directory.file, directory.file);
    cr_assert_str_eq(error, expected);
    cr_assert_eq(chmod(directory.file, 0604), 0);
    cr_assert_eq(secrets_file_load(directory.file, false, &file, error, sizeof error), -1);
    cr_assert_eq(chmod(directory.file, 0400), 0);
    cr_assert_eq(secrets_file_load(directory.file, false, &file, error, sizeof error), 0, "%s",
                 error);
    cr_assert_str_eq(secrets_file_get(file, "INFLUX_TOKEN"), "abc");
    secrets_file_free(file);
    secrets_test_remove(&directory);
}

Test(secrets_permissions, directory_is_refused)
{
    struct secrets_file *file = NULL;
    char error[512] = "";
    cr_assert_eq(secrets_file_load("/tmp", false, &file, error, sizeof error), -1);
    cr_assert_str_eq(error, "/tmp: not a regular file; expected a KEY=value file");
}

Test(secrets_missing, optional_and_required_files)
{
    const char *path = "/tmp/nebenkosten-no-such-dir/tibber.env";
    struct secrets_file *file = NULL;
    char error[512] = "";
    cr_assert_eq(secrets_file_load(path, true, &file, error, sizeof error), -1);
    cr_assert_str_eq(error, "/tmp/nebenkosten-no-such-dir/tibber.env: not found; create it (see "
                            "secrets/README.md) with mode 600");
    cr_assert_eq(secrets_file_load(path, false, &file, error, sizeof error), 0);
    cr_assert_not_null(file);
    cr_assert_str_eq(secrets_file_path(file), path);
    unsetenv("TIBBER_API_TOKEN");
    cr_assert_null(secrets_file_require(file, "TIBBER_API_TOKEN", error, sizeof error));
    cr_assert_str_eq(error, "TIBBER_API_TOKEN is not set: looked in the environment and in "
                            "/tmp/nebenkosten-no-such-dir/tibber.env (file not found)");
    setenv("TIBBER_API_TOKEN", "from-environment", 1);
    cr_assert_str_eq(secrets_file_require(file, "TIBBER_API_TOKEN", error, sizeof error),
                     "from-environment");
    secrets_file_free(file);
}

Test(secrets_environment, environment_overrides_file)
{
    struct secrets_test_directory directory;
    struct secrets_file *file =
        secrets_test_load(&directory, "NK_TOKEN=from-file\nNK_OTHER=file-only\n");
    unsetenv("NK_TOKEN");
    cr_assert_str_eq(secrets_file_get(file, "NK_TOKEN"), "from-file");
    setenv("NK_TOKEN", "from-environment", 1);
    cr_assert_str_eq(secrets_file_get(file, "NK_TOKEN"), "from-environment");
    /* An empty variable (as compose files produce) does not hide the file. */
    setenv("NK_TOKEN", "", 1);
    cr_assert_str_eq(secrets_file_get(file, "NK_TOKEN"), "from-file");
    setenv("NK_ONLY_ENV", "env-only", 1);
    cr_assert_str_eq(secrets_file_get(file, "NK_ONLY_ENV"), "env-only");
    cr_assert_str_eq(secrets_file_get(NULL, "NK_ONLY_ENV"), "env-only");

    char error[512] = "";
    cr_assert_null(secrets_file_require(file, "NK_MISSING", error, sizeof error));
    char expected[512];
    snprintf(
        expected, sizeof expected,
        "NK_MISSING is not set: looked in the environment and in %s; add a line NK_MISSING=...",
        directory.file);
    cr_assert_str_eq(error, expected);
    secrets_file_free(file);
    secrets_test_remove(&directory);
}

Test(secrets_mask, lengths)
{
    char out[32];
    cr_assert_str_eq(secrets_mask("tok1234567f3a", out, sizeof out), "tok\xe2\x80\xa6"
                                                                     "f3a");
    cr_assert_str_eq(secrets_mask("abcdefghijkl", out, sizeof out), "abc\xe2\x80\xa6jkl");
    cr_assert_str_eq(secrets_mask("abcdefghijk", out, sizeof out), "\xe2\x80\xa6");
    cr_assert_str_eq(secrets_mask("", out, sizeof out), "\xe2\x80\xa6");
    cr_assert_str_eq(secrets_mask(NULL, out, sizeof out), "\xe2\x80\xa6");
    char small[4];
    cr_assert_str_eq(secrets_mask("abcdefghijklmnop", small, sizeof small), "abc");
    cr_assert_eq(secrets_mask("abcdefghijkl", out, sizeof out), out);
}

/* Characters, not bytes: a cut UTF-8 sequence made check-config's YAML printer fail. A byte that
 * is no UTF-8 (a Latin-1 file) shows as '?', and counts as one character. */
Test(secrets_mask, characters)
{
    char out[32];
    cr_assert_str_eq(secrets_mask("Gr\xc3\xbc\xc3\x9f"
                                  "e-an-alle-2024",
                                  out, sizeof out),
                     "Gr\xc3\xbc\xe2\x80\xa6"
                     "024");
    cr_assert_str_eq(secrets_mask("pass-2024-\xe2\x82\xac\xe2\x82\xac", out, sizeof out),
                     "pas\xe2\x80\xa6"
                     "-\xe2\x82\xac\xe2\x82\xac");
    cr_assert_str_eq(secrets_mask("ab\xfc\xdf-latin1-9\xfc", out, sizeof out), "ab?\xe2\x80\xa6"
                                                                               "-9?");
    /* 11 characters in 13 bytes: too short to show any of them. */
    cr_assert_str_eq(secrets_mask("Gr\xc3\xbc\xc3\x9f"
                                  "e-an-a",
                                  out, sizeof out),
                     "\xe2\x80\xa6");
}

/* Windows editors (Notepad) may start a UTF-8 file with a byte order mark; it is not part of the
 * first key, as CRLF line ends are not part of the last value. */
Test(secrets_parse, utf8_byte_order_mark_is_skipped)
{
    struct secrets_test_directory directory;
    struct secrets_file *file =
        secrets_test_load(&directory, "\xef\xbb\xbfRELAY_TOKENS=abc\r\nNK_B=2\r\n");
    cr_assert_str_eq(secrets_file_get(file, "RELAY_TOKENS"), "abc");
    cr_assert_str_eq(secrets_file_get(file, "NK_B"), "2");
    secrets_file_free(file);
    secrets_test_remove(&directory);
}
