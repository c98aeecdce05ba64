// DVCQG client: login with a shared session cache (re-login on expiry and on rejection, once per
// call, one login at a time however many callers), DongBoHoSoMC in batches, CapNhatTienDoHoSoMC in
// chunks, TraCuuHoSo; every call classified into an Outcome. HTTP/1.1 keep-alive connections from
// a small pool (cpp-httplib, HTTPS when the URL says so), connect and read timeouts on every call,
// latency metrics. Paths, timeouts, batch sizes and text limits come from ClientConfig.
//
// Thread safety: Client is thread-safe; calls may run concurrently from any number of threads.
#ifndef DOSSIERSYNC_COMMON_DVCQG_CLIENT_H_
#define DOSSIERSYNC_COMMON_DVCQG_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/dvcqg/config.h"
#include "common/dvcqg/mapping.h"
#include "dossiersync/v1/dossier.pb.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"

namespace httplib {
class Client;
}

namespace dossiersync::dvcqg {

enum class Outcome {
  kAccepted,         // error_code 0, "0" or "00" (and the success message, when configured)
  kAlreadyExists,    // "3" đã tồn tại (create of an existing code)
  kNotFound,         // "4" không tồn tại (update / progress of a missing code)
  kSessionRejected,  // "401" even after one re-login, or login refused
  kInvalidItem,      // "2" (or another permanent code): the item is wrong, `field` names why
  kRateLimited,      // HTTP 429, `retry_after` from Retry-After
  kServerError,      // HTTP 5xx
  kTimeout,          // connect or read timeout
  kNetworkError,     // connection refused, reset, ...
  kBadResponse,      // not the protocol: unparsable JSON, wrong shape, other HTTP status, no
                     // error_code, success without the configured success message
};
const char* OutcomeName(Outcome o);
// Whether `text` contains `needle`, ignoring case (ASCII and Vietnamese letters).
bool ContainsFolded(absl::string_view text, absl::string_view needle);
// Worth retrying later: rate limited, server error, timeout, network error, bad response.
bool IsRetryable(Outcome o);

struct ItemResult {
  std::string code;
  Outcome outcome = Outcome::kAccepted;
  std::string error_code;
  std::string message;
  std::string field;
};

// The national services the client speaks.
inline constexpr char kServiceSync[] = "DongBoHoSoMC";
inline constexpr char kServiceProgress[] = "CapNhatTienDoHoSoMC";
inline constexpr char kServiceLookup[] = "TraCuuHoSo";

struct CallResult {
  Outcome outcome = Outcome::kAccepted;  // of the call; per-item outcomes in `items`
  int http_status = 0;
  std::string error_code;
  std::string message;
  std::string field;
  absl::Duration retry_after = absl::ZeroDuration();
  absl::Duration latency = absl::ZeroDuration();
  int logins = 0;  // logins this call did (0 or 1)
  std::vector<ItemResult> items;
  nlohmann::json response;  // the parsed body, when there was one
};

struct LookupResult {
  CallResult call;
  std::optional<dossiersync::v1::Dossier> dossier;  // nullopt: not found nationally
};

// A dossier with the DVCQG status code to send for it (after the status mapping).
using DossierItem = std::pair<const dossiersync::v1::Dossier*, int>;
// A progress step with its DVCQG status code.
using StepItem = std::pair<const dossiersync::v1::ProgressStep*, int>;

// One row of a progress call. CapNhatTienDoHoSoMC rows each name their dossier, so one call may
// carry the rows of several.
struct ProgressRow {
  std::string code;
  const dossiersync::v1::ProgressStep* step;
  int status;  // DVCQG status code
};

// The national services as the sync uses them: Client speaks them over HTTP; tests of the sync's
// parts put a scripted DVCQG behind this interface. Implementations are thread-safe.
class Api {
 public:
  virtual ~Api() = default;
  // One DongBoHoSoMC call of at most config().batch_size items.
  virtual CallResult SyncDossiers(const std::vector<DossierItem>& items, bool is_update) = 0;
  // CapNhatTienDoHoSoMC in chunks of config().progress_chunk; one result per chunk sent.
  virtual std::vector<CallResult> UpdateProgress(const std::string& code,
                                                 const std::vector<StepItem>& steps) = 0;
  // One CapNhatTienDoHoSoMC call of 1..config().progress_chunk rows of one or several dossiers;
  // `items` holds one result per dossier, in the order the dossiers first appear.
  virtual CallResult UpdateProgressRows(const std::vector<ProgressRow>& rows) = 0;
  virtual LookupResult Lookup(const std::string& code) = 0;
  virtual const ClientConfig& config() const = 0;
};

class Client : public Api {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientConfig& config,
                                                        prometheus::Registry* registry = nullptr);
  ~Client() override;

  // One DongBoHoSoMC call; at most config.batch_size items (more is INVALID_ARGUMENT, reported as
  // kInvalidItem without a call).
  CallResult SyncDossiers(const std::vector<DossierItem>& items, bool is_update) override;
  // CapNhatTienDoHoSoMC for one dossier, in chunks of config.progress_chunk rows; one result per
  // chunk, stopping after the first chunk that is not accepted.
  std::vector<CallResult> UpdateProgress(const std::string& code,
                                         const std::vector<StepItem>& steps) override;
  CallResult UpdateProgressRows(const std::vector<ProgressRow>& rows) override;
  LookupResult Lookup(const std::string& code) override;

  int64_t logins() const;
  const ClientConfig& config() const override { return config_; }

 private:
  struct Metrics;
  explicit Client(ClientConfig config);
  // Sends `body` (session added) to the integration endpoint, re-logging in once on rejection.
  CallResult Call(const char* service, nlohmann::json body, const std::vector<std::string>& codes);
  CallResult Post(const std::string& path, const std::string& body);
  // The current session, logging in if needed; concurrent callers share one login.
  absl::StatusOr<std::string> Session(CallResult* result);
  void Invalidate(const std::string& token);
  std::unique_ptr<httplib::Client> Acquire();
  void Release(std::unique_ptr<httplib::Client> c);

  const ClientConfig config_;
  std::unique_ptr<Metrics> metrics_;
  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time token_expires_ ABSL_GUARDED_BY(mu_);
  bool logging_in_ ABSL_GUARDED_BY(mu_) = false;
  int64_t logins_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<httplib::Client>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dossiersync::dvcqg

#endif  // DOSSIERSYNC_COMMON_DVCQG_CLIENT_H_
