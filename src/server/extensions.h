/* extensions: the API extensions this server implements, exactly. */
#ifndef QHV_SERVER_EXTENSIONS_H
#define QHV_SERVER_EXTENSIONS_H
#include "lib/json.h"

/* {"extensions": [...]} (caller owns). */
qj *qext_list(void);
/* {"extension": {...}} or NULL if alias is unknown (caller owns). */
qj *qext_show(const char *alias);

#endif
