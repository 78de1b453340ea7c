/* SPDX-License-Identifier: MIT */
/* Unit tests of JSON string output: escapes, UTF-8 kept, invalid bytes replaced. */
#include <stdlib.h>

#include "shared/json.h"
#include "test.h"

static char *render(const char *s)
{
        static char out[256];
        FILE *f = fmemopen(out, sizeof(out), "w");

        if (!f)
                return NULL;
        json_string(f, s);
        fclose(f);
        return out;
}

TEST(escapes)
{
        ASSERT_STREQ(render("/etc"), "\"/etc\"");
        ASSERT_STREQ(render("a\"b\\c"), "\"a\\\"b\\\\c\"");
        ASSERT_STREQ(render("new\nline\t\x01"), "\"new\\u000aline\\u0009\\u0001\"");
        ASSERT_STREQ(render("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                     "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
        ASSERT_STREQ(render("bad\xff\xc3"), "\"bad\\ufffd\\ufffd\"");
        ASSERT_STREQ(render("\xc0\xaf"), "\"\\ufffd\\ufffd\"");            /* overlong '/' */
        ASSERT_STREQ(render("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
        ASSERT_STREQ(render(""), "\"\"");
}
