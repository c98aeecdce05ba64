#include "services/console/sessions.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"

namespace dossiersync::console {

std::string RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // no entropy: never a weak session
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

Session Sessions::Create(const std::string& operator_name, const std::string& token) {
  Session s{RandomToken(), RandomToken(), operator_name, token, absl::Now()};
  absl::MutexLock l(&mu_);
  if (sessions_.size() >= max_) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[s.id] = s;
  return s;
}

std::optional<Session> Sessions::Find(const std::string& id) {
  if (id.empty()) return std::nullopt;
  absl::MutexLock l(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  const absl::Time now = absl::Now();
  if (now - it->second.last_used > ttl_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

void Sessions::Remove(const std::string& id) {
  absl::MutexLock l(&mu_);
  sessions_.erase(id);
}

bool Sessions::CsrfMatches(const Session& s, const std::string& csrf) {
  return !csrf.empty() && csrf.size() == s.csrf.size() &&
         CRYPTO_memcmp(csrf.data(), s.csrf.data(), csrf.size()) == 0;
}

}  // namespace dossiersync::console
