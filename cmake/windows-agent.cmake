# qhv-agent.exe: the agent and its libraries, for Windows. Linux-only parts
# stay out: the libcurl client (lib/httpc.c; lib/httpc_winhttp.c instead),
# lib/plat_posix.c (lib/plat_win.c), the ovs backend (it forks ovs-vsctl).
# The hyperv COM transport (vswitch/hyperv/wmi_com*.c) is built here only.
add_compile_definitions(WIN32_LEAN_AND_MEAN _WIN32_WINNT=0x0A00 __USE_MINGW_ANSI_STDIO=1)
include_directories(${CMAKE_SOURCE_DIR}/src)

file(GLOB QHV_WIN_LIB_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/lib/*.c)
list(FILTER QHV_WIN_LIB_SRC EXCLUDE REGEX ".*/lib/(httpc|plat_posix)\\.c$")
file(GLOB QHV_WIN_AGENT_SRC CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/src/agent/*.c
     ${CMAKE_SOURCE_DIR}/src/vswitch/*.c)
# The hyperv backend: its logic and transports, the COM one included.
file(GLOB QHV_WIN_HYPERV_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/vswitch/hyperv/*.c)
list(APPEND QHV_WIN_AGENT_SRC ${QHV_WIN_HYPERV_SRC})
list(FILTER QHV_WIN_AGENT_SRC EXCLUDE REGEX ".*/(agent/main|vswitch/ovs[a-z_]*)\\.c$")

add_library(qhvlib STATIC ${QHV_WIN_LIB_SRC})
target_link_libraries(qhvlib PUBLIC winhttp crypt32 bcrypt)
add_library(qhvagent STATIC ${QHV_WIN_AGENT_SRC})
target_link_libraries(qhvagent PUBLIC qhvlib wbemuuid ole32 oleaut32 advapi32)
# The hyperv backend's WMI class schema (wmi_schema.c), compiled in.
include(${CMAKE_SOURCE_DIR}/cmake/embed-json.cmake)
qhv_embed_json(qhvagent ${CMAKE_SOURCE_DIR}/src/vswitch/hyperv/hyperv-schema.json
               qhv_hyperv_schema_json)
add_executable(qhv-agent ${CMAKE_SOURCE_DIR}/src/agent/main.c)
# One self-contained .exe: no libgcc or libwinpthread DLL to ship beside it.
target_link_options(qhv-agent PRIVATE -static)
target_link_libraries(qhv-agent qhvagent)

# The platform layer's test program (tests/plat), run under Wine by
# tests/api/test_windows_agent.py.
add_executable(test_plat ${CMAKE_SOURCE_DIR}/tests/plat/test_plat.c)
target_link_options(test_plat PRIVATE -static)
target_link_libraries(test_plat qhvlib)

# The WMI COM transport where Hyper-V is absent (tests/win), also under Wine.
add_executable(test_wmi_com ${CMAKE_SOURCE_DIR}/tests/win/test_wmi_com.c)
target_link_options(test_wmi_com PRIVATE -static)
target_link_libraries(test_wmi_com qhvagent)
