/* The COM transport of the hyperv backend (src/vswitch/hyperv/wmi_com*.c)
 * where Hyper-V is absent: under Wine (api.test_windows_agent runs this
 * test_wmi_com.exe). Plain C, Windows only.
 *
 *   - qwmi_com_open says "Hyper-V is absent: ..." with WMI's code and name;
 *   - the same transport over Wine's root\cimv2 (qwmi_com_open_at): a WQL
 *     query and GetObject as JSON (__CLASS, __PATH, strings, integers,
 *     uint64 as strings, booleans), ExecMethod with in parameters converted
 *     per the method's signature (StdRegProv.GetStringValue) and its out
 *     parameters, and failures in WMI's words (invalid query, not found,
 *     unknown method) mapped to errno values;
 *   - value_map (the Values/ValueMap qualifiers of a property): Wine's
 *     classes carry none, so its clear -ENOENT (no qualifier, no property,
 *     no class) is what is checked here; the map itself only on Windows;
 *   - the namespaces: root\cimv2 answers Win32_OperatingSystem.Version (what
 *     the hyperv backend reads at open), a namespace that cannot be opened
 *     fails its calls with its name and WMI's code, the others unaffected;
 *   - VARIANT → JSON for what the queries above do not produce (arrays,
 *     uint32 above INT32_MAX, 64-bit integers, null).
 * PutInstance and DeleteInstance are not exercised: Wine implements neither
 * for its classes. */
#include "vswitch/hyperv/wmi_com.h"
#include "vswitch/hyperv/wmi_com_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

static bool has(const char *s, const char *part) { return s && strstr(s, part) != NULL; }
static bool starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

static void test_hyperv_absent(void)
{
    qwmi_transport t;
    char err[1024] = "";
    int rc = qwmi_com_open(&t, err, sizeof err);
    printf("qwmi_com_open: %d %s\n", rc, err);
    CHECK(rc == -ENODEV && t.w == NULL);
    CHECK(starts(err, "Hyper-V is absent: ConnectServer root\\virtualization\\v2: 0x8004100e "
                      "WBEM_E_INVALID_NAMESPACE"));
}

static void test_queries(qwmi_transport *t)
{
    char err[1024] = "";
    qj *rows = NULL;
    int rc = t->cls->query(t->w, QWMI_NS_VIRT, "SELECT * FROM Win32_OperatingSystem", &rows, err,
                           sizeof err);
    CHECK(rc == 0 && qj_len(rows) == 1);
    const qj *os = qj_at(rows, 0);
    CHECK(!strcmp(qj_get_str(os, "__CLASS") ? qj_get_str(os, "__CLASS") : "",
                  "Win32_OperatingSystem"));
    const char *path = qj_get_str(os, "__PATH");
    CHECK(has(path, ":Win32_OperatingSystem"));
    CHECK(qj_is(qj_get(os, "Primary"), QJ_BOOL));                  /* boolean */
    CHECK(qj_is(qj_get(os, "OSLanguage"), QJ_INT));                /* uint32 */
    CHECK(qj_is(qj_get(os, "TotalVisibleMemorySize"), QJ_STRING)); /* uint64: a string */
    CHECK(qj_get_str(os, "Caption") != NULL);
    /* GetObject by the path the query gave, in the other namespace role. */
    qj *obj = NULL;
    if (path) {
        rc = t->cls->get(t->w, QWMI_NS_STDCIMV2, path, &obj, err, sizeof err);
        CHECK(rc == 0 && qj_get_str(obj, "Caption") &&
              !strcmp(qj_get_str(obj, "Caption"), qj_get_str(os, "Caption")));
    }
    qj_free(obj);
    qj_free(rows);
    rows = NULL;
    rc = t->cls->query(t->w, QWMI_NS_VIRT, "SELEKT * FROM nothing", &rows, err, sizeof err);
    printf("invalid query: %d %s\n", rc, err);
    CHECK(rc == -EINVAL && rows == NULL && has(err, "ExecQuery") &&
          has(err, "0x80041017 WBEM_E_INVALID_QUERY"));
    obj = NULL;
    rc = t->cls->get(t->w, QWMI_NS_VIRT, "Win32_Service.Name=\"qhv-no-such-service\"", &obj, err,
                     sizeof err);
    printf("get missing: %d %s\n", rc, err);
    CHECK(rc == -ENOENT && obj == NULL && has(err, "0x80041002 WBEM_E_NOT_FOUND"));
    rc = t->cls->query(t->w, "root\\nowhere", "SELECT * FROM x", &rows, err, sizeof err);
    CHECK(rc == -EINVAL && has(err, "not opened"));
}

/* The three namespaces of wmi.h: root\virtualization\v2 at open,
 * root\StandardCimv2 and root\cimv2 by their first call (Wine has
 * root\cimv2, not root\StandardCimv2): the failure names the namespace and
 * leaves the others working. */
static void test_namespaces(void)
{
    qwmi_transport t;
    char err[1024] = "";
    int rc = qwmi_com_open_at(&t, "root\\cimv2", "root\\qhv-no-such-namespace", "root\\cimv2",
                              err, sizeof err);
    CHECK(rc == 0);
    if (rc < 0)
        return;
    qj *rows = NULL;
    rc = t.cls->query(t.w, QWMI_NS_CIMV2, "SELECT Version FROM Win32_OperatingSystem", &rows, err,
                      sizeof err);
    printf("root\\cimv2 Win32_OperatingSystem.Version: %d %s\n", rc,
           rc ? err : qj_get_str(qj_at(rows, 0), "Version"));
    CHECK(rc == 0 && qj_len(rows) == 1 && qj_get_str(qj_at(rows, 0), "Version"));
    qj_free(rows);
    rows = NULL;
    rc = t.cls->query(t.w, QWMI_NS_STDCIMV2, "SELECT * FROM MSFT_NetAdapter", &rows, err,
                      sizeof err);
    printf("missing namespace: %d %s\n", rc, err);
    CHECK(rc == -ENODEV && rows == NULL &&
          starts(err, "ConnectServer root\\qhv-no-such-namespace: 0x8004100e "
                      "WBEM_E_INVALID_NAMESPACE"));
    /* Tried again at the next call, with the same words. */
    qj *obj = NULL;
    rc = t.cls->get(t.w, QWMI_NS_STDCIMV2, "MSFT_NetAdapter.DeviceID=\"x\"", &obj, err,
                    sizeof err);
    CHECK(rc == -ENODEV && obj == NULL && has(err, "root\\qhv-no-such-namespace"));
    rc = t.cls->query(t.w, QWMI_NS_VIRT, "SELECT Version FROM Win32_OperatingSystem", &rows, err,
                      sizeof err);
    CHECK(rc == 0 && qj_len(rows) == 1);
    qj_free(rows);
    t.cls->close(t.w);
}

/* value_map: IWbemServices::GetObject(class) → the property's qualifier set
 * → Values/ValueMap (again with amended qualifiers when Values is absent).
 * What Wine's classes carry is printed; the contract is checked either way:
 * a map of strings to strings, or -ENOENT saying which qualifier is absent. */
static void test_value_map(qwmi_transport *t)
{
    char err[1024] = "";
    CHECK(t->cls->value_map != NULL);
    if (!t->cls->value_map)
        return;
    static const char *const props[][2] = {
        {"Win32_OperatingSystem", "OSProductSuite"}, {"Win32_OperatingSystem", "ProductType"},
        {"Win32_Process", "ExecutionState"},        {"Win32_NetworkAdapter", "Availability"},
        {"Win32_Service", "State"},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        qj *map = NULL;
        int rc = t->cls->value_map(t->w, QWMI_NS_CIMV2, props[i][0], props[i][1], &map, err,
                                   sizeof err);
        char *text = map ? qj_to_string(map) : NULL;
        printf("value_map %s.%s: %d %s\n", props[i][0], props[i][1], rc, rc ? err : text);
        free(text);
        if (rc == 0) {
            CHECK(qj_is(map, QJ_OBJECT) && qj_len(map) > 0);
            for (size_t k = 0; map && k < map->u.obj.n; k++)
                CHECK(qj_is(map->u.obj.m[k].val, QJ_STRING));
        } else {
            CHECK(rc == -ENOENT && map == NULL &&
                  (has(err, "has no Values qualifier") || has(err, "0x80041002")));
            CHECK(has(err, props[i][0]) && has(err, props[i][1]));
        }
        qj_free(map);
    }
    qj *map = NULL;
    int rc = t->cls->value_map(t->w, QWMI_NS_CIMV2, "Win32_OperatingSystem", "NoSuchProperty",
                               &map, err, sizeof err);
    printf("value_map of a missing property: %d %s\n", rc, err);
    CHECK(rc == -ENOENT && map == NULL &&
          has(err, "property Win32_OperatingSystem.NoSuchProperty: 0x80041002 WBEM_E_NOT_FOUND"));
    rc = t->cls->value_map(t->w, QWMI_NS_CIMV2, "Qhv_NoSuchClass", "Rule", &map, err, sizeof err);
    printf("value_map of a missing class: %d %s\n", rc, err);
    CHECK(rc == -ENOENT && map == NULL && has(err, "class Qhv_NoSuchClass"));
    rc = t->cls->value_map(t->w, "root\\nowhere", "X", "Y", &map, err, sizeof err);
    CHECK(rc == -EINVAL && map == NULL && has(err, "not opened"));
}

static void test_method(qwmi_transport *t)
{
    char err[1024] = "";
    qj *in = qj_object(), *out = NULL;
    /* HKEY_LOCAL_MACHINE. Windows declares hDefKey uint32 (2147483650),
     * Wine sint32 (-2147483646): the conversion follows the declaration. */
    qj_set(in, "hDefKey", qj_int(2147483650LL));
    qj_set(in, "sSubKeyName", qj_str("Software\\Microsoft\\Windows NT\\CurrentVersion"));
    qj_set(in, "sValueName", qj_str("ProductName"));
    int rc = t->cls->call(t->w, QWMI_NS_VIRT, "StdRegProv", "GetStringValue", in, &out, err,
                          sizeof err);
    if (rc == -ERANGE) {
        CHECK(has(err, "StdRegProv.GetStringValue: property hDefKey: 2147483650 is out of "
                       "range for CIM type 3"));
        qj_set(in, "hDefKey", qj_int(-2147483646LL));
        rc = t->cls->call(t->w, QWMI_NS_VIRT, "StdRegProv", "GetStringValue", in, &out, err,
                          sizeof err);
    }
    printf("StdRegProv.GetStringValue: %d %s\n", rc, rc ? err : qj_get_str(out, "sValue"));
    CHECK(rc == 0 && qj_is(qj_get(out, "ReturnValue"), QJ_INT) &&
          qj_get(out, "ReturnValue")->u.i == 0);
    CHECK(qj_get_str(out, "sValue") && *qj_get_str(out, "sValue"));
    CHECK(!qj_get(out, "__CLASS"));     /* out parameters are no instance */
    qj_free(out);
    out = NULL;
    /* An object for a string parameter must be an embedded instance. */
    qj_set(in, "sValueName", qj_object());
    rc = t->cls->call(t->w, QWMI_NS_VIRT, "StdRegProv", "GetStringValue", in, &out, err,
                      sizeof err);
    CHECK(rc == -EINVAL && out == NULL &&
          has(err, "property sValueName: an embedded instance needs \"__CLASS\""));
    qj_set(in, "sValueName", qj_str("ProductName"));
    qj_set(in, "NoSuchParameter", qj_int(1));
    rc = t->cls->call(t->w, QWMI_NS_VIRT, "StdRegProv", "GetStringValue", in, &out, err,
                      sizeof err);
    CHECK(rc < 0 && out == NULL && has(err, "property NoSuchParameter: 0x8004"));
    qj_free(in);
    rc = t->cls->call(t->w, QWMI_NS_VIRT, "StdRegProv", "NoSuchMethod", NULL, &out, err,
                      sizeof err);
    printf("unknown method: %d %s\n", rc, err);
    CHECK(rc < 0 && out == NULL && has(err, "StdRegProv.NoSuchMethod") && has(err, "0x8004"));
}

static SAFEARRAY *array_of(VARTYPE vt, const void *items, size_t n)
{
    SAFEARRAY *sa = SafeArrayCreateVector(vt, 0, (ULONG)n);
    for (LONG i = 0; i < (LONG)n; i++) {
        const void *p = vt == VT_BSTR ? (const void *)((const BSTR *)items)[i]
                                      : (const char *)items + (size_t)i * sizeof(LONG);
        SafeArrayPutElement(sa, &i, (void *)p);
    }
    return sa;
}

static void test_values(void)
{
    VARIANT v;
    VariantInit(&v);
    V_VT(&v) = VT_I4;
    V_I4(&v) = -1;
    qj *j = qwmi_value_json(&v, CIM_UINT32);     /* WMI passes uint32 in VT_I4 */
    CHECK(qj_is(j, QJ_INT) && j->u.i == 4294967295LL);
    qj_free(j);
    j = qwmi_value_json(&v, CIM_SINT32);
    CHECK(qj_is(j, QJ_INT) && j->u.i == -1);
    qj_free(j);
    V_VT(&v) = VT_I8;
    V_I8(&v) = -5000000000LL;
    j = qwmi_value_json(&v, CIM_SINT64);
    CHECK(qj_is(j, QJ_STRING) && !strcmp(j->u.str.s, "-5000000000"));
    qj_free(j);
    V_VT(&v) = VT_NULL;
    j = qwmi_value_json(&v, CIM_STRING);
    CHECK(qj_is(j, QJ_NULL));
    qj_free(j);
    BSTR strs[2] = {SysAllocString(L"a\u00e9"), SysAllocString(L"")};
    V_VT(&v) = VT_ARRAY | VT_BSTR;
    V_ARRAY(&v) = array_of(VT_BSTR, strs, 2);
    j = qwmi_value_json(&v, CIM_STRING | CIM_FLAG_ARRAY);
    CHECK(qj_len(j) == 2 && !strcmp(qj_as_str(qj_at(j, 0)), "a\xc3\xa9") &&
          !strcmp(qj_as_str(qj_at(j, 1)), ""));
    qj_free(j);
    VariantClear(&v);
    SysFreeString(strs[0]);
    SysFreeString(strs[1]);
    LONG nums[3] = {1, -2, 65535};
    V_VT(&v) = VT_ARRAY | VT_I4;
    V_ARRAY(&v) = array_of(VT_I4, nums, 3);
    j = qwmi_value_json(&v, CIM_UINT16 | CIM_FLAG_ARRAY);
    CHECK(qj_len(j) == 3 && qj_at(j, 0)->u.i == 1 && qj_at(j, 1)->u.i == -2 &&
          qj_at(j, 2)->u.i == 65535);
    qj_free(j);
    VariantClear(&v);
}

int main(void)
{
    test_values();
    test_hyperv_absent();
    qwmi_transport t;
    char err[1024] = "";
    int rc = qwmi_com_open_at(&t, "root\\cimv2", "root\\cimv2", "root\\cimv2", err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "qwmi_com_open_at root\\cimv2: %s\n", err);
        return 1;
    }
    test_queries(&t);
    test_method(&t);
    test_value_map(&t);
    t.cls->close(t.w);
    test_namespaces();
    t.cls->close(NULL);
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    else
        printf("test_wmi_com: all checks passed\n");
    return failures ? 1 : 0;
}
