#include "services/dvcqg_sim/sim_store.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/storage/schema.h"

namespace dossiersync::sim {
namespace {

using nlohmann::json;

constexpr char kComponent[] = "dvcqg-sim";
// Version 1 of the schema (Database::ApplyMigrations); later changes are appended as versions.
constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS sim_dossiers (
  code TEXT PRIMARY KEY,
  item TEXT NOT NULL,
  created_at_us BIGINT NOT NULL,
  updated_at_us BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS sim_steps (
  id {SERIAL_PK},
  code TEXT NOT NULL,
  item TEXT NOT NULL,
  at_us BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS sim_steps_by_code ON sim_steps (code, id);
CREATE TABLE IF NOT EXISTS sim_history (
  id {SERIAL_PK},
  code TEXT NOT NULL,
  service TEXT NOT NULL,
  is_update INTEGER NOT NULL,
  item TEXT NOT NULL,
  at_us BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS sim_history_by_code ON sim_history (code, id)
)";

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string CodeOf(const json& item) {
  auto it = item.find("MaHoSo");
  return it != item.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

json ItemResult::ToJson() const {
  json j = {{"MaHoSo", code}, {"error_code", error_code}, {"message", message}};
  if (!field.empty()) j["field"] = field;
  return j;
}

absl::StatusOr<std::unique_ptr<SimStore>> SimStore::Open(std::unique_ptr<storage::Database> db) {
  if (auto st = db->ApplyMigrations(kComponent, {kSchema}); !st.ok()) return st;
  return std::unique_ptr<SimStore>(new SimStore(std::move(db)));
}

absl::StatusOr<std::vector<ItemResult>> SimStore::SyncDossiers(const std::vector<json>& items,
                                                               bool is_update, bool drop) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  int64_t now = absl::ToUnixMicros(absl::Now());
  std::vector<ItemResult> out;
  for (const json& item : items) {
    ItemResult r;
    r.code = CodeOf(item);
    auto row = (*tx)->QueryOne("SELECT 1 FROM sim_dossiers WHERE code = $1", {r.code});
    if (!row.ok()) return row.status();
    bool exists = row->has_value();
    if (!is_update && exists) {
      r.error_code = "3";
      r.message = absl::StrCat("Hồ sơ ", r.code, " đã tồn tại");
    } else if (is_update && !exists) {
      r.error_code = "4";
      r.message = absl::StrCat("Hồ sơ ", r.code, " không tồn tại");
    } else {
      r.message = is_update ? "Cập nhật hồ sơ thành công" : "Đồng bộ hồ sơ thành công";
      if (!drop) {
        std::string text = Dump(item);
        auto w = is_update ? (*tx)->Exec(
                                 "UPDATE sim_dossiers SET item = $2, updated_at_us = $3 "
                                 "WHERE code = $1",
                                 {r.code, text, now})
                           : (*tx)->Exec(
                                 "INSERT INTO sim_dossiers (code, item, created_at_us, "
                                 "updated_at_us) VALUES ($1, $2, $3, $3)",
                                 {r.code, text, now});
        if (!w.ok()) return w.status();
        auto h = (*tx)->Exec(
            "INSERT INTO sim_history (code, service, is_update, item, at_us) "
            "VALUES ($1, 'DongBoHoSoMC', $2, $3, $4)",
            {r.code, int64_t{is_update}, text, now});
        if (!h.ok()) return h.status();
      }
    }
    out.push_back(std::move(r));
  }
  if (auto st = (*tx)->Commit(); !st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<ItemResult>> SimStore::AddProgress(const std::vector<json>& rows,
                                                              bool drop) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  int64_t now = absl::ToUnixMicros(absl::Now());
  std::vector<ItemResult> out;
  for (const json& row : rows) {
    ItemResult r;
    r.code = CodeOf(row);
    auto found = (*tx)->QueryOne("SELECT 1 FROM sim_dossiers WHERE code = $1", {r.code});
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      r.error_code = "4";
      r.message = absl::StrCat("Hồ sơ ", r.code, " không tồn tại");
    } else {
      r.message = "Cập nhật tiến độ thành công";
      if (!drop) {
        std::string text = Dump(row);
        auto w = (*tx)->Exec("INSERT INTO sim_steps (code, item, at_us) VALUES ($1, $2, $3)",
                             {r.code, text, now});
        if (!w.ok()) return w.status();
        auto h = (*tx)->Exec(
            "INSERT INTO sim_history (code, service, is_update, item, at_us) "
            "VALUES ($1, 'CapNhatTienDoHoSoMC', 0, $2, $3)",
            {r.code, text, now});
        if (!h.ok()) return h.status();
      }
    }
    out.push_back(std::move(r));
  }
  if (auto st = (*tx)->Commit(); !st.ok()) return st;
  return out;
}

absl::StatusOr<std::optional<std::string>> SimStore::LookupText(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne("SELECT item FROM sim_dossiers WHERE code = $1", {code});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<std::string>();
  std::string item = (*row)->Str(0);
  auto rows = (*tx)->Query("SELECT item FROM sim_steps WHERE code = $1 ORDER BY id", {code});
  if (!rows.ok()) return rows.status();
  std::string steps = "[";
  for (size_t i = 0; i < rows->size(); ++i) {
    if (i > 0) steps += ',';
    steps += (*rows)[i].Str(0);
  }
  steps += ']';
  // Stored items are compact JSON objects written by Dump. One that carries its own
  // "QuaTrinhXuLy" (a client sent it) has it replaced, as a JSON merge would.
  if (item.size() < 2 || item.front() != '{' || item.back() != '}' ||
      item.find("\"QuaTrinhXuLy\"") != std::string::npos) {
    json j = json::parse(item, nullptr, false);
    if (!j.is_object()) return absl::DataLossError(absl::StrCat("stored item of ", code));
    j["QuaTrinhXuLy"] = json::parse(steps, nullptr, false);
    return std::optional<std::string>(Dump(j));
  }
  item.pop_back();
  if (item.size() > 1) item += ',';
  item += "\"QuaTrinhXuLy\":";
  item += steps;
  item += '}';
  return std::optional<std::string>(std::move(item));
}

absl::StatusOr<std::optional<json>> SimStore::Lookup(const std::string& code) {
  auto text = LookupText(code);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return std::optional<json>();
  return std::optional<json>(json::parse(**text, nullptr, false));
}

absl::StatusOr<json> SimStore::History(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query(
      "SELECT id, service, is_update, item, at_us FROM sim_history WHERE code = $1 ORDER BY id",
      {code});
  if (!rows.ok()) return rows.status();
  json out = json::array();
  for (const auto& r : *rows) {
    out.push_back({{"seq", r.Int(0)},
                   {"service", r.Str(1)},
                   {"is_update", r.Int(2) != 0},
                   {"item", json::parse(r.Str(3), nullptr, false)},
                   {"at_us", r.Int(4)}});
  }
  return out;
}

absl::StatusOr<bool> SimStore::Tamper(const std::string& code, const json& patch) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne("SELECT item FROM sim_dossiers WHERE code = $1", {code});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return false;
  json item = json::parse((*row)->Str(0), nullptr, false);
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.key() == kDropSteps) continue;
    item[it.key()] = it.value();
  }
  if (patch.contains(kDropSteps)) {
    // Loses the newest N progress rows, as a DVCQG restore from an older backup would.
    const int64_t n = patch[kDropSteps].is_number_integer() ? patch[kDropSteps].get<int64_t>() : 0;
    auto d = (*tx)->Exec(
        "DELETE FROM sim_steps WHERE id IN (SELECT id FROM sim_steps WHERE code = $1 ORDER BY id "
        "DESC LIMIT $2)",
        {code, n});
    if (!d.ok()) return d.status();
  }
  int64_t now = absl::ToUnixMicros(absl::Now());
  auto w = (*tx)->Exec("UPDATE sim_dossiers SET item = $2, updated_at_us = $3 WHERE code = $1",
                       {code, Dump(item), now});
  if (!w.ok()) return w.status();
  auto h = (*tx)->Exec(
      "INSERT INTO sim_history (code, service, is_update, item, at_us) "
      "VALUES ($1, 'tamper', 1, $2, $3)",
      {code, Dump(patch), now});
  if (!h.ok()) return h.status();
  if (auto st = (*tx)->Commit(); !st.ok()) return st;
  return true;
}

absl::StatusOr<json> SimStore::Counts() {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  json out;
  for (const char* table : {"sim_dossiers", "sim_steps", "sim_history"}) {
    auto row = (*tx)->QueryOne(absl::StrCat("SELECT COUNT(*) FROM ", table));
    if (!row.ok()) return row.status();
    out[std::string(table).substr(4)] = (*row)->Int(0);
  }
  return out;
}

absl::Status SimStore::Reset() {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  for (const char* table : {"sim_dossiers", "sim_steps", "sim_history"}) {
    auto r = (*tx)->Exec(absl::StrCat("DELETE FROM ", table));
    if (!r.ok()) return r.status();
  }
  return (*tx)->Commit();
}

}  // namespace dossiersync::sim
