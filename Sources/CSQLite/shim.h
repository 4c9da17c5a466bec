#ifndef DPLOY_CSQLITE_SHIM_H
#define DPLOY_CSQLITE_SHIM_H
#include <sqlite3.h>

/* sqlite3_config is variadic, which Swift cannot call: one typed wrapper per setting
   dploy makes, as GRDB does for SQLITE_CONFIG_LOG. */

/* Turns off SQLite's memory statistics. With them on (SQLite's default, and Debian's build,
   which also omits the lookaside allocator) every sqlite3_malloc and sqlite3_free of every
   connection in the process takes one global mutex. Only effective before SQLite
   initializes, i.e. before the process opens its first connection: SQLITE_OK, or
   SQLITE_MISUSE when it is too late. */
static inline int dploy_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#endif
