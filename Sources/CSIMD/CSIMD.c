// The header holds the code (one inline function); SwiftPM wants a source file for a C target.
#include "CSIMD.h"
