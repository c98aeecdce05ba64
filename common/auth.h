// Caller authentication for gRPC: bearer tokens (metadata "authorization: Bearer <token>") read
// from a secret file, compared in constant time; each token has a role and may be limited to
// agency codes.
//
// Tokens file: one caller per line, `name role token [agency,agency,...]`, role `portal` or
// `operator`; `#` starts a comment. Without a tokens file (only allowed with --allow_insecure)
// every caller is an anonymous operator with every agency.
//
// Thread safety: immutable after construction; Authenticate is thread-safe.
#ifndef DOSSIERSYNC_COMMON_AUTH_H_
#define DOSSIERSYNC_COMMON_AUTH_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace dossiersync {

enum class Role { kPortal, kOperator };

struct Caller {
  std::string name;
  Role role = Role::kPortal;
  absl::flat_hash_set<std::string> agencies;  // empty = any agency
  bool MayUseAgency(const std::string& agency) const {
    return agencies.empty() || agencies.contains(agency);
  }
};

class Authenticator {
 public:
  // No tokens: everyone is an anonymous operator.
  static std::unique_ptr<Authenticator> AllowAll();
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromText(const std::string& text);

  // UNAUTHENTICATED without a valid token; PERMISSION_DENIED when the role is insufficient
  // (an operator may do what a portal may).
  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase& ctx, Role needed) const;
  // The same for a token given otherwise (the console's sign-in form).
  absl::StatusOr<Caller> AuthenticateToken(absl::string_view token, Role needed) const;

 private:
  struct Entry {
    std::string token;
    Caller caller;
  };
  bool allow_all_ = false;
  std::vector<Entry> entries_;
};

}  // namespace dossiersync

#endif  // DOSSIERSYNC_COMMON_AUTH_H_
