#ifndef DPLOY_CLIBPQ_SHIM_H
#define DPLOY_CLIBPQ_SHIM_H
/* PostgreSQL's own client library (Debian's libpq-dev): synchronous calls on the caller's
   thread, as the Store protocol is, with TLS checked by libpq itself (sslmode=verify-full). */
#include <libpq-fe.h>
#endif
