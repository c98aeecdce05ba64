// One test per stateless validation rule of SPEC §4: each asserts INVALID_ARGUMENT, the field in
// google.rpc.BadRequest (and that it is the only violation) and the INVALID_FIELD reason; then
// that a request breaking several rules gets them all in one BadRequest.
#include "services/intake/validator.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace dossiersync::intake {
namespace {

using dossiersync::testing::ValidRequest;
using dossiersync::v1::SubmitChangeRequest;
using google::protobuf::util::TimeUtil;

class ValidatorTest : public ::testing::Test {
 protected:
  absl::Status Check(const SubmitChangeRequest& r) { return ValidateRequest(r, config_, now_); }
  void ExpectField(const SubmitChangeRequest& r, const std::string& field) {
    absl::Status st = Check(r);
    ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    google::rpc::Status details = ToRpcStatus(st);
    EXPECT_EQ(FieldOf(details), field) << st;
    EXPECT_EQ(FieldsOf(details), std::vector<std::string>{field}) << st;
    EXPECT_EQ(ReasonOf(details), "INVALID_FIELD");
  }
  google::protobuf::Timestamp At(absl::Duration from_now) {
    return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now_ + from_now));
  }
  ValidatorConfig config_;
  absl::Time now_ = absl::Now();
};

TEST_F(ValidatorTest, AcceptsValidRequestsForEveryStatus) {
  for (int s = 1; s <= 10; ++s) EXPECT_TRUE(Check(ValidRequest(1, s, 100)).ok()) << s;
}

TEST_F(ValidatorTest, MissingDossier) { ExpectField(SubmitChangeRequest(), "dossier"); }

TEST_F(ValidatorTest, DossierCodeShape) {
  for (const char* bad :
       {"", "000.00.13.H37-240705", "000.00.13.H37-240705-001", "00.00.13.H37-240705-0001",
        "000.00.13.H37-241305-0001", "000.00.13.H37-240230-0001", "000.00.13.H37-240705-00a1",
        "000.00.13.H37_240705_0001"}) {
    auto r = ValidRequest(1, 2, 1);
    r.mutable_dossier()->set_code(bad);
    ExpectField(r, "dossier.code");
  }
}

TEST_F(ValidatorTest, DossierCodeOutsideProvince) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->set_code("000.00.13.H49-240705-0001");
  ExpectField(r, "dossier.code");
  config_.province_code = "H49";
  ExpectField(r, "dossier.code");  // now in the province, but not the dossier's agency
  r.mutable_dossier()->set_agency_code("000.00.13.H49");
  EXPECT_TRUE(Check(r).ok());
}

TEST_F(ValidatorTest, CodeAgencyPartIsTheDossiersAgency) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->set_agency_code("000.00.09.H37");
  ExpectField(r, "dossier.code");
  EXPECT_NE(Check(r).message().find("000.00.09.H37"), absl::string_view::npos);
  config_.code_agency_must_match = false;  // inter-agency setups
  EXPECT_TRUE(Check(r).ok());
}

TEST_F(ValidatorTest, EveryViolationInOneBadRequest) {
  auto r = ValidRequest(1, 10, 0);
  auto* d = r.mutable_dossier();
  d->set_procedure_code("1.00123");
  d->clear_agency_name();
  d->clear_returned_at();
  d->mutable_applicant()->set_email("not-an-email");
  r.mutable_new_steps(0)->clear_step_id();
  r.mutable_new_steps(0)->set_officer(std::string(51, 'a'));
  absl::Status st = Check(r);
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  google::rpc::Status details = ToRpcStatus(st);
  EXPECT_EQ(
      FieldsOf(details),
      (std::vector<std::string>{"dossier.procedure_code", "dossier.revision", "dossier.agency_name",
                                "dossier.applicant.email", "dossier.returned_at",
                                "new_steps[0].step_id", "new_steps[0].officer"}));
  EXPECT_EQ(MetadataOf(details, "violations"), "7");
  EXPECT_NE(st.message().find("and 4 more"), absl::string_view::npos) << st;
}

TEST_F(ValidatorTest, ViolationsAreBoundedAndCounted) {
  auto r = ValidRequest(1, 2, 1);
  for (int i = 0; i < 300; ++i)
    r.mutable_dossier()->add_attachments()->set_name(std::string(4001, 'a'));
  absl::Status st = Check(r);
  google::rpc::Status details = ToRpcStatus(st);
  EXPECT_EQ(FieldsOf(details).size(), FieldViolations::kMax);
  EXPECT_EQ(MetadataOf(details, "violations"), "300");
  EXPECT_NE(st.message().find("200 further violations not listed"), absl::string_view::npos);
}

TEST_F(ValidatorTest, BusinessesAreIdentifiedByTaxCode) {
  auto business = [](const char* id, dossiersync::v1::IdKind kind) {
    auto r = ValidRequest(1, 2, 1);
    auto* a = r.mutable_dossier()->mutable_applicant();
    a->set_kind(dossiersync::v1::APPLICANT_KIND_BUSINESS);
    a->set_id_number(id);
    a->set_id_kind(kind);
    return r;
  };
  EXPECT_TRUE(Check(business("4900123456", dossiersync::v1::ID_KIND_ENTERPRISE)).ok());
  EXPECT_TRUE(Check(business("4900123456-001", dossiersync::v1::ID_KIND_ENTERPRISE)).ok());
  EXPECT_TRUE(Check(business("4900123456", dossiersync::v1::ID_KIND_UNSPECIFIED)).ok());
  for (const char* bad : {"020123456789", "490012345", "4900123456-01", "4900123456_001"}) {
    ExpectField(business(bad, dossiersync::v1::ID_KIND_ENTERPRISE), "dossier.applicant.id_number");
  }
  ExpectField(business("4900123456", dossiersync::v1::ID_KIND_CCCD), "dossier.applicant.id_kind");
  auto r = business("4900123456", dossiersync::v1::ID_KIND_ENTERPRISE);
  r.mutable_dossier()->mutable_applicant()->set_kind(
      dossiersync::v1::APPLICANT_KIND_OTHER_ORGANISATION);
  EXPECT_TRUE(Check(r).ok());
  // Citizens still need CCCD or CMND.
  r.mutable_dossier()->mutable_applicant()->set_kind(dossiersync::v1::APPLICANT_KIND_CITIZEN);
  ExpectField(r, "dossier.applicant.id_kind");
  r.mutable_dossier()->mutable_applicant()->set_id_kind(dossiersync::v1::ID_KIND_UNSPECIFIED);
  ExpectField(r, "dossier.applicant.id_number");
}

TEST_F(ValidatorTest, ScoredFields) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->set_online_payment(static_cast<dossiersync::v1::OnlinePayment>(4));
  ExpectField(r, "dossier.online_payment");
  r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->add_national_databases(" ");
  ExpectField(r, "dossier.national_databases[0]");
  r = ValidRequest(1, 5, 1);
  auto* s = r.mutable_dossier()->add_supplements();
  s->set_content("Bổ sung");
  ExpectField(r, "dossier.supplements[0].requested_at");
  *s->mutable_requested_at() = r.dossier().received_at();
  EXPECT_TRUE(Check(r).ok());
  *s->mutable_completed_at() = r.dossier().submitted_at();
  ExpectField(r, "dossier.supplements[0].completed_at");
  s->clear_completed_at();
  s->add_documents()->set_name(std::string(4001, 'a'));
  ExpectField(r, "dossier.supplements[0].documents[0].name");
  s->clear_documents();
  s->add_fees()->set_amount_vnd(-1);
  ExpectField(r, "dossier.supplements[0].fees[0].amount_vnd");
}

TEST_F(ValidatorTest, AgencyCodeShape) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->set_agency_code("000.00.13.37");
  ExpectField(r, "dossier.agency_code");
}

TEST_F(ValidatorTest, ProcedureCodeShape) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->set_procedure_code("1.00123");
  ExpectField(r, "dossier.procedure_code");
}

TEST_F(ValidatorTest, StatusZeroOrOutOfRange) {
  for (int s : {0, 11, -1, 99}) {
    auto r = ValidRequest(1, 2, 1);
    r.mutable_dossier()->set_status(static_cast<dossiersync::v1::DossierStatus>(s));
    ExpectField(r, "dossier.status");
  }
}

TEST_F(ValidatorTest, RevisionMustBePositive) {
  ExpectField(ValidRequest(1, 2, 0), "dossier.revision");
}

TEST_F(ValidatorTest, RequiredDvcqgFields) {
  struct Case {
    void (*clear)(dossiersync::v1::Dossier*);
    const char* field;
  };
  const Case cases[] = {
      {[](dossiersync::v1::Dossier* d) { d->clear_procedure_name(); }, "dossier.procedure_name"},
      {[](dossiersync::v1::Dossier* d) { d->clear_field_code(); }, "dossier.field_code"},
      {[](dossiersync::v1::Dossier* d) { d->set_field_name("  "); }, "dossier.field_name"},
      {[](dossiersync::v1::Dossier* d) { d->clear_agency_name(); }, "dossier.agency_name"},
      {[](dossiersync::v1::Dossier* d) { d->mutable_applicant()->clear_kind(); },
       "dossier.applicant.kind"},
  };
  for (const Case& c : cases) {
    auto r = ValidRequest(1, 2, 1);
    c.clear(r.mutable_dossier());
    ExpectField(r, c.field);
  }
}

TEST_F(ValidatorTest, TimestampRequiredByStatus) {
  auto r = ValidRequest(1, 4, 1);
  r.mutable_dossier()->clear_received_at();
  ExpectField(r, "dossier.received_at");
  r = ValidRequest(1, 9, 1);
  r.mutable_dossier()->clear_finished_at();
  ExpectField(r, "dossier.finished_at");
  r = ValidRequest(1, 10, 1);
  r.mutable_dossier()->clear_returned_at();
  ExpectField(r, "dossier.returned_at");
  r = ValidRequest(1, 3, 1);
  r.mutable_dossier()->clear_refused_at();
  ExpectField(r, "dossier.refused_at");
  r = ValidRequest(1, 1, 1);  // submitted: no received date needed
  EXPECT_TRUE(Check(r).ok());
}

TEST_F(ValidatorTest, TimestampOrder) {
  auto before = [](const google::protobuf::Timestamp& t) {
    google::protobuf::Timestamp b = t;
    b.set_seconds(t.seconds() - 3600);
    return b;
  };
  auto r = ValidRequest(1, 2, 1);
  *r.mutable_dossier()->mutable_due_at() = before(r.dossier().received_at());
  ExpectField(r, "dossier.due_at");
  r = ValidRequest(1, 2, 1);
  *r.mutable_dossier()->mutable_received_at() = before(r.dossier().submitted_at());
  ExpectField(r, "dossier.received_at");
  r = ValidRequest(1, 10, 1);
  *r.mutable_dossier()->mutable_returned_at() = before(r.dossier().finished_at());
  ExpectField(r, "dossier.returned_at");
  r = ValidRequest(1, 9, 1);
  *r.mutable_dossier()->mutable_finished_at() = before(r.dossier().received_at());
  ExpectField(r, "dossier.finished_at");
  r = ValidRequest(1, 3, 1);
  *r.mutable_dossier()->mutable_refused_at() = before(r.dossier().submitted_at());
  ExpectField(r, "dossier.refused_at");
}

TEST_F(ValidatorTest, TimestampInTheFuture) {
  auto r = ValidRequest(1, 2, 1);
  *r.mutable_dossier()->mutable_received_at() = At(absl::Minutes(6));
  *r.mutable_dossier()->mutable_due_at() = At(absl::Hours(24));
  ExpectField(r, "dossier.received_at");
  *r.mutable_dossier()->mutable_received_at() = At(absl::Minutes(4));  // within the skew
  EXPECT_TRUE(Check(r).ok());
  r = ValidRequest(1, 2, 1);
  *r.mutable_new_steps(0)->mutable_occurred_at() = At(absl::Hours(1));
  ExpectField(r, "new_steps[0].occurred_at");
}

TEST_F(ValidatorTest, DueDateMayBeInTheFuture) {
  auto r = ValidRequest(1, 2, 1);
  *r.mutable_dossier()->mutable_due_at() = At(absl::Hours(24 * 30));
  EXPECT_TRUE(Check(r).ok());
}

TEST_F(ValidatorTest, TextOverDvcqgLimits) {
  auto r = ValidRequest(1, 2, 1);
  std::string s1000;
  for (int i = 0; i < 1000; ++i) s1000 += "ệ";  // 1,000 characters, 3,000 bytes
  r.mutable_dossier()->set_summary(s1000);
  EXPECT_TRUE(Check(r).ok()) << "the limit counts characters, not bytes";
  r.mutable_dossier()->set_summary(s1000 + "a");
  ExpectField(r, "dossier.summary");
  r = ValidRequest(1, 2, 1);
  r.mutable_new_steps(0)->set_officer(std::string(51, 'a'));
  ExpectField(r, "new_steps[0].officer");
  r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->add_result_documents()->set_name(std::string(2001, 'a'));
  ExpectField(r, "dossier.result_documents[0].name");
  r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->add_attachments()->set_name(std::string(4001, 'a'));
  ExpectField(r, "dossier.attachments[0].name");
  r = ValidRequest(1, 2, 1);
  r.mutable_new_steps(0)->set_content(std::string(2001, 'a'));
  ExpectField(r, "new_steps[0].content");
}

TEST_F(ValidatorTest, InvalidUtf8) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->set_other_info(std::string("\xC3\x28", 2));
  ExpectField(r, "dossier.other_info");
}

TEST_F(ValidatorTest, IdNumberDigits) {
  for (const char* bad : {"12345678901", "1234567890123", "02012345678x", "12345678"}) {
    auto r = ValidRequest(1, 2, 1);
    r.mutable_dossier()->mutable_applicant()->set_id_number(bad);
    ExpectField(r, "dossier.applicant.id_number");
  }
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->mutable_applicant()->set_id_kind(dossiersync::v1::ID_KIND_CMND);
  ExpectField(r, "dossier.applicant.id_number");  // 12 digits with kind CMND
  r.mutable_dossier()->mutable_applicant()->set_id_number("123456789");
  EXPECT_TRUE(Check(r).ok());
}

TEST_F(ValidatorTest, StepWithoutId) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_new_steps(0)->clear_step_id();
  ExpectField(r, "new_steps[0].step_id");
}

TEST_F(ValidatorTest, StepIdReusedWithDifferentContentInOneRequest) {
  auto r = ValidRequest(1, 2, 1);
  *r.add_new_steps() = r.new_steps(0);
  EXPECT_TRUE(Check(r).ok()) << "an identical repeat is harmless";
  r.mutable_new_steps(1)->set_content("khác");
  ExpectField(r, "new_steps[1].step_id");
}

TEST_F(ValidatorTest, TooManyStepsInOneChange) {
  auto r = ValidRequest(1, 2, 1);
  for (int i = 0; i < 1000; ++i) {
    auto* s = r.add_new_steps();
    *s = r.new_steps(0);
    s->set_step_id("x" + std::to_string(i));
  }
  ExpectField(r, "new_steps");
}

TEST_F(ValidatorTest, IdenticalRepeatedStepsAreAccepted) {
  // 1,000 steps sharing one id with identical content: a harmless repeat.
  auto r = ValidRequest(1, 2, 1);
  for (int i = 0; i < 999; ++i) *r.add_new_steps() = r.new_steps(0);
  EXPECT_TRUE(Check(r).ok());
}

TEST_F(ValidatorTest, StepStatusAndTime) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_new_steps(0)->set_status(dossiersync::v1::DOSSIER_STATUS_UNSPECIFIED);
  ExpectField(r, "new_steps[0].status");
  r = ValidRequest(1, 2, 1);
  r.mutable_new_steps(0)->clear_occurred_at();
  ExpectField(r, "new_steps[0].occurred_at");
}

TEST_F(ValidatorTest, MessageOver4MiB) {
  auto r = ValidRequest(1, 2, 1);
  for (int i = 0; i < 2200; ++i) {
    auto* a = r.mutable_dossier()->add_attachments();
    a->set_name(std::string(1900, 'x'));
  }
  ASSERT_GT(r.ByteSizeLong(), 4u * 1024 * 1024);
  ExpectField(r, "request");
}

TEST_F(ValidatorTest, ContactFields) {
  auto r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->mutable_applicant()->set_email("not-an-email");
  ExpectField(r, "dossier.applicant.email");
  r = ValidRequest(1, 2, 1);
  r.mutable_dossier()->mutable_applicant()->set_phone("09-12");
  ExpectField(r, "dossier.applicant.phone");
}

TEST(Utf8LengthTest, CountsCodePoints) {
  EXPECT_EQ(Utf8Length("Lạng Sơn"), 8);
  EXPECT_EQ(Utf8Length(""), 0);
  EXPECT_EQ(Utf8Length(std::string("\xE1\xBA", 2)), -1);
}

TEST(ValidatorConfigTest, ProvinceCodeShape) {
  ValidatorConfig c;
  c.province_code = "37";
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
  c.province_code = "H37";
  EXPECT_TRUE(c.Validate().ok());
}

}  // namespace
}  // namespace dossiersync::intake
