/* SPDX-License-Identifier: MIT */
/* json: the little JSON output status needs. */
#pragma once

#include <stdio.h>

/* Writes s as a JSON string literal (quoted, escaped; bytes that are not valid
 * UTF-8 become U+FFFD so the output always parses). */
void json_string(FILE *f, const char *s);
