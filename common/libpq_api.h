#pragma once

// libpq, opened on first use (driver_library.h): the functions hale calls, by their own names. Only
// pg_client.cpp includes this.

#include <libpq-fe.h>

#include "result.h"

namespace hale {

#define HALE_LIBPQ_FUNCTIONS(X) \
  X(PQconnectStartParams)       \
  X(PQconnectPoll)              \
  X(PQsetNoticeProcessor)       \
  X(PQstatus)                   \
  X(PQerrorMessage)             \
  X(PQsocket)                   \
  X(PQsetnonblocking)           \
  X(PQsendQuery)                \
  X(PQflush)                    \
  X(PQisBusy)                   \
  X(PQconsumeInput)             \
  X(PQgetResult)                \
  X(PQresultStatus)             \
  X(PQresultErrorMessage)       \
  X(PQntuples)                  \
  X(PQnfields)                  \
  X(PQgetvalue)                 \
  X(PQgetisnull)                \
  X(PQclear)                    \
  X(PQtransactionStatus)        \
  X(PQconninfoParse)            \
  X(PQconninfoFree)             \
  X(PQfreemem)                  \
  X(PQfinish)

struct LibPq {
#define HALE_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;  // NOLINT(bugprone-macro-parentheses): a declarator
  HALE_LIBPQ_FUNCTIONS(HALE_LIBPQ_MEMBER)
#undef HALE_LIBPQ_MEMBER
};

// libpq, loaded by the first call; later calls return the same table, or the same error.
Result<const LibPq*> loadLibPq();

}  // namespace hale
