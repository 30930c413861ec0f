# Checks on the LibTorch that find_package(Torch) found, before anything is compiled against it.
#
# LibTorch from older PyTorch wheels (all before 2.6, most of 2.6's) and LibTorch archives marked
# "pre-cxx11 ABI" are built with the old std::string ABI (_GLIBCXX_USE_CXX11_ABI=0). The trainer
# module links LibTorch together with ensweep's own libraries and Debian's C++ libraries
# (yaml-cpp, SQLiteCpp), all built with the C++11 ABI, so such a LibTorch would fail only at link
# time with undefined symbols; stop at configure time instead, saying what to use.
function(ensweep_check_torch torch_cxx_flags torch_dir)
  if(torch_cxx_flags MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
    message(FATAL_ERROR
      "LibTorch in ${torch_dir} is built with the pre-C++11 std::string ABI "
      "(_GLIBCXX_USE_CXX11_ABI=0), as older PyTorch wheels are; ensweep links it with C++ "
      "libraries built with the C++11 ABI. Use PyTorch 2.7 or later "
      "(-DCMAKE_PREFIX_PATH=\"$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')\"), "
      "a LibTorch download marked cxx11 ABI, or Debian's libtorch-dev.")
  endif()
endfunction()

# Run as a script (cmake -DTORCH_CXX_FLAGS=... -P cmake/EnsweepTorchCheck.cmake) to try the check.
if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  ensweep_check_torch("${TORCH_CXX_FLAGS}" "${Torch_DIR}")
  message(STATUS "LibTorch flags '${TORCH_CXX_FLAGS}': accepted")
endif()
