// The simulated DVCQG's own store: the latest item per dossier code, every progress row received,
// and the full history of every accepted write (and of tampering) per dossier, so tests can prove
// no regression and no duplicate step. On the storage interface (SQLite by default).
//
// Thread safety: thread-safe (each call is one transaction).
#ifndef DOSSIERSYNC_SERVICES_DVCQG_SIM_SIM_STORE_H_
#define DOSSIERSYNC_SERVICES_DVCQG_SIM_SIM_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/storage/database.h"
#include "nlohmann/json.hpp"

namespace dossiersync::sim {

struct ItemResult {
  std::string code;
  std::string error_code = "0";
  std::string message;
  std::string field;
  nlohmann::json ToJson() const;
};

class SimStore {
 public:
  static absl::StatusOr<std::unique_ptr<SimStore>> Open(std::unique_ptr<storage::Database> db);

  // DongBoHoSoMC for already-validated items: create ("3" if the code exists) or update ("4" if it
  // does not). `drop`: answer as if stored, store nothing.
  absl::StatusOr<std::vector<ItemResult>> SyncDossiers(const std::vector<nlohmann::json>& items,
                                                       bool is_update, bool drop);
  // CapNhatTienDoHoSoMC for validated rows: "4" when the dossier does not exist.
  absl::StatusOr<std::vector<ItemResult>> AddProgress(const std::vector<nlohmann::json>& rows,
                                                      bool drop);
  // The stored item with its progress rows under "QuaTrinhXuLy"; nullopt when unknown.
  absl::StatusOr<std::optional<nlohmann::json>> Lookup(const std::string& code);
  // The same as compact JSON text, spliced from the stored texts without parsing them (the
  // lookups of a reconciliation sweep spent most of the simulator's CPU parsing and
  // re-serialising).
  absl::StatusOr<std::optional<std::string>> LookupText(const std::string& code);
  absl::StatusOr<nlohmann::json> History(const std::string& code);
  // Overwrites fields of a stored item (drift injection); false when the code is unknown.
  // Overwrites the stored dossier's fields with `patch`'s; the key "_drop_steps": N also deletes
  // its newest N progress rows. False when DVCQG has no such dossier.
  static constexpr char kDropSteps[] = "_drop_steps";
  absl::StatusOr<bool> Tamper(const std::string& code, const nlohmann::json& patch);
  absl::StatusOr<nlohmann::json> Counts();
  absl::Status Reset();

 private:
  explicit SimStore(std::unique_ptr<storage::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<storage::Database> db_;
};

}  // namespace dossiersync::sim

#endif  // DOSSIERSYNC_SERVICES_DVCQG_SIM_SIM_STORE_H_
