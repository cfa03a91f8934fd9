#include "lib/err.h"
#include <stdarg.h>
#include <stdio.h>

static const struct { int status; const char *type; } qerr_table[] = {
    [QE_OK] = {200, ""},
#define QHV_ERR_ROW(name, st, ty) [QE_##name] = {st, ty},
    QHV_ERRORS(QHV_ERR_ROW)
#undef QHV_ERR_ROW
};

int qerr_set(qerr *e, qerr_code code, const char *fmt, ...)
{
    if (!e)
        return -1;
    e->code = code;
    e->detail[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int qerr_status(qerr_code code)
{
    return (code > 0 && code < QE__COUNT) ? qerr_table[code].status : 500;
}

const char *qerr_type(qerr_code code)
{
    return (code > 0 && code < QE__COUNT) ? qerr_table[code].type : "HTTPInternalServerError";
}

const char *qerr_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}
