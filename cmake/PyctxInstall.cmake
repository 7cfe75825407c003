# Installs pyctx as a package other projects consume:
#
#   <prefix>/include/pyctx.h
#   <prefix>/<libdir>/libpyctx.so.X  libpyctx.a
#   <prefix>/<libdir>/cmake/pyctx/   pyctxConfig.cmake, version file, targets
#                                    -> find_package(pyctx): pyctx::pyctx (shared),
#                                       pyctx::pyctx_static
#   <prefix>/<libdir>/pkgconfig/pyctx.pc
#   <prefix>/<libexecdir>/pyctx/     helper executables of other context modes
#   <prefix>/<docdir>/               LICENSE, CHANGELOG.md
#
# The installed library is tied to the one Python minor it was built against
# (its RUNPATH and NEEDED entry name that libpython): the CMake config records
# it in pyctx_PYTHON_VERSION and the .pc file requires python-3.X-embed.
#
# Everything here is relocatable: `cmake --install <build> --prefix <dir>`
# into any prefix gives a working package.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PYCTX_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/pyctx"
  CACHE STRING "Where pyctxConfig.cmake is installed (relative to the prefix)")
set(PYCTX_INSTALL_HELPERDIR "${CMAKE_INSTALL_LIBEXECDIR}/pyctx")

# In the build tree pyctx_static carries Python3::Python; an installed copy
# cannot rely on the consumer finding the same Python, so it names the very
# libpython the build used. The engine is C++: a C program linking the
# archive needs the C++ runtime and libm too.
target_link_libraries(pyctx_static INTERFACE
  "$<INSTALL_INTERFACE:${PYCTX_PYTHON_LIBRARY}>"
  "$<INSTALL_INTERFACE:stdc++>" "$<INSTALL_INTERFACE:m>")

install(TARGETS pyctx pyctx_static EXPORT pyctxTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES include/pyctx.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES LICENSE CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Helper executables (the child of process contexts) go to libexec/pyctx,
# where the library looks for them. Deferred to the end of the top-level
# directory so a target defined after this file is included still counts.
function(_pyctx_install_helpers)
  if(TARGET pyctx-process-helper)
    install(TARGETS pyctx-process-helper RUNTIME DESTINATION ${PYCTX_INSTALL_HELPERDIR})
  endif()
endfunction()
cmake_language(DEFER DIRECTORY "${PROJECT_SOURCE_DIR}" CALL _pyctx_install_helpers)

# ---- CMake package -------------------------------------------------------------
install(EXPORT pyctxTargets NAMESPACE pyctx:: DESTINATION ${PYCTX_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/pyctxConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/pyctxConfig.cmake"
  INSTALL_DESTINATION ${PYCTX_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR PYCTX_INSTALL_HELPERDIR)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/pyctxConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${PYCTX_VERSION_COMPATIBILITY})
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/pyctxConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/pyctxConfigVersion.cmake"
  DESTINATION ${PYCTX_INSTALL_CMAKEDIR})

# ---- pkg-config ------------------------------------------------------------------
# The prefix is found from the .pc file's own location, so the file stays
# right whatever --prefix the install is given.
file(RELATIVE_PATH PYCTX_PC_TO_PREFIX
  "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" PYCTX_PC_TO_PREFIX "${PYCTX_PC_TO_PREFIX}")
# python-3.X-embed.pc of a Python outside the system (pyenv, /opt) is not on
# pkg-config's default path: the file names its directory for the user.
execute_process(
  COMMAND "${Python3_EXECUTABLE}" -c "import sysconfig; print(sysconfig.get_config_var('LIBPC') or '')"
  OUTPUT_VARIABLE PYCTX_PYTHON_PCDIR OUTPUT_STRIP_TRAILING_WHITESPACE)
configure_file(cmake/pyctx.pc.in "${CMAKE_CURRENT_BINARY_DIR}/pyctx.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/pyctx.pc"
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
