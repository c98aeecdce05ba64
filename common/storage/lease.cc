#include "common/storage/lease.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
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

namespace {

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

}  // namespace

bool HolderIsDeadHere(absl::string_view holder) {
  // HOSTNAME-PID (DefaultHolder) of this host, whose process no longer exists.
  size_t dash = holder.rfind('-');
  if (dash == absl::string_view::npos || holder.substr(0, dash) != HostName()) return false;
  int pid = 0;
  if (!absl::SimpleAtoi(holder.substr(dash + 1), &pid) || pid <= 0 || pid == getpid()) {
    return false;
  }
  return kill(pid, 0) != 0 && errno == ESRCH;
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
  if (row->has_value() && (*row)->Str(0) != holder && HolderIsDeadHere((*row)->Str(0))) {
    // A process of this host that died (kill -9) without releasing: no need to wait for its TTL.
    auto take = (*tx)->Exec(
        "UPDATE leases SET holder = $2, expires_at_us = $3 WHERE name = $1 AND holder = $4",
        {name, holder, now + absl::ToInt64Microseconds(ttl), (*row)->Str(0)});
    if (!take.ok()) return take.status();
    if (auto st = (*tx)->Commit(); !st.ok()) return st;
    return true;
  }
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

std::string DefaultHolder() { return absl::StrCat(HostName(), "-", getpid()); }

}  // namespace dossiersync::storage
