#include "lib/kslogin.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *qkl_tokens_url(const char *auth_url)
{
    size_t n = strlen(auth_url);
    while (n && auth_url[n - 1] == '/')
        n--;
    if (n >= 3 && !strncmp(auth_url + n - 3, "/v3", 3))
        n -= 3;
    return xasprintf("%.*s/v3/auth/tokens", (int)n, auth_url);
}

static const char *qkl_or_default(const char *s) { return s && *s ? s : "Default"; }

qkl_login *qkl_login_new(const qkl_creds *c)
{
    qj *udom = qj_object(), *user = qj_object(), *pw = qj_object(), *ident = qj_object();
    qj_set(udom, "name", qj_str(qkl_or_default(c->user_domain_name)));
    qj_set(user, "name", qj_str(c->username));
    qj_set(user, "domain", udom);
    qj_set(user, "password", qj_str(c->password));
    qj_set(pw, "user", user);
    qj *methods = qj_array();
    qj_append(methods, qj_str("password"));
    qj_set(ident, "methods", methods);
    qj_set(ident, "password", pw);
    qj *pdom = qj_object(), *proj = qj_object(), *scope = qj_object(), *auth = qj_object();
    qj_set(pdom, "name", qj_str(qkl_or_default(c->project_domain_name)));
    qj_set(proj, "name", qj_str(c->project_name));
    qj_set(proj, "domain", pdom);
    qj_set(scope, "project", proj);
    qj_set(auth, "identity", ident);
    qj_set(auth, "scope", scope);
    qj *root = qj_object();
    qj_set(root, "auth", auth);
    qkl_login *l = xcalloc(1, sizeof *l);
    l->body = qj_to_string(root);
    qj_free(root);
    l->url = qkl_tokens_url(c->auth_url);
    return l;
}

void qkl_login_free(qkl_login *l)
{
    if (!l)
        return;
    if (l->body) {
        qplat_wipe(l->body, strlen(l->body));
        free(l->body);
    }
    free(l->url);
    free(l);
}

int64_t qkl_parse_time(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6 ||
        strlen(s) < 19)
        return -1;
    /* Only UTC ("Z" after optional fractional seconds, or nothing). */
    const char *p = s + 19;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p && strcmp(p, "Z") && strcmp(p, "+00:00"))
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    return qplat_timegm(&tm);
}

int qkl_parse_answer(long status, const char *subject_token, const char *body, size_t len,
                     qkl_token *ret, char *why, size_t whylen)
{
    memset(ret, 0, sizeof *ret);
    if (status == 401) {
        snprintf(why, whylen, "Keystone refused the credentials (401): check username, "
                              "password, project_name and the domains");
        return -1;
    }
    if (status != 201) {
        snprintf(why, whylen, "Keystone answered %ld to the login", status);
        return -1;
    }
    if (!subject_token || !*subject_token || strlen(subject_token) > QKL_MAX_TOKEN) {
        snprintf(why, whylen, "Keystone's login answer has no usable X-Subject-Token");
        return -1;
    }
    qj_limits lim = {.max_depth = 32};
    qj *doc = qj_parse(body, len, &lim, NULL);
    qj *tok = qj_get(doc, "token");
    int64_t exp = qkl_parse_time(qj_get_str(tok, "expires_at"));
    int64_t iss = qkl_parse_time(qj_get_str(tok, "issued_at"));
    qj_free(doc);
    if (exp < 0) {
        snprintf(why, whylen, "Keystone's login answer has no expires_at");
        return -1;
    }
    int64_t now = qhv_wall_seconds();
    int64_t left = exp - now;
    if (iss >= 0 && (iss - now > 60 || now - iss > 60)) {
        QLOG_W("keystone", "Keystone's clock and ours differ by %lld s: counting the token's "
                           "lifetime from its issued_at; synchronise the clocks",
               (long long)(iss - now));
        left = exp - iss;
    }
    int64_t life = iss >= 0 ? exp - iss : left;
    int64_t margin = life / 2 < 120 ? life / 2 : 120;
    snprintf(ret->token, sizeof ret->token, "%s", subject_token);
    ret->lifetime = left > 0 ? left : 0;
    ret->renew_after = left - margin > 0 ? left - margin : 0;
    return 0;
}

char *qkl_catalog_url(const char *body, size_t len, const char *type, const char *interface,
                      const char *region, char *why, size_t whylen)
{
    qj_limits lim = {.max_depth = 32};
    qj *doc = qj_parse(body, len, &lim, NULL);
    const qj *cat = qj_get(qj_get(doc, "token"), "catalog");
    char *url = NULL;
    bool typed = false;
    for (size_t i = 0; !url && i < qj_len(cat); i++) {
        const qj *svc = qj_at(cat, i);
        const char *t = qj_get_str(svc, "type");
        if (!t || strcmp(t, type))
            continue;
        typed = true;
        const qj *eps = qj_get(svc, "endpoints");
        for (size_t k = 0; !url && k < qj_len(eps); k++) {
            const qj *ep = qj_at(eps, k);
            const char *itf = qj_get_str(ep, "interface"), *u = qj_get_str(ep, "url");
            const char *reg = qj_get_str(ep, "region_id");
            if (!reg)
                reg = qj_get_str(ep, "region");
            if (!itf || strcmp(itf, interface) || !u || !*u ||
                (region && *region && (!reg || strcmp(reg, region))))
                continue;
            size_t n = strlen(u);
            while (n > 1 && u[n - 1] == '/')
                n--;
            url = xasprintf("%.*s", (int)n, u);
        }
    }
    if (!url) {
        if (!cat)
            snprintf(why, whylen, "Keystone's login answer has no catalogue");
        else if (!typed)
            snprintf(why, whylen, "Keystone's catalogue has no service of type %s", type);
        else
            snprintf(why, whylen, "Keystone's catalogue has no %s endpoint of %s%s%s", interface,
                     type, region && *region ? " in region " : "", region ? region : "");
    }
    qj_free(doc);
    return url;
}
