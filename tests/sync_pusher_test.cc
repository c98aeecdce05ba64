// The sync's pusher alone: a scripted DVCQG behind dvcqg::Api (in memory: what it holds, what it
// answers next) and a real ledger. What it calls, in which order, and what each dossier's outcome
// is, for every rule the engine relies on: create or update from the ledger, coalescing to the
// newest snapshot, "đã tồn tại" / "không tồn tại" flips, uncertain steps verified before a
// resend, dead letters, Retry-After.
#include <deque>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dvcqg/mapping.h"
#include "common/storage/database.h"
#include "gtest/gtest.h"
#include "services/sync/pusher.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync::sync {
namespace {

using dossiersync::v1::DossierChange;

// DVCQG in memory. Each call is logged as "service:code,code[:update]" or "service:code:rows".
// `next` scripts each service's next answers: an outcome instead of the normal one;
// `apply_then_fail` applies the call and still answers the scripted failure (a timeout after DVCQG
// took it).
class FakeDvcqg : public dvcqg::Api {
 public:
  struct Scripted {
    explicit Scripted(dvcqg::Outcome o, bool apply = false,
                      absl::Duration after = absl::ZeroDuration(), std::string f = "")
        : outcome(o), apply_then_fail(apply), retry_after(after), field(std::move(f)) {}
    dvcqg::Outcome outcome;
    bool apply_then_fail;
    absl::Duration retry_after;
    std::string field;
  };

  dvcqg::CallResult SyncDossiers(const std::vector<dvcqg::DossierItem>& items,
                                 bool is_update) override {
    std::vector<std::string> codes;
    for (const auto& [d, status] : items) codes.push_back(d->code());
    calls.push_back(absl::StrCat(dvcqg::kServiceSync, ":", absl::StrJoin(codes, ","),
                                 is_update ? ":update" : ""));
    dvcqg::CallResult r;
    std::optional<Scripted> s = Next(dvcqg::kServiceSync);
    if (s && !s->apply_then_fail) {
      r = Failed(*s);
      if (s->outcome == dvcqg::Outcome::kInvalidItem) {  // refused item by item, naming the field
        for (const auto& [d, status] : items) {
          r.items.push_back({d->code(), s->outcome, r.error_code, r.message, s->field});
        }
      }
      return r;
    }
    for (const auto& [d, status] : items) {
      dvcqg::ItemResult ir;
      ir.code = d->code();
      const bool has = held.count(d->code()) > 0;
      if (!is_update && has) {
        ir.outcome = dvcqg::Outcome::kAlreadyExists;
      } else if (is_update && !has) {
        ir.outcome = dvcqg::Outcome::kNotFound;
      } else {
        held[d->code()].status = status;
      }
      r.items.push_back(ir);
    }
    return s ? Failed(*s) : r;
  }

  std::vector<dvcqg::CallResult> UpdateProgress(
      const std::string& code, const std::vector<dvcqg::StepItem>& steps) override {
    calls.push_back(absl::StrCat(dvcqg::kServiceProgress, ":", code, ":", steps.size()));
    std::optional<Scripted> s = Next(dvcqg::kServiceProgress);
    if (s && !s->apply_then_fail) return {Failed(*s)};
    auto it = held.find(code);
    if (it == held.end()) return {Failed(Scripted(dvcqg::Outcome::kNotFound))};
    for (const auto& [step, status] : steps) {
      it->second.rows.push_back(dvcqg::StepToJson(code, *step, status));
    }
    return {s ? Failed(*s) : dvcqg::CallResult{}};
  }

  // Logged as "CapNhatTienDoHoSoMC:code,code:rows". A scripted kInvalidItem refuses the whole
  // call (a DVCQG that takes one dossier per call).
  dvcqg::CallResult UpdateProgressRows(const std::vector<dvcqg::ProgressRow>& rows) override {
    std::vector<std::string> codes;
    for (const auto& row : rows) {
      if (codes.empty() || codes.back() != row.code) codes.push_back(row.code);
    }
    calls.push_back(
        absl::StrCat(dvcqg::kServiceProgress, ":", absl::StrJoin(codes, ","), ":", rows.size()));
    std::optional<Scripted> s = Next(dvcqg::kServiceProgress);
    if (s && !s->apply_then_fail) return Failed(*s);
    dvcqg::CallResult r;
    for (const auto& code : codes) {
      dvcqg::ItemResult ir;
      ir.code = code;
      if (held.count(code) == 0) ir.outcome = dvcqg::Outcome::kNotFound;
      r.items.push_back(ir);
    }
    for (const auto& row : rows) {
      if (auto it = held.find(row.code); it != held.end()) {
        it->second.rows.push_back(dvcqg::StepToJson(row.code, *row.step, row.status));
      }
    }
    return s ? Failed(*s) : r;
  }

  dvcqg::LookupResult Lookup(const std::string& code) override {
    calls.push_back(absl::StrCat(dvcqg::kServiceLookup, ":", code));
    dvcqg::LookupResult l;
    if (auto s = Next(dvcqg::kServiceLookup)) {
      l.call = Failed(*s);
      return l;
    }
    nlohmann::json item = {{"MaHoSo", code}, {"QuaTrinhXuLy", nlohmann::json::array()}};
    if (auto it = held.find(code); it != held.end()) {
      for (const auto& row : it->second.rows) item["QuaTrinhXuLy"].push_back(row);
    }
    l.call.response = {{"result", nlohmann::json::array({item})}};
    return l;
  }

  const dvcqg::ClientConfig& config() const override { return config_; }

  struct Held {
    int status = 0;
    std::vector<nlohmann::json> rows;
  };
  std::map<std::string, Held> held;
  std::vector<std::string> calls;
  std::map<std::string, std::deque<Scripted>> next;  // by service

 private:
  std::optional<Scripted> Next(const char* service) {
    std::deque<Scripted>& q = next[service];
    if (q.empty()) return std::nullopt;
    Scripted s = q.front();
    q.pop_front();
    return s;
  }
  static dvcqg::CallResult Failed(const Scripted& s) {
    dvcqg::CallResult r;
    r.outcome = s.outcome;
    r.error_code = "99";
    r.message = dvcqg::OutcomeName(s.outcome);
    r.retry_after = s.retry_after;
    r.field = s.field;
    return r;
  }
  dvcqg::ClientConfig config_;
};

class PusherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = storage::Open(testing::TestDatabaseUri(dir_.path(), "pusher"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto l = Ledger::Open(db_.get());
    ASSERT_TRUE(l.ok()) << l.status();
    ledger_ = std::move(*l);
    pusher_ = std::make_unique<Pusher>(PusherOptions{}, &dvcqg_, ledger_.get());
  }
  // Pushes one dossier's changes and returns its outcome.
  Outcome Push(const std::vector<DossierChange>& changes, bool force = false) {
    PushItem item{changes.front().dossier().code(), {}, force};
    for (const auto& c : changes) item.changes.push_back(&c);
    auto outcomes = pusher_->Push({item});
    return outcomes[item.code];
  }
  std::string Code(int seq) { return testing::ValidChange(seq, 1, 1).dossier().code(); }
  std::vector<std::string> TakeCalls() { return std::exchange(dvcqg_.calls, {}); }

  testing::TempDir dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Ledger> ledger_;
  FakeDvcqg dvcqg_;
  std::unique_ptr<Pusher> pusher_;
};

TEST_F(PusherTest, ANewDossierIsCreatedThenItsStepsSentAndNothingTwice) {
  const std::string c = Code(1);
  Outcome o = Push({testing::ValidChange(1, 1, 1, {"a", "b"})});
  EXPECT_EQ(o.result, Result::kDone);
  EXPECT_STREQ(o.service, dvcqg::kServiceProgress);
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", c),
                                                   absl::StrCat("CapNhatTienDoHoSoMC:", c, ":2")}));
  // The same change again (Kafka redelivery): DVCQG has it all, no call.
  o = Push({testing::ValidChange(1, 1, 1, {"a", "b"})});
  EXPECT_EQ(o.result, Result::kDone);
  EXPECT_STREQ(o.service, "");
  EXPECT_TRUE(TakeCalls().empty());
  // Forced (resync): the snapshot goes again, as an update.
  o = Push({testing::ValidChange(1, 1, 1)}, /*force=*/true);
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", c, ":update")}));
}

TEST_F(PusherTest, ChangesAreCoalescedToTheNewestSnapshotWithEveryStep) {
  Outcome o = Push({testing::ValidChange(1, 1, 1, {"a"}), testing::ValidChange(1, 2, 3, {"c"}),
                    testing::ValidChange(1, 2, 2, {"b"})});
  EXPECT_EQ(o.result, Result::kDone);
  EXPECT_EQ(TakeCalls().size(), 2u);  // one snapshot, one progress call with all three rows
  EXPECT_EQ(dvcqg_.held[Code(1)].status, 2);
  ASSERT_EQ(dvcqg_.held[Code(1)].rows.size(), 3u);
  auto row = ledger_->Get(Code(1));
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->revision_pushed, 3);
  EXPECT_EQ((*row)->steps_pushed, 3);
}

TEST_F(PusherTest, ABatchIsOneCreateCallAndOneUpdateCall) {
  ASSERT_EQ(Push({testing::ValidChange(1, 1, 1)}).result, Result::kDone);
  TakeCalls();
  std::vector<DossierChange> cs = {testing::ValidChange(1, 2, 2), testing::ValidChange(2, 1, 1),
                                   testing::ValidChange(3, 1, 1)};
  std::vector<PushItem> items;
  for (const auto& c : cs) items.push_back({c.dossier().code(), {&c}, false});
  auto outcomes = pusher_->Push(items);
  for (const auto& [code, o] : outcomes) EXPECT_EQ(o.result, Result::kDone) << code;
  EXPECT_EQ(TakeCalls(),
            (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", Code(2), ",", Code(3)),
                                      absl::StrCat("DongBoHoSoMC:", Code(1), ":update")}));
}

// Progress rows name their dossier: dossiers with a few steps share one CapNhatTienDoHoSoMC call
// (up to progress_chunk rows); a dossier with more has calls of its own. When DVCQG refuses a call
// naming several dossiers, each is sent alone (nothing dead-letters) and later calls do not mix.
TEST_F(PusherTest, StepsOfSeveralDossiersShareACallAndARefusedMixGoesOneDossierPerCall) {
  auto push = [&](std::vector<DossierChange> cs) {
    std::vector<PushItem> items;
    for (const auto& c : cs) items.push_back({c.dossier().code(), {&c}, false});
    auto outcomes = pusher_->Push(items);
    for (const auto& [code, o] : outcomes) {
      EXPECT_EQ(o.result, Result::kDone) << code << ": " << o.error;
      EXPECT_STREQ(o.service, dvcqg::kServiceProgress) << code;
    }
  };
  std::vector<std::string> twelve;
  for (int i = 0; i < 12; ++i) twelve.push_back(absl::StrCat("s", i));
  push({testing::ValidChange(1, 1, 1, {"a", "b"}), testing::ValidChange(2, 1, 1, {"a", "b"}),
        testing::ValidChange(3, 1, 1, {"a", "b"}), testing::ValidChange(4, 1, 1, twelve)});
  EXPECT_EQ(TakeCalls(),
            (std::vector<std::string>{
                absl::StrCat("DongBoHoSoMC:", Code(1), ",", Code(2), ",", Code(3), ",", Code(4)),
                absl::StrCat("CapNhatTienDoHoSoMC:", Code(4), ":10"),
                absl::StrCat("CapNhatTienDoHoSoMC:", Code(4), ":2"),
                absl::StrCat("CapNhatTienDoHoSoMC:", Code(1), ",", Code(2), ",", Code(3), ":6")}));
  for (int d = 1; d <= 3; ++d) EXPECT_EQ(dvcqg_.held[Code(d)].rows.size(), 2u) << d;
  EXPECT_EQ(dvcqg_.held[Code(4)].rows.size(), 12u);
  // A DVCQG that takes one dossier per call refuses the shared call whole.
  dvcqg_.next[dvcqg::kServiceProgress].emplace_back(dvcqg::Outcome::kInvalidItem);
  push({testing::ValidChange(5, 1, 1, {"a"}), testing::ValidChange(6, 1, 1, {"a"})});
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{
                             absl::StrCat("DongBoHoSoMC:", Code(5), ",", Code(6)),
                             absl::StrCat("CapNhatTienDoHoSoMC:", Code(5), ",", Code(6), ":2"),
                             absl::StrCat("CapNhatTienDoHoSoMC:", Code(5), ":1"),
                             absl::StrCat("CapNhatTienDoHoSoMC:", Code(6), ":1")}));
  push({testing::ValidChange(7, 1, 1, {"a"}), testing::ValidChange(8, 1, 1, {"a"})});
  EXPECT_EQ(TakeCalls(),
            (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", Code(7), ",", Code(8)),
                                      absl::StrCat("CapNhatTienDoHoSoMC:", Code(7), ":1"),
                                      absl::StrCat("CapNhatTienDoHoSoMC:", Code(8), ":1")}));
  for (int d = 5; d <= 8; ++d) EXPECT_EQ(dvcqg_.held[Code(d)].rows.size(), 1u) << d;
}

// Regression: after DVCQG refused a shared call, the batch's next group was still sent shared
// (13 shared calls at the simulator with 8 workers). Twelve dossiers of one step: groups of 10 and
// 2; the first is refused, then every dossier goes alone.
TEST_F(PusherTest, ARefusedSharedCallSendsTheRestOfTheBatchAloneToo) {
  std::vector<DossierChange> cs;
  for (int d = 1; d <= 12; ++d) cs.push_back(testing::ValidChange(d, 1, 1, {"a"}));
  std::vector<PushItem> items;
  for (const auto& c : cs) items.push_back({c.dossier().code(), {&c}, false});
  dvcqg_.next[dvcqg::kServiceProgress].emplace_back(dvcqg::Outcome::kInvalidItem);
  auto outcomes = pusher_->Push(items);
  for (const auto& [code, o] : outcomes) EXPECT_EQ(o.result, Result::kDone) << code;
  int shared = 0, alone = 0;
  for (const auto& call : TakeCalls()) {
    if (!absl::StartsWith(call, "CapNhatTienDoHoSoMC:")) continue;
    (absl::StrContains(call, ",") ? shared : alone) += 1;
  }
  EXPECT_EQ(shared, 1);
  EXPECT_EQ(alone, 12);
}

// A create whose outcome is unknown (a timeout: DVCQG may have applied it) is followed by an
// update, never by a second create; if DVCQG had not taken it, the update's "không tồn tại" turns
// it back into a create within the same attempt.
TEST_F(PusherTest, ACreateWithAnUncertainOutcomeIsFollowedByAnUpdateNeverASecondCreate) {
  const std::string c1 = Code(1), c2 = Code(2);
  dvcqg_.next[dvcqg::kServiceSync].emplace_back(dvcqg::Outcome::kTimeout, /*apply_then_fail=*/true);
  EXPECT_EQ(Push({testing::ValidChange(1, 1, 1)}).result, Result::kRetry);
  EXPECT_EQ(Push({testing::ValidChange(1, 1, 1)}).result, Result::kDone);
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", c1),
                                                   absl::StrCat("DongBoHoSoMC:", c1, ":update")}));
  dvcqg_.next[dvcqg::kServiceSync].emplace_back(dvcqg::Outcome::kTimeout);  // not applied
  EXPECT_EQ(Push({testing::ValidChange(2, 1, 1)}).result, Result::kRetry);
  EXPECT_EQ(Push({testing::ValidChange(2, 1, 1)}).result, Result::kDone);
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", c2),
                                                   absl::StrCat("DongBoHoSoMC:", c2, ":update"),
                                                   absl::StrCat("DongBoHoSoMC:", c2)}));
  EXPECT_EQ(dvcqg_.held.count(c2), 1u);
}

TEST_F(PusherTest, AlreadyExistsBecomesOneUpdateAndOnlyTheStepsDvcqgLacksAreSent) {
  // DVCQG has the dossier and step "a" from elsewhere (a one-stop system, an earlier sync).
  const std::string c = Code(1);
  DossierChange first = testing::ValidChange(1, 1, 1, {"a"});
  dvcqg_.held[c].rows.push_back(dvcqg::StepToJson(c, first.new_steps(0), 1));
  Outcome o = Push({first, testing::ValidChange(1, 1, 2, {"b"})});
  EXPECT_EQ(o.result, Result::kDone);
  EXPECT_EQ(TakeCalls(),
            (std::vector<std::string>{
                absl::StrCat("DongBoHoSoMC:", c), absl::StrCat("DongBoHoSoMC:", c, ":update"),
                absl::StrCat("TraCuuHoSo:", c), absl::StrCat("CapNhatTienDoHoSoMC:", c, ":1")}));
  EXPECT_EQ(dvcqg_.held[c].rows.size(), 2u);
}

TEST_F(PusherTest, AnUpdateDvcqgDoesNotKnowBecomesACreateWithEveryStep) {
  const std::string c = Code(1);
  ASSERT_EQ(Push({testing::ValidChange(1, 1, 1, {"a"})}).result, Result::kDone);
  dvcqg_.held.clear();  // DVCQG lost it
  TakeCalls();
  Outcome o = Push({testing::ValidChange(1, 2, 2, {"b"})});
  EXPECT_EQ(o.result, Result::kDone);
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", c, ":update"),
                                                   absl::StrCat("DongBoHoSoMC:", c),
                                                   absl::StrCat("CapNhatTienDoHoSoMC:", c, ":2")}));
}

TEST_F(PusherTest, AStepPushWithAnUncertainOutcomeIsVerifiedNotSentTwice) {
  const std::string c = Code(1);
  // DVCQG takes the rows but the answer is lost (a read timeout).
  ASSERT_EQ(Push({testing::ValidChange(1, 1, 1)}).result, Result::kDone);
  dvcqg_.next[dvcqg::kServiceProgress].emplace_back(dvcqg::Outcome::kTimeout,
                                                    /*apply_then_fail=*/true);
  Outcome o = Push({testing::ValidChange(1, 1, 2, {"a", "b"})});
  EXPECT_EQ(o.result, Result::kRetry);
  EXPECT_EQ(o.dvcqg, dvcqg::Outcome::kTimeout);
  EXPECT_STREQ(o.service, dvcqg::kServiceProgress);
  TakeCalls();
  // The retry asks DVCQG first, finds both rows, sends nothing.
  o = Push({testing::ValidChange(1, 1, 2, {"a", "b"})});
  EXPECT_EQ(o.result, Result::kDone);
  EXPECT_STREQ(o.service, dvcqg::kServiceLookup);
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{absl::StrCat("TraCuuHoSo:", c)}));
  EXPECT_EQ(dvcqg_.held[c].rows.size(), 2u);
  auto row = ledger_->Get(c);
  EXPECT_EQ((*row)->steps_pushed, 2);
}

TEST_F(PusherTest, AFailedVerificationRetriesWithDvcqgsRetryAfter) {
  ASSERT_EQ(Push({testing::ValidChange(1, 1, 1)}).result, Result::kDone);
  dvcqg_.next[dvcqg::kServiceProgress].emplace_back(dvcqg::Outcome::kTimeout, true);
  ASSERT_EQ(Push({testing::ValidChange(1, 1, 2, {"a"})}).result, Result::kRetry);
  dvcqg_.next[dvcqg::kServiceLookup].emplace_back(dvcqg::Outcome::kRateLimited, false,
                                                  absl::Seconds(7));
  Outcome o = Push({testing::ValidChange(1, 1, 2, {"a"})});
  EXPECT_EQ(o.result, Result::kRetry);
  EXPECT_STREQ(o.service, dvcqg::kServiceLookup);
  EXPECT_EQ(o.retry_after, absl::Seconds(7));
  EXPECT_EQ(dvcqg_.held[Code(1)].rows.size(), 1u);  // nothing sent blind
}

TEST_F(PusherTest, ARefusedItemIsADeadLetterNamingTheField) {
  dvcqg_.next[dvcqg::kServiceSync].emplace_back(dvcqg::Outcome::kInvalidItem, false,
                                                absl::ZeroDuration(), "MaHoSo");
  Outcome o = Push({testing::ValidChange(1, 1, 1, {"a"})});
  EXPECT_EQ(o.result, Result::kDeadLetter);
  EXPECT_EQ(o.dvcqg, dvcqg::Outcome::kInvalidItem);
  EXPECT_EQ(o.error, "MaHoSo: invalid_item") << o.error;
  EXPECT_EQ(TakeCalls().size(), 1u);  // no step of a dossier DVCQG refused
  auto row = ledger_->Get(Code(1));
  EXPECT_EQ((*row)->revision_pushed, 0);
}

TEST_F(PusherTest, AnOutageIsARetryWithItsRetryAfterAndNothingRecordedAsPushed) {
  dvcqg_.next[dvcqg::kServiceSync].emplace_back(dvcqg::Outcome::kRateLimited, false,
                                                absl::Seconds(3));
  Outcome o = Push({testing::ValidChange(1, 1, 1, {"a"})});
  EXPECT_EQ(o.result, Result::kRetry);
  EXPECT_EQ(o.retry_after, absl::Seconds(3));
  EXPECT_STREQ(o.service, dvcqg::kServiceSync);
  auto row = ledger_->Get(Code(1));
  EXPECT_EQ((*row)->revision_pushed, 0);
  EXPECT_EQ((*row)->steps_pushed, 0);
  // Once DVCQG answers, all of it goes.
  EXPECT_EQ(Push({testing::ValidChange(1, 1, 1, {"a"})}).result, Result::kDone);
  EXPECT_EQ(dvcqg_.held[Code(1)].rows.size(), 1u);
}

TEST_F(PusherTest, ProgressNotFoundSendsTheDossierAndEveryStepAgainNextTime) {
  const std::string c = Code(1);
  ASSERT_EQ(Push({testing::ValidChange(1, 1, 1, {"a"})}).result, Result::kDone);
  dvcqg_.held.clear();
  TakeCalls();
  Outcome o = Push({testing::ValidChange(1, 1, 1, {"a"}), testing::ValidChange(1, 1, 1, {"b"})});
  EXPECT_EQ(o.result, Result::kRetry);
  EXPECT_EQ(o.dvcqg, dvcqg::Outcome::kNotFound);
  auto row = ledger_->Get(c);
  EXPECT_FALSE((*row)->created);
  TakeCalls();
  EXPECT_EQ(Push({testing::ValidChange(1, 1, 1)}).result, Result::kDone);
  EXPECT_EQ(TakeCalls(), (std::vector<std::string>{absl::StrCat("DongBoHoSoMC:", c),
                                                   absl::StrCat("CapNhatTienDoHoSoMC:", c, ":2")}));
}

}  // namespace
}  // namespace dossiersync::sync
