// The mapping between our Dossier / ProgressStep and DVCQG JSON (reference/dvcqg.md §4-§6).
//
// Rules: every scalar is a JSON string (numbers and flags included); dates are yyyyMMddHHmmss in
// Asia/Ho_Chi_Minh (UTC+7, no daylight saving) and an absent date is ""; code tables
// (LoaiDoiTuong, KenhThucHien, HinhThuc, LoaiDinhDanh) as in the reference; text over a DVCQG limit
// is truncated to the limit in characters (Unicode code points, never inside a UTF-8 sequence),
// without an ellipsis. Intake already rejects over-long text, so truncation only guards data that
// reached us another way; it is counted in `MappingStats`.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_COMMON_DVCQG_MAPPING_H_
#define DOSSIERSYNC_COMMON_DVCQG_MAPPING_H_

#include <array>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dossiersync/v1/dossier.pb.h"
#include "nlohmann/json.hpp"

namespace dossiersync::dvcqg {

struct MappingOptions {
  // Text limits in characters.
  int summary = 1000;          // TrichYeuHoSo
  int officer = 50;            // NguoiXuLy
  int result_doc_name = 2000;  // TenGiayTo
  int attachment_name = 4000;  // TenTepDinhKem
  int text = 2000;             // every other free text (a 2,000+ note broke DongBoHoSoMC)
  // LoaiDinhDanh of an enterprise / tax code [assumed: unknown nationally].
  std::string enterprise_id_kind = "3";
};

// The applicant's id kind when none is given: 9 digits CMND, 10 digits or dddddddddd-ddd an
// enterprise / tax code, anything else CCCD. The same rule both ways.
dossiersync::v1::IdKind InferIdKind(absl::string_view id_number);
// dddddddddd or dddddddddd-ddd.
bool IsEnterpriseCode(absl::string_view id_number);

struct MappingStats {
  int truncated_fields = 0;
};

// yyyyMMddHHmmss in UTC+7; "" for an unset timestamp.
std::string FormatDate(const google::protobuf::Timestamp& t);
// Parses yyyyMMddHHmmss (UTC+7); "" gives an unset timestamp; anything else is an error.
absl::StatusOr<google::protobuf::Timestamp> ParseDate(absl::string_view s);
// Truncates to at most `max_chars` code points at a character boundary.
std::string TruncateChars(absl::string_view s, int max_chars, MappingStats* stats = nullptr);

// One DongBoHoSoMC data[] item. `status` is the DVCQG status code to send (after the
// configurable status mapping; pass dossier.status() for the identity mapping).
nlohmann::json DossierToJson(const dossiersync::v1::Dossier& d, int status,
                             const MappingOptions& limits = {}, MappingStats* stats = nullptr);
// One CapNhatTienDoHoSoMC data[] item.
nlohmann::json StepToJson(const std::string& code, const dossiersync::v1::ProgressStep& s,
                          int status, const MappingOptions& limits = {},
                          MappingStats* stats = nullptr);

// What reconciliation compares, exactly as DossierToJson / StepToJson write it (same formatting
// and truncation) without building JSON documents (a profile of a 100,000-dossier run had a third
// of the reconciliation's CPU in those documents). tests/dvcqg_mapping_test.cc checks both ways
// agree.
struct ComparedFields {
  // NgayNopHoSo, NgayTiepNhan, NgayHenTra, NgayKetThucXuLy, NgayTra, NgayTuChoi.
  std::array<std::string, 6> dates;
  // MaTTHC, TenTTHC, MaLinhVuc, DonViXuLy.
  std::array<std::string, 4> identity;
  // What the national scoring reads (reference/dvcqg.md §9), one string each: the scalar as sent,
  // or for a list its items' scored values joined (items by ";", values by "|").
  std::array<std::string, 9> scored;
};
inline constexpr std::array<const char*, 6> kComparedDates = {
    "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi"};
inline constexpr std::array<const char*, 4> kComparedIdentity = {"MaTTHC", "TenTTHC", "MaLinhVuc",
                                                                 "DonViXuLy"};
// Lists give: DSKetNoiCSDL MaCSDL; TaiLieuNop DuocSoHoa|DuocTaiSuDung|DuocLayTuKhoDMQG;
// DanhSachGiayToKetQua DuongDanTepTinKetQua|MaGiayToKetQua; DanhSachLePhi Gia;
// DanhSachHoSoBoSung NgayBoSung|NgayTiepNhanBoSung.
inline constexpr std::array<const char*, 9> kComparedScored = {
    "KenhThucHien",           "HoSoCoThanhPhanSoHoa",
    "DuocThanhToanTrucTuyen", "TaiKhoanDuocXacThucVoiVNeID",
    "DSKetNoiCSDL",           "TaiLieuNop",
    "DanhSachGiayToKetQua",   "DanhSachLePhi",
    "DanhSachHoSoBoSung"};
ComparedFields CompareFieldsOf(const dossiersync::v1::Dossier& d,
                               const MappingOptions& limits = {});
// A progress row's identity as DVCQG stores it (it has no step id):
// "ThoiDiemXuLy|NguoiXuLy|NoiDungXuLy|TrangThai".
std::string StepRowKey(const dossiersync::v1::ProgressStep& s, int status,
                       const MappingOptions& limits = {});
// The same, read from a progress row (TraCuuHoSo's QuaTrinhXuLy, StepToJson's output).
std::string StepRowKey(const nlohmann::json& row);
// The keys of every progress row in a TraCuuHoSo response body ({"result": [item...]}, each
// item's "QuaTrinhXuLy"), a multiset: DVCQG may hold the same row twice. Anything malformed is
// skipped (an absent row is sent again, which the caller's verification allows).
std::multiset<std::string> NationalStepKeys(const nlohmann::json& response);

// The reverse, for TraCuuHoSo results: every field the mapping writes is read back; steps from
// the item's "QuaTrinhXuLy" array when present. Malformed items give INVALID_ARGUMENT naming the
// field.
absl::StatusOr<dossiersync::v1::Dossier> DossierFromJson(const nlohmann::json& item,
                                                         const MappingOptions& options = {});
absl::StatusOr<dossiersync::v1::ProgressStep> StepFromJson(const nlohmann::json& item);

// DVCQG answers error_code as a number or a string: both normalised to a string ("" if absent).
std::string ErrorCodeOf(const nlohmann::json& response);
// The success codes met in production clients (reference/dvcqg.md §3): 0, "0" and "00", as
// ErrorCodeOf normalises them. An absent error_code ("") is not success.
bool IsSuccessCode(absl::string_view error_code);

}  // namespace dossiersync::dvcqg

#endif  // DOSSIERSYNC_COMMON_DVCQG_MAPPING_H_
