/* unit_model: the model on a real SQLite store in a temporary directory,
 * for the cmocka unit tests of the model. Include after <cmocka.h>.
 * unit_model_open's fixture is freed with unit_model_close. */
#ifndef QHV_TESTS_UNIT_MODEL_H
#define QHV_TESTS_UNIT_MODEL_H
#include <stdio.h>
#include <stdlib.h>
#include "lib/util.h"
#include "model/config.h"
#include "model/model.h"
#include "store/store.h"

typedef struct unit_model {
    char dir[64];
    qconf conf;
    qstore *store;
    qmodel *m;
    qctx admin;          /* admin of project p1 */
} unit_model;

/* A model whose configuration is [database] (the directory's file) plus
 * conf (more sections, as text). */
static inline unit_model *unit_model_open(const char *conf)
{
    unit_model *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/qhv-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/c.conf", f->dir);
    FILE *c = fopen(path, "w");
    assert_non_null(c);
    fprintf(c, "[database]\nconnection = sqlite:///%s/db.sqlite\n%s", f->dir, conf);
    fclose(c);
    const char *files[] = {path};
    assert_int_equal(qconf_load(&f->conf, files, 1, err, sizeof err), 0);
    qerr e;
    qstore_opts so = {.sqlite_path = f->conf.db_path, .sqlite_synchronous = "NORMAL",
                      .migrate = true};
    f->store = qstore_open(&so, &e);
    assert_non_null(f->store);
    f->m = qmodel_new(f->store, &f->conf);
    snprintf(f->admin.project_id, sizeof f->admin.project_id, "p1");
    f->admin.is_admin = true;
    return f;
}

static inline void unit_model_close(unit_model *f)
{
    if (!f)
        return;
    qmodel_free(f->m);
    qstore_close(f->store);
    qconf_free(&f->conf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

#endif
