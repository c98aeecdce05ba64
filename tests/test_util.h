// Shared test helpers: an in-process devbroker and intake App on real loopback sockets, valid
// sample requests, topic collection through a real Kafka consumer, condition waits with deadlines
// and subprocesses for kill tests.
//
// Thread safety: helpers are used from the test's main thread.
#ifndef DOSSIERSYNC_TESTS_TEST_UTIL_H_
#define DOSSIERSYNC_TESTS_TEST_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/kafka.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "services/devbroker/devbroker.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/intake/app.h"
#include "services/reconciliation/app.h"
#include "services/sync/app.h"

namespace dossiersync::testing {

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<devbroker::DevBroker> StartBroker(int brokers = 1, int partitions = 6);

// Intake on 127.0.0.1:0, plaintext (--allow_insecure), SQLite in `dir`.
intake::IntakeConfig IntakeTestConfig(const std::string& brokers, const std::string& dir);
std::unique_ptr<intake::App> StartIntake(const intake::IntakeConfig& config);

std::unique_ptr<dossiersync::v1::IntakeService::Stub> IntakeStub(int port);

// A DVCQG simulator on 127.0.0.1:0 with its store in `dir`, and the client configuration for it.
std::unique_ptr<sim::Simulator> StartSim(const std::string& dir);
dvcqg::ClientConfig SimClientConfig(const sim::Simulator& sim);

// Sync on 127.0.0.1:0, plaintext, ledger `dir/db`, against `sim`; short backoffs and a short
// consumer session (the devbroker's rebalance rounds wait up to session timeout - 1 s).
sync::SyncConfig SyncTestConfig(const std::string& brokers, const std::string& dir,
                                const sim::Simulator& sim, const std::string& db = "sync.db");

// An in-process reconciliation on 127.0.0.1:0 (plaintext, metrics on a free port) with its store
// at `database`, reading intake at 127.0.0.1:intake_port and DVCQG through `dvcqg`.
reconciliation::ReconciliationConfig ReconTestConfig(const std::string& brokers,
                                                     const std::string& database, int intake_port,
                                                     const dvcqg::ClientConfig& dvcqg);

// A request that passes every validation rule: dossier `seq` of agency 000.00.13.H37 at
// `status` with revision `revision` (timestamps consistent with the status).
dossiersync::v1::SubmitChangeRequest ValidRequest(int seq, int status, int64_t revision);
// The change intake would publish for ValidRequest(seq, status, revision), with a new step of
// that status for each id in `steps`.
dossiersync::v1::DossierChange ValidChange(int seq, int status, int64_t revision,
                                           const std::vector<std::string>& steps = {});
// Moves the request's dossier to `agency`: its agency_code and its code's agency part.
void SetAgency(dossiersync::v1::SubmitChangeRequest* r, const std::string& agency);

// Polls `cond` until it is true or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(30));

// Reads `topic` from the beginning until `count` messages arrived or `timeout` passed.
std::vector<InMessage> CollectTopic(const std::string& brokers, const std::string& topic,
                                    size_t count, absl::Duration timeout = absl::Seconds(60));

// Reads `topic` from the beginning until `done(messages so far)` is true or `timeout` passed.
std::vector<InMessage> CollectUntil(const std::string& brokers, const std::string& topic,
                                    const std::function<bool(const std::vector<InMessage>&)>& done,
                                    absl::Duration timeout = absl::Seconds(60));
// Everything already in `topic`: reads until no message came for `idle`.
std::vector<InMessage> CollectAll(const std::string& brokers, const std::string& topic,
                                  absl::Duration idle = absl::Seconds(2));
// The value of an unlabelled metric on http://127.0.0.1:port/metrics, or -1.
double ScrapeMetric(int port, const std::string& name);
// The sum of every series of metric `name` (any labels) at 127.0.0.1:port/metrics; -1 if the
// endpoint does not answer or has no series of it yet. `series` (optional) gets how many.
double ScrapeMetricSum(int port, const std::string& name, int* series = nullptr);
// Messages with distinct event-id headers.
size_t DistinctEvents(const std::vector<InMessage>& msgs);

// POSTs to the devbroker's control interface; returns the HTTP status.
int BrokerControl(const devbroker::DevBroker& b, const std::string& path);

// A child process running `argv` (argv[0] a path), stdout+stderr to `log_file`.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_file);
  ~Process();
  void Kill(int sig);
  int Wait();  // exit status (or 128+signal)
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool waited_ = false;
};

// Path of a built binary (the test binaries run from the build tree).
std::string BinaryPath(const std::string& name);
// Calls `method` ("/pkg.Service/Method") at 127.0.0.1:port with `bytes` as the raw request (no
// protobuf in between), unary or, with `server_streaming`, reading the stream to its end; 5 s
// deadline. `response` (optional, unary only) gets the answer's bytes.
grpc::Status CallRaw(int port, const std::string& method, const std::string& bytes,
                     bool server_streaming = false, std::string* response = nullptr);
// gRPC's health service at 127.0.0.1:port asked about `service` ("" = the server): 1 SERVING,
// 2 NOT_SERVING, 3 SERVICE_UNKNOWN, -(gRPC code) when the call fails (e.g. -5 NOT_FOUND).
int HealthStatus(int port, const std::string& service);
int FreePort();
// The first of `n` consecutive free ports, below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), so that no connection's local port or bind to port 0 takes one
// of them meanwhile: for listeners on fixed ports that come back after a restart (the
// devbroker's brokers listen on PORT+i).
int FreePortRange(int n);

}  // namespace dossiersync::testing

#endif  // DOSSIERSYNC_TESTS_TEST_UTIL_H_
