/* A QEMU TCG plugin for GuestImage/hot-code/profile.sh: records the guest virtual address of every translated
 * block that ran at least once, and writes them, one hex address per line, to the file named by its `out=`
 * argument when QEMU exits:
 *
 *     qemu-system-x86_64 -plugin blocks_plugin.so,out=/path/blocks.txt ...
 *
 * QEMU's own qemu-plugin.h is not packaged by Debian, so the few entry points used are declared here (plugin API
 * version 1, as QEMU 7.2 provides). Built with `gcc -shared -fPIC`. */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, struct qemu_plugin_tb *));
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum qemu_plugin_op, void *, uint64_t);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, void *), void *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One record per translated block, whose `runs` the translated code itself counts (an inline add: no call per
 * execution). A block may be translated again, e.g. after its page changed: each translation has its record. */
struct block { uint64_t vaddr; uint64_t runs; struct block *next; };
static struct block *blocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char out_path[4096];

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    struct block *b = calloc(1, sizeof *b);
    if (!b) return;
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    pthread_mutex_lock(&lock);
    b->next = blocks;
    blocks = b;
    pthread_mutex_unlock(&lock);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->runs, 1);
}

static void at_exit(qemu_plugin_id_t id, void *data) {
    (void)id; (void)data;
    FILE *f = fopen(out_path, "w");
    if (!f) { perror(out_path); return; }
    pthread_mutex_lock(&lock);
    for (struct block *b = blocks; b; b = b->next)
        if (b->runs) fprintf(f, "%" PRIx64 "\n", b->vaddr);
    pthread_mutex_unlock(&lock);
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
    if (!out_path[0]) { fprintf(stderr, "blocks_plugin: needs out=PATH\n"); return -1; }
    qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
