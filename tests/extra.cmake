# Extras of the C/C++ test suite (included by tests/CMakeLists.txt after the
# gtest binaries are defined):
#  - a legacy single-phase-init extension module for the isolation tests,
#  - per-binary compile definitions and scheduling,
#  - header checks (strict C99 and C++11), the exported-symbol check,
#  - two plain-C hosts: one linked statically, one loading libpyctx.so with
#    dlopen.

# ---- legacy extension module -------------------------------------------------
# Plain `.so` suffix and no `lib` prefix: Python's import system accepts it
# (".so" is in importlib.machinery.EXTENSION_SUFFIXES). Python symbols resolve
# against the embedding process, so it does not link libpython.
add_library(pyctx_legacy_ext MODULE ext/pyctx_legacy_ext.c)
target_include_directories(pyctx_legacy_ext PRIVATE ${Python3_INCLUDE_DIRS})
set_target_properties(pyctx_legacy_ext PROPERTIES
  PREFIX ""
  SUFFIX ".so"
  LIBRARY_OUTPUT_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/ext")
foreach(t test_isolation test_single_phase_owngil)
  if(TARGET ${t})
    add_dependencies(${t} pyctx_legacy_ext)
    target_compile_definitions(${t} PRIVATE
      PYCTX_TEST_EXT_DIR="${CMAKE_CURRENT_BINARY_DIR}/ext")
  endif()
endforeach()

if(TARGET test_runtime_lifecycle)
  # The lifecycle test sets the program name and expects sys.executable.
  target_compile_definitions(test_runtime_lifecycle PRIVATE
    PYCTX_TEST_PYTHON="${Python3_EXECUTABLE}")
endif()

# The speedup ratio needs both cores to itself.
if(TEST test_parallelism)
  set_tests_properties(test_parallelism PROPERTIES RUN_SERIAL TRUE)
endif()
# Suite binaries should finish well within a minute each.
foreach(t test_runtime_lifecycle test_context test_thread_affinity test_parallelism
          test_isolation test_requests test_async test_cancel_timeout test_exactly_once
          test_stuck_close test_invalid_args test_host_functions test_asyncio
          test_concurrent_imports test_single_phase_owngil test_owngil_module_leak)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES TIMEOUT 120)
  endif()
endforeach()

# ---- header checks -----------------------------------------------------------
set(_pyctx_header_check "${CMAKE_CURRENT_SOURCE_DIR}/abi/header_check.c")
set(_pyctx_include "${PROJECT_SOURCE_DIR}/include")
add_test(NAME header_strict_c99
  COMMAND ${CMAKE_C_COMPILER} -std=c99 -pedantic -Wall -Wextra -Werror -Wstrict-prototypes
          -fsyntax-only -I${_pyctx_include} ${_pyctx_header_check})
add_test(NAME header_strict_cxx11
  COMMAND ${CMAKE_CXX_COMPILER} -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror
          -fsyntax-only -I${_pyctx_include} ${_pyctx_header_check})

# ---- exported symbols ----------------------------------------------------------
add_test(NAME abi_exports_match_header
  COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:pyctx> -DHEADER=${_pyctx_include}/pyctx.h
          -DNM=${CMAKE_NM} -P ${CMAKE_CURRENT_SOURCE_DIR}/abi/check_exports.cmake)

# ---- plain C hosts -------------------------------------------------------------
add_executable(c_static_call abi/c_static_call.c)
target_link_libraries(c_static_call PRIVATE pyctx_static)
set_target_properties(c_static_call PROPERTIES
  C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF
  LINKER_LANGUAGE CXX) # the engine needs the C++ runtime
target_compile_options(c_static_call PRIVATE -pedantic -Wall -Wextra -Werror)
add_test(NAME c_static_call COMMAND c_static_call)

add_executable(c_dlopen_call abi/c_dlopen_call.c)
target_include_directories(c_dlopen_call PRIVATE ${_pyctx_include})
target_link_libraries(c_dlopen_call PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(c_dlopen_call PROPERTIES
  C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(c_dlopen_call PRIVATE -pedantic -Wall -Wextra -Werror)
add_dependencies(c_dlopen_call pyctx)
add_test(NAME c_dlopen_call COMMAND c_dlopen_call $<TARGET_FILE:pyctx>)

set_tests_properties(c_static_call c_dlopen_call PROPERTIES TIMEOUT 60)

# ---- release metadata ------------------------------------------------------------
# One version (header, CMake, Cargo, Go, .app) and one licence everywhere.
add_test(NAME release_metadata_agree
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/release/check_metadata.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(release_metadata_agree PROPERTIES TIMEOUT 30)
