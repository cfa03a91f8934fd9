/* plat on Windows: Win32 only (kernel32, bcrypt for randomness, the CRT's
 * _open/_write for the log), no POSIX emulation layer. */
#include "lib/plat.h"
#include <windows.h>
#include <bcrypt.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 100 ns ticks between 1601-01-01 (FILETIME's epoch) and 1970-01-01. */
#define QPLAT_EPOCH_DIFF 116444736000000000LL

uint64_t qplat_monotonic_us(void)
{
    static LARGE_INTEGER freq;  /* constant since boot; racing writers store the same */
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    /* Split to avoid overflowing counter * 1e6. */
    uint64_t q = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
    return q / f * 1000000u + q % f * 1000000u / f;
}

int64_t qplat_wall_us(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
    return (t - QPLAT_EPOCH_DIFF) / 10;
}

void qplat_gmtime(int64_t t, struct tm *ret)
{
    __time64_t tt = (__time64_t)t;
    if (_gmtime64_s(ret, &tt) != 0)
        memset(ret, 0, sizeof *ret);
}

int64_t qplat_timegm(struct tm *tm)
{
    __time64_t t = _mkgmtime64(tm);
    return t == (__time64_t)-1 ? -1 : (int64_t)t;
}

void qplat_sleep_ms(long ms) { Sleep(ms > 0 ? (DWORD)ms : 0); }

void qplat_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ULONG chunk = n > 0x10000000u ? 0x10000000u : (ULONG)n;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            abort();
        p += chunk;
        n -= chunk;
    }
}

void qplat_wipe(void *p, size_t n) { SecureZeroMemory(p, n); }

int qplat_hostname(char *buf, size_t len)
{
    /* The DNS host label, as Nova's Hyper-V driver reports the host (the
     * NetBIOS name would be upper-case and truncated to 15 characters). */
    DWORD n = (DWORD)len;
    if (!GetComputerNameExA(ComputerNameDnsHostname, buf, &n))
        return -1;
    buf[len - 1] = '\0';
    return 0;
}

long qplat_pid(void) { return (long)GetCurrentProcessId(); }

/* A bracket expression at p (after '['): sets *match, returns the pointer
 * after ']', or NULL if there is no closing ']' (then '[' is literal). */
static const char *qplat_bracket(const char *p, char c, bool *match)
{
    bool neg = *p == '!' || *p == '^';
    if (neg)
        p++;
    bool hit = false, first = true;
    while (*p && (*p != ']' || first)) {
        first = false;
        char lo = *p == '\\' && p[1] ? *++p : *p;
        p++;
        char hi = lo;
        if (*p == '-' && p[1] && p[1] != ']') {
            p++;
            hi = *p == '\\' && p[1] ? *++p : *p;
            p++;
        }
        if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
            hit = true;
    }
    if (*p != ']')
        return NULL;
    *match = hit != neg;
    return p + 1;
}

bool qplat_fnmatch(const char *pattern, const char *s)
{
    const char *p = pattern, *star_p = NULL, *star_s = NULL;
    /* Iterative with one backtrack point: the last '*' seen absorbs one more
     * character whenever the rest fails to match. */
    while (*s) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            star_p = p;
            star_s = s;
            continue;
        }
        bool ok = false;
        const char *next = p + 1;
        if (*p == '?') {
            ok = true;
        } else if (*p == '[') {
            bool m;
            const char *after = qplat_bracket(p + 1, *s, &m);
            if (after) {
                ok = m;
                next = after;
            } else {
                ok = *s == '[';
            }
        } else if (*p == '\\' && p[1]) {
            ok = p[1] == *s;
            next = p + 2;
        } else {
            ok = *p && *p == *s;
        }
        if (ok) {
            p = next;
            s++;
        } else if (star_p) {
            p = star_p;
            s = ++star_s;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static volatile sig_atomic_t *qplat_stop_flag;

static BOOL WINAPI qplat_console_event(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        /* Runs on a thread of its own: the loop sees the flag within a tick. */
        *qplat_stop_flag = (sig_atomic_t)(type + 1);
        return TRUE;
    default:
        return FALSE;
    }
}

void qplat_on_stop(volatile sig_atomic_t *flag)
{
    qplat_stop_flag = flag;
    SetConsoleCtrlHandler(qplat_console_event, TRUE);
}

int qplat_log_open(const char *path)
{
    /* Binary: lines end in "\n" as on Linux; append: each write goes to the end. */
    return _open(path, _O_WRONLY | _O_CREAT | _O_APPEND | _O_BINARY | _O_NOINHERIT,
                 _S_IREAD | _S_IWRITE);
}

void qplat_log_write(int fd, const char *line, size_t n)
{
    int w = _write(fd, line, (unsigned)n);
    (void)w;
}

static uint64_t qplat_u64(DWORD hi, DWORD lo) { return ((uint64_t)hi << 32) | lo; }

int qplat_file_id(const char *path, qplat_fileid *ret)
{
    memset(ret, 0, sizeof *ret);
    /* Every sharing mode: looking must not stop a writer from replacing it. */
    HANDLE h = CreateFileA(path, FILE_READ_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
            return 0;
        errno = EACCES;
        return -1;
    }
    BY_HANDLE_FILE_INFORMATION fi;
    BOOL ok = GetFileInformationByHandle(h, &fi);
    CloseHandle(h);
    if (!ok) {
        errno = EIO;
        return -1;
    }
    ret->exists = true;
    ret->dev = fi.dwVolumeSerialNumber;
    ret->ino = qplat_u64(fi.nFileIndexHigh, fi.nFileIndexLow);
    ret->size = qplat_u64(fi.nFileSizeHigh, fi.nFileSizeLow);
    ret->mtime_ns =
        (int64_t)qplat_u64(fi.ftLastWriteTime.dwHighDateTime, fi.ftLastWriteTime.dwLowDateTime) *
        100;
    return 0;
}

bool qplat_fileid_same(const qplat_fileid *a, const qplat_fileid *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_ns == b->mtime_ns;
}

struct qplat_lock {
    HANDLE h;
};

/* FormatMessage's text of a Win32 error, without its trailing newline. */
static void qplat_win_error(DWORD e, char *out, size_t len)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
                             0, out, (DWORD)len, NULL);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    if (!n)
        snprintf(out, len, "Windows error %lu", (unsigned long)e);
}

qplat_lock *qplat_lock_file(const char *lock_path, char *err, size_t errlen)
{
    char why[256];
    HANDLE h = CreateFileA(lock_path, GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        qplat_win_error(GetLastError(), why, sizeof why);
        snprintf(err, errlen, "%s: %s", lock_path, why);
        return NULL;
    }
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ov)) {
        qplat_win_error(GetLastError(), why, sizeof why);
        snprintf(err, errlen, "locking %s: %s", lock_path, why);
        CloseHandle(h);
        return NULL;
    }
    qplat_lock *l = malloc(sizeof *l);
    if (!l)
        abort();
    l->h = h;
    return l;
}

void qplat_unlock_file(qplat_lock *l)
{
    if (!l)
        return;
    CloseHandle(l->h);  /* releases the lock */
    free(l);
}

int qplat_replace_file(const char *tmp, const char *path)
{
    /* rename() does not replace on Windows. A reader's handle (or a virus
     * scanner's) can make the replace fail for a moment: retry briefly. */
    for (int i = 0; i < 50; i++) {
        if (MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
            return 0;
        DWORD e = GetLastError();
        if (e != ERROR_ACCESS_DENIED && e != ERROR_SHARING_VIOLATION)
            break;
        Sleep(10);
    }
    errno = EACCES;
    return -1;
}
