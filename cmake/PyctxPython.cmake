# Chooses the Python that pyctx embeds.
#
#   -DPYCTX_PYTHON=/path/to/python3   an explicit choice (any 3.9+)
#
# Otherwise the newest CPython >= 3.12 found on PATH or under pyenv wins
# (owngil contexts need 3.12), falling back to plain `python3`. The choice
# must be a build with a shared libpython: every binding loads it at run time.
set(PYCTX_PYTHON "" CACHE FILEPATH "Python interpreter whose libpython pyctx embeds")

function(_pyctx_python_version exe out)
  execute_process(
    COMMAND "${exe}" -c "import sys; print('%d.%d' % sys.version_info[:2])"
    OUTPUT_VARIABLE ver OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0)
    set(${out} "${ver}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

if(NOT PYCTX_PYTHON)
  set(_candidates "")
  foreach(minor 14 13 12)
    find_program(_py_on_path NAMES python3.${minor} NO_CACHE)
    if(_py_on_path)
      list(APPEND _candidates "${_py_on_path}")
    endif()
    unset(_py_on_path)
  endforeach()
  if(DEFINED ENV{PYENV_ROOT})
    set(_pyenv "$ENV{PYENV_ROOT}")
  else()
    set(_pyenv "$ENV{HOME}/.pyenv")
  endif()
  file(GLOB _pyenv_pythons "${_pyenv}/versions/3.1[2-9]*/bin/python3")
  list(SORT _pyenv_pythons COMPARE NATURAL ORDER DESCENDING)
  list(APPEND _candidates ${_pyenv_pythons})

  set(_best "")
  set(_best_ver "0.0")
  foreach(cand IN LISTS _candidates)
    # Skip free-threaded and debug builds: their ABI differs.
    if(cand MATCHES "t/bin/python3$")
      continue()
    endif()
    _pyctx_python_version("${cand}" ver)
    if(ver AND ver VERSION_GREATER _best_ver)
      set(_best "${cand}")
      set(_best_ver "${ver}")
    endif()
  endforeach()
  if(NOT _best)
    find_program(_best NAMES python3 REQUIRED NO_CACHE)
  endif()
  set(PYCTX_PYTHON "${_best}" CACHE FILEPATH "Python interpreter whose libpython pyctx embeds" FORCE)
endif()

set(Python3_EXECUTABLE "${PYCTX_PYTHON}")
set(Python3_FIND_STRATEGY LOCATION)
find_package(Python3 3.9 REQUIRED COMPONENTS Interpreter Development.Embed)
message(STATUS "pyctx embeds Python ${Python3_VERSION} (${Python3_EXECUTABLE})")
if(Python3_VERSION VERSION_LESS 3.12)
  message(STATUS "pyctx: Python < 3.12, owngil contexts will report unsupported")
endif()

# Where libpython lives, so that the library finds it at run time (RUNPATH);
# the installed package names the same file and minor (PyctxInstall.cmake).
list(GET Python3_LIBRARIES 0 PYCTX_PYTHON_LIBRARY)
get_filename_component(PYCTX_PYTHON_LIBDIR "${PYCTX_PYTHON_LIBRARY}" DIRECTORY)
set(PYCTX_PYTHON_MINOR "${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}")
