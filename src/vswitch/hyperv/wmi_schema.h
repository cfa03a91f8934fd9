/* wmi_schema: the documented schema of the WMI classes the hyperv backend
 * touches, as Microsoft's class documentation gives it (MicrosoftDocs/win32,
 * desktop-src/HyperV_v2/ and desktop-src/NetWNVProv/): for every class its
 * namespace and properties, and for every property its CIM type, qualifiers
 * (Key, Write, WmiDataId, MaxLen), MOF default and value map. The data is
 * extracted by scripts/hv-schema.py into src/vswitch/hyperv/hyperv-schema.json
 * (which records the commit it read) and compiled into the binary.
 *
 * The WMI model (wmi_model*.c) enforces it generically; the backend never
 * takes enumeration numbers from it (it asks the host, wmi.h value_map).
 *
 * Ownership: everything returned is static, valid for the process's life. */
#ifndef QHV_VSWITCH_HYPERV_WMI_SCHEMA_H
#define QHV_VSWITCH_HYPERV_WMI_SCHEMA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qwmi_prop_schema {
    const char *name;
    const char *type;           /* CIM type as in the MOF: "string", "uint16",
                                 * "boolean", "datetime", "CIM_Xxx ref", ...;
                                 * arrays end in "[]" */
    bool array;
    bool key;                   /* Key qualifier */
    bool writable;              /* Write qualifier / "read/write" access */
    int wmidataid;              /* WmiDataId qualifier, 0 if none */
    long maxlen;                /* MaxLen qualifier, -1 if none */
    const char *default_json;   /* the MOF default as JSON text, NULL if none */
    size_t nvalues;             /* ValueMap / Values pairs */
    const char *const *valuemap;
    const char *const *values;
    const char *fixed;          /* a documented fixed value ("always set to
                                 * ..."), NULL if none */
} qwmi_prop_schema;

typedef struct qwmi_class_schema {
    const char *name;
    const char *ns;             /* "root\\virtualization\\v2", ... */
    size_t nprops;
    const qwmi_prop_schema *props;
} qwmi_class_schema;

/* The class called name (case-insensitive), or NULL. */
const qwmi_class_schema *qwmi_schema_class(const char *name);
/* The property called name of c (case-insensitive), or NULL. */
const qwmi_prop_schema *qwmi_schema_prop(const qwmi_class_schema *c, const char *name);
/* The ValueMap number of the Values entry called name; false if none. */
bool qwmi_schema_value(const qwmi_prop_schema *p, const char *name, int64_t *ret);
/* The Values name of the ValueMap number v, or NULL. */
const char *qwmi_schema_value_name(const qwmi_prop_schema *p, int64_t v);
/* The MicrosoftDocs/win32 commit the data was read from. */
const char *qwmi_schema_source_commit(void);
/* All classes, for iteration: *n = their number. */
const qwmi_class_schema *qwmi_schema_classes(size_t *n);

#endif
