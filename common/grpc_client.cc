#include "common/grpc_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/ids.h"
#include "common/log.h"

namespace dossiersync {
namespace {
absl::StatusOr<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientOptions& o) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  args.SetMaxSendMessageSize(64 * 1024 * 1024);
  if (!o.authority.empty()) args.SetSslTargetNameOverride(o.authority);
  if (!o.tls()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("a client certificate and its key go together");
  }
  grpc::SslCredentialsOptions ssl;
  if (!o.tls_ca_file.empty()) {
    auto ca = Slurp(o.tls_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!o.tls_cert_file.empty()) {
    auto cert = Slurp(o.tls_cert_file);
    if (!cert.ok()) return cert.status();
    auto key = Slurp(o.tls_key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

absl::StatusOr<ClientOptions> ClientOptionsFrom(const std::string& ca, const std::string& cert,
                                                const std::string& key,
                                                const std::string& token_file,
                                                const std::string& server_name,
                                                const ClientFlagNames& names) {
  ClientOptions o;
  o.tls_ca_file = ca;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  o.authority = server_name;
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(names.cert, " and ", names.key, " go together (mutual TLS)"));
  }
  for (const auto& [path, flag] : {std::pair{ca, names.ca}, {cert, names.cert}, {key, names.key}}) {
    if (!path.empty() && !Slurp(path).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
    }
  }
  if (!token_file.empty()) {
    auto t = ReadSecretFile(token_file, names.token);
    if (!t.ok()) return t.status();
    o.token = *t;
  }
  return o;
}

std::unique_ptr<grpc::ClientContext> MakeContext(const ClientOptions& o, absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  if (!o.token.empty()) ctx->AddMetadata("authorization", "Bearer " + o.token);
  // A child of the trace this thread works in (a request or message being handled), else new.
  ctx->AddMetadata("traceparent", ChildTraceparent(CurrentTraceparent()));
  return ctx;
}

}  // namespace dossiersync
