// The console's signed-in operators: a session per sign-in, named by a random id the browser
// keeps in an HttpOnly, SameSite=Strict cookie (never the operator token itself), holding the
// operator's token (forwarded to the services for the actions it signs) and a CSRF token that
// every action form must send back. Sessions end at sign-out or after `ttl` without use.
//
// Thread safety: thread-safe.
#ifndef DOSSIERSYNC_SERVICES_CONSOLE_SESSIONS_H_
#define DOSSIERSYNC_SERVICES_CONSOLE_SESSIONS_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dossiersync::console {

struct Session {
  std::string id;    // the cookie's value
  std::string csrf;  // sent back by every action
  std::string operator_name;
  std::string token;  // the operator's, forwarded to the services
  absl::Time last_used;
};

class Sessions {
 public:
  explicit Sessions(absl::Duration ttl, size_t max_sessions = 10000)
      : ttl_(ttl), max_(max_sessions) {}

  // A new session for a signed-in operator (the oldest is dropped beyond max_sessions).
  Session Create(const std::string& operator_name, const std::string& token);
  // The live session `id` names (its use recorded), or nullopt.
  std::optional<Session> Find(const std::string& id);
  void Remove(const std::string& id);
  // True when `csrf` is the session's CSRF token (constant time).
  static bool CsrfMatches(const Session& s, const std::string& csrf);

 private:
  const absl::Duration ttl_;
  const size_t max_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

// 32 random bytes as 64 hex digits (OpenSSL's RAND_bytes).
std::string RandomToken();

}  // namespace dossiersync::console

#endif  // DOSSIERSYNC_SERVICES_CONSOLE_SESSIONS_H_
