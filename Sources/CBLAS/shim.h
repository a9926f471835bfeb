// OpenBLAS's CBLAS interface (Debian: libopenblas-dev, found through pkg-config "openblas").
#include <cblas.h>
// Thread control is OpenBLAS-specific and not in every cblas.h.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// The name of the kernels OpenBLAS chose at load ("SkylakeX", "Haswell", "Prescott", …).
char *openblas_get_corename(void);
