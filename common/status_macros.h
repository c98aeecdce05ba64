// Early-return helpers for absl::Status / absl::StatusOr, in the style of Abseil's internal ones.
//
//   DS_RETURN_IF_ERROR(DoThing());
//   DS_ASSIGN_OR_RETURN(auto value, MaybeValue());   // or an existing lvalue: a->m_
//
// Thread safety: macros only.
#ifndef DOSSIERSYNC_COMMON_STATUS_MACROS_H_
#define DOSSIERSYNC_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DS_STATUS_CONCAT_INNER(a, b) a##b
#define DS_STATUS_CONCAT(a, b) DS_STATUS_CONCAT_INNER(a, b)

#define DS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    const absl::Status ds_status_ = (expr);  \
    if (!ds_status_.ok()) return ds_status_; \
  } while (0)

#define DS_ASSIGN_OR_RETURN(lhs, expr) \
  DS_ASSIGN_OR_RETURN_IMPL(DS_STATUS_CONCAT(ds_statusor_, __LINE__), lhs, expr)

#define DS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)

#endif  // DOSSIERSYNC_COMMON_STATUS_MACROS_H_
