// dossierctl's SyncService commands: a dossier's sync state, resync, pause and resume, the list
// of dead letters and their replay (with a filter and a dry run). Each prints JSON (one object, or
// one line per dead letter) on stdout and errors on stderr, and returns the process exit code:
// 0 done, 1 the call failed, 2 bad usage, 3 not found (state of a dossier the sync never saw).
//
// Thread safety: call from one thread.
#ifndef DOSSIERSYNC_TOOLS_DOSSIERCTL_SYNC_COMMANDS_H_
#define DOSSIERSYNC_TOOLS_DOSSIERCTL_SYNC_COMMANDS_H_

#include <string>
#include <vector>

#include "common/grpc_client.h"

namespace dossiersync::tools {

struct SyncCommandOptions {
  std::string sync_addr = "127.0.0.1:50052";
  ClientOptions client;
  std::vector<std::string> codes;  // dead-letters, replay: only these dossiers
  std::string agency_code;         // dead-letters, replay: only this agency
  std::string reason_contains;     // dead-letters, replay: DVCQG's answer contains this
  bool include_replayed = false;   // dead-letters: also those replayed already
  int limit = 0;                   // dead-letters: at most this many (0: 1,000)
  bool dry_run = false;            // replay: send nothing, list what would be sent
  bool full = false;               // resync: push every step again
  std::string reason;              // resync, pause: why (logged by the sync)
};

// True when `cmd` is one of: state, resync, pause, resume, dead-letters, replay.
bool IsSyncCommand(const std::string& cmd);
// Runs args[1] (args[2...]: its operands, e.g. the codes of `state` and `resync`).
int RunSyncCommand(const std::vector<std::string>& args, const SyncCommandOptions& o);

}  // namespace dossiersync::tools

#endif  // DOSSIERSYNC_TOOLS_DOSSIERCTL_SYNC_COMMANDS_H_
