/* SPDX-License-Identifier: MIT */
/*
 * test.h: a minimal unit-test harness. Each test is a function registered with
 * TEST(name); main() runs them all and prints TAP-style "ok N - name" / "not ok N -
 * name" lines and a closing "N passed, N failed" line. Assertions report file:line
 * and the values, and end the current test only.
 */
#pragma once

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

struct test_case {
        const char *name;
        void (*fn)(void);
};

#define TEST_MAX 256
static struct test_case test_cases[TEST_MAX];
static unsigned test_count;
static jmp_buf test_jmp;
static int test_failed;

#define TEST(n)                                                                                    \
        static void test_##n(void);                                                                \
        __attribute__((constructor)) static void test_register_##n(void)                           \
        {                                                                                          \
                if (test_count < TEST_MAX)                                                         \
                        test_cases[test_count++] = (struct test_case){#n, test_##n};               \
        }                                                                                          \
        static void test_##n(void)

#define FAIL(...)                                                                                  \
        do {                                                                                       \
                fprintf(stdout, "#   %s:%d: ", __FILE__, __LINE__);                                \
                fprintf(stdout, __VA_ARGS__);                                                      \
                fprintf(stdout, "\n");                                                             \
                test_failed = 1;                                                                   \
                longjmp(test_jmp, 1);                                                              \
        } while (0)

#define ASSERT_TRUE(e)                                                                             \
        do {                                                                                       \
                if (!(e))                                                                          \
                        FAIL("expected true: %s", #e);                                             \
        } while (0)
#define ASSERT_FALSE(e) ASSERT_TRUE(!(e))
#define ASSERT_EQ(a, b)                                                                            \
        do {                                                                                       \
                long long _a = (long long)(a), _b = (long long)(b);                                \
                if (_a != _b)                                                                      \
                        FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);                            \
        } while (0)
#define ASSERT_STREQ(a, b)                                                                         \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
                        FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",             \
                             _b ? _b : "(null)");                                                  \
        } while (0)

int main(void)
{
        static unsigned passed, failed; /* static: survive longjmp (-Wclobbered) */

        for (unsigned i = 0; i < test_count; i++) {
                test_failed = 0;
                if (setjmp(test_jmp) == 0)
                        test_cases[i].fn();
                if (test_failed) {
                        failed++;
                        printf("not ok %u - %s\n", i + 1, test_cases[i].name);
                } else {
                        passed++;
                        printf("ok %u - %s\n", i + 1, test_cases[i].name);
                }
                fflush(stdout);
        }
        printf("%u passed, %u failed\n", passed, failed);
        return failed ? 1 : 0;
}
