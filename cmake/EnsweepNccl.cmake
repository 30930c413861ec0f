# Finds NCCL and the CUDA runtime for the NCCL backend of collective/ (gang trials on GPUs), and
# decides ENSWEEP_WITH_NCCL: ON by default when both are found, OFF (with a message) otherwise, so
# a machine without CUDA configures as before. Only collective/nccl_group.cc includes nccl.h and
# cuda_runtime.h; nothing here needs nvcc or a GPU. Sets ENSWEEP_NCCL_INCLUDE_DIRS and
# ENSWEEP_NCCL_LIBRARIES.
set(_ensweep_cuda_hints "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}" /usr/local/cuda)
find_path(ENSWEEP_NCCL_INCLUDE_DIR nccl.h
  HINTS "$ENV{NCCL_HOME}" ${_ensweep_cuda_hints} PATH_SUFFIXES include)
find_library(ENSWEEP_NCCL_LIBRARY NAMES nccl libnccl.so.2
  HINTS "$ENV{NCCL_HOME}" ${_ensweep_cuda_hints} PATH_SUFFIXES lib64 lib lib/x86_64-linux-gnu)
find_path(ENSWEEP_CUDART_INCLUDE_DIR cuda_runtime.h
  HINTS ${_ensweep_cuda_hints} PATH_SUFFIXES include targets/x86_64-linux/include)
find_library(ENSWEEP_CUDART_LIBRARY cudart
  HINTS ${_ensweep_cuda_hints} PATH_SUFFIXES lib64 lib targets/x86_64-linux/lib)

set(_ensweep_nccl_missing "")
foreach(_var ENSWEEP_NCCL_INCLUDE_DIR ENSWEEP_NCCL_LIBRARY ENSWEEP_CUDART_INCLUDE_DIR
             ENSWEEP_CUDART_LIBRARY)
  if(NOT ${_var})
    list(APPEND _ensweep_nccl_missing ${_var})
  endif()
endforeach()
if(_ensweep_nccl_missing)
  set(_ensweep_nccl_default OFF)
else()
  set(_ensweep_nccl_default ON)
endif()
option(ENSWEEP_WITH_NCCL "Build the NCCL backend of gang communicators (needs NCCL and the CUDA runtime)"
       ${_ensweep_nccl_default})

if(ENSWEEP_WITH_NCCL)
  if(_ensweep_nccl_missing)
    message(FATAL_ERROR "ENSWEEP_WITH_NCCL=ON but not found: ${_ensweep_nccl_missing} "
                        "(set CUDA_HOME or NCCL_HOME, or configure with -DENSWEEP_WITH_NCCL=OFF)")
  endif()
  file(STRINGS "${ENSWEEP_NCCL_INCLUDE_DIR}/nccl.h" _ensweep_nccl_version_lines
       REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
  set(_ensweep_nccl_version "")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX MATCH "NCCL_${_part} +([0-9]+)" _m "${_ensweep_nccl_version_lines}")
    list(APPEND _ensweep_nccl_version "${CMAKE_MATCH_1}")
  endforeach()
  list(JOIN _ensweep_nccl_version "." _ensweep_nccl_version)
  set(ENSWEEP_NCCL_INCLUDE_DIRS ${ENSWEEP_NCCL_INCLUDE_DIR} ${ENSWEEP_CUDART_INCLUDE_DIR})
  set(ENSWEEP_NCCL_LIBRARIES ${ENSWEEP_NCCL_LIBRARY} ${ENSWEEP_CUDART_LIBRARY})
  message(STATUS "NCCL ${_ensweep_nccl_version}: ${ENSWEEP_NCCL_LIBRARY} (headers in "
                 "${ENSWEEP_NCCL_INCLUDE_DIR}), CUDA runtime ${ENSWEEP_CUDART_LIBRARY}: gang "
                 "communicators on GPUs use NCCL")
elseif(_ensweep_nccl_missing)
  message(STATUS "ENSWEEP_WITH_NCCL=OFF: not found: ${_ensweep_nccl_missing}; gang trials use "
                 "TCP or MPI (set CUDA_HOME or NCCL_HOME to build the NCCL backend)")
else()
  message(STATUS "ENSWEEP_WITH_NCCL=OFF (NCCL was found at ${ENSWEEP_NCCL_LIBRARY} but turned off)")
endif()
