// The HDF5 C library and its high-level dimension-scale API (Debian: libhdf5-dev, pkg-config "hdf5").
#include <hdf5.h>
#include <hdf5_hl.h>
