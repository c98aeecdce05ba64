#include "tools/dossierctl/workload.h"

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::tools {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::ProgressStep;
using dossiersync::v1::SubmitChangeRequest;
using google::protobuf::util::TimeUtil;

struct Agency {
  const char* code;
  const char* name;
};
const Agency kAgencies[] = {
    {"000.00.13.H37", "Sở Tư pháp tỉnh Lạng Sơn"},
    {"000.00.09.H37", "Sở Kế hoạch và Đầu tư tỉnh Lạng Sơn"},
    {"000.00.15.H37", "Sở Tài nguyên và Môi trường tỉnh Lạng Sơn"},
    {"000.00.11.H37", "Sở Giao thông Vận tải tỉnh Lạng Sơn"},
    {"000.00.17.H37", "Sở Y tế tỉnh Lạng Sơn"},
    {"000.21.37.H37", "UBND thành phố Lạng Sơn"},
    {"000.22.37.H37", "UBND huyện Cao Lộc"},
    {"000.23.37.H37", "UBND huyện Văn Lãng"},
    {"000.24.37.H37", "UBND huyện Tràng Định"},
    {"000.25.37.H37", "UBND huyện Bình Gia"},
    {"000.26.37.H37", "UBND huyện Văn Quan"},
    {"000.27.37.H37", "UBND huyện Bắc Sơn"},
    {"000.28.37.H37", "UBND huyện Hữu Lũng"},
    {"000.29.37.H37", "UBND huyện Chi Lăng"},
    {"000.30.37.H37", "UBND huyện Lộc Bình"},
    {"000.31.37.H37", "UBND huyện Đình Lập"},
};

struct Procedure {
  const char* code;
  const char* name;
  const char* field_code;
  const char* field_name;
  int fee_vnd;
};
const Procedure kProcedures[] = {
    {"1.001193", "Đăng ký khai sinh", "HT", "Hộ tịch", 0},
    {"1.000656", "Đăng ký kết hôn", "HT", "Hộ tịch", 0},
    {"2.000908", "Cấp bản sao trích lục hộ tịch", "HT", "Hộ tịch", 8000},
    {"1.001612", "Đăng ký thành lập hộ kinh doanh", "HKD",
     "Thành lập và hoạt động của hộ kinh doanh", 100000},
    {"1.001279", "Đăng ký thành lập doanh nghiệp tư nhân", "DN",
     "Thành lập và hoạt động doanh nghiệp", 50000},
    {"2.001199", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "XD", "Hoạt động xây dựng", 75000},
    {"1.004227", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", "DD",
     "Đất đai", 30000},
    {"1.005197", "Cấp đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "DB", "Đường bộ",
     135000},
    {"1.002425", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "LLTP", "Lý lịch tư pháp",
     200000},
    {"2.000794", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "CT", "Chứng thực", 2000},
};

const char* kSurnames[] = {"Hoàng", "Nông", "Lương", "Vi",  "Lăng", "Nguyễn",
                           "Trần",  "Lý",   "Đinh",  "Chu", "Hà",   "Mông"};
const char* kMiddles[] = {"Văn", "Thị", "Đức", "Minh", "Thu", "Hồng", "Quang", "Ngọc"};
const char* kGivens[] = {"An",  "Bình", "Cường",  "Dung", "Hạnh", "Khánh", "Linh",
                         "Mai", "Nam",  "Phương", "Sơn",  "Thảo", "Tuấn",  "Yến"};
const char* kOfficers[] = {"Hoàng Thị Lan", "Nông Văn Quý", "Lương Minh Hải", "Vi Thị Hoa",
                           "Chu Đức Thắng"};

// A status path (after submission); the dossier starts at 1 (online) or 2 (at the counter).
std::vector<int> PathFor(double r) {
  if (r < 0.85) return {1, 2, 4, 9, 10};
  if (r < 0.895) return {1, 2, 4, 5, 4, 9, 10};
  if (r < 0.90) return {1, 2, 4, 5, 4, 5, 4, 9, 10};  // a second supplement request
  if (r < 0.93) return {1, 2, 4, 6, 4, 9, 10};
  if (r < 0.96) return {1, 3};
  if (r < 0.97) return {1, 7};
  if (r < 0.98) return {1, 2, 4, 7};
  if (r < 0.99) return {1, 2, 4, 8};
  return {1, 2, 9, 10};  // simple procedures finished on the day
}

const char* StepContent(int status) {
  switch (status) {
    case 1:
      return "Công dân nộp hồ sơ trực tuyến";
    case 2:
      return "Tiếp nhận hồ sơ, kiểm tra thành phần hợp lệ";
    case 3:
      return "Từ chối tiếp nhận: hồ sơ không thuộc thẩm quyền giải quyết";
    case 4:
      return "Chuyển phòng chuyên môn thẩm định, xử lý hồ sơ";
    case 5:
      return "Yêu cầu công dân bổ sung giấy tờ còn thiếu";
    case 6:
      return "Thông báo nộp phí, lệ phí theo quy định";
    case 7:
      return "Công dân đề nghị rút hồ sơ";
    case 8:
      return "Dừng xử lý theo đề nghị của cơ quan có thẩm quyền";
    case 9:
      return "Hoàn thành xử lý, chờ trả kết quả";
    case 10:
      return "Trả kết quả cho công dân";
  }
  return "";
}

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

}  // namespace

std::vector<SubmitChangeRequest> Workload::Lifecycle(int64_t index) const {
  std::mt19937_64 rng(o_.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(index));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto pick = [&](auto& arr) -> auto& { return arr[rng() % (sizeof(arr) / sizeof(arr[0]))]; };
  const Agency& ag = pick(kAgencies);
  const Procedure& pr = pick(kProcedures);
  bool online = u(rng) < o_.online_share;
  std::vector<int> path = PathFor(u(rng));
  if (!online && path.size() > 1 && path[1] == 2)
    path.erase(path.begin());  // received at the counter
  // Times: submission 10-30 days ago; each change 1-24 hours after the previous one.
  absl::Time t =
      o_.now - absl::Hours(24 * 10) - absl::Seconds(static_cast<int64_t>(u(rng) * 86400 * 20));
  absl::Time submitted = t;

  Dossier d;
  d.set_code(absl::StrFormat("%s-%s-%04d", ag.code,
                             absl::FormatTime("%y%m%d", submitted, absl::FixedTimeZone(7 * 3600)),
                             index + 1));
  d.set_procedure_code(pr.code);
  d.set_procedure_name(pr.name);
  d.set_field_code(pr.field_code);
  d.set_field_name(pr.field_name);
  d.set_agency_code(ag.code);
  d.set_agency_name(ag.name);
  auto* a = d.mutable_applicant();
  a->set_name(absl::StrCat(pick(kSurnames), " ", pick(kMiddles), " ", pick(kGivens)));
  a->set_kind(u(rng) < 0.9 ? dossiersync::v1::APPLICANT_KIND_CITIZEN
                           : dossiersync::v1::APPLICANT_KIND_BUSINESS);
  a->set_id_kind(dossiersync::v1::ID_KIND_CCCD);
  a->set_id_number(absl::StrFormat("020%09d", rng() % 1000000000));
  a->set_phone(absl::StrFormat("09%08d", rng() % 100000000));
  if (online) {
    a->set_email(absl::StrFormat("congdan%d@example.vn", index));
    a->set_account_id(absl::StrFormat("DVCQG-%010d", rng() % 10000000000ULL));
  }
  // The fields the national scoring reads, from a second stream so that the draws above stay as
  // they were. Shares [assumed, documented in docs/DVCQG.md]: businesses by tax code (a tenth of
  // them branches); 70% of online accounts verified with VNeID, half of those drawing on the
  // population database; 90% of attachments digitised, 15% taken from the national warehouse,
  // 10% reused; 60% of online dossiers with a fee paid online (two thirds through DVCQG's
  // platform, the rest the province's gateway).
  std::mt19937_64 scored(rng() ^ 0xD1B54A32D192ED03ULL);
  std::uniform_real_distribution<double> v(0.0, 1.0);
  if (a->kind() == dossiersync::v1::APPLICANT_KIND_BUSINESS) {
    a->set_id_kind(dossiersync::v1::ID_KIND_ENTERPRISE);
    a->set_id_number(v(scored) < 0.1
                         ? absl::StrFormat("49%08d-%03d", scored() % 100000000, scored() % 1000)
                         : absl::StrFormat("49%08d", scored() % 100000000));
  }
  if (online && v(scored) < 0.7) {
    a->set_vneid_verified(true);
    if (a->kind() == dossiersync::v1::APPLICANT_KIND_CITIZEN && v(scored) < 0.5) {
      d.add_national_databases(std::string(kPopulationDatabase));
    }
  }
  d.set_summary(absl::StrCat(pr.name, " - ", a->name()));
  d.set_channel(online ? dossiersync::v1::CHANNEL_ONLINE : dossiersync::v1::CHANNEL_IN_PERSON);
  d.set_result_delivery(u(rng) < 0.8 ? dossiersync::v1::RESULT_DELIVERY_AT_OFFICE
                                     : dossiersync::v1::RESULT_DELIVERY_BY_POST);
  *d.mutable_submitted_at() = Ts(submitted);
  d.set_receipt_number(absl::StrFormat("BN-%07d", index + 1));
  auto* att = d.add_attachments();
  att->set_id(absl::StrCat("TL", index, "-1"));
  att->set_name("To khai.pdf");
  att->set_component_code("TP01");
  att->set_url(absl::StrCat("https://dichvucong.langson.gov.vn/files/", d.code(), "/to-khai.pdf"));
  att->set_digitised(v(scored) < 0.9);
  att->set_from_national_warehouse(att->digitised() && v(scored) < 0.15);
  att->set_reused(att->digitised() && v(scored) < 0.1);
  d.set_has_digitised_components(att->digitised());
  if (online && pr.fee_vnd > 0 && v(scored) < 0.6) {
    d.set_online_payment(v(scored) < 2.0 / 3 ? dossiersync::v1::ONLINE_PAYMENT_NATIONAL_PLATFORM
                                             : dossiersync::v1::ONLINE_PAYMENT_PROVINCIAL_GATEWAY);
  }
  if (pr.fee_vnd > 0) {
    auto* fee = d.add_fees();
    fee->set_code("LP01");
    fee->set_name("Lệ phí giải quyết thủ tục");
    fee->set_amount_vnd(pr.fee_vnd);
    fee->set_collection_method(online ? "Trực tuyến" : "Tại quầy");
    fee->set_kind("1");
  }
  bool late = u(rng) >= o_.on_time_share;

  std::vector<SubmitChangeRequest> out;
  SubmitChangeRequest pending;  // accumulates steps in backfill mode
  for (size_t k = 0; k < path.size(); ++k) {
    int status = path[k];
    if (k > 0) t += absl::Seconds(3600 + static_cast<int64_t>(u(rng) * 23 * 3600));
    t = std::min(t, o_.now - absl::Minutes(1));
    if (status == 2 || (k == 0 && !online)) {
      *d.mutable_received_at() = Ts(t);
      *d.mutable_due_at() = Ts(t + absl::Hours(24 * 15));
    }
    if (status == 9 && late) {
      t = std::max(
          t, absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(d.due_at())) + absl::Hours(1));
      t = std::min(t, o_.now - absl::Minutes(5));
    }
    if (status == 9) *d.mutable_finished_at() = Ts(t);
    if (status == 10) *d.mutable_returned_at() = Ts(t);
    if (status == 3) *d.mutable_refused_at() = Ts(t);
    if (status == 5) {
      auto* s = d.add_supplements();
      s->set_id(absl::StrCat("BS", k));
      s->set_content("Bổ sung bản sao giấy tờ tùy thân có chứng thực");
      s->set_requested_by(pick(kOfficers));
      *s->mutable_requested_at() = Ts(t);
      *s->mutable_previous_due_at() = d.due_at();
    }
    if (status == 4 && k > 0 && path[k - 1] == 5) {
      // The supplement arrived: the clock restarts with a new due date.
      auto* s = d.mutable_supplements(d.supplements_size() - 1);
      *s->mutable_completed_at() = Ts(t);
      s->set_received_by("Bộ phận Một cửa");
      s->set_reception_info("Đã nhận đủ giấy tờ bổ sung");
      *s->mutable_new_due_at() = Ts(t + absl::Hours(24 * 15));
      *d.mutable_due_at() = s->new_due_at();
    }
    if (status == 10 && d.result_documents_size() == 0) {
      auto* r = d.add_result_documents();
      r->set_id(absl::StrCat("KQ", index));
      r->set_name(absl::StrCat("Kết quả: ", pr.name));
      r->set_component_code("KQ01");
      r->set_url(absl::StrCat("https://dichvucong.langson.gov.vn/ketqua/", d.code(), ".pdf"));
      r->set_result_code(absl::StrCat("KQ.", pr.code, ".", index));
    }
    d.set_status(static_cast<dossiersync::v1::DossierStatus>(status));
    d.set_revision(absl::ToUnixMillis(t) + static_cast<int64_t>(k));
    ProgressStep step;
    step.set_step_id(absl::StrCat("s", k + 1));
    step.set_officer(k == 0 && online ? a->name() : pick(kOfficers));
    step.set_officer_title(k == 0 && online ? "Công dân" : "Chuyên viên");
    step.set_department(k == 0 ? "Bộ phận Một cửa" : "Phòng chuyên môn");
    step.set_content(StepContent(status));
    step.set_status(static_cast<dossiersync::v1::DossierStatus>(status));
    *step.mutable_occurred_at() = Ts(t);
    *step.mutable_started_at() = Ts(t);
    if (o_.backfill) {
      *pending.add_new_steps() = std::move(step);
      continue;
    }
    SubmitChangeRequest req;
    *req.mutable_dossier() = d;
    *req.add_new_steps() = std::move(step);
    out.push_back(std::move(req));
  }
  if (o_.backfill) {
    *pending.mutable_dossier() = d;
    out.push_back(std::move(pending));
  }
  return out;
}

}  // namespace dossiersync::tools
