/* httpc_impl: what the two HTTP client implementations (httpc.c with
 * libcurl, httpc_winhttp.c with WinHTTP) share beyond src/lib/httpc.h;
 * not for other callers. */
#ifndef QHV_HTTPC_IMPL_H
#define QHV_HTTPC_IMPL_H
#include <stdbool.h>
#include "lib/httpc.h"

/* qhttpc_result's body for a call whose answer is *held: moves it into *ret
 * (leaving *held empty) if done, else fills ret with "call not finished".
 * held may be NULL when !done. */
int qhttpc_resp_hand_over(bool done, qhttpc_resp *held, qhttpc_resp *ret);

#endif
