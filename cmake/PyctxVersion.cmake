# The SONAME and package-compatibility policy, derived from project(VERSION).
#
# 0.x releases: every minor release may change the ABI, so the SONAME carries
# the minor (libpyctx.so.0.2) and find_package(pyctx 0.2) accepts 0.2.y only.
# Patch releases never change the ABI.
# From 1.0 on: the SONAME carries the major (libpyctx.so.1) and any 1.y
# satisfies find_package(pyctx 1.x) when y >= x.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(PYCTX_SOVERSION "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")
  set(PYCTX_VERSION_COMPATIBILITY SameMinorVersion)
else()
  set(PYCTX_SOVERSION "${PROJECT_VERSION_MAJOR}")
  set(PYCTX_VERSION_COMPATIBILITY SameMajorVersion)
endif()
