// Reconciliation against the whole pipeline: drift injected at the simulator is found with the
// right kind, repaired through sync-requests, and the next run finds none.
#include <httplib.h>
#include <signal.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/dvcqg/client.h"
#include "common/errors.h"
#include "common/grpc_client.h"
#include "common/ids.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/reconciliation/app.h"
#include "services/reconciliation/runner.h"
#include "services/reconciliation/score.h"
#include "services/sync/app.h"
#include "tests/e2e_checks.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"
#include "tools/dossierctl/submit.h"

namespace dossiersync {
namespace {

using dossiersync::v1::DriftKind;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

class ReconciliationE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker();
    intake_ = testing::StartIntake(testing::IntakeTestConfig(broker_->bootstrap(), dir_.path()));
    sim_ = testing::StartSim(dir_.path());
    admin_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    dvcqg_config_ = testing::SimClientConfig(*sim_);
    sync::SyncConfig c = testing::SyncTestConfig(broker_->bootstrap(), dir_.path(), *sim_);
    sync_ = std::move(*sync::App::Start(c));
    client_ = std::move(*dvcqg::Client::Create(dvcqg_config_));
    producer_ = std::move(*KafkaProducer::Create(broker_->bootstrap(), DeliveryCallback()));
    db_ = std::move(*storage::Open(testing::TestDatabaseUri(dir_.path(), "recon.db")));
    store_ = std::move(*reconciliation::RunStore::Open(db_.get()));
    stub_ = testing::IntakeStub(intake_->grpc_port());
    progress_ = std::move(*reconciliation::SyncProgress::Create(
        broker_->bootstrap(), c.consumer.group_id, kTopicDossierChanges));
    reconciliation::RunnerOptions ro;
    ro.holder = "test";
    ro.sync_progress = progress_.get();
    runner_ = std::make_unique<reconciliation::Runner>(
        ro, client_.get(), stub_.get(), ClientOptions{}, producer_.get(), store_.get(), &registry_);
    evidence_ = std::move(*reconciliation::EvidenceConsumer::Start(
        broker_->bootstrap(), "recon-test", store_.get(), &registry_));
  }
  void TearDown() override {
    runner_.reset();
    evidence_.reset();
  }
  std::string LastSync(const std::string& code) {
    auto s = store_->LastSync(code);
    return s.ok() ? *s : std::string(s.status().message());
  }
  // Waits until the evidence shows `code`'s push of `revision` accepted after `previous` (a
  // LastSync value): the sync has done its part.
  bool SyncedAgain(const std::string& code, int64_t revision, const std::string& previous = "") {
    return testing::WaitFor(
        [&] {
          std::string now = LastSync(code);
          return now != previous && absl::StrContains(now, absl::StrCat("revision ", revision,
                                                                        " SYNC_OUTCOME_ACCEPTED"));
        },
        absl::Seconds(60));
  }
  void Submit(const dossiersync::v1::SubmitChangeRequest& r) {
    auto ctx = MakeContext({}, absl::Seconds(10));
    dossiersync::v1::SubmitChangeResponse resp;
    auto st = stub_->SubmitChange(ctx.get(), r, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  json Stored(const std::string& code) { return testing::SimStored(*admin_, code); }
  static double LastSuccess(prometheus::Registry& r) {
    for (const auto& f : r.Collect()) {
      if (f.name == "dossiersync_reconciliation_last_success_timestamp_seconds") {
        return f.metric.at(0).gauge.value;
      }
    }
    return -1;
  }

  void Faults(const json& f) { admin_->Post("/admin/faults", f.dump(), "application/json"); }
  // Submits ValidRequest(i, 2, 100) for i in [from, to] and waits until the sync reported each.
  void SubmitSynced(int from, int to) {
    for (int i = from; i <= to; ++i) Submit(testing::ValidRequest(i, 2, 100));
    for (int i = from; i <= to; ++i) {
      std::string c = testing::ValidRequest(i, 2, 1).dossier().code();
      ASSERT_TRUE(SyncedAgain(c, 100)) << LastSync(c);
    }
  }
  // A dossier-reconciliation process on the fixture's stack and database `db`.
  struct Replica {
    std::unique_ptr<testing::Process> process;
    std::unique_ptr<dossiersync::v1::ReconciliationService::Stub> stub;
  };
  // StartReplica without --instance_id: the default identity, HOSTNAME-PID.
  static constexpr char kDefaultIdentity[] = "default-identity";
  Replica StartReplica(const std::string& instance, const std::string& db,
                       const std::vector<std::string>& extra = {}) {
    std::ofstream(dir_.File("creds"))
        << "username=" << dvcqg_config_.credentials.username
        << "\npassword=" << dvcqg_config_.credentials.password << "\n";
    int port = testing::FreePort();
    std::vector<std::string> args = {testing::BinaryPath("dossier-reconciliation"),
                                     "--allow_insecure",
                                     absl::StrCat("--listen=127.0.0.1:", port),
                                     "--metrics_listen=127.0.0.1:0",
                                     "--kafka_brokers=" + broker_->bootstrap(),
                                     "--database=" + testing::TestDatabaseUri(dir_.path(), db),
                                     absl::StrCat("--intake_addr=127.0.0.1:", intake_->grpc_port()),
                                     "--dvcqg_url=" + sim_->url(),
                                     "--dvcqg_credentials_file=" + dir_.File("creds")};
    if (instance != kDefaultIdentity) args.push_back("--instance_id=" + instance);
    args.insert(args.end(), extra.begin(), extra.end());
    Replica r;
    r.process = std::make_unique<testing::Process>(args, dir_.File(instance + ".log"));
    r.stub = dossiersync::v1::ReconciliationService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", port), {}));
    // Up when it answers (NOT_FOUND for a run that does not exist).
    EXPECT_TRUE(testing::WaitFor([&] {
      dossiersync::v1::GetRunRequest g;
      g.set_run_id("none");
      dossiersync::v1::ReconciliationRun run;
      return r.stub->GetRun(MakeContext({}, absl::Seconds(1)).get(), g, &run).error_code() ==
             grpc::StatusCode::NOT_FOUND;
    }));
    return r;
  }
  grpc::Status StartRun(Replica& r, std::string* id) {
    dossiersync::v1::StartRunResponse resp;
    auto st = r.stub->StartRun(MakeContext({}, absl::Seconds(10)).get(), {}, &resp);
    *id = resp.run_id();
    return st;
  }
  dossiersync::v1::ReconciliationRun GetRun(Replica& r, const std::string& id) {
    dossiersync::v1::GetRunRequest g;
    g.set_run_id(id);
    dossiersync::v1::ReconciliationRun run;
    EXPECT_TRUE(r.stub->GetRun(MakeContext({}, absl::Seconds(5)).get(), g, &run).ok());
    return run;
  }
  // An in-process reconciliation App on the fixture's stack (plaintext, its own database).
  reconciliation::ReconciliationConfig AppConfig() {
    return testing::ReconTestConfig(broker_->bootstrap(),
                                    testing::TestDatabaseUri(dir_.path(), "recon-app.db"),
                                    intake_->grpc_port(), dvcqg_config_);
  }
  // The first run on the runs topic (waits up to 30 s); false when none came or it did not decode.
  bool FirstPublishedRun(dossiersync::v1::ReconciliationRun* run) {
    return FirstPublishedRunWhere(run, [](const auto&) { return true; });
  }
  // The first run on the runs topic for which `pred` holds (waits up to 30 s).
  bool FirstPublishedRunWhere(
      dossiersync::v1::ReconciliationRun* run,
      const std::function<bool(const dossiersync::v1::ReconciliationRun&)>& pred) {
    bool found = false;
    testing::CollectUntil(
        broker_->bootstrap(), kTopicReconciliationRuns,
        [&](const std::vector<InMessage>& m) {
          for (const auto& msg : m) {
            if (run->ParseFromString(msg.value) && run->state() != "RUNNING" && pred(*run)) {
              return found = true;
            }
          }
          return false;
        },
        absl::Seconds(30));
    return found;
  }
  // The drift of a run of an in-process App, read through its ListDrift.
  std::map<std::string, std::vector<DriftKind>> DriftOfApp(reconciliation::App& app,
                                                           const std::string& run_id) {
    auto stub = dossiersync::v1::ReconciliationService::NewStub(
        *MakeChannel(absl::StrCat("127.0.0.1:", app.grpc_port()), {}));
    dossiersync::v1::ListDriftRequest lr;
    lr.set_run_id(run_id);
    auto ctx = MakeContext({}, absl::Seconds(10));
    auto reader = stub->ListDrift(ctx.get(), lr);
    std::map<std::string, std::vector<DriftKind>> out;
    dossiersync::v1::DriftItem item;
    while (reader->Read(&item)) out[item.code()].push_back(item.kind());
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }
  std::map<std::string, std::vector<DriftKind>> DriftOf(const std::string& run_id) {
    std::map<std::string, std::vector<DriftKind>> out;
    auto items = store_->Drift(run_id, 0);
    EXPECT_TRUE(items.ok()) << items.status();
    if (!items.ok()) return out;
    for (const auto& d : *items) out[d.code()].push_back(d.kind());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<intake::App> intake_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<httplib::Client> admin_;
  dvcqg::ClientConfig dvcqg_config_;
  std::unique_ptr<sync::App> sync_;
  std::unique_ptr<dvcqg::Client> client_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<reconciliation::RunStore> store_;
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> stub_;
  prometheus::Registry registry_;
  std::unique_ptr<reconciliation::SyncProgress> progress_;
  std::unique_ptr<reconciliation::Runner> runner_;
  std::unique_ptr<reconciliation::EvidenceConsumer> evidence_;
};

TEST_F(ReconciliationE2ETest, FindsInjectedDriftEscalatesFailedRepairsAndEndsClean) {
  // Ten dossiers in sync, each accepted then processed (2 changes, 2 steps).
  for (int i = 1; i <= 10; ++i) {
    Submit(testing::ValidRequest(i, 2, 100));
    Submit(testing::ValidRequest(i, 4, 200));
  }
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(SyncedAgain(code(i), 200)) << LastSync(code(i));
  // Drift through the simulator's admin endpoints: a contradicting status and a changed due date
  // (tamper), then silently dropped writes: a create, a newer snapshot, a new step.
  admin_->Post(
      ("/admin/tamper/" + code(1)).c_str(),
      R"({"TrangThaiHoSo":"10","NgayTra":"20240720080000","NgayKetThucXuLy":"20240719080000"})",
      "application/json");
  admin_->Post(("/admin/tamper/" + code(2)).c_str(), R"({"NgayHenTra":"20240801080000"})",
               "application/json");
  Faults({{"drop_rate", 1.0}});
  // Without steps, so nothing tells the sync (a progress push would meet "không tồn tại").
  auto lost = testing::ValidRequest(20, 2, 100);
  lost.clear_new_steps();
  Submit(lost);
  auto finished = testing::ValidRequest(3, 9, 300);  // DVCQG keeps the older snapshot
  finished.clear_new_steps();
  Submit(finished);
  Submit(testing::ValidRequest(4, 4, 300));  // same status, one more step: only the step is lost
  ASSERT_TRUE(SyncedAgain(code(20), 100));
  ASSERT_TRUE(SyncedAgain(code(3), 300));
  ASSERT_TRUE(SyncedAgain(code(4), 300));

  const std::map<std::string, std::vector<DriftKind>> expected = {
      {code(1), {dossiersync::v1::DRIFT_KIND_STATUS_MISMATCH}},
      {code(2), {dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH}},
      {code(3), {dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY}},
      {code(4), {dossiersync::v1::DRIFT_KIND_STEPS_MISSING}},
      {code(20), {dossiersync::v1::DRIFT_KIND_MISSING_NATIONALLY}}};
  std::map<std::string, std::string> before;
  for (const auto& [c, kinds] : expected) before[c] = LastSync(c);
  // Run 1 finds each kind exactly once and nothing else; its repairs are dropped too.
  dossiersync::v1::StartRunRequest req;
  req.set_repair(true);
  auto run = runner_->RunNow(req);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->state(), "FINISHED");
  EXPECT_EQ(run->dossiers_checked(), 11);
  EXPECT_EQ(DriftOf(run->run_id()), expected);
  EXPECT_NEAR(run->consistency_ratio(), 6.0 / 11.0, 1e-9);
  EXPECT_EQ(run->repairs_requested(), 5);
  EXPECT_EQ(run->escalated(), 0);
  EXPECT_EQ(run->drift_by_kind().at("DRIFT_KIND_STALE_NATIONALLY"), 1);
  EXPECT_EQ(run->checked_by_agency().at("000.00.13.H37"), 11);
  EXPECT_EQ(run->drifted_by_agency().at("000.00.13.H37"), 5);
  // The evidence explains the stale snapshot: DVCQG acknowledged revision 300 and lost it.
  auto items = store_->Drift(run->run_id(), dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY);
  ASSERT_TRUE(items.ok() && items->size() == 1u);
  EXPECT_TRUE(absl::StrContains((*items)[0].detail(), "revision 300 SYNC_OUTCOME_ACCEPTED"))
      << (*items)[0].detail();
  for (const auto& [c, kinds] : expected) {
    ASSERT_TRUE(SyncedAgain(c,
                            c == code(20)                  ? 100
                            : c == code(1) || c == code(2) ? 200
                                                           : 300,
                            before[c]))
        << c << ": " << LastSync(c);
  }

  // Run 2: the same drift survived the (dropped) repairs: escalated.
  Faults({{"drop_rate", 0.0}});
  auto second = runner_->RunNow(req);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(DriftOf(second->run_id()), expected);
  EXPECT_EQ(second->escalated(), 5);
  auto escalated = store_->Drift(second->run_id(), 0);
  ASSERT_TRUE(escalated.ok());
  for (const auto& d : *escalated) EXPECT_TRUE(d.escalated()) << d.code();

  // Its repairs go through; run 3 is clean: the simulator's state equals the province's.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        json a = Stored(code(1)), b = Stored(code(20)), c = Stored(code(3)), d = Stored(code(4));
        return !a.is_null() && a["TrangThaiHoSo"] == "4" && !b.is_null() &&
               Stored(code(2))["NgayHenTra"] != "20240801080000" && c["TrangThaiHoSo"] == "9" &&
               d["QuaTrinhXuLy"].size() == 3;
      },
      absl::Seconds(60)))
      << Stored(code(1)).dump() << "\n"
      << Stored(code(2)).dump() << "\n"
      << Stored(code(3)).dump() << "\n"
      << Stored(code(4)).dump() << "\n"
      << Stored(code(20)).dump();
  auto third = runner_->RunNow(req);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->dossiers_checked(), 11);
  EXPECT_EQ(third->consistency_ratio(), 1.0);
  EXPECT_TRUE(DriftOf(third->run_id()).empty());
  auto pending = store_->PendingRepairs();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty()) << "a clean check clears the repair";
}

TEST_F(ReconciliationE2ETest, UnknownProvinciallyAndOneRunAtATime) {
  auto d = testing::ValidRequest(77, 2, 1).dossier();
  ASSERT_EQ(client_->SyncDossiers({{&d, 2}}, false).outcome, dvcqg::Outcome::kAccepted);
  dossiersync::v1::StartRunRequest req;
  req.add_codes(d.code());
  // Another replica holds the lease: this one refuses to start.
  ASSERT_TRUE(*store_->AcquireLease("reconciliation-run", "other-replica", absl::Minutes(1)));
  auto refused = runner_->Start(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->ReleaseLease("reconciliation-run", "other-replica").ok());
  auto run = runner_->RunNow(req);
  ASSERT_TRUE(run.ok()) << run.status();
  auto drift = DriftOf(run->run_id());
  EXPECT_EQ(drift[d.code()],
            std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_UNKNOWN_PROVINCIALLY});
}

// Regression (issue 19): a dossier whose lookup failed counted as "not checked" and a run whose
// every lookup failed still reported consistency 1.0 and ended FINISHED. The ratio is over the
// checked dossiers, the share not checked stands beside it, and such a run ends INCOMPLETE.
TEST_F(ReconciliationE2ETest, ARunThatCouldNotCheckEverythingIsNeverCalledConsistent) {
  dossiersync::v1::StartRunRequest req;
  for (int i = 0; i < 3; ++i) {
    auto d = testing::ValidRequest(80 + i, 2, 1).dossier();
    ASSERT_EQ(client_->SyncDossiers({{&d, 2}}, false).outcome, dvcqg::Outcome::kAccepted);
    req.add_codes(d.code());
  }
  // Before any run finished: when the runner started (the overdue alert counts from there).
  const double started = LastSuccess(registry_);
  EXPECT_NEAR(started, static_cast<double>(absl::ToUnixMicros(absl::Now())) / 1e6, 120);
  Faults({{"error_503_rate", 1.0}});
  auto failed = runner_->RunNow(req);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_TRUE(absl::StartsWith(failed->state(), "INCOMPLETE: 3 of 3")) << failed->state();
  EXPECT_EQ(failed->dossiers_checked(), 0);
  EXPECT_EQ(failed->not_checked(), 3);
  EXPECT_DOUBLE_EQ(failed->not_checked_share(), 1.0);
  EXPECT_DOUBLE_EQ(failed->consistency_ratio(), 0.0) << "nothing known to be consistent";
  EXPECT_EQ(LastSuccess(registry_), started) << "an incomplete run is no success";

  Faults({{"error_503_rate", 0.0}});
  auto clean = runner_->RunNow(req);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(clean->state(), "FINISHED");
  EXPECT_EQ(clean->dossiers_checked(), 3);
  EXPECT_DOUBLE_EQ(clean->not_checked_share(), 0.0);
  const double finished = TimeUtil::TimestampToMilliseconds(clean->finished_at()) / 1000.0;
  EXPECT_GT(LastSuccess(registry_), started);
  EXPECT_NEAR(LastSuccess(registry_), finished, 1.0);
  // A restarted replica reads it from the stored runs (DossierSyncReconciliationOverdue must not
  // reset on a restart): here the latest is one another replica finished at 2023-11-14 22:13:20.
  dossiersync::v1::ReconciliationRun other;
  other.set_run_id("other-replica-run");
  other.set_state("FINISHED");
  *other.mutable_started_at() = TimeUtil::MillisecondsToTimestamp(
      TimeUtil::TimestampToMilliseconds(clean->started_at()) + 1000);
  *other.mutable_finished_at() = TimeUtil::SecondsToTimestamp(1700000000);
  ASSERT_TRUE(store_->SaveRun(other).ok());
  prometheus::Registry fresh;
  reconciliation::Runner restarted(reconciliation::RunnerOptions{}, client_.get(), stub_.get(),
                                   ClientOptions{}, producer_.get(), store_.get(), &fresh);
  EXPECT_EQ(LastSuccess(fresh), 1700000000.0);
}

TEST_F(ReconciliationE2ETest, ServiceRunsOverGrpcAndKpisMatchTheWorkload) {
  tools::SubmitOptions so;
  so.intake_addr = absl::StrCat("127.0.0.1:", intake_->grpc_port());
  so.generate = 100;
  so.progress = false;
  so.workload.now = absl::Now();
  ASSERT_TRUE(tools::RunSubmit(so).ok());
  tools::Workload w(so.workload);
  size_t steps = 0;
  for (int i = 0; i < 100; ++i) steps += w.Lifecycle(i).size();  // one step per change
  // In sync: every dossier and step at DVCQG, nothing left in the sync.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        json store = json::parse(admin_->Get("/admin/stats")->body)["store"];
        return store["dossiers"] == 100 && store["steps"] == steps &&
               sync_->engine()->pending() == 0;
      },
      absl::Seconds(120)));
  reconciliation::ReconciliationConfig rc = AppConfig();
  auto app = reconciliation::App::Start(rc);
  ASSERT_TRUE(app.ok()) << app.status();
  auto ch = MakeChannel(absl::StrCat("127.0.0.1:", (*app)->grpc_port()), {});
  auto stub = dossiersync::v1::ReconciliationService::NewStub(*ch);
  dossiersync::v1::StartRunResponse started;
  ASSERT_TRUE(stub->StartRun(MakeContext({}, absl::Seconds(10)).get(), {}, &started).ok());
  dossiersync::v1::ReconciliationRun run;
  ASSERT_TRUE(testing::WaitFor([&] {
    dossiersync::v1::GetRunRequest g;
    g.set_run_id(started.run_id());
    return stub->GetRun(MakeContext({}, absl::Seconds(10)).get(), g, &run).ok() &&
           run.state() != "RUNNING";
  }));
  EXPECT_EQ(run.state(), "FINISHED");
  EXPECT_EQ(run.dossiers_checked(), 100);
  EXPECT_EQ(run.consistency_ratio(), 1.0);
  dossiersync::v1::ListDriftRequest lr;
  lr.set_run_id(run.run_id());
  auto ctx = MakeContext({}, absl::Seconds(10));
  auto reader = stub->ListDrift(ctx.get(), lr);
  dossiersync::v1::DriftItem item;
  int drift = 0;
  while (reader->Read(&item)) ++drift;
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(drift, 0);
  // KPIs against figures computed here from the same workload.
  int online = 0, resolved = 0, on_time = 0;
  for (int i = 0; i < 100; ++i) {
    const auto life = w.Lifecycle(i);
    const auto& d = life.back().dossier();
    online += d.channel() == dossiersync::v1::CHANNEL_ONLINE;
    if (d.has_finished_at()) {
      ++resolved;
      on_time += d.finished_at().seconds() <= d.due_at().seconds();
    }
  }
  // Per agency, from the same workload.
  struct Figures {
    int received = 0, online = 0, resolved = 0, on_time = 0;
  };
  std::map<std::string, Figures> agencies;
  for (int i = 0; i < 100; ++i) {
    const auto life = w.Lifecycle(i);
    const auto& d = life.back().dossier();
    Figures& f = agencies[d.agency_code()];
    ++f.received;
    f.online += d.channel() == dossiersync::v1::CHANNEL_ONLINE;
    if (d.has_finished_at()) {
      ++f.resolved;
      f.on_time += d.finished_at().seconds() <= d.due_at().seconds();
    }
  }
  // Sync lag from the sync-results topic, read here: the first acceptance of each (code,
  // revision), from intake's acceptance of the oldest change the push carried; nearest rank.
  std::map<std::pair<std::string, int64_t>, std::pair<std::string, int64_t>> first_accepted;
  for (const auto& m : testing::CollectAll(broker_->bootstrap(), kTopicSyncResults)) {
    dossiersync::v1::SyncResult r;
    ASSERT_TRUE(r.ParseFromString(m.value));
    if (r.outcome() != dossiersync::v1::SYNC_OUTCOME_ACCEPTED || !r.has_change_accepted_at())
      continue;
    first_accepted.emplace(
        std::make_pair(r.code(), r.revision()),
        std::make_pair(r.agency_code(),
                       TimeUtil::TimestampToMicroseconds(r.at()) -
                           TimeUtil::TimestampToMicroseconds(r.change_accepted_at())));
  }
  std::map<std::string, std::vector<int64_t>> lags;  // "" = all
  for (const auto& [key, v] : first_accepted) {
    lags[""].push_back(v.second);
    lags[v.first].push_back(v.second);
  }
  auto rank = [](std::vector<int64_t> v, double p) {
    std::sort(v.begin(), v.end());
    size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::max<size_t>(r, 1) - 1];
  };
  ASSERT_GE(lags[""].size(), 100u);
  dossiersync::v1::Kpis k;
  // The service consumes sync-results on its own: wait until it has every accepted push.
  ASSERT_TRUE(testing::WaitFor([&] {
    return stub->GetKpis(MakeContext({}, absl::Seconds(10)).get(), {}, &k).ok() &&
           k.lag_samples() == static_cast<int64_t>(lags[""].size());
  })) << k.lag_samples()
      << " of " << lags[""].size();
  EXPECT_EQ(k.received(), 100);
  EXPECT_DOUBLE_EQ(k.online_share(), online / 100.0);
  EXPECT_EQ(k.resolved(), resolved);
  EXPECT_DOUBLE_EQ(k.on_time_share(), resolved ? static_cast<double>(on_time) / resolved : 0);
  EXPECT_EQ(k.in_sync_share(), 1.0);
  EXPECT_EQ(TimeUtil::DurationToMicroseconds(k.sync_lag_p50()), rank(lags[""], 0.50));
  EXPECT_EQ(TimeUtil::DurationToMicroseconds(k.sync_lag_p99()), rank(lags[""], 0.99));
  EXPECT_GT(TimeUtil::DurationToMicroseconds(k.sync_lag_p50()), 0);
  ASSERT_EQ(k.by_agency_size(), static_cast<int>(agencies.size()));
  ASSERT_GE(agencies.size(), 2u) << "the workload spreads over several agencies";
  for (const auto& [agency, f] : agencies) {
    SCOPED_TRACE(agency);
    const auto& a = k.by_agency().at(agency);
    EXPECT_EQ(a.received(), f.received);
    EXPECT_DOUBLE_EQ(a.online_share(), static_cast<double>(f.online) / f.received);
    EXPECT_EQ(a.resolved(), f.resolved);
    EXPECT_DOUBLE_EQ(a.on_time_share(),
                     f.resolved ? static_cast<double>(f.on_time) / f.resolved : 0);
    EXPECT_EQ(a.in_sync_share(), 1.0);
    EXPECT_EQ(TimeUtil::DurationToMicroseconds(a.sync_lag_p99()), rank(lags[agency], 0.99));
  }
  // One agency asked for: the same figures as its breakdown.
  const std::string one = agencies.begin()->first;
  dossiersync::v1::GetKpisRequest kr;
  kr.set_agency_code(one);
  dossiersync::v1::Kpis ka;
  ASSERT_TRUE(stub->GetKpis(MakeContext({}, absl::Seconds(10)).get(), kr, &ka).ok());
  EXPECT_EQ(ka.received(), agencies[one].received);
  EXPECT_EQ(TimeUtil::DurationToMicroseconds(ka.sync_lag_p50()), rank(lags[one], 0.50));
  EXPECT_EQ(ka.by_agency_size(), 0);
  // An empty window is refused with the field named.
  dossiersync::v1::GetKpisRequest bad;
  *bad.mutable_since() = TimeUtil::SecondsToTimestamp(2000);
  *bad.mutable_until() = TimeUtil::SecondsToTimestamp(1000);
  auto refused = stub->GetKpis(MakeContext({}, absl::Seconds(10)).get(), bad, &ka);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(DetailsOf(refused)), "until");
}

TEST_F(ReconciliationE2ETest, RunInterruptedBySigkillRestartsCleanly) {
  SubmitSynced(1, 40);
  Faults({{"latency_ms", 100}});  // 40 lookups, 2 at a time: a run takes about 2 s
  const std::vector<std::string> flags = {"--concurrency=2", "--lease_ttl=3s"};
  auto running_with_progress = [&](Replica& r, const std::string& id) {
    return testing::WaitFor([&] {
      auto run = GetRun(r, id);
      return run.state() == "RUNNING" && run.dossiers_checked() > 0;
    });
  };
  // Replica a dies mid-run. Replica b must wait for a's lease to expire, then takes over.
  std::string first, second, third;
  {
    Replica a = StartReplica("replica-a", "recon-shared.db", flags);
    ASSERT_TRUE(StartRun(a, &first).ok());
    ASSERT_TRUE(running_with_progress(a, first));
    a.process->Kill(SIGKILL);
    a.process->Wait();
  }
  {
    Replica b = StartReplica("replica-b", "recon-shared.db", flags);
    auto refused = StartRun(b, &second);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << "a's lease is still valid";
    ASSERT_TRUE(testing::WaitFor([&] { return StartRun(b, &second).ok(); }, absl::Seconds(10)));
    EXPECT_EQ(GetRun(b, first).state(), "INTERRUPTED");
    ASSERT_TRUE(running_with_progress(b, second));
    b.process->Kill(SIGKILL);
    b.process->Wait();
  }
  // Replica b restarted (same identity): it drops its own stale lease and runs at once.
  Faults({{"latency_ms", 0}});
  Replica b = StartReplica("replica-b", "recon-shared.db", flags);
  ASSERT_TRUE(StartRun(b, &third).ok());
  EXPECT_EQ(GetRun(b, second).state(), "INTERRUPTED");
  dossiersync::v1::ReconciliationRun run;
  ASSERT_TRUE(testing::WaitFor([&] {
    run = GetRun(b, third);
    return run.state() != "RUNNING";
  }));
  EXPECT_EQ(run.state(), "FINISHED");
  EXPECT_EQ(run.dossiers_checked(), 40);
  EXPECT_EQ(run.consistency_ratio(), 1.0);
  EXPECT_EQ(run.holder(), "replica-b");
}

// Regression (issue 19): a replica with the default identity (HOSTNAME-PID) killed mid-run left
// its lease behind, and on-demand runs were refused for the lease's 30 s although no run was
// alive. Its restart (same host, a new PID) sees the holder's process gone and runs at once.
TEST_F(ReconciliationE2ETest, KilledDefaultIdentityReplicaIsTakenOverAtOnce) {
  SubmitSynced(1, 40);
  Faults({{"latency_ms", 100}});
  const std::vector<std::string> flags = {"--concurrency=2", "--lease_ttl=30s"};
  std::string first, second;
  {
    Replica a = StartReplica(kDefaultIdentity, "recon-default.db", flags);
    ASSERT_TRUE(StartRun(a, &first).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return GetRun(a, first).dossiers_checked() > 0; }));
    a.process->Kill(SIGKILL);
    a.process->Wait();
  }
  Faults({{"latency_ms", 0}});
  Replica b = StartReplica(kDefaultIdentity, "recon-default.db", flags);
  const absl::Time asked = absl::Now();
  grpc::Status st = StartRun(b, &second);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_LT(absl::Now() - asked, absl::Seconds(5));
  EXPECT_EQ(GetRun(b, first).state(), "INTERRUPTED");
}

TEST_F(ReconciliationE2ETest, TwoReplicasNeverRunAtOnce) {
  SubmitSynced(1, 30);
  Faults({{"latency_ms", 20}});
  // Both replicas schedule a run every 200 ms on one database; each run takes about 0.3 s.
  const std::vector<std::string> flags = {"--concurrency=2", "--incremental_every=200ms",
                                          "--incremental_window=1h"};
  Replica a = StartReplica("replica-a", "recon-shared.db", flags);
  Replica b = StartReplica("replica-b", "recon-shared.db", flags);
  auto runs_of = [](const std::vector<InMessage>& msgs) {
    std::vector<dossiersync::v1::ReconciliationRun> out;
    for (const auto& m : msgs) {
      dossiersync::v1::ReconciliationRun r;
      if (r.ParseFromString(m.value)) out.push_back(r);
    }
    return out;
  };
  auto msgs = testing::CollectUntil(
      broker_->bootstrap(), kTopicReconciliationRuns,
      [&](const std::vector<InMessage>& m) {
        std::set<std::string> seen;
        for (const auto& r : runs_of(m)) seen.insert(r.holder());
        return m.size() >= 8 && seen.size() == 2;
      },
      absl::Seconds(90));
  auto runs = runs_of(msgs);
  ASSERT_GE(runs.size(), 8u);
  std::sort(runs.begin(), runs.end(), [](const auto& x, const auto& y) {
    return TimeUtil::TimestampToMicroseconds(x.started_at()) <
           TimeUtil::TimestampToMicroseconds(y.started_at());
  });
  std::set<std::string> holders;
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].state(), "FINISHED");
    EXPECT_EQ(runs[i].trigger(), "incremental");
    // Every run covers the 30: a replica whose evidence has not caught up with sync-results yet
    // leaves them in flight (it has not seen the sync push them); once a run found them in sync,
    // the next ones count them verified unchanged.
    EXPECT_EQ(runs[i].dossiers_checked() + runs[i].in_flight() + runs[i].verified_unchanged(), 30);
    holders.insert(runs[i].holder());
    if (i > 0) {
      EXPECT_LE(TimeUtil::TimestampToMicroseconds(runs[i - 1].finished_at()),
                TimeUtil::TimestampToMicroseconds(runs[i].started_at()))
          << "runs " << runs[i - 1].run_id() << " (" << runs[i - 1].holder() << ") and "
          << runs[i].run_id() << " (" << runs[i].holder() << ") overlap";
    }
  }
  EXPECT_EQ(holders.size(), 2u) << "both replicas took turns";
}

TEST_F(ReconciliationE2ETest, ASampledRunReportsTheScopesRatioWithAnIntervalHoldingTheTruth) {
  // 240 dossiers in three agencies (120 / 80 / 40), submitted one by one (a repeatable order for
  // the seeded draw); a quarter of them tampered at DVCQG: the true consistency is 0.75.
  const std::vector<std::string> agencies = {"000.21.37.H37", "000.22.37.H37", "000.23.37.H37"};
  auto request = [&](int i) {
    auto r = testing::ValidRequest(i, 2, 100);
    testing::SetAgency(&r, agencies[i % 6 < 3 ? 0 : i % 6 < 5 ? 1 : 2]);
    return r;
  };
  for (int i = 0; i < 240; ++i) Submit(request(i));
  for (int i = 0; i < 240; ++i) {
    ASSERT_TRUE(SyncedAgain(request(i).dossier().code(), 100)) << i;
  }
  for (int i = 0; i < 240; i += 4) {
    auto res = admin_->Post(("/admin/tamper/" + request(i).dossier().code()).c_str(),
                            R"({"NgayHenTra":"20240801080000"})", "application/json");
    ASSERT_TRUE(res && res->status == 200);
  }
  dossiersync::v1::StartRunRequest req;
  req.set_sample_size(90);
  req.set_sample_seed(20261207);
  auto run = runner_->RunNow(req);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->state(), "FINISHED");
  EXPECT_EQ(run->sample_size(), 90);
  EXPECT_EQ(run->dossiers_checked(), 90);
  EXPECT_EQ(run->population(), 240);
  EXPECT_EQ(run->population_by_agency().at(agencies[0]), 120);
  EXPECT_EQ(run->population_by_agency().at(agencies[2]), 40);
  // Proportional: 45 / 30 / 15.
  EXPECT_EQ(run->checked_by_agency().at(agencies[0]), 45);
  EXPECT_EQ(run->checked_by_agency().at(agencies[1]), 30);
  EXPECT_EQ(run->checked_by_agency().at(agencies[2]), 15);
  std::cout << "sampled run: consistency " << run->consistency_ratio() << " in ["
            << run->consistency_low() << ", " << run->consistency_high() << "], truth 0.75"
            << std::endl;
  EXPECT_LE(run->consistency_low(), 0.75);
  EXPECT_GE(run->consistency_high(), 0.75);
  EXPECT_GT(run->consistency_high() - run->consistency_low(), 0.05);
  EXPECT_LT(run->consistency_high() - run->consistency_low(), 0.4);
  EXPECT_GE(run->consistency_ratio(), run->consistency_low());
  EXPECT_LE(run->consistency_ratio(), run->consistency_high());
  // The drift found is the sampled share of the tampered dossiers, and only those.
  auto drift = DriftOf(run->run_id());
  int64_t drifted = 0;
  for (const auto& [a, n] : run->drifted_by_agency()) drifted += n;
  EXPECT_EQ(static_cast<int64_t>(drift.size()), drifted);
  EXPECT_GT(drifted, 5);
  for (const auto& [code, kinds] : drift) {
    int i = std::stoi(code.substr(code.rfind('-') + 1));
    EXPECT_EQ(i % 4, 0) << code << " was not tampered";
  }
  // A sample is of a scope, within bounds.
  dossiersync::v1::StartRunRequest bad;
  bad.set_sample_size(10);
  bad.add_codes(request(1).dossier().code());
  EXPECT_EQ(runner_->Start(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.clear_codes();
  bad.set_sample_size(reconciliation::Runner::kMaxSample + 1);
  EXPECT_EQ(runner_->Start(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReconciliationE2ETest, ScheduledIncrementalRunLooksOnlyAtRecentDossiers) {
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  const absl::Duration window = absl::Seconds(5);
  SubmitSynced(1, 20);
  const absl::Time old_done = absl::Now();
  admin_->Post(("/admin/tamper/" + code(1)).c_str(), R"({"NgayHenTra":"20240801080000"})",
               "application/json");
  // The window is measured from intake's acceptance: wait until the first 20 fall out of it.
  ASSERT_TRUE(testing::WaitFor([&] { return absl::Now() > old_done + window; }));
  SubmitSynced(21, 25);
  admin_->Post(("/admin/tamper/" + code(21)).c_str(), R"({"NgayHenTra":"20240801080000"})",
               "application/json");
  reconciliation::ReconciliationConfig rc = AppConfig();
  rc.incremental_every = absl::Milliseconds(300);
  rc.incremental_window = window;
  auto app = reconciliation::App::Start(rc);
  ASSERT_TRUE(app.ok()) << app.status();
  dossiersync::v1::ReconciliationRun run;
  // A run before the new App's evidence has caught up with sync-results leaves the five in
  // flight (it has not seen the sync push them); the first run after that checks them.
  ASSERT_TRUE(FirstPublishedRunWhere(&run, [](const auto& r) { return r.in_flight() == 0; }));
  EXPECT_EQ(run.trigger(), "incremental");
  EXPECT_TRUE(run.has_changed_since());
  EXPECT_EQ(run.dossiers_checked() + run.verified_unchanged(), 5)
      << "only the 5 dossiers changed within the window";
  EXPECT_EQ(DriftOfApp(**app, run.run_id()),
            (std::map<std::string, std::vector<DriftKind>>{
                {code(21), {dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH}}}));
}

// Issue 16: during a backfill each incremental run looked every pushed dossier in its window up
// again (216,068 lookups in one run). A dossier found in sync at its current revision, with
// nothing pushed since, is not looked up by the next incremental run; a new revision, a push of
// any kind or drift found makes it looked up again, and the full sweep looks at everything.
TEST_F(ReconciliationE2ETest, AnIncrementalRunLooksUpOnlyWhatChangedSinceItWasFoundInSync) {
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  SubmitSynced(1, 4);
  auto first = runner_->RunNow({}, "incremental");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->dossiers_checked(), 4);
  EXPECT_EQ(first->verified_unchanged(), 0);
  EXPECT_EQ(first->consistency_ratio(), 1.0);
  // A change at DVCQG nobody pushed: not an incremental run's to find.
  admin_->Post(("/admin/tamper/" + code(2)).c_str(), R"({"NgayHenTra":"20240801080000"})",
               "application/json");
  auto second = runner_->RunNow({}, "incremental");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->dossiers_checked(), 0);
  EXPECT_EQ(second->verified_unchanged(), 4);
  EXPECT_TRUE(second->drift_by_kind().empty());
  // The full sweep looks everything up and finds it.
  auto sweep = runner_->RunNow({}, "full-sweep");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->dossiers_checked(), 4);
  EXPECT_EQ(sweep->verified_unchanged(), 0);
  EXPECT_EQ(sweep->drift_by_kind().at("DRIFT_KIND_FIELD_MISMATCH"), 1);
  // A new revision of 3, and 4 pushed again at its revision (an operator's resync).
  const std::string before4 = LastSync(code(4));
  auto next = testing::ValidRequest(3, 4, 101);
  Submit(next);
  ASSERT_TRUE(SyncedAgain(code(3), 101)) << LastSync(code(3));
  dossiersync::v1::SyncRequest resync;
  resync.set_code(code(4));
  resync.set_reason("operator resync");
  resync.set_requested_by("test");
  *resync.mutable_requested_at() = NowTimestamp();
  ASSERT_TRUE(producer_
                  ->Produce({kTopicSyncRequests, code(4), resync.SerializeAsString(),
                             "dossiersync.v1.SyncRequest", NewEventId(), "", 0})
                  .ok());
  ASSERT_TRUE(SyncedAgain(code(4), 100, before4)) << LastSync(code(4));
  // 2 (drift at its latest check), 3 (new revision) and 4 (pushed since) are looked up; 1 is not.
  auto third = runner_->RunNow({}, "incremental");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->dossiers_checked(), 3) << third->DebugString();
  EXPECT_EQ(third->verified_unchanged(), 1);
  EXPECT_EQ(third->drift_by_kind().at("DRIFT_KIND_FIELD_MISMATCH"), 1);
  EXPECT_EQ(third->drifted_by_agency().size(), 1u);
  // Asked for, a run looks every dossier up; with the rule off, so does an incremental one.
  auto asked = runner_->RunNow({}, "on-demand");
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->dossiers_checked(), 4);
  EXPECT_EQ(asked->verified_unchanged(), 0);
  reconciliation::RunnerOptions ro;
  ro.holder = "test";
  ro.skip_verified = false;
  reconciliation::Runner every(ro, client_.get(), stub_.get(), ClientOptions{}, producer_.get(),
                               store_.get(), &registry_);
  auto off = every.RunNow({}, "incremental");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->dossiers_checked(), 4);
  EXPECT_EQ(off->verified_unchanged(), 0);
}

// Issue 16: an incremental run lists its window without steps (a query per dossier at intake,
// for dossiers it mostly does not look up) and reads whole only those it looks up: a step DVCQG
// lost is still found, and the repair carries the whole dossier.
TEST_F(ReconciliationE2ETest, AnIncrementalRunComparesTheStepsOfWhatItLooksUp) {
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  SubmitSynced(1, 3);
  Submit(testing::ValidRequest(2, 4, 200));  // processed: a second step, pushed
  ASSERT_TRUE(SyncedAgain(code(2), 200)) << LastSync(code(2));
  auto first = runner_->RunNow({}, "incremental");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->dossiers_checked(), 3);
  EXPECT_EQ(first->consistency_ratio(), 1.0) << first->DebugString();
  // Same status, one more step, lost by DVCQG.
  Faults({{"drop_rate", 1.0}});
  Submit(testing::ValidRequest(2, 4, 300));
  ASSERT_TRUE(SyncedAgain(code(2), 300)) << LastSync(code(2));
  Faults({{"drop_rate", 0.0}});
  dossiersync::v1::StartRunRequest req;
  req.set_repair(true);
  auto second = runner_->RunNow(req, "incremental");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->dossiers_checked(), 1);
  EXPECT_EQ(second->verified_unchanged(), 2);
  EXPECT_EQ(DriftOf(second->run_id()),
            (std::map<std::string, std::vector<DriftKind>>{
                {code(2), {dossiersync::v1::DRIFT_KIND_STEPS_MISSING}}}));
  EXPECT_EQ(second->repairs_requested(), 1);
  ASSERT_TRUE(testing::WaitFor([&] { return Stored(code(2))["QuaTrinhXuLy"].size() == 3; },
                               absl::Seconds(30)))
      << Stored(code(2)).dump();
}

// Regression (issue 16, found by the backfill benchmark): a scheduled run over dossiers the sync
// had not pushed yet called each one missing nationally and requested a repair of it (34,000 in a
// backfill of 879,100, each pushed again by the sync). They are in flight: counted, not checked.
TEST_F(ReconciliationE2ETest, AScheduledRunLeavesWhatTheSyncHasNotPushedYetInFlight) {
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  SubmitSynced(1, 3);  // the sync's frontier: their changes
  sync_->engine()->SetOperatorPause(true);
  ASSERT_TRUE(testing::WaitFor([&] { return sync_->consumer()->paused(); }));
  for (int i = 4; i <= 8; ++i) Submit(testing::ValidRequest(i, 2, 100));
  auto scheduled = runner_->RunNow({}, "incremental");
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();
  EXPECT_EQ(scheduled->state(), "FINISHED");
  EXPECT_EQ(scheduled->in_flight(), 5);
  EXPECT_EQ(scheduled->dossiers_checked(), 3);
  EXPECT_TRUE(scheduled->drift_by_kind().empty());
  EXPECT_EQ(scheduled->repairs_requested(), 0);
  EXPECT_EQ(scheduled->consistency_ratio(), 1.0);
  // Asked for, a run looks every dossier up: DVCQG lacks the five.
  auto asked = runner_->RunNow({}, "on-demand");
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->in_flight(), 0);
  EXPECT_EQ(asked->drift_by_kind().at("DRIFT_KIND_MISSING_NATIONALLY"), 5);
  // Past the in-flight limit a scheduled run checks them too (a change the sync never got).
  reconciliation::RunnerOptions ro;
  ro.holder = "test";
  ro.in_flight_limit = absl::Nanoseconds(1);
  reconciliation::Runner strict(ro, client_.get(), stub_.get(), ClientOptions{}, producer_.get(),
                                store_.get(), &registry_);
  auto late = strict.RunNow({}, "full-sweep");
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(late->in_flight(), 0);
  EXPECT_EQ(late->drift_by_kind().at("DRIFT_KIND_MISSING_NATIONALLY"), 5);
  // Once pushed they are checked and in sync.
  sync_->engine()->SetOperatorPause(false);
  for (int i = 4; i <= 8; ++i) ASSERT_TRUE(SyncedAgain(code(i), 100)) << LastSync(code(i));
  auto after = runner_->RunNow({}, "incremental");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->in_flight(), 0);
  EXPECT_EQ(after->dossiers_checked(), 5);
  EXPECT_EQ(after->verified_unchanged(), 3) << "the first three were found in sync before";
  EXPECT_TRUE(after->drift_by_kind().empty());
}

// Regression (issue 16, the backfill benchmark): the sync's newest push moved its time frontier
// past a change still queued on another partition, and a scheduled run called that dossier
// missing nationally (24,823 of them during a backfill). With the sync's committed offsets per
// partition, a dossier whose partition the sync is behind on stays in flight.
TEST_F(ReconciliationE2ETest, AQueuedDossierBehindANewerPushOnAnotherPartitionStaysInFlight) {
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  const int a = 1;
  int b = 2;
  while (reconciliation::SyncProgress::PartitionOf(code(b), 6) ==
         reconciliation::SyncProgress::PartitionOf(code(a), 6)) {
    ++b;
  }
  // DVCQG takes 30 s before handling anything about A: A stays with the sync meanwhile.
  Faults({{"slow_codes", {code(a)}}, {"slow_ms", 30000}});
  Submit(testing::ValidRequest(a, 2, 100));
  Submit(testing::ValidRequest(b, 2, 100));  // accepted after A, on another partition
  ASSERT_TRUE(SyncedAgain(code(b), 100)) << LastSync(code(b));
  reconciliation::RunnerOptions ro;
  ro.holder = "test";
  ro.in_flight_slack = absl::ZeroDuration();
  // By the time frontier alone, A looks overdue (B, accepted later, was pushed): it is looked up
  // (slowly: DVCQG is slow for A) instead of left in flight.
  reconciliation::Runner by_frontier(ro, client_.get(), stub_.get(), ClientOptions{},
                                     producer_.get(), store_.get(), &registry_);
  auto old = by_frontier.RunNow({}, "incremental");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->in_flight(), 0) << old->DebugString();
  // By the sync's progress on A's partition, A is in flight.
  ro.sync_progress = progress_.get();
  reconciliation::Runner by_partition(ro, client_.get(), stub_.get(), ClientOptions{},
                                      producer_.get(), store_.get(), &registry_);
  auto now = by_partition.RunNow({}, "incremental");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->in_flight(), 1) << now->DebugString();
  EXPECT_EQ(now->verified_unchanged(), 1) << "B, found in sync by the run before";
  EXPECT_EQ(now->dossiers_checked(), 0);
  EXPECT_TRUE(now->drift_by_kind().empty()) << now->DebugString();
  Faults({{"slow_codes", json::array()}, {"slow_ms", 0}});
  ASSERT_TRUE(SyncedAgain(code(a), 100)) << LastSync(code(a));
}

TEST_F(ReconciliationE2ETest, ARequestForALostStreamStartsOneRepairingRunOverItsWindow) {
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  SubmitSynced(1, 10);
  const absl::Time lost_since = absl::Now();
  SubmitSynced(11, 15);
  admin_->Post(("/admin/tamper/" + code(12)).c_str(), R"({"NgayHenTra":"20240801080000"})",
               "application/json");
  auto app = reconciliation::App::Start(AppConfig());  // no schedules: only the requests
  ASSERT_TRUE(app.ok()) << app.status();
  // Two partitions lost at once: two requests, one run over the earlier window.
  auto producer = KafkaProducer::Create(broker_->bootstrap(), [](int64_t, const absl::Status&) {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (absl::Time since : {lost_since + absl::Seconds(1), lost_since}) {
    dossiersync::v1::ReconciliationRequest r;
    *r.mutable_changed_since() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(since));
    r.set_reason("sync position fell off the log");
    r.set_requested_by("dossier-sync");
    ASSERT_TRUE((*producer)
                    ->Produce({kTopicReconciliationRequests, "stream-lost", r.SerializeAsString(),
                               "dossiersync.v1.ReconciliationRequest", NewEventId(), "", 0})
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  dossiersync::v1::ReconciliationRun run;
  ASSERT_TRUE(FirstPublishedRun(&run));
  EXPECT_EQ(run.trigger(), "stream-lost");
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(run.changed_since()), absl::ToUnixMicros(lost_since));
  EXPECT_EQ(run.dossiers_checked(), 5) << "the dossiers changed since the stream was lost";
  EXPECT_EQ(run.repairs_requested(), 1);
  EXPECT_EQ(DriftOfApp(**app, run.run_id()),
            (std::map<std::string, std::vector<DriftKind>>{
                {code(12), {dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH}}}));
  EXPECT_EQ(
      testing::ScrapeMetricSum((*app)->metrics_port(), "dossiersync_reconciliation_requests_total"),
      3)
      << "two requests, one run";
  // The repair carries the provincial truth: the sync can push what its stream never brought.
  auto repairs = testing::CollectTopic(broker_->bootstrap(), kTopicSyncRequests, 1);
  ASSERT_EQ(repairs.size(), 1u);
  dossiersync::v1::SyncRequest sr;
  ASSERT_TRUE(sr.ParseFromString(repairs[0].value));
  EXPECT_EQ(sr.code(), code(12));
  EXPECT_EQ(sr.truth().code(), code(12));
  EXPECT_EQ(sr.truth().revision(), 100);
  EXPECT_EQ(sr.truth().steps_size(), testing::ValidRequest(12, 2, 100).new_steps_size());
}

// A run's service on the fixture's stack, reached over gRPC.
struct ServedApp {
  std::unique_ptr<reconciliation::App> app;
  std::unique_ptr<dossiersync::v1::ReconciliationService::Stub> stub;
  // Runs a full reconciliation over gRPC and waits for it to end.
  dossiersync::v1::ReconciliationRun Run(const dossiersync::v1::StartRunRequest& req) {
    dossiersync::v1::StartRunResponse started;
    EXPECT_TRUE(stub->StartRun(MakeContext({}, absl::Seconds(10)).get(), req, &started).ok());
    dossiersync::v1::ReconciliationRun run;
    EXPECT_TRUE(testing::WaitFor([&] {
      dossiersync::v1::GetRunRequest g;
      g.set_run_id(started.run_id());
      return stub->GetRun(MakeContext({}, absl::Seconds(10)).get(), g, &run).ok() &&
             run.state() != "RUNNING";
    }));
    return run;
  }
  dossiersync::v1::Score Score() {
    dossiersync::v1::GetScoreRequest req;
    req.set_period("2024-07");  // testing::ValidRequest's dossiers are received 2024-07-05
    dossiersync::v1::Score s;
    grpc::Status st = stub->GetScore(MakeContext({}, absl::Seconds(30)).get(), req, &s);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return s;
  }
  dossiersync::v1::Kpis Kpis() {
    dossiersync::v1::Kpis k;
    EXPECT_TRUE(stub->GetKpis(MakeContext({}, absl::Seconds(30)).get(), {}, &k).ok());
    return k;
  }
};

const dossiersync::v1::ScoreGap* GapOf(const dossiersync::v1::AgencyScore& a,
                                       const std::string& indicator) {
  for (const auto& g : a.gaps()) {
    if (g.indicator() == indicator) return &g;
  }
  return nullptr;
}

std::set<std::string> CodesOf(const dossiersync::v1::ScoreGap* g) {
  return g ? std::set<std::string>(g->codes().begin(), g->codes().end()) : std::set<std::string>();
}

// Writes dropped at the simulator lower the national-view score by exactly the points the
// formula gives them once a reconciliation has seen them, and a repair restores them:
// 3 creates dropped (1.4: 3 of 10 missing, 6 x 3/10 = 1.8 points) and 2 updates that paid online
// dropped (3.5/3.6: 2 of 10 paid provincially, 0 nationally, 10 x 2/10 = 2 points).
TEST_F(ReconciliationE2ETest, DroppedWritesCostTheExpectedPointsAndARepairRestoresThem) {
  auto req = [](int i, int64_t revision, bool paid) {
    auto r = testing::ValidRequest(i, 2, revision);
    auto* fee = r.mutable_dossier()->add_fees();
    fee->set_code("LP01");
    fee->set_amount_vnd(8000);
    if (paid)
      r.mutable_dossier()->set_online_payment(dossiersync::v1::ONLINE_PAYMENT_NATIONAL_PLATFORM);
    if (revision > 100) r.mutable_new_steps(0)->set_step_id(absl::StrCat("paid", i));
    return r;
  };
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  // No steps for these: a dropped create followed by a progress row would be answered "không
  // tồn tại" and the sync would create it again.
  Faults({{"drop_rate", 1.0}});
  for (int i = 1; i <= 3; ++i) {
    auto r = req(i, 100, false);
    r.clear_new_steps();
    Submit(r);
  }
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(SyncedAgain(code(i), 100)) << LastSync(code(i));
  Faults({{"drop_rate", 0.0}});
  for (int i = 4; i <= 10; ++i) Submit(req(i, 100, false));
  for (int i = 4; i <= 10; ++i) ASSERT_TRUE(SyncedAgain(code(i), 100)) << LastSync(code(i));
  Faults({{"drop_rate", 1.0}});
  for (int i = 4; i <= 5; ++i) Submit(req(i, 200, true));
  for (int i = 4; i <= 5; ++i) ASSERT_TRUE(SyncedAgain(code(i), 200)) << LastSync(code(i));
  Faults({{"drop_rate", 0.0}});

  reconciliation::ReconciliationConfig rc = AppConfig();
  rc.score_period = "2024-07";  // the period of the score gauges (the dashboard's)
  rc.score_every = absl::Seconds(1);
  auto app = reconciliation::App::Start(rc);
  ASSERT_TRUE(app.ok()) << app.status();
  ServedApp served{std::move(*app), nullptr};
  served.stub = dossiersync::v1::ReconciliationService::NewStub(
      *MakeChannel(absl::StrCat("127.0.0.1:", served.app->grpc_port()), {}));
  // Before any run the sync's evidence says every write landed: nothing at stake yet.
  dossiersync::v1::Score before;
  ASSERT_TRUE(testing::WaitFor([&] {
    before = served.Score();
    return before.total().dossiers() == 10 && before.total().without_evidence() == 0;
  })) << before.DebugString();
  EXPECT_NEAR(before.total().points_at_stake(), 0, 1e-9);
  EXPECT_EQ(before.formula_version(), reconciliation::ScoreFormula::Default().version);

  auto run = served.Run({});
  EXPECT_EQ(run.state(), "FINISHED");
  dossiersync::v1::Score after = served.Score();
  const auto& t = after.total();
  EXPECT_NEAR(t.points_at_stake(), 1.8 + 2.0, 1e-9) << t.DebugString();
  EXPECT_NEAR(t.provincial().points() - t.national().points(), 3.8, 1e-9);
  EXPECT_EQ(CodesOf(GapOf(t, "1.4")), (std::set<std::string>{code(1), code(2), code(3)}));
  EXPECT_EQ(CodesOf(GapOf(t, "3.5/3.6")), (std::set<std::string>{code(4), code(5)}));
  ASSERT_NE(GapOf(t, "1.4"), nullptr);
  EXPECT_NEAR(GapOf(t, "1.4")->points(), 1.8, 1e-9);
  ASSERT_EQ(after.by_agency_size(), 1);
  EXPECT_NEAR(after.by_agency().at("000.00.13.H37").points_at_stake(), 3.8, 1e-9);
  // KPIs by the same evidence: 5 of 10 out of sync.
  EXPECT_DOUBLE_EQ(served.Kpis().in_sync_share(), 0.5);
  // The score gauges follow within --score_every and say what GetScore says.
  const int mport = served.app->metrics_port();
  EXPECT_TRUE(testing::WaitFor([&] {
    return std::abs(
               testing::ScrapeMetric(mport, "dossiersync_reconciliation_score_points_at_stake") -
               3.8) < 1e-6;
  })) << testing::ScrapeMetric(mport, "dossiersync_reconciliation_score_points_at_stake");
  EXPECT_NEAR(
      testing::ScrapeMetric(mport, "dossiersync_reconciliation_score_points{view=\"provincial\"}"),
      t.provincial().points(), 1e-6);
  EXPECT_NEAR(
      testing::ScrapeMetric(mport, "dossiersync_reconciliation_score_points{view=\"national\"}"),
      t.national().points(), 1e-6);

  // The repair: a run that requests it; once the sync's pushes are accepted after the check, the
  // points are back, and the next run confirms it.
  dossiersync::v1::StartRunRequest repair;
  repair.set_repair(true);
  served.Run(repair);
  dossiersync::v1::Score repaired;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        repaired = served.Score();
        return std::abs(repaired.total().points_at_stake()) < 1e-9;
      },
      absl::Seconds(60)))
      << repaired.total().DebugString();
  auto clean = served.Run({});
  EXPECT_EQ(clean.consistency_ratio(), 1.0);
  EXPECT_NEAR(served.Score().total().points_at_stake(), 0, 1e-9);
  EXPECT_DOUBLE_EQ(served.Kpis().in_sync_share(), 1.0);
  // A malformed period names the field.
  dossiersync::v1::GetScoreRequest bad;
  bad.set_period("2024-13");
  dossiersync::v1::Score s;
  grpc::Status st = served.stub->GetScore(MakeContext({}, absl::Seconds(10)).get(), bad, &s);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(DetailsOf(st)), "period");
}

// Regression: GetKpis took the latest finished run's ratio whatever its scope, so a run over two
// codes unknown provincially turned the in-sync share from 1 to 0 for the province.
TEST_F(ReconciliationE2ETest, InSyncShareComesFromEachDossiersLatestEvidence) {
  SubmitSynced(1, 10);
  reconciliation::ReconciliationConfig rc = AppConfig();
  rc.score_every = absl::ZeroDuration();  // no score computed: its gauges show nothing, not 0
  auto app = reconciliation::App::Start(rc);
  ASSERT_TRUE(app.ok()) << app.status();
  ServedApp served{std::move(*app), nullptr};
  served.stub = dossiersync::v1::ReconciliationService::NewStub(
      *MakeChannel(absl::StrCat("127.0.0.1:", served.app->grpc_port()), {}));
  EXPECT_EQ(testing::ScrapeMetric(served.app->metrics_port(),
                                  "dossiersync_reconciliation_score_points_at_stake"),
            -1);
  EXPECT_EQ(served.Run({}).consistency_ratio(), 1.0);
  EXPECT_DOUBLE_EQ(served.Kpis().in_sync_share(), 1.0);
  // Two dossiers DVCQG has and the province does not.
  dossiersync::v1::StartRunRequest two;
  for (int i : {801, 802}) {
    auto d = testing::ValidRequest(i, 2, 1).dossier();
    ASSERT_EQ(client_->SyncDossiers({{&d, 2}}, false).outcome, dvcqg::Outcome::kAccepted);
    two.add_codes(d.code());
  }
  auto run = served.Run(two);
  EXPECT_EQ(run.state(), "FINISHED");
  EXPECT_EQ(run.drift_by_kind().at("DRIFT_KIND_UNKNOWN_PROVINCIALLY"), 2);
  EXPECT_EQ(run.consistency_ratio(), 0.0) << "the run itself found nothing in sync";
  dossiersync::v1::Kpis k = served.Kpis();
  EXPECT_DOUBLE_EQ(k.in_sync_share(), 1.0);
  EXPECT_DOUBLE_EQ(k.by_agency().at("000.00.13.H37").in_sync_share(), 1.0);
}

// `dossierctl reconcile` while a scheduled run (or another replica's) holds the lease waits for it
// instead of failing: section10.sh's full sweep was refused by an incremental run still going.
TEST_F(ReconciliationE2ETest, DossierctlReconcileWaitsForARunInProgress) {
  SubmitSynced(1, 3);
  reconciliation::ReconciliationConfig rc = AppConfig();
  rc.incremental_every = absl::ZeroDuration();
  rc.full_sweep_at = "";
  auto app = reconciliation::App::Start(rc);
  ASSERT_TRUE(app.ok()) << app.status();
  auto db = storage::Open(testing::TestDatabaseUri(dir_.path(), "recon-app.db"));
  ASSERT_TRUE(db.ok()) << db.status();
  auto other = reconciliation::RunStore::Open(db->get());
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(*(*other)->AcquireLease("reconciliation-run", "other-replica", absl::Minutes(1)));
  testing::Process ctl({testing::BinaryPath("dossierctl"), "reconcile",
                        absl::StrCat("--reconciliation_addr=127.0.0.1:", (*app)->grpc_port())},
                       dir_.File("reconcile.log"));
  auto log = [&] {
    std::ifstream in(dir_.File("reconcile.log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_TRUE(testing::WaitFor([&] { return absl::StrContains(log(), "waiting"); })) << log();
  ASSERT_TRUE((*other)->ReleaseLease("reconciliation-run", "other-replica").ok());
  EXPECT_EQ(ctl.Wait(), 0) << log();
  EXPECT_TRUE(absl::StrContains(log(), "\"state\":\"FINISHED\"")) << log();
}

// Regression (issue 13): malformed bytes on every ReconciliationService method got a bare
// UNIMPLEMENTED from gRPC's typed handlers; they get INVALID_ARGUMENT naming the request type,
// and the service keeps serving.
TEST_F(ReconciliationE2ETest, GarbageBytesGetInvalidArgumentNamingTheRequestType) {
  auto app = reconciliation::App::Start(AppConfig());
  ASSERT_TRUE(app.ok()) << app.status();
  const std::string garbage("\xff\xff\xff\xff\xff\xff", 6);
  for (const auto& [method, type] : std::vector<std::pair<std::string, std::string>>{
           {"StartRun", "StartRunRequest"},
           {"GetRun", "GetRunRequest"},
           {"ListDrift", "ListDriftRequest"},
           {"GetKpis", "GetKpisRequest"},
           {"GetScore", "GetScoreRequest"},
           {"ListRuns", "ListRunsRequest"},
           {"GetDossierTimeline", "GetDossierTimelineRequest"}}) {
    grpc::Status st =
        testing::CallRaw((*app)->grpc_port(), "/dossiersync.v1.ReconciliationService/" + method,
                         garbage, method == "ListDrift");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method << ": " << st.error_message();
    EXPECT_NE(st.error_message().find("dossiersync.v1." + type), std::string::npos)
        << st.error_message();
    EXPECT_EQ(FieldOf(DetailsOf(st)), "request");
  }
  // A well-formed call still works.
  auto stub = dossiersync::v1::ReconciliationService::NewStub(
      *MakeChannel(absl::StrCat("127.0.0.1:", (*app)->grpc_port()), {}));
  dossiersync::v1::GetRunRequest gr;
  gr.set_run_id("no-such-run");
  dossiersync::v1::ReconciliationRun run;
  EXPECT_EQ(stub->GetRun(MakeContext({}, absl::Seconds(5)).get(), gr, &run).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A run started with the caller's traceparent is a trace of its own under it: the run's record on
// the runs topic carries the caller's trace id (and so do the lines it logs and its intake calls,
// through the same thread context). Regression: every run published a new, unrelated trace.
TEST_F(ReconciliationE2ETest, ARunCarriesTheCallersTrace) {
  auto app = reconciliation::App::Start(AppConfig());
  ASSERT_TRUE(app.ok()) << app.status();
  auto stub = dossiersync::v1::ReconciliationService::NewStub(
      *MakeChannel(absl::StrCat("127.0.0.1:", (*app)->grpc_port()), {}));
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx.AddMetadata("traceparent", "00-" + trace + "-00f067aa0ba902b7-01");
  dossiersync::v1::StartRunResponse started;
  ASSERT_TRUE(stub->StartRun(&ctx, {}, &started).ok());
  auto msgs = testing::CollectUntil(
      broker_->bootstrap(), kTopicReconciliationRuns, [&](const std::vector<InMessage>& m) {
        return std::any_of(m.begin(), m.end(),
                           [&](const InMessage& x) { return x.key == started.run_id(); });
      });
  auto it = std::find_if(msgs.begin(), msgs.end(),
                         [&](const InMessage& x) { return x.key == started.run_id(); });
  ASSERT_NE(it, msgs.end());
  EXPECT_EQ(TraceIdOf(it->headers["traceparent"]), trace) << it->headers["traceparent"];
}

}  // namespace
}  // namespace dossiersync
