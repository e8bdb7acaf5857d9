# Cross build for 64-bit Arm Linux with Debian's cross compiler and multiarch libraries:
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
#           liblua5.4-dev:arm64 libcapstone-dev:arm64 libyaml-dev:arm64
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=tests/vm/aarch64-linux-gnu.cmake -DXG_STATIC=ON
#   cmake --build build-arm64 --target exitgate_cli
# With XG_STATIC=ON the `exitgate` binary is static (the arm64 VM lane runs it in an initramfs
# with no libraries). Only the library and the command are built: the test suite and the
# example guests are x86 code for the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(XG_CROSS_TRIPLET aarch64-linux-gnu)

find_program(CMAKE_C_COMPILER ${XG_CROSS_TRIPLET}-gcc)
if(NOT CMAKE_C_COMPILER)
	message(FATAL_ERROR "${XG_CROSS_TRIPLET}-gcc not found: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross")
endif()

# Libraries and headers: Debian's multiarch paths for arm64, never the host's.
set(CMAKE_LIBRARY_ARCHITECTURE ${XG_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config reads only the arm64 .pc files (the host's would hand out x86-64 libraries).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${XG_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
