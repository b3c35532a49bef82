/* Prints Oniguruma's match spans (byte offsets) of a pattern over texts, as the Rust tokenizers'
   find_iter walks them: onig_new with ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT.
   stdin: "<length>\n<bytes>" blocks; stdout: one line of "start-end" pairs per text. */
#include <oniguruma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long utf8_len(UChar b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: onig_split PATTERN\n"); return 2; }
  OnigEncoding encs[1] = {ONIG_ENCODING_UTF8};
  onig_initialize(encs, 1);
  regex_t *reg; OnigErrorInfo einfo;
  const UChar *pat = (const UChar *)argv[1];
  int r = onig_new(&reg, pat, pat + strlen(argv[1]), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &einfo);
  if (r != ONIG_NORMAL) { UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN]; onig_error_code_to_str(msg, r, &einfo); fprintf(stderr, "%s\n", msg); return 1; }
  OnigRegion *region = onig_region_new();
  long len;
  while (scanf("%ld", &len) == 1) {
    getchar();
    UChar *s = malloc(len + 1);
    if (fread(s, 1, len, stdin) != (size_t)len) return 3;
    const UChar *end = s + len;
    long pos = 0;
    while (pos <= len) {
      int m = onig_search(reg, s, end, s + pos, end, region, ONIG_OPTION_NONE);
      if (m < 0) break;
      long st = region->beg[0], en = region->end[0];
      if (en == st) { /* empty: step one character */
        if (st >= len) break;
        pos = st + utf8_len(s[st]);
        continue;
      }
      printf("%ld-%ld ", st, en);
      pos = en;
    }
    printf("\n");
    free(s);
  }
  onig_region_free(region, 1);
  onig_free(reg);
  onig_end();
  return 0;
}
