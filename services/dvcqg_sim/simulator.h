// dvcqg-sim: an HTTP/JSON server that behaves like DVCQG per reference/dvcqg.md, with its own
// store and fault injection. Endpoints:
//   POST /mapi/login                  {"username","password"} -> {"error_code":0,"session"}
//   POST /mapi/g                      DongBoHoSoMC | CapNhatTienDoHoSoMC | TraCuuHoSo
//   GET|POST /admin/faults            current faults | merge a JSON object of faults
//   POST /admin/sessions/revoke       every session becomes invalid ("401")
//   POST /admin/tamper/{code}         overwrite fields of a stored dossier (JSON object)
//   GET  /admin/dossiers/{code}       stored item with QuaTrinhXuLy, 404 if unknown
//   GET  /admin/history/{code}        every accepted write (and tamper) in order
//   GET  /admin/stats                 requests, outcomes, logins, faults injected, store counts
//   GET  /admin/calls                 the last 100,000 /mapi/g calls: arrival and answer times
//   (µs),
//                                     service, HTTP status, the dossier codes it was about
//   POST /admin/reset                 empty store, sessions, stats and faults
//   GET  /health
// Write responses carry one result per item: {"MaHoSo","error_code","message"[,"field"]}; the
// call's error_code is the success code (SimConfig::success_code) when every item was accepted,
// else the first failing item's code [assumed: the national per-item format is unknown].
//
// Thread safety: Simulator is thread-safe; handlers run on cpp-httplib's thread pool.
#ifndef DOSSIERSYNC_SERVICES_DVCQG_SIM_SIMULATOR_H_
#define DOSSIERSYNC_SERVICES_DVCQG_SIM_SIMULATOR_H_

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "services/dvcqg_sim/faults.h"
#include "services/dvcqg_sim/sim_store.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace dossiersync::sim {

struct SimConfig {
  std::string listen = "127.0.0.1:8580";
  std::string database = "sqlite:dvcqg-sim.db";
  std::string username = "langson";
  std::string password = "langson-dev-password";
  absl::Duration session_ttl = absl::Minutes(10);
  int max_batch = 50;          // DongBoHoSoMC items per call
  int max_progress_rows = 10;  // CapNhatTienDoHoSoMC rows per call
  size_t max_body_bytes = 8 * 1024 * 1024;
  int threads = 64;
  // error_code of every successful answer (login, writes, their items, lookups): "00" by default,
  // the code OpenCPS checks for; "0" or the number 0 as other clients met it.
  nlohmann::json success_code = "00";
  std::string enterprise_id_kind = "3";  // LoaiDinhDanh of an enterprise / tax code [assumed]
  Faults faults;

  // From the --success_code flag: `00` or `"0"` give those strings, `0` the number 0; anything
  // else is refused naming the accepted forms.
  absl::Status ParseSuccessCode(const std::string& flag);
  absl::Status Validate() const;
  nlohmann::json ToJson() const;  // password masked
};

class Simulator {
 public:
  static absl::StatusOr<std::unique_ptr<Simulator>> Start(const SimConfig& config);
  ~Simulator();
  int port() const { return port_; }
  std::string url() const;
  void Stop();

 private:
  explicit Simulator(SimConfig c);
  void Routes();
  void HandleLogin(const httplib::Request& req, httplib::Response& res);
  void HandleService(const httplib::Request& req, httplib::Response& res);
  // HandleService once the body is parsed and any slow-dossier delay served.
  void Serve(const nlohmann::json& body, httplib::Response& res);
  nlohmann::json Dispatch(const nlohmann::json& body, bool drop);
  nlohmann::json WriteResponse(const std::vector<ItemResult>& results);
  bool SessionValid(const std::string& token);
  void Count(const std::string& service, const std::string& outcome);
  nlohmann::json Stats();
  nlohmann::json CallLog();  // GET /admin/calls

  const SimConfig config_;
  FaultState faults_;
  std::unique_ptr<SimStore> store_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
  absl::Notification stopping_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, int64_t>> outcomes_ ABSL_GUARDED_BY(mu_);
  int64_t logins_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t login_failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> injected_ ABSL_GUARDED_BY(mu_);
  struct Call {
    int64_t arrived_us;
    int64_t answered_us;
    std::string service;
    int status;
    std::vector<std::string> codes;
  };
  std::deque<Call> calls_ ABSL_GUARDED_BY(mu_);  // the newest kMaxCalls
  static constexpr size_t kMaxCalls = 100000;
};

}  // namespace dossiersync::sim

#endif  // DOSSIERSYNC_SERVICES_DVCQG_SIM_SIMULATOR_H_
