/* qhvctl nova-events: the outbox of events for Nova (GET /channel/v1/nova-events). */
#include "ctl/qhvctl.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *qctl_nova_str(const qj *o, const char *key, const char *def)
{
    const char *s = qj_get_str(o, key);
    return s && *s ? s : def;
}

int qctl_nova_events(int argc, char **argv)
{
    int64_t limit = 100;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--limit") && i + 1 < argc &&
            qhv_parse_i64(argv[i + 1], 1, 10000, &limit) == 0) {
            i++;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else {
            fprintf(stderr, "usage: qhvctl nova-events [--limit N (1-10000)] [--json]\n");
            return 2;
        }
    }
    char err[1024], path[64];
    snprintf(path, sizeof path, "/channel/v1/nova-events?limit=%lld", (long long)limit);
    qj *doc = NULL;
    int st = qctl_get(path, NULL, &doc, err, sizeof err);
    const qj *o = qj_get(doc, "nova_events");
    if (st != 200 || !o) {
        fprintf(stderr, "qhvctl: %s\n", st == 200 ? "the server's answer has no nova_events" : err);
        qj_free(doc);
        return 1;
    }
    if (json) {
        char *text = qj_to_string(o);
        printf("%s\n", text);
        free(text);
        qj_free(doc);
        return 0;
    }
    if (!qj_get_bool(o, "enabled", false))
        printf("Nova is not configured ([nova] auth_url or endpoint_override): no events are "
               "recorded\n");
    printf("sent %lld  rejected %lld  dropped %lld  failed attempts %lld  pending %lld\n",
           (long long)qj_get_int(o, "sent", 0), (long long)qj_get_int(o, "rejected", 0),
           (long long)qj_get_int(o, "dropped", 0), (long long)qj_get_int(o, "failed_attempts", 0),
           (long long)qj_get_int(o, "pending", 0));
    if (qj_get_bool(o, "enabled", false))
        printf("nova: %s  last answer: %s  last error: %s\n",
               qctl_nova_str(o, "endpoint", "(not known yet)"),
               qctl_nova_str(o, "last_answer_at", "never"), qctl_nova_str(o, "last_error", "-"));
    const qj *evs = qj_get(o, "events");
    if (!qj_len(evs)) {
        qj_free(doc);
        return 0;
    }
    printf("%-8s %-7s %-8s %-22s %-9s %-36s %-36s %s\n", "ID", "AGE", "ATTEMPTS", "EVENT",
           "STATUS", "SERVER", "PORT", "LAST ERROR");
    for (size_t i = 0; i < qj_len(evs); i++) {
        const qj *ev = qj_at(evs, i);
        char age[24];
        snprintf(age, sizeof age, "%llds", (long long)qj_get_int(ev, "age", 0));
        printf("%-8lld %-7s %-8lld %-22s %-9s %-36s %-36s %s\n",
               (long long)qj_get_int(ev, "id", 0), age, (long long)qj_get_int(ev, "attempts", 0),
               qctl_nova_str(ev, "name", "-"), qctl_nova_str(ev, "status", "-"),
               qctl_nova_str(ev, "server_uuid", "-"), qctl_nova_str(ev, "tag", "-"),
               qctl_nova_str(ev, "last_error", "-"));
    }
    if ((int64_t)qj_len(evs) < qj_get_int(o, "pending", 0))
        printf("(%zu oldest shown of %lld; --limit N for more)\n", qj_len(evs),
               (long long)qj_get_int(o, "pending", 0));
    qj_free(doc);
    return 0;
}
