/* Writes the wire bytes of every golden vector (tests/vectors/link_v1.txt) as one binary seed file
 * each, so that the fuzzer starts from valid frames and reject cases. Usage: make_corpus VECTORS DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: %s link_v1.txt corpus_dir\n", argv[0]); return 2; }
    FILE *in = fopen(argv[1], "r");
    if (!in) { fprintf(stderr, "cannot open %s\n", argv[1]); return 2; }
    static char line[65536];
    int seeds = 0;
    while (fgets(line, sizeof line, in)) {
        char *w = strstr(line, "wire=");
        if (!w) continue;
        w += 5;
        char path[4096];
        snprintf(path, sizeof path, "%s/seed_%03d", argv[2], seeds);
        FILE *out = fopen(path, "wb");
        if (!out) { fprintf(stderr, "cannot write %s\n", path); return 2; }
        for (; w[0] && w[1] && w[0] != ' ' && w[0] != '\n'; w += 2) {
            char b[3] = { w[0], w[1], 0 };
            fputc((int)strtoul(b, NULL, 16), out);
        }
        fclose(out);
        seeds++;
    }
    fclose(in);
    printf("%d seeds\n", seeds);
    return seeds > 0 ? 0 : 1;
}
