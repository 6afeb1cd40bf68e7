#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H
#include <libpq-fe.h>

/* The PG_DIAG_* field codes are character macros, which Swift cannot import. */
static const int CLibPQ_DIAG_SQLSTATE = 'C';
static const int CLibPQ_DIAG_MESSAGE_PRIMARY = 'M';
static const int CLibPQ_DIAG_MESSAGE_DETAIL = 'D';
static const int CLibPQ_DIAG_MESSAGE_HINT = 'H';
static const int CLibPQ_DIAG_CONSTRAINT_NAME = 'n';
#endif
