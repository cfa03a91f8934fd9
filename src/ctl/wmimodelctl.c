/* qhvctl wmimodel FILE ...: set up and inspect the WMI model that a
 * qhv-agent with [hyperv] transport = model, model_file = FILE drives (labs
 * and tests of the hyperv backend without Hyper-V). */
#include "ctl/qhvctl.h"
#include "lib/util.h"
#include "vswitch/hyperv/wmi_model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int qctl_wmimodel_usage(void)
{
    fprintf(stderr, "usage: qhvctl wmimodel FILE switch add NAME\n"
                    "       qhvctl wmimodel FILE nic add PORT_ID [MAC12 [VM]]\n"
                    "       qhvctl wmimodel FILE nic del PORT_ID\n"
                    "       qhvctl wmimodel FILE reboot\n"
                    "       qhvctl wmimodel FILE dump [CLASS]\n");
    return 2;
}

int qctl_wmimodel(int argc, char **argv)
{
    if (argc < 2)
        return qctl_wmimodel_usage();
    const char *file = argv[0], *what = argv[1];
    qwmi_transport t;
    char err[512];
    if (qwmi_model_open(file, NULL, &t, err, sizeof err) < 0) {
        fprintf(stderr, "qhvctl: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (!strcmp(what, "switch") && argc == 4 && !strcmp(argv[2], "add")) {
        qwmi_model_add_switch(t.w, argv[3]);
    } else if (!strcmp(what, "nic") && argc >= 4 && !strcmp(argv[2], "add")) {
        qwmi_model_add_nic(t.w, argc > 5 ? argv[5] : argv[3], argv[3],
                           argc > 4 ? argv[4] : "00155D000001");
    } else if (!strcmp(what, "nic") && argc == 4 && !strcmp(argv[2], "del")) {
        rc = qwmi_model_del_nic(t.w, argv[3]) > 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "qhvctl: no NIC named %s\n", argv[3]);
    } else if (!strcmp(what, "reboot") && argc == 2) {
        qwmi_model_reboot(t.w);
    } else if (!strcmp(what, "dump") && argc <= 3) {
        qj *rows = qwmi_model_instances(t.w, argc == 3 ? argv[2] : NULL);
        qbuf b;
        qbuf_init(&b, 0);
        qj_emit(rows, &b, true);
        printf("%s\n", b.data);
        qbuf_free(&b);
        qj_free(rows);
    } else {
        rc = qctl_wmimodel_usage();
    }
    t.cls->close(t.w);
    return rc;
}
