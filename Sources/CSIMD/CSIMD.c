// The header holds the code (inline functions); SwiftPM wants a source file for a C target.
#include "CSIMD.h"
