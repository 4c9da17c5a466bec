#ifndef DPLOY_CGIT2_SHIM_H
#define DPLOY_CGIT2_SHIM_H
#include <git2.h>
#endif
