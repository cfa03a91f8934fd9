/* wmi_path: WMI object paths as WMI writes them, compared by meaning.
 *
 * A path is [\\SERVER\namespace:]Class.Key="value"[,Key2="value2"...], or
 * Class=@ for a singleton; a quoted value escapes '\' and '"' with '\';
 * unquoted values are numbers. Hyper-V formats the paths it stores
 * (Parent, HostResource, AffectedConfiguration) itself: server name, key
 * order, case and escaping may differ from the __PATH a caller read, so
 * paths are compared by parsed class and keys, case-insensitively (as the
 * Hyper-V PowerShell module compares WmiObjectPaths).
 *
 * Ownership: returned strings belong to the caller. */
#ifndef QHV_VSWITCH_HYPERV_WMI_PATH_H
#define QHV_VSWITCH_HYPERV_WMI_PATH_H
#include <stdbool.h>

/* The canonical form of path: class and keys lower-cased, keys sorted,
 * server and namespace left out ("class.k1=\"v1\",k2=\"v2\""), or NULL if
 * path does not parse. Two paths name the same object iff their keys are
 * equal. */
char *qwmi_path_key(const char *path);
/* Whether a and b name the same object (false if either does not parse). */
bool qwmi_path_same(const char *a, const char *b);
/* The class of path (caller frees), or NULL. */
char *qwmi_path_class(const char *path);
/* The value of key k of path (unescaped; caller frees), or NULL. */
char *qwmi_path_value(const char *path, const char *k);

#endif
