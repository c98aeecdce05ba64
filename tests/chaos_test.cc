// Chaos (SPEC §11): under load, random SIGKILL and restart of dossier-intake, dossier-sync,
// dossier-reconciliation and the devbroker (child processes on fixed ports; the devbroker comes
// back empty, every topic and committed offset gone, at least once per run), DVCQG faults of every
// kind through the simulator's admin endpoints (5xx, 429 with Retry-After, latency, hangs before
// and after applying, silently dropped writes, revoked sessions) and broker faults through the
// devbroker's control interface (request errors, a broker down, leader changes). Then the faults
// stop and the test checks: intake holds every acknowledged change; after the sync drained and
// reconciliation repaired what DVCQG dropped, DVCQG's state equals the provincial final state of
// every dossier; no simulator history shows a regression; every step arrived exactly once. A report
// of what was injected and verified is printed (and written to $CHAOS_REPORT when set). Short form
// (ctest label `chaos`, run by the test command): 20 s, 120 dossiers. Full form: `bash
// scripts/chaos.sh` (CHAOS_SECONDS=300, CHAOS_DOSSIERS=600; CHAOS_SEED to replay).
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/e2e_checks.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"
#include "tools/dossierctl/workload.h"

namespace dossiersync {
namespace {

using nlohmann::json;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// One of our services as a child process on fixed ports (kept across restarts).
struct Service {
  std::string name;
  std::vector<std::string> argv;
  int port = 0;
  int metrics_port = 0;
  int starts = 0;
  int kills = 0;
  std::unique_ptr<testing::Process> proc;
};

class ChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seconds_ = EnvInt("CHAOS_SECONDS", 20);
    dossiers_ = EnvInt("CHAOS_DOSSIERS", 120);
    seed_ = static_cast<uint64_t>(
        EnvInt("CHAOS_SEED", static_cast<int>(absl::ToUnixSeconds(absl::Now()) % 100000)));
    rng_.seed(seed_);
    StartDevbroker();
    sim_ = testing::StartSim(dir_.path());
    admin_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    admin_->set_read_timeout(10, 0);
    workload_.now = absl::Now();
    std::ofstream(dir_.File("creds")) << "username=langson\npassword=langson-dev-password\n";
    auto common = [&](Service& s, const std::string& db) {
      s.port = testing::FreePort();
      s.metrics_port = testing::FreePort();
      s.argv = {testing::BinaryPath("dossier-" + s.name),
                "--allow_insecure",
                absl::StrCat("--listen=127.0.0.1:", s.port),
                absl::StrCat("--metrics_listen=127.0.0.1:", s.metrics_port),
                "--kafka_brokers=" + bootstrap_,
                "--database=" + testing::TestDatabaseUri(dir_.path(), db)};
    };
    Service& intake = services_["intake"];
    intake.name = "intake";
    common(intake, "intake.db");
    intake.argv.push_back("--instance_id=intake-chaos");  // a restart takes its relay lease back
    intake.argv.push_back("--topic_check_every=1s");
    Service& sync = services_["sync"];
    sync.name = "sync";
    common(sync, "sync.db");
    sync.argv.insert(
        sync.argv.end(),
        {"--dvcqg_url=" + sim_->url(), "--dvcqg_credentials_file=" + dir_.File("creds"),
         "--dvcqg_read_timeout=1s", "--backoff_base=50ms", "--backoff_cap=1s"});
    Service& recon = services_["reconciliation"];
    recon.name = "reconciliation";
    common(recon, "reconciliation.db");
    recon.argv.insert(
        recon.argv.end(),
        {absl::StrCat("--intake_addr=127.0.0.1:", intake.port), "--dvcqg_url=" + sim_->url(),
         "--dvcqg_credentials_file=" + dir_.File("creds"), "--dvcqg_read_timeout=1s",
         "--incremental_every=2s", "--incremental_window=1m", "--lease_ttl=5s",
         "--instance_id=reconciliation-chaos"});
    for (auto& [name, s] : services_) Start(s);
    intake_ = dossiersync::v1::IntakeService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", intake.port), {}));
    recon_ = dossiersync::v1::ReconciliationService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", recon.port), {}));
  }
  void TearDown() override {
    for (auto& [name, s] : services_) {
      if (s.proc) s.proc->Kill(SIGTERM);
    }
    if (devbroker_.proc) devbroker_.proc->Kill(SIGTERM);
  }

  // The devbroker as a child process: three brokers on fixed ports (a restart gets them back and
  // every client reconnects by itself), its control interface on a fixed port too.
  void StartDevbroker() {
    if (devbroker_.argv.empty()) {
      devbroker_.name = "devbroker";
      // Regression: with a port from FreePort(), broker 1 or 2 (PORT+1, PORT+2) could be taken by
      // the control port or another test's connection, and the devbroker did not start (CI).
      devbroker_.port = testing::FreePortRange(3);
      devbroker_.metrics_port = testing::FreePort();  // the control interface
      devbroker_.argv = {testing::BinaryPath("devbroker"), "--brokers=3", "--partitions=6",
                         absl::StrCat("--listen=127.0.0.1:", devbroker_.port),
                         absl::StrCat("--control_listen=127.0.0.1:", devbroker_.metrics_port)};
      bootstrap_ = absl::StrCat("127.0.0.1:", devbroker_.port, ",127.0.0.1:", devbroker_.port + 1,
                                ",127.0.0.1:", devbroker_.port + 2);
    }
    Start(devbroker_);
    httplib::Client control("127.0.0.1", devbroker_.metrics_port);
    ASSERT_TRUE(testing::WaitFor([&] {
      auto r = control.Get("/health");
      return r && r->status == 200;
    })) << "the devbroker did not start";
  }
  int BrokerControl(const std::string& path) {
    httplib::Client control("127.0.0.1", devbroker_.metrics_port);
    auto res = control.Post(path.c_str());
    return res ? res->status : -1;
  }
  void KillDevbroker() {
    Kill(devbroker_);
    absl::Duration down = absl::Seconds(Uniform(0, 1.5));
    Note(absl::StrCat("SIGKILL devbroker, restart empty on the same ports after ",
                      absl::FormatDuration(absl::Trunc(down, absl::Milliseconds(1)))));
    absl::SleepFor(down);
    StartDevbroker();
  }

  void Start(Service& s) {
    ++s.starts;
    s.proc = std::make_unique<testing::Process>(
        s.argv, dir_.File(absl::StrCat(s.name, "-", s.starts, ".log")));
  }
  void Kill(Service& s) {
    ++s.kills;
    s.proc->Kill(SIGKILL);
    s.proc->Wait();
    s.proc.reset();
  }
  void Note(const std::string& what) {
    absl::MutexLock l(&report_mu_);
    report_.push_back(
        absl::StrCat(absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::UTCTimeZone()), " ", what));
  }
  double Uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
  void Faults(const json& f) {
    auto r = admin_->Post("/admin/faults", f.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200);
  }
  void ClearFaults() {
    Faults({{"latency_ms", 0},
            {"jitter_ms", 0},
            {"error_500_rate", 0},
            {"error_503_rate", 0},
            {"rate_429", 0},
            {"hang_rate", 0},
            {"drop_rate", 0}});
  }

  // Submits every dossier's lifecycle in order, each change retried until intake acknowledges
  // it (OK, or OK as a duplicate when the first attempt committed but its reply was lost), paced
  // to spread the load over the chaos period.
  void Submitter(int part, int parts) {
    tools::Workload w(workload_);
    std::vector<std::vector<dossiersync::v1::SubmitChangeRequest>> lives;
    for (int i = part; i < dossiers_; i += parts) lives.push_back(w.Lifecycle(i));
    size_t total = 0, longest = 0;
    for (const auto& l : lives) total += l.size(), longest = std::max(longest, l.size());
    const absl::Duration pace = absl::Seconds(seconds_) * 0.8 / static_cast<double>(total);
    for (size_t k = 0; k < longest; ++k) {
      for (const auto& life : lives) {
        if (k >= life.size()) continue;
        for (int attempt = 1;; ++attempt) {
          dossiersync::v1::SubmitChangeResponse resp;
          auto st = intake_->SubmitChange(MakeContext({}, absl::Seconds(5)).get(), life[k], &resp);
          if (st.ok() && !(resp.has_error() && resp.error().code() != 0)) break;
          if (st.ok()) {  // a refusal is a bug here: every change is valid and in order
            ++refused_;
            Note(absl::StrCat("REFUSED ", life[k].dossier().code(), " revision ",
                              life[k].dossier().revision(), ": ", resp.error().message()));
            break;
          }
          ++retries_;
          absl::SleepFor(absl::Milliseconds(100));  // the client's backoff while intake is down
        }
        ++acknowledged_;
        absl::SleepFor(pace);
      }
    }
  }

  // One random fault; returns when it is over (faults last 0.5-3 s).
  void Inject() {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng_);
    auto hold = [&] { absl::SleepFor(absl::Seconds(Uniform(0.5, 3))); };
    switch (kind) {
      case 0:
      case 1:
      case 2: {
        const char* names[] = {"intake", "sync", "reconciliation"};
        Service& s = services_[names[kind]];
        Kill(s);
        absl::Duration down = absl::Seconds(Uniform(0, 1.5));
        Note(absl::StrCat("SIGKILL dossier-", s.name, ", restart after ",
                          absl::FormatDuration(absl::Trunc(down, absl::Milliseconds(1)))));
        absl::SleepFor(down);
        Start(s);
        break;
      }
      case 3:
        Note("DVCQG: 30% 503, 10% 500");
        Faults({{"error_503_rate", 0.3}, {"error_500_rate", 0.1}});
        hold();
        ClearFaults();
        break;
      case 4:
        Note("DVCQG: 30% 429 with Retry-After 1 s, 50 ms latency with 50 ms jitter");
        Faults({{"rate_429", 0.3}, {"retry_after_s", 1}, {"latency_ms", 50}, {"jitter_ms", 50}});
        hold();
        ClearFaults();
        break;
      case 5: {
        bool after = Uniform(0, 1) < 0.5;
        Note(absl::StrCat("DVCQG: 20% of calls hang 1.5 s ", after ? "after" : "before",
                          " applying (the sync times out at 1 s)"));
        Faults({{"hang_rate", 0.2}, {"hang_ms", 1500}, {"hang_after_apply", after}});
        hold();
        ClearFaults();
        break;
      }
      case 6:
        Note("DVCQG: 10% of writes dropped silently; sessions revoked");
        Faults({{"drop_rate", 0.1}});
        admin_->Post("/admin/sessions/revoke", "", "application/json");
        hold();
        ClearFaults();
        break;
      case 9:
        KillDevbroker();
        break;
      case 7: {
        // Produce (0), Fetch (1) and OffsetCommit (8) requests fail a few times each.
        Note("broker: request errors on Produce, Fetch and OffsetCommit");
        EXPECT_EQ(BrokerControl("/errors?api=0&codes=6,7,6"), 200);
        EXPECT_EQ(BrokerControl("/errors?api=1&codes=6,7"), 200);
        EXPECT_EQ(BrokerControl("/errors?api=8&codes=7,15"), 200);
        hold();
        break;
      }
      default: {
        int b = std::uniform_int_distribution<int>(1, 3)(rng_);
        if (Uniform(0, 1) < 0.5) {
          Note(absl::StrCat("broker ", b, " down"));
          EXPECT_EQ(BrokerControl(absl::StrCat("/brokers/", b, "/down")), 200);
          hold();
          EXPECT_EQ(BrokerControl(absl::StrCat("/brokers/", b, "/up")), 200);
          Note(absl::StrCat("broker ", b, " up"));
        } else {
          int p = std::uniform_int_distribution<int>(0, 5)(rng_);
          Note(absl::StrCat("leader of dossier-changes[", p, "] moved to broker ", b));
          EXPECT_EQ(BrokerControl(absl::StrCat("/leader?topic=dossiersync.dossier-changes.v1",
                                               "&partition=", p, "&broker=", b)),
                    200);
        }
        break;
      }
    }
  }

  // A reconciliation run with repair, retried while another run holds the lease.
  dossiersync::v1::ReconciliationRun Reconcile() {
    dossiersync::v1::StartRunRequest req;
    req.set_repair(true);
    dossiersync::v1::StartRunResponse started;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          return recon_->StartRun(MakeContext({}, absl::Seconds(5)).get(), req, &started).ok();
        },
        absl::Seconds(60)));
    dossiersync::v1::GetRunRequest g;
    g.set_run_id(started.run_id());
    dossiersync::v1::ReconciliationRun run;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          return recon_->GetRun(MakeContext({}, absl::Seconds(5)).get(), g, &run).ok() &&
                 run.state() != "RUNNING";
        },
        absl::Seconds(120)));
    return run;
  }
  // The sync has partitions (a restarted sync has none until the group rebalanced: a killed
  // member's partitions wait for its session to time out), has read everything and has nothing
  // pending.
  bool SyncDrained() {
    const Service& s = services_["sync"];
    int partitions = 0;  // with a lag figure: 6 of dossier-changes and 6 of sync-requests
    return testing::ScrapeMetricSum(s.metrics_port, "dossiersync_sync_consumer_lag", &partitions) ==
               0 &&
           partitions == 12 &&
           testing::ScrapeMetric(s.metrics_port, "dossiersync_sync_pending_changes") == 0;
  }

  testing::TempDir dir_;
  int seconds_ = 20;
  int dossiers_ = 120;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  Service devbroker_;
  std::string bootstrap_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<httplib::Client> admin_;
  tools::WorkloadOptions workload_;
  std::map<std::string, Service> services_;
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> intake_;
  std::unique_ptr<dossiersync::v1::ReconciliationService::Stub> recon_;
  std::atomic<int64_t> acknowledged_{0}, retries_{0}, refused_{0};
  absl::Mutex report_mu_;
  std::vector<std::string> report_ ABSL_GUARDED_BY(report_mu_);
};

TEST_F(ChaosTest, EveryAcknowledgedChangeReachesDvcqgThroughKillsAndFaults) {
  Note(absl::StrCat("chaos for ", seconds_, " s over ", dossiers_, " dossiers, seed ", seed_));
  std::vector<std::thread> submitters;
  for (int p = 0; p < 4; ++p) submitters.emplace_back([this, p] { Submitter(p, 4); });
  const absl::Time end = absl::Now() + absl::Seconds(seconds_);
  int injected = 0;
  // At least one devbroker kill per run, a third of the way in (more come at random).
  const absl::Time broker_kill = absl::Now() + absl::Seconds(seconds_) / 3;
  while (absl::Now() < end) {
    if (devbroker_.kills == 0 && absl::Now() >= broker_kill) {
      KillDevbroker();
    } else {
      Inject();
    }
    ++injected;
    absl::SleepFor(absl::Seconds(Uniform(0.2, 1.0)));
  }
  for (auto& t : submitters) t.join();
  // Heal: no faults, every service up.
  ClearFaults();
  for (int api : {0, 1, 8}) BrokerControl(absl::StrCat("/errors/clear?api=", api));
  for (int b = 1; b <= 3; ++b) BrokerControl(absl::StrCat("/brokers/", b, "/up"));
  Note(absl::StrCat(injected, " faults injected; ", acknowledged_.load(),
                    " changes acknowledged after ", retries_.load(), " retried calls; ",
                    refused_.load(), " refused"));
  EXPECT_EQ(refused_.load(), 0);

  // 1. Intake lost nothing it acknowledged: every dossier at its final revision.
  tools::Workload w(workload_);
  int held = 0;
  for (int i = 0; i < dossiers_; ++i) {
    const auto last = w.Lifecycle(i).back().dossier();
    dossiersync::v1::GetDossierRequest g;
    g.set_code(last.code());
    dossiersync::v1::Dossier d;
    auto st = intake_->GetDossier(MakeContext({}, absl::Seconds(10)).get(), g, &d);
    EXPECT_TRUE(st.ok()) << last.code() << ": " << st.error_message();
    EXPECT_EQ(d.revision(), last.revision()) << last.code();
    held += st.ok() && d.revision() == last.revision();
  }
  Note(absl::StrCat("intake holds ", held, " of ", dossiers_, " dossiers at their final revision"));

  // 2. The sync drains; reconciliation repairs what DVCQG dropped, until a run finds nothing.
  std::string why;
  for (int round = 1; round <= 6; ++round) {
    ASSERT_TRUE(testing::WaitFor([&] { return SyncDrained(); }, absl::Seconds(180)))
        << "the sync did not drain";
    auto run = Reconcile();
    std::vector<std::string> kinds;
    for (const auto& [kind, n] : run.drift_by_kind()) kinds.push_back(absl::StrCat(kind, " ", n));
    Note(absl::StrCat("reconciliation ", round, ": ", run.state(), ", ", run.dossiers_checked(),
                      " checked, drift {", absl::StrJoin(kinds, ", "), "}"));
    if (run.state() == "FINISHED" && run.drift_by_kind().empty() &&
        run.dossiers_checked() == dossiers_) {
      break;
    }
  }
  // 3. DVCQG equals the province, histories clean.
  bool equal = testing::WaitFor(
      [&] { return testing::SimMatchesWorkload(*admin_, workload_, dossiers_, &why); },
      absl::Seconds(120));
  EXPECT_TRUE(equal) << why;
  auto problems = testing::HistoryProblems(*admin_, workload_, dossiers_);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, first: " << problems[0];
  Note(absl::StrCat("DVCQG equals the provincial final state of ", equal ? dossiers_ : 0, " of ",
                    dossiers_,
                    " dossiers; history problems (regressions, repeated or missing "
                    "steps): ",
                    problems.size()));
  std::vector<std::string> restarts;
  for (const auto& [name, s] : services_) {
    restarts.push_back(absl::StrCat("dossier-", name, " killed ", s.kills, "x"));
  }
  restarts.push_back(
      absl::StrCat("devbroker killed ", devbroker_.kills, "x (restarted empty each time)"));
  EXPECT_GE(devbroker_.kills, 1);
  Note(absl::StrJoin(restarts, ", "));
  absl::MutexLock l(&report_mu_);
  std::string text = absl::StrCat("== chaos report\n", absl::StrJoin(report_, "\n"), "\n");
  std::printf("%s", text.c_str());
  if (const char* path = std::getenv("CHAOS_REPORT"); path && *path) std::ofstream(path) << text;
}

}  // namespace
}  // namespace dossiersync
