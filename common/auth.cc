#include "common/auth.h"

#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/flags.h"

namespace dossiersync {

std::unique_ptr<Authenticator> Authenticator::AllowAll() {
  auto a = std::make_unique<Authenticator>();
  a->allow_all_ = true;
  return a;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(const std::string& path) {
  auto text = ReadSecretFile(path, "--auth_tokens_file");
  if (!text.ok()) return text.status();
  auto a = FromText(*text);
  if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", a.status().message()));
  return a;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromText(const std::string& text) {
  auto a = std::make_unique<Authenticator>();
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() < 3 || parts.size() > 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": expected `name role token [agencies]`"));
    }
    Entry e;
    e.caller.name = parts[0];
    if (parts[1] == "portal") {
      e.caller.role = Role::kPortal;
    } else if (parts[1] == "operator") {
      e.caller.role = Role::kOperator;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": role must be portal or operator"));
    }
    if (parts[2].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": token shorter than 16 characters"));
    }
    e.token = parts[2];
    if (parts.size() == 4 && parts[3] != "*") {
      for (absl::string_view ag : absl::StrSplit(parts[3], ',', absl::SkipEmpty())) {
        e.caller.agencies.insert(std::string(ag));
      }
    }
    a->entries_.push_back(std::move(e));
  }
  if (a->entries_.empty()) return absl::InvalidArgumentError("no tokens defined");
  return a;
}

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::ServerContextBase& ctx,
                                                   Role needed) const {
  if (allow_all_) return Caller{"anonymous", Role::kOperator, {}};
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return ReasonError(absl::StatusCode::kUnauthenticated, "MISSING_TOKEN",
                       "missing `authorization: Bearer <token>` metadata");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return ReasonError(absl::StatusCode::kUnauthenticated, "BAD_TOKEN",
                       "authorization metadata must be `Bearer <token>`");
  }
  return AuthenticateToken(value, needed);
}

absl::StatusOr<Caller> Authenticator::AuthenticateToken(absl::string_view value,
                                                        Role needed) const {
  if (allow_all_) return Caller{"anonymous", Role::kOperator, {}};
  const Entry* found = nullptr;
  for (const Entry& e : entries_) {  // no early exit: constant time over the token list
    bool eq = e.token.size() == value.size() &&
              CRYPTO_memcmp(e.token.data(), value.data(), value.size()) == 0;
    if (eq && found == nullptr) found = &e;
  }
  if (found == nullptr) {
    return ReasonError(absl::StatusCode::kUnauthenticated, "BAD_TOKEN", "unknown token");
  }
  if (needed == Role::kOperator && found->caller.role != Role::kOperator) {
    return ReasonError(absl::StatusCode::kPermissionDenied, "OPERATOR_ONLY",
                       absl::StrCat("caller ", found->caller.name, " is not an operator"));
  }
  return found->caller;
}

}  // namespace dossiersync
