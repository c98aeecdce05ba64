#include "common/server.h"

#include <signal.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/library_logs.h"
#include "common/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>

#include "grpcpp/support/server_interceptor.h"
#endif

namespace dossiersync {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer builds only. gRPC hands calls between threads through internals that are not
// built with TSan, so two orderings it guarantees are invisible and would be reported as races:
// - everything a service builds before its server starts (service objects, metric families,
//   stores) happens before the threads that run its calls read it: the start releases
//   g_server_started and every call acquires it at each interception point;
// - everything a call's threads did up to its last interception point (the status being sent)
//   happens before Server::Shutdown returns and the server and services are destroyed: every
//   interception point releases g_calls_done and Shutdown acquires it.
// Calls never acquire what other calls released, so races between calls are still reported.
char g_server_started;
char g_calls_done;

class CallAnnotator : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    __tsan_acquire(&g_server_started);
    __tsan_release(&g_calls_done);
    methods->Proceed();
  }
};

class CallAnnotatorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new CallAnnotator();
  }
};

void AnnotateServerStart(grpc::ServerBuilder& builder) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<CallAnnotatorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(creators));
  __tsan_release(&g_server_started);
}
void AnnotateServerStopped() { __tsan_acquire(&g_calls_done); }
#else
void AnnotateServerStart(grpc::ServerBuilder&) {}
void AnnotateServerStopped() {}
#endif

}  // namespace

absl::Status ServerOptions::Validate() const {
  if (listen.empty() || listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: expected HOST:PORT, got '", listen, "'"));
  }
  if (!allow_insecure) {
    if (tls_cert_file.empty() || tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "TLS is required: set --tls_cert_file and --tls_key_file, or --allow_insecure for a "
          "local plaintext run");
    }
    if (auth_tokens_file.empty()) {
      return absl::InvalidArgumentError(
          "caller authentication is required: set --auth_tokens_file, or --allow_insecure");
    }
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  if (!tls_client_ca_file.empty() && tls_cert_file.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca_file needs --tls_cert_file");
  }
  return absl::OkStatus();
}

nlohmann::json ServerOptions::ToJson() const {
  return {{"listen", listen},
          {"allow_insecure", allow_insecure},
          {"tls_cert_file", tls_cert_file},
          {"tls_key_file", tls_key_file},
          {"tls_client_ca_file", tls_client_ca_file},
          {"auth_tokens_file", auth_tokens_file}};
}

absl::StatusOr<std::unique_ptr<Authenticator>> MakeAuthenticator(const ServerOptions& options) {
  if (options.auth_tokens_file.empty()) return Authenticator::AllowAll();
  return Authenticator::FromFile(options.auth_tokens_file);
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services, HealthSpec health) {
  if (auto st = options.Validate(); !st.ok()) return st;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!options.tls_cert_file.empty()) {
    auto cert = ReadFile(options.tls_cert_file, "--tls_cert_file");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(options.tls_key_file, "--tls_key_file");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!options.tls_client_ca_file.empty()) {
      auto ca = ReadFile(options.tls_client_ca_file, "--tls_client_ca_file");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  auto out = std::unique_ptr<GrpcServer>(new GrpcServer());
  builder.AddListeningPort(options.listen, creds, &out->port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a taken port is an error
  for (grpc::Service* s : services) builder.RegisterService(s);
  AnnotateServerStart(builder);
  out->server_ = builder.BuildAndStart();
  if (!out->server_ || out->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  out->health_ = std::make_unique<Health>(std::move(health.service_names), options.health);
  for (auto& [name, check] : health.checks) out->health_->AddCheck(name, std::move(check));
  out->health_->Start(out->server_->GetHealthCheckService());
  return out;
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  health_->BeginShutdown();
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  AnnotateServerStopped();
}

GrpcServer::~GrpcServer() { Shutdown(absl::Seconds(1)); }

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::string WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace dossiersync
