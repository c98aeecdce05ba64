// For the drivers: a Transaction on one driver connection `Conn`, which must offer
// `absl::StatusOr<std::vector<Row>> Run(absl::string_view sql, const std::vector<Value>& params,
// int64_t* changes)`. The driver's subclass adds Commit and what happens at destruction.
//
// Thread safety: like Transaction, used by one thread at a time.
#ifndef DOSSIERSYNC_COMMON_STORAGE_CONNECTION_TRANSACTION_H_
#define DOSSIERSYNC_COMMON_STORAGE_CONNECTION_TRANSACTION_H_

#include <memory>
#include <vector>

#include "common/storage/database.h"

namespace dossiersync::storage {

template <typename Conn>
class ConnectionTransaction : public Transaction {
 public:
  explicit ConnectionTransaction(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
  absl::StatusOr<std::vector<Row>> Query(absl::string_view sql,
                                         const std::vector<Value>& params) override {
    return conn_->Run(sql, params, nullptr);
  }
  absl::StatusOr<int64_t> Exec(absl::string_view sql, const std::vector<Value>& params) override {
    int64_t changes = 0;
    auto r = conn_->Run(sql, params, &changes);
    if (!r.ok()) return r.status();
    return changes;
  }

 protected:
  std::unique_ptr<Conn> conn_;
};

}  // namespace dossiersync::storage

#endif  // DOSSIERSYNC_COMMON_STORAGE_CONNECTION_TRANSACTION_H_
