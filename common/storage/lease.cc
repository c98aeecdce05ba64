#include "common/storage/lease.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dossiersync::storage {

absl::StatusOr<std::unique_ptr<Leases>> Leases::Open(Database* db) {
  auto st = db->ApplyMigrations(
      "leases", {"CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
                 "expires_at_us BIGINT NOT NULL)"});
  if (!st.ok()) return st;
  return std::unique_ptr<Leases>(new Leases(db));
}

absl::StatusOr<bool> Leases::Acquire(const std::string& name, const std::string& holder,
                                     absl::Duration ttl) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  const int64_t now = absl::ToUnixMicros(absl::Now());
  auto ins = (*tx)->Exec(
      "INSERT INTO leases (name, holder, expires_at_us) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_us = "
      "excluded.expires_at_us WHERE leases.holder = excluded.holder OR leases.expires_at_us < $4",
      {name, holder, now + absl::ToInt64Microseconds(ttl), now});
  if (!ins.ok()) return ins.status();
  auto row = (*tx)->QueryOne("SELECT holder FROM leases WHERE name = $1", {name});
  if (!row.ok()) return row.status();
  if (auto st = (*tx)->Commit(); !st.ok()) return st;
  return row->has_value() && (*row)->Str(0) == holder;
}

absl::Status Leases::Release(const std::string& name, const std::string& holder) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto r = (*tx)->Exec("DELETE FROM leases WHERE name = $1 AND holder = $2", {name, holder});
  if (!r.ok()) return r.status();
  return (*tx)->Commit();
}

std::string DefaultHolder() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, "-", getpid());
}

}  // namespace dossiersync::storage
