#include "tools/dossierctl/sync_commands.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dossiersync::tools {
namespace {

std::string Json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  po.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, po);
  return out;
}

int Failed(const std::string& cmd, const grpc::Status& st) {
  std::cerr << cmd << ": " << st.error_code() << " " << st.error_message() << std::endl;
  return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

int State(dossiersync::v1::SyncService::Stub& stub, const std::vector<std::string>& args,
          const SyncCommandOptions& o) {
  if (args.size() < 3) {
    std::cerr << "usage: dossierctl state CODE..." << std::endl;
    return 2;
  }
  int rc = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    dossiersync::v1::GetSyncStateRequest req;
    req.set_code(args[i]);
    dossiersync::v1::SyncState s;
    grpc::Status st = stub.GetSyncState(MakeContext(o.client, absl::Seconds(10)).get(), req, &s);
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
      std::cerr << "state: " << args[i] << ": " << st.error_message() << std::endl;
      rc = std::max(rc, 3);
      continue;
    }
    if (!st.ok()) return Failed("state", st);
    std::cout << Json(s) << std::endl;
  }
  return rc;
}

int Resync(dossiersync::v1::SyncService::Stub& stub, const std::vector<std::string>& args,
           const SyncCommandOptions& o) {
  if (args.size() < 3) {
    std::cerr << "usage: dossierctl resync CODE... [--full] [--reason=TEXT]" << std::endl;
    return 2;
  }
  dossiersync::v1::ResyncRequest req;
  for (size_t i = 2; i < args.size(); ++i) req.add_codes(args[i]);
  req.set_full(o.full);
  req.set_reason(o.reason.empty() ? "dossierctl resync" : o.reason);
  dossiersync::v1::ResyncResponse resp;
  grpc::Status st = stub.Resync(MakeContext(o.client, absl::Seconds(30)).get(), req, &resp);
  if (!st.ok()) return Failed("resync", st);
  std::cout << Json(resp) << std::endl;
  return 0;
}

int PauseOrResume(dossiersync::v1::SyncService::Stub& stub, bool pause,
                  const SyncCommandOptions& o) {
  grpc::Status st;
  bool paused = false;
  if (pause) {
    dossiersync::v1::PauseRequest req;
    req.set_reason(o.reason.empty() ? "dossierctl pause" : o.reason);
    dossiersync::v1::PauseResponse resp;
    st = stub.Pause(MakeContext(o.client, absl::Seconds(10)).get(), req, &resp);
    paused = resp.paused();
  } else {
    dossiersync::v1::ResumeResponse resp;
    st = stub.Resume(MakeContext(o.client, absl::Seconds(10)).get(), {}, &resp);
    paused = resp.paused();
  }
  if (!st.ok()) return Failed(pause ? "pause" : "resume", st);
  std::cout << "{\"paused\":" << (paused ? "true" : "false") << "}" << std::endl;
  return 0;
}

int DeadLetters(dossiersync::v1::SyncService::Stub& stub, const SyncCommandOptions& o) {
  dossiersync::v1::ListDeadLettersRequest req;
  auto* f = req.mutable_filter();
  for (const auto& c : o.codes) f->add_codes(c);
  f->set_agency_code(o.agency_code);
  f->set_reason_contains(o.reason_contains);
  f->set_include_replayed(o.include_replayed);
  req.set_limit(o.limit);
  dossiersync::v1::ListDeadLettersResponse resp;
  grpc::Status st =
      stub.ListDeadLetters(MakeContext(o.client, absl::Seconds(30)).get(), req, &resp);
  if (!st.ok()) return Failed("dead-letters", st);
  for (const auto& d : resp.dead_letters()) std::cout << Json(d) << "\n";
  std::cout.flush();
  std::cerr << "dead-letters: " << resp.matched() << " matched"
            << (resp.matched() > resp.dead_letters_size()
                    ? absl::StrCat(", ", resp.dead_letters_size(), " shown (--limit)")
                    : "")
            << std::endl;
  return 0;
}

int Replay(dossiersync::v1::SyncService::Stub& stub, const SyncCommandOptions& o) {
  dossiersync::v1::ReplayDeadLettersRequest req;
  for (const auto& c : o.codes) req.add_codes(c);
  req.set_agency_code(o.agency_code);
  req.set_reason_contains(o.reason_contains);
  req.set_dry_run(o.dry_run);
  dossiersync::v1::ReplayDeadLettersResponse resp;
  grpc::Status st =
      stub.ReplayDeadLetters(MakeContext(o.client, absl::Minutes(2)).get(), req, &resp);
  if (!st.ok()) return Failed("replay", st);
  std::cout << Json(resp) << std::endl;
  return 0;
}

}  // namespace

bool IsSyncCommand(const std::string& cmd) {
  return cmd == "state" || cmd == "resync" || cmd == "pause" || cmd == "resume" ||
         cmd == "dead-letters" || cmd == "replay";
}

int RunSyncCommand(const std::vector<std::string>& args, const SyncCommandOptions& o) {
  auto ch = MakeChannel(o.sync_addr, o.client);
  if (!ch.ok()) {
    std::cerr << ch.status().message() << std::endl;
    return 2;
  }
  auto stub = dossiersync::v1::SyncService::NewStub(*ch);
  const std::string& cmd = args[1];
  if (cmd == "state") return State(*stub, args, o);
  if (cmd == "resync") return Resync(*stub, args, o);
  if (cmd == "pause" || cmd == "resume") return PauseOrResume(*stub, cmd == "pause", o);
  if (cmd == "dead-letters") return DeadLetters(*stub, o);
  if (cmd == "replay") return Replay(*stub, o);
  std::cerr << "not a sync command: " << cmd << std::endl;
  return 2;
}

}  // namespace dossiersync::tools
