/* SPDX-License-Identifier: MIT */
/* Unit tests of modload: a module that is not there is -ENOENT (the path that
 * prints the fix-your-image hint), and the hint names both generators. */
#include <stdlib.h>
#include <unistd.h>

#include "shared/modload.h"
#include "test.h"
#include "shared/util.h"

TEST(missing_module)
{
        char tmpl[] = "/tmp/test-modload.XXXXXX";
        char *dir = mkdtemp(tmpl);

        ASSERT_TRUE(dir != NULL);
        /* An empty module directory, as in an image built without the module. The
         * lookup ran: libkmod was opened (dlopen) and its calls found, or this would
         * be -ELIBACC or -ELIBBAD. */
        ASSERT_EQ(modload_filesystem("overlay", dir), -ENOENT);
        ASSERT_EQ(strcmp(modload_library_error(), ""), 0);
        ASSERT_EQ(modload_filesystem("ephemeral-no-such-fs", dir), -ENOENT);
        rmdir(dir);
}

TEST(hint)
{
        const char *h = modload_missing_hint();

        ASSERT_TRUE(strstr(h, "overlay") != NULL);
        ASSERT_TRUE(strstr(h, "dracut") != NULL);
        ASSERT_TRUE(strstr(h, "instmods overlay") != NULL);
        ASSERT_TRUE(strstr(h, "mkinitcpio") != NULL);
}

TEST(builtin_or_loaded)
{
        FILE *f = fopen("/proc/filesystems", "re");
        char line[256];
        int have = 0;

        ASSERT_TRUE(f != NULL);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "\toverlay\n"))
                        have = 1;
        fclose(f);
        if (have) /* built in or loaded: nothing to do, no libkmod needed */
                ASSERT_EQ(modload_filesystem("overlay", NULL), 0);
}
