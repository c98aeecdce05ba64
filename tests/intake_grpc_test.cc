// IntakeService over a real gRPC socket (in-process server, SQLite, devbroker): the revision error
// kinds, transition rules, authentication and agency limits, reads, streams with bad items, and
// hostile input.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "common/grpc_client.h"
#include "gtest/gtest.h"
#include "services/intake/intake_service.h"
#include "services/intake/intake_store.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

using dossiersync::testing::ValidRequest;
using dossiersync::v1::SubmitChangeRequest;
using dossiersync::v1::SubmitChangeResponse;

class IntakeGrpcTest : public ::testing::Test {
 protected:
  // One devbroker for the suite (these tests do not read topics); a fresh intake per test.
  static void SetUpTestSuite() { shared_broker_ = testing::StartBroker().release(); }
  static void TearDownTestSuite() { delete shared_broker_; }
  void SetUp() override { Start(testing::IntakeTestConfig(broker().bootstrap(), dir_.path())); }
  const devbroker::DevBroker& broker() { return broker_ ? *broker_ : *shared_broker_; }
  void Start(const intake::IntakeConfig& c) {
    app_.reset();
    app_ = testing::StartIntake(c);
    stub_ = testing::IntakeStub(app_->grpc_port());
  }
  grpc::Status Submit(const SubmitChangeRequest& r, SubmitChangeResponse* resp = nullptr,
                      const std::string& token = "") {
    ClientOptions co;
    co.token = token;
    auto ctx = MakeContext(co, absl::Seconds(10));
    SubmitChangeResponse local;
    return stub_->SubmitChange(ctx.get(), r, resp ? resp : &local);
  }
  static std::string Reason(const grpc::Status& st) { return ReasonOf(DetailsOf(st)); }

  static devbroker::DevBroker* shared_broker_;
  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;  // a test's own broker, if it needs one
  std::unique_ptr<intake::App> app_;
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> stub_;
};

devbroker::DevBroker* IntakeGrpcTest::shared_broker_ = nullptr;

TEST_F(IntakeGrpcTest, AcceptsAndReturnsTheRevision) {
  SubmitChangeResponse resp;
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100), &resp).ok());
  EXPECT_EQ(resp.code(), "000.00.13.H37-240705-0001");
  EXPECT_EQ(resp.revision(), 100);
  EXPECT_FALSE(resp.duplicate());
}

// Regression: the query run before every write batch read the whole `dossiers` table on SQLite
// (two MAX aggregates in one SELECT defeat its min/max optimisation): intake slowed down as the
// table grew. Each part must be answered from its index, and the answer must be the newest row.
TEST_F(IntakeGrpcTest, TopOfLogQueryUsesTheIndexes) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Submit(ValidRequest(i, 1, 100)).ok());
  auto db = storage::Open(testing::TestDatabaseUri(dir_.path(), "intake.db"));
  ASSERT_TRUE(db.ok()) << db.status();
  auto tx = (*db)->BeginRead();
  ASSERT_TRUE(tx.ok());
  auto top = (*tx)->QueryOne(intake::kTopOfLogQuery);
  ASSERT_TRUE(top.ok() && top->has_value());
  auto newest = (*tx)->QueryOne(
      "SELECT change_seq, changed_at_us FROM dossiers ORDER BY change_seq DESC LIMIT 1");
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ((*top)->Int(0), (*newest)->Int(0));
  EXPECT_EQ((*top)->Int(1), (*newest)->Int(1));
  if (!absl::StartsWith(testing::TestDatabaseUri(dir_.path(), "intake.db"), "sqlite:")) return;
  auto plan = (*tx)->Query(absl::StrCat("EXPLAIN QUERY PLAN ", intake::kTopOfLogQuery));
  ASSERT_TRUE(plan.ok()) << plan.status();
  int searches = 0;
  for (const auto& row : *plan) {
    const std::string& detail = row.Str(3);
    EXPECT_FALSE(absl::StartsWith(detail, "SCAN dossiers")) << detail;
    if (absl::StrContains(detail, "USING COVERING INDEX")) ++searches;
  }
  EXPECT_EQ(searches, 2);
}

TEST_F(IntakeGrpcTest, InvalidArgumentCarriesFieldDetails) {
  auto r = ValidRequest(1, 2, 100);
  r.mutable_dossier()->set_procedure_code("bad");
  grpc::Status st = Submit(r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(DetailsOf(st)), "dossier.procedure_code");
  EXPECT_EQ(Reason(st), "INVALID_FIELD");
}

// Every violation in one BadRequest over the wire, and the rejection counted by field (indices
// dropped: a bounded label set) so operators see which field bounces a portal's data.
TEST_F(IntakeGrpcTest, EveryViolationAtOnceAndRejectionsByField) {
  auto r = ValidRequest(1, 2, 100);
  r.mutable_dossier()->set_procedure_code("bad");
  r.mutable_dossier()->mutable_applicant()->set_phone("x");
  r.mutable_new_steps(0)->set_officer(std::string(60, 'a'));
  grpc::Status st = Submit(r);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldsOf(DetailsOf(st)),
            (std::vector<std::string>{"dossier.procedure_code", "dossier.applicant.phone",
                                      "new_steps[0].officer"}));
  ASSERT_EQ(Submit(ValidRequest(2, 2, 100)).error_code(), grpc::StatusCode::OK);
  auto bad = ValidRequest(3, 2, 100);
  bad.mutable_new_steps(0)->set_officer(std::string(60, 'a'));
  ASSERT_EQ(Submit(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  httplib::Client cli("127.0.0.1", app_->metrics_port());
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  const std::string& m = res->body;
  EXPECT_TRUE(absl::StrContains(
      m,
      R"(dossiersync_intake_rejected_total{field="dossier.procedure_code",reason="INVALID_FIELD"} 1)"))
      << m;
  EXPECT_TRUE(absl::StrContains(
      m,
      R"(dossiersync_intake_rejected_total{field="new_steps[].officer",reason="INVALID_FIELD"} 1)"))
      << m;
  EXPECT_TRUE(absl::StrContains(
      m, R"(dossiersync_intake_field_violations_total{field="new_steps[].officer"} 2)"))
      << m;
  EXPECT_TRUE(absl::StrContains(
      m, R"(dossiersync_intake_field_violations_total{field="dossier.applicant.phone"} 1)"))
      << m;
  EXPECT_EQ(intake::FieldLabel("dossier.supplements[12].documents[3].name"),
            "dossier.supplements[].documents[].name");
}

// Every accepted revision is kept (oldest first), duplicates once; unknown codes NOT_FOUND.
TEST_F(IntakeGrpcTest, HistoryHoldsEveryAcceptedRevision) {
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());  // a duplicate
  ASSERT_TRUE(Submit(ValidRequest(1, 2, 200)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 4, 300)).ok());
  auto ctx = MakeContext({}, absl::Seconds(10));
  dossiersync::v1::GetDossierRequest g;
  g.set_code(ValidRequest(1, 1, 100).dossier().code());
  dossiersync::v1::DossierHistory h;
  ASSERT_TRUE(stub_->GetDossierHistory(ctx.get(), g, &h).ok());
  ASSERT_EQ(h.revisions_size(), 3);
  EXPECT_EQ(h.revisions(0).revision(), 100);
  EXPECT_EQ(h.revisions(0).status(), 1);
  EXPECT_EQ(h.revisions(2).revision(), 300);
  EXPECT_EQ(h.revisions(2).status(), 4);
  EXPECT_LT(h.revisions(0).change_seq(), h.revisions(2).change_seq());
  EXPECT_TRUE(h.revisions(1).has_changed_at());
  auto ctx2 = MakeContext({}, absl::Seconds(10));
  g.set_code("000.00.13.H37-240705-9999");
  grpc::Status st = stub_->GetDossierHistory(ctx2.get(), g, &h);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(st), "DOSSIER_NOT_FOUND");
}

TEST_F(IntakeGrpcTest, DuplicateIsOkWithFlag) {
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
  SubmitChangeResponse resp;
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100), &resp).ok());
  EXPECT_TRUE(resp.duplicate());
  EXPECT_EQ(resp.revision(), 100);
}

TEST_F(IntakeGrpcTest, StaleRevision) {
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 2, 200)).ok());
  grpc::Status st = Submit(ValidRequest(1, 1, 150));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(st), "STALE_REVISION");
  EXPECT_EQ(MetadataOf(DetailsOf(st), "stored_revision"), "200");
}

TEST_F(IntakeGrpcTest, RevisionConflict) {
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
  auto r = ValidRequest(1, 1, 100);
  r.mutable_dossier()->set_summary("nội dung khác");
  grpc::Status st = Submit(r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Reason(st), "REVISION_CONFLICT");
}

TEST_F(IntakeGrpcTest, IllegalTransitionAndCorrection) {
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 2, 200)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 4, 300)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 9, 400)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 10, 500)).ok());
  grpc::Status st = Submit(ValidRequest(1, 4, 600));  // 10 is terminal
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(st), "ILLEGAL_TRANSITION");
  EXPECT_EQ(MetadataOf(DetailsOf(st), "from"), "10");
  auto fix = ValidRequest(1, 4, 600);
  fix.set_correction(true);
  EXPECT_TRUE(Submit(fix).ok());
}

TEST_F(IntakeGrpcTest, TransitionRulesComeFromConfiguration) {
  auto c = testing::IntakeTestConfig(broker().bootstrap(), dir_.path());
  c.transitions = "1>2";  // 2 -> 4 no longer allowed
  Start(c);
  ASSERT_TRUE(Submit(ValidRequest(2, 1, 100)).ok());
  ASSERT_TRUE(Submit(ValidRequest(2, 2, 200)).ok());
  EXPECT_EQ(Reason(Submit(ValidRequest(2, 4, 300))), "ILLEGAL_TRANSITION");
}

TEST_F(IntakeGrpcTest, StepIdReusedWithDifferentContent) {
  auto r1 = ValidRequest(1, 1, 100);
  r1.mutable_new_steps(0)->set_step_id("s1");
  ASSERT_TRUE(Submit(r1).ok());
  auto r2 = ValidRequest(1, 2, 200);
  r2.mutable_new_steps(0)->set_step_id("s1");
  grpc::Status st = Submit(r2);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(DetailsOf(st)), "new_steps[0].step_id");
  // The same step again, unchanged, is accepted (idempotent) and not stored twice.
  auto r3 = ValidRequest(1, 2, 200);
  *r3.mutable_new_steps(0) = r1.new_steps(0);
  ASSERT_TRUE(Submit(r3).ok());
  dossiersync::v1::GetDossierRequest g;
  g.set_code(r1.dossier().code());
  dossiersync::v1::Dossier d;
  auto ctx = MakeContext({}, absl::Seconds(5));
  ASSERT_TRUE(stub_->GetDossier(ctx.get(), g, &d).ok());
  EXPECT_EQ(d.steps_size(), 1);
}

TEST_F(IntakeGrpcTest, GetDossierReturnsSnapshotWithSteps) {
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
  ASSERT_TRUE(Submit(ValidRequest(1, 2, 200)).ok());
  dossiersync::v1::GetDossierRequest g;
  g.set_code("000.00.13.H37-240705-0001");
  dossiersync::v1::Dossier d;
  auto ctx = MakeContext({}, absl::Seconds(5));
  ASSERT_TRUE(stub_->GetDossier(ctx.get(), g, &d).ok());
  EXPECT_EQ(d.revision(), 200);
  EXPECT_EQ(d.status(), dossiersync::v1::DOSSIER_STATUS_ACCEPTED);
  ASSERT_EQ(d.steps_size(), 2);
  EXPECT_EQ(d.steps(0).step_id(), "r100");
  EXPECT_EQ(d.steps(1).step_id(), "r200");
  g.set_code("000.00.13.H37-240705-9999");
  auto ctx2 = MakeContext({}, absl::Seconds(5));
  grpc::Status st = stub_->GetDossier(ctx2.get(), g, &d);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(st), "DOSSIER_NOT_FOUND");
}

std::vector<dossiersync::v1::Dossier> List(dossiersync::v1::IntakeService::Stub* stub,
                                           const dossiersync::v1::ListDossiersRequest& req,
                                           grpc::Status* status = nullptr) {
  auto ctx = MakeContext({}, absl::Seconds(10));
  auto reader = stub->ListDossiers(ctx.get(), req);
  std::vector<dossiersync::v1::Dossier> out;
  dossiersync::v1::Dossier d;
  while (reader->Read(&d)) out.push_back(d);
  grpc::Status st = reader->Finish();
  if (status) *status = st;
  return out;
}

TEST_F(IntakeGrpcTest, ListDossiersFiltersOrdersAndResumes) {
  for (int i = 1; i <= 25; ++i) ASSERT_TRUE(Submit(ValidRequest(i, 1, 100)).ok());
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(Submit(ValidRequest(i, 2, 200)).ok());
  auto other = ValidRequest(30, 1, 100);
  testing::SetAgency(&other, "000.22.37.H37");
  ASSERT_TRUE(Submit(other).ok());
  dossiersync::v1::ListDossiersRequest req;
  auto all = List(stub_.get(), req);
  ASSERT_EQ(all.size(), 26u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].change_seq(), all[i].change_seq());
  EXPECT_EQ(all.back().code(), other.dossier().code());  // changed last
  req.set_status(dossiersync::v1::DOSSIER_STATUS_ACCEPTED);
  EXPECT_EQ(List(stub_.get(), req).size(), 5u);
  req.clear_status();
  req.set_agency_code("000.22.37.H37");
  EXPECT_EQ(List(stub_.get(), req).size(), 1u);
  // Pages of 10, resumed with the last change_seq.
  req.clear_agency_code();
  req.set_page_size(10);
  std::vector<std::string> codes;
  for (int page = 0; page < 5; ++page) {
    auto got = List(stub_.get(), req);
    for (auto& d : got) codes.push_back(d.code());
    if (got.empty()) break;
    req.set_page_token(absl::StrCat(got.back().change_seq()));
  }
  ASSERT_EQ(codes.size(), 26u);
  for (size_t i = 0; i < codes.size(); ++i) EXPECT_EQ(codes[i], all[i].code());
  req.set_page_token("garbage");
  grpc::Status st;
  List(stub_.get(), req, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(DetailsOf(st)), "page_token");
}

TEST_F(IntakeGrpcTest, ListDossiersByChangeTime) {
  ASSERT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
  absl::Time mid = absl::Now();
  ASSERT_TRUE(testing::WaitFor([&] { return absl::Now() > mid + absl::Milliseconds(5); }));
  ASSERT_TRUE(Submit(ValidRequest(2, 1, 100)).ok());
  dossiersync::v1::ListDossiersRequest req;
  req.mutable_changed_since()->set_seconds(absl::ToUnixSeconds(mid));
  req.mutable_changed_since()->set_nanos(static_cast<int>(absl::ToUnixNanos(mid) % 1000000000));
  auto got = List(stub_.get(), req);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code(), "000.00.13.H37-240705-0002");
  req.clear_changed_since();
  *req.mutable_changed_until() = *(&got[0].changed_at());
  got = List(stub_.get(), req);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code(), "000.00.13.H37-240705-0001");
}

TEST_F(IntakeGrpcTest, StreamWithBadItemsInTheMiddle) {
  auto ctx = MakeContext({}, absl::Seconds(30));
  auto stream = stub_->SubmitChanges(ctx.get());
  std::vector<SubmitChangeRequest> reqs;
  for (int i = 1; i <= 50; ++i) reqs.push_back(ValidRequest(i, 1, 100));
  reqs[10].mutable_dossier()->set_code("nonsense");                                     // invalid
  reqs[20].mutable_dossier()->set_status(dossiersync::v1::DOSSIER_STATUS_UNSPECIFIED);  // invalid
  reqs.push_back(ValidRequest(1, 1, 50));   // stale (rev 100 stored)
  reqs.push_back(ValidRequest(2, 1, 100));  // duplicate
  for (auto& r : reqs) ASSERT_TRUE(stream->Write(r));
  stream->WritesDone();
  std::vector<SubmitChangeResponse> resps;
  SubmitChangeResponse resp;
  while (stream->Read(&resp)) resps.push_back(resp);
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(resps.size(), reqs.size());
  for (size_t i = 0; i < resps.size(); ++i) {
    EXPECT_EQ(resps[i].index(), static_cast<int64_t>(i));
    bool should_fail = i == 10 || i == 20 || i == 50;
    EXPECT_EQ(resps[i].has_error() && resps[i].error().code() != 0, should_fail) << i;
  }
  EXPECT_EQ(FieldOf(resps[10].error()), "dossier.code");
  EXPECT_EQ(FieldOf(resps[20].error()), "dossier.status");
  EXPECT_EQ(ReasonOf(resps[50].error()), "STALE_REVISION");
  EXPECT_TRUE(resps[51].duplicate());
  EXPECT_EQ(resps[49].code(), reqs[49].dossier().code());
}

TEST_F(IntakeGrpcTest, GarbageBytesGetAClearErrorAndTheServerKeepsServing) {
  // A raw call with bytes that are not a SubmitChangeRequest.
  for (const std::string& garbage :
       {std::string("\xff\xff\xff\xff\xff\xff", 6), std::string("\x0a\x05\x01", 3)}) {
    grpc::Status result =
        testing::CallRaw(app_->grpc_port(), "/dossiersync.v1.IntakeService/SubmitChange", garbage);
    EXPECT_EQ(result.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << result.error_message();
    EXPECT_EQ(FieldOf(DetailsOf(result)), "request");
    EXPECT_NE(result.error_message().find("dossiersync.v1.SubmitChangeRequest"), std::string::npos);
  }
  EXPECT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
}

// Writes raw items on a SubmitChanges stream and collects the raw responses.
class RawStream : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RawStream(std::vector<std::string> items) : items_(std::move(items)) {}
  void Start() {
    StartRead(&in_);
    Next();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (ok) Next();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    SubmitChangeResponse r;
    grpc::ProtoBufferReader reader(&in_);
    r.ParseFromZeroCopyStream(&reader);
    responses.push_back(r);
    StartRead(&in_);
  }
  void OnDone(const grpc::Status& s) override {
    status = s;
    done.Notify();
  }
  std::vector<SubmitChangeResponse> responses;
  grpc::Status status;
  absl::Notification done;

 private:
  void Next() {
    if (pos_ == items_.size()) {
      StartWritesDone();
      return;
    }
    grpc::Slice slice(items_[pos_++]);
    out_ = grpc::ByteBuffer(&slice, 1);
    StartWrite(&out_);
  }
  std::vector<std::string> items_;
  size_t pos_ = 0;
  grpc::ByteBuffer out_, in_;
};

TEST_F(IntakeGrpcTest, GarbageItemInAStreamGetsItsOwnErrorAndTheStreamGoesOn) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", app_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  RawStream stream({ValidRequest(1, 1, 100).SerializeAsString(), std::string("\xff\xfe\xfd", 3),
                    ValidRequest(2, 1, 100).SerializeAsString()});
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  generic.PrepareBidiStreamingCall(&ctx, "/dossiersync.v1.IntakeService/SubmitChanges",
                                   grpc::StubOptions(), &stream);
  stream.Start();
  stream.done.WaitForNotification();
  ASSERT_TRUE(stream.status.ok()) << stream.status.error_message();
  ASSERT_EQ(stream.responses.size(), 3u);
  EXPECT_FALSE(stream.responses[0].has_error());
  EXPECT_EQ(stream.responses[1].error().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(FieldOf(stream.responses[1].error()), "request");
  EXPECT_FALSE(stream.responses[2].has_error());
  EXPECT_EQ(stream.responses[2].code(), "000.00.13.H37-240705-0002");
}

TEST_F(IntakeGrpcTest, OversizedRequestsAreRejected) {
  auto r = ValidRequest(1, 1, 100);
  for (int i = 0; i < 2300; ++i)
    r.mutable_dossier()->add_attachments()->set_name(std::string(1900, 'x'));
  grpc::Status st = Submit(r);  // ~4.4 MB: over the intake limit, under the transport limit
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(DetailsOf(st)), "request");
  for (int i = 0; i < 8000; ++i)
    r.mutable_dossier()->add_attachments()->set_name(std::string(1900, 'x'));
  st = Submit(r);  // ~20 MB: refused by the transport
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Submit(ValidRequest(1, 1, 100)).ok());
}

class IntakeAuthTest : public IntakeGrpcTest {
 protected:
  void SetUp() override {
    std::string tokens = dir_.File("tokens");
    FILE* f = fopen(tokens.c_str(), "w");
    fputs(
        "portal-tp portal tok-tuphap-0123456789 000.00.13.H37\n"
        "portal-all portal tok-allagencies-0123456789\n"
        "ops operator tok-operator-0123456789\n",
        f);
    fclose(f);
    auto c = testing::IntakeTestConfig(broker().bootstrap(), dir_.path());
    c.server.auth_tokens_file = tokens;
    Start(c);
  }
};

TEST_F(IntakeAuthTest, NoTokenIsUnauthenticated) {
  grpc::Status st = Submit(ValidRequest(1, 1, 100));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(st), "MISSING_TOKEN");
}

TEST_F(IntakeAuthTest, WrongTokenIsUnauthenticated) {
  grpc::Status st = Submit(ValidRequest(1, 1, 100), nullptr, "tok-wrong-0123456789");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reason(st), "BAD_TOKEN");
}

TEST_F(IntakeAuthTest, TokenLimitedToItsAgencies) {
  EXPECT_TRUE(Submit(ValidRequest(1, 1, 100), nullptr, "tok-tuphap-0123456789").ok());
  auto r = ValidRequest(2, 1, 100);
  testing::SetAgency(&r, "000.22.37.H37");
  grpc::Status st = Submit(r, nullptr, "tok-tuphap-0123456789");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(st), "AGENCY_NOT_ALLOWED");
  EXPECT_TRUE(Submit(r, nullptr, "tok-allagencies-0123456789").ok());
}

TEST(IntakeConfigTest, RefusesPlaintextWithoutAllowInsecure) {
  intake::IntakeConfig c;
  c.kafka_brokers = "127.0.0.1:9092";
  absl::Status st = c.Validate();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--allow_insecure"), absl::string_view::npos);
}

TEST(IntakeConfigTest, RequiresBrokers) {
  intake::IntakeConfig c;
  c.server.allow_insecure = true;
  EXPECT_NE(c.Validate().message().find("--kafka_brokers"), absl::string_view::npos);
}

TEST(IntakeConfigTest, RejectsAnOutOfRangeCache) {
  intake::IntakeConfig c;
  c.server.allow_insecure = true;
  c.kafka_brokers = "127.0.0.1:9092";
  EXPECT_TRUE(c.Validate().ok());
  c.sqlite_cache_mb = -1;
  EXPECT_NE(c.Validate().message().find("--sqlite_cache_mb"), absl::string_view::npos);
  c.sqlite_cache_mb = 5000;
  EXPECT_NE(c.Validate().message().find("--sqlite_cache_mb"), absl::string_view::npos);
}

TEST(IntakeConfigTest, RejectsBadTransitions) {
  intake::IntakeConfig c;
  c.server.allow_insecure = true;
  c.kafka_brokers = "127.0.0.1:9092";
  c.transitions = "1>x";
  EXPECT_NE(c.Validate().message().find("--transitions"), absl::string_view::npos);
}

}  // namespace
}  // namespace dossiersync
