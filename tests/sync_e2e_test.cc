// End to end over real sockets: intake (gRPC) → devbroker (Kafka) → dossier-sync → dvcqg-sim.
// Dossiers go through full lifecycles; the simulator's final state must equal the provincial one,
// each dossier's history must never go back to an older snapshot, and every step must arrive
// exactly once.
#include <httplib.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/dvcqg/mapping.h"
#include "gtest/gtest.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/sync/app.h"
#include "tests/test_util.h"
#include "tools/dossierctl/submit.h"

namespace dossiersync {
namespace {

using nlohmann::json;

std::string RowKey(const json& row) {
  auto s = [&](const char* k) { return row.value(k, std::string()); };
  return absl::StrCat(s("ThoiDiemXuLy"), "|", s("NguoiXuLy"), "|", s("NoiDungXuLy"), "|",
                      s("TrangThai"));
}

class SyncE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker();
    intake_ = testing::StartIntake(testing::IntakeTestConfig(broker_->bootstrap(), dir_.path()));
    sim::SimConfig sc;
    sc.listen = "127.0.0.1:0";
    sc.database = "sqlite:" + dir_.File("sim.db");
    auto s = sim::Simulator::Start(sc);
    ASSERT_TRUE(s.ok()) << s.status();
    sim_ = std::move(*s);
    admin_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    workload_.now = absl::Now();
  }
  sync::SyncConfig SyncTestConfig(const std::string& db = "sync.db") {
    sync::SyncConfig c;
    c.server.listen = "127.0.0.1:0";
    c.server.allow_insecure = true;
    c.metrics_listen = "127.0.0.1:0";
    c.kafka_brokers = broker_->bootstrap();
    c.database = "sqlite:" + dir_.File(db);
    c.dvcqg.base_url = sim_->url();
    c.dvcqg.credentials = {"langson", "langson-dev-password"};
    c.dvcqg.read_timeout = absl::Seconds(1);
    c.engine.backoff_base = absl::Milliseconds(50);
    c.engine.backoff_cap = absl::Seconds(1);
    c.engine.breaker_cooldown = absl::Milliseconds(500);
    c.consumer.config["topic.metadata.refresh.interval.ms"] = "1000";
    return c;
  }
  std::unique_ptr<sync::App> StartSync(const sync::SyncConfig& c) {
    auto a = sync::App::Start(c);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }
  void Submit(int dossiers) {
    tools::SubmitOptions o;
    o.intake_addr = absl::StrCat("127.0.0.1:", intake_->grpc_port());
    o.generate = dossiers;
    o.workload = workload_;
    o.progress = false;
    auto rep = tools::RunSubmit(o);
    ASSERT_TRUE(rep.ok()) << rep.status();
    ASSERT_EQ(rep->failed, 0);
    dossiers_ = dossiers;
  }
  void SetFaults(const json& f) {
    ASSERT_TRUE(admin_->Post("/admin/faults", f.dump(), "application/json"));
  }
  json Stored(const std::string& code) {
    auto r = admin_->Get(("/admin/dossiers/" + code).c_str());
    if (!r || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }
  // Every dossier at the simulator equals its final provincial snapshot, with every step.
  bool Converged(std::string* why) {
    tools::Workload w(workload_);
    for (int i = 0; i < dossiers_; ++i) {
      auto life = w.Lifecycle(i);
      const auto& last = life.back().dossier();
      json got = Stored(last.code());
      if (got.is_null()) return *why = last.code() + " missing", false;
      size_t steps = 0;
      for (const auto& c : life) steps += c.new_steps_size();
      if (got["QuaTrinhXuLy"].size() != steps) {
        return *why = absl::StrCat(last.code(), " has ", got["QuaTrinhXuLy"].size(), "/", steps,
                                   " steps"),
               false;
      }
      got.erase("QuaTrinhXuLy");
      if (got != dvcqg::DossierToJson(last, last.status()))
        return *why = last.code() + " differs", false;
    }
    return true;
  }
  void WaitConverged(absl::Duration timeout = absl::Seconds(120)) {
    std::string why;
    bool ok = testing::WaitFor([&] { return Converged(&why); }, timeout);
    ASSERT_TRUE(ok) << why;
  }
  // No history entry goes back to an older snapshot; every step arrived exactly once.
  void CheckHistories() {
    tools::Workload w(workload_);
    for (int i = 0; i < dossiers_; ++i) {
      auto life = w.Lifecycle(i);
      std::string code = life[0].dossier().code();
      std::vector<json> snapshots;
      std::multiset<std::string> expected_steps;
      for (const auto& c : life) {
        snapshots.push_back(dvcqg::DossierToJson(c.dossier(), c.dossier().status()));
        for (const auto& s : c.new_steps()) {
          expected_steps.insert(RowKey(dvcqg::StepToJson(code, s, s.status())));
        }
      }
      auto r = admin_->Get(("/admin/history/" + code).c_str());
      ASSERT_TRUE(r);
      json h = json::parse(r->body)["history"];
      int last_index = -1;
      std::multiset<std::string> steps;
      for (const auto& e : h) {
        if (e["service"] == "CapNhatTienDoHoSoMC") {
          steps.insert(RowKey(e["item"]));
          continue;
        }
        int index = -1;
        for (size_t k = 0; k < snapshots.size(); ++k) {
          if (snapshots[k] == e["item"]) index = static_cast<int>(k);
        }
        ASSERT_GE(index, 0) << code << ": a write that matches no provincial snapshot";
        EXPECT_GE(index, last_index) << code << ": regression at history seq " << e["seq"];
        last_index = index;
      }
      EXPECT_EQ(steps, expected_steps) << code << ": steps not exactly once";
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<intake::App> intake_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<httplib::Client> admin_;
  tools::WorkloadOptions workload_;
  int dossiers_ = 0;
};

TEST_F(SyncE2ETest, TwoHundredDossiersThroughFullLifecycles) {
  auto sync = StartSync(SyncTestConfig());
  ASSERT_TRUE(sync);
  Submit(200);
  WaitConverged();
  CheckHistories();
}

TEST_F(SyncE2ETest, ConvergesUnder503And429AndHangingResponses) {
  SetFaults({{"error_503_rate", 0.2},
             {"rate_429", 0.1},
             {"retry_after_s", 1},
             {"hang_rate", 0.05},
             {"hang_ms", 1500}});
  auto sync = StartSync(SyncTestConfig());
  ASSERT_TRUE(sync);
  Submit(200);
  WaitConverged(absl::Seconds(240));
  CheckHistories();
}

}  // namespace
}  // namespace dossiersync
