# Cross-compiling qhv-agent.exe for 64-bit Windows with Debian's mingw-w64
# (gcc-mingw-w64-x86-64). Usage:
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(QHV_MINGW_PREFIX x86_64-w64-mingw32)
# The -win32 flavour: Win32 threads, no libwinpthread-1.dll to ship (the
# platform layer, src/lib/plat_win.c, uses Win32 directly).
find_program(CMAKE_C_COMPILER NAMES ${QHV_MINGW_PREFIX}-gcc-win32 ${QHV_MINGW_PREFIX}-gcc REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${QHV_MINGW_PREFIX}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${QHV_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
