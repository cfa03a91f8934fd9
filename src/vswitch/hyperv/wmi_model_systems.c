/* wmi_model_systems: switches, VMs and NICs made and destroyed through WMI
 * methods (wmi_model_int.h). */
#include "vswitch/hyperv/wmi_model_int.h"

qj *qwm_systems_call(qwmi *w, const char *path, const char *method, const qj *in, bool *handled,
                     char *err, size_t errlen)
{
    (void)w, (void)path, (void)method, (void)in, (void)err, (void)errlen;
    *handled = false;
    return NULL;
}
