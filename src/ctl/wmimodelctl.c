/* qhvctl wmimodel FILE ...: set up and inspect the WMI model that a
 * qhv-agent with [hyperv] transport = model, model_file = FILE drives (labs
 * and tests of the hyperv backend without Hyper-V). */
#include "ctl/qhvctl.h"
#include "lib/util.h"
#include "vswitch/hyperv/wmi_model.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int qctl_wmimodel_usage(void)
{
    fprintf(stderr, "usage: qhvctl wmimodel FILE switch add NAME\n"
                    "       qhvctl wmimodel FILE nic add PORT_ID [MAC12 [VM]]\n"
                    "       qhvctl wmimodel FILE nic add-connected PORT_ID MAC12 VM [SWITCH]\n"
                    "         (as New-VM -SwitchName or Add-VMNetworkAdapter make it)\n"
                    "       qhvctl wmimodel FILE nic add-legacy PORT_ID MAC12 VM\n"
                    "       qhvctl wmimodel FILE nic del PORT_ID\n"
                    "       qhvctl wmimodel FILE vm checkpoint|plan|restore VM\n"
                    "       qhvctl wmimodel FILE netadapter add IFINDEX ALIAS MAC [unbound]\n"
                    "         (the provider NIC; unbound: without ms_netwnv)\n"
                    "       qhvctl wmimodel FILE vmms down|up\n"
                    "       qhvctl wmimodel FILE set CLASS WHERE IS PROP JSON\n"
                    "         (someone else's change: PROP = JSON on the instances of CLASS\n"
                    "          whose WHERE is IS)\n"
                    "       qhvctl wmimodel FILE reboot\n"
                    "       qhvctl wmimodel FILE dump [CLASS]\n");
    return 2;
}

/* A set-up call's result: 0, or 1 with what went wrong. */
static int qctl_wmimodel_rc(int rc, const char *what, const char *name)
{
    if (rc >= 0)
        return 0;
    fprintf(stderr, "qhvctl: %s %s: %s\n", what, name,
            rc == -ENOENT ? "no such VM or switch" : rc == -EEXIST ? "exists already"
                                                                  : "refused");
    return 1;
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
    } else if (!strcmp(what, "nic") && (argc == 6 || argc == 7) &&
               !strcmp(argv[2], "add-connected")) {
        rc = qctl_wmimodel_rc(qwmi_model_add_nic_connected(t.w, argv[5], argv[3], argv[4],
                                                           argc == 7 ? argv[6] : NULL),
                              "nic", argv[3]);
    } else if (!strcmp(what, "nic") && argc == 6 && !strcmp(argv[2], "add-legacy")) {
        rc = qctl_wmimodel_rc(qwmi_model_add_legacy_nic(t.w, argv[5], argv[3], argv[4]), "nic",
                              argv[3]);
    } else if (!strcmp(what, "vm") && argc == 4 && !strcmp(argv[2], "checkpoint")) {
        rc = qctl_wmimodel_rc(qwmi_model_checkpoint(t.w, argv[3]), "vm", argv[3]);
    } else if (!strcmp(what, "vm") && argc == 4 && !strcmp(argv[2], "plan")) {
        rc = qctl_wmimodel_rc(qwmi_model_plan(t.w, argv[3]), "vm", argv[3]);
    } else if (!strcmp(what, "vm") && argc == 4 && !strcmp(argv[2], "restore")) {
        rc = qctl_wmimodel_rc(qwmi_model_restore(t.w, argv[3]), "vm", argv[3]);
    } else if (!strcmp(what, "netadapter") && (argc == 6 || argc == 7) &&
               !strcmp(argv[2], "add") && (argc == 6 || !strcmp(argv[6], "unbound"))) {
        char *end;
        long idx = strtol(argv[3], &end, 10);
        if (*end || idx <= 0 || idx > 0x7fffffffL) {
            fprintf(stderr, "qhvctl: netadapter IFINDEX: a positive number, not '%s'\n",
                    argv[3]);
            rc = 2;
        } else {
            rc = qctl_wmimodel_rc(qwmi_model_add_netadapter(t.w, (int)idx, argv[4], argv[5],
                                                            argc == 6),
                                  "netadapter", argv[3]);
        }
    } else if (!strcmp(what, "vmms") && argc == 3 &&
               (!strcmp(argv[2], "down") || !strcmp(argv[2], "up"))) {
        qwmi_model_fault_vmms(t.w, !strcmp(argv[2], "down"));
    } else if (!strcmp(what, "set") && argc == 7) {
        qj *v = qj_parse(argv[6], strlen(argv[6]), NULL, NULL);
        int n = v ? qwmi_model_set_property(t.w, argv[2], argv[3], argv[4], argv[5], v) : -1;
        if (!v)
            fprintf(stderr, "qhvctl: set: '%s' is not JSON\n", argv[6]);
        else if (!n)
            fprintf(stderr, "qhvctl: set: no %s whose %s is '%s'\n", argv[2], argv[3], argv[4]);
        else
            printf("%d\n", n);
        rc = n > 0 ? 0 : 1;
        qj_free(v);
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
