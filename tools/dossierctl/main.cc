// dossierctl: the operator CLI. Subcommands:
//   submit  --generate=N | --file=PATH [--unary] [--concurrency=K] [--backfill]
//   tail TOPIC [--from_beginning] [--max_messages=N] [--idle_timeout=5s]
//   get CODE
//   dvcqg lookup CODE --dvcqg_url=URL --dvcqg_credentials_file=FILE
//   reconcile [--repair] [--codes=A,B] [--agency=CODE] [--sample=N [--sample_seed=S]]
//   explain CODE [--no_lookup] [--json]
//   kpis [--agency=CODE]
//   score [--period=yyyy-MM|yyyy-Qn|yyyy] [--agency=CODE] [--json]
//   republish --since=RFC3339|DURATION
//   state CODE... | resync CODE... [--full] [--reason=TEXT] | pause [--reason=TEXT] | resume
//   dead-letters [--codes=A,B] [--agency=CODE] [--reason_contains=TEXT] [--include_replayed]
//   replay [--codes=A,B] [--agency=CODE] [--reason_contains=TEXT] [--dry_run]
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/dvcqg/client.h"
#include "common/dvcqg/config_flags.h"
#include "common/errors.h"
#include "common/flags.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "tools/dossierctl/explain.h"
#include "tools/dossierctl/score.h"
#include "tools/dossierctl/submit.h"
#include "tools/dossierctl/sync_commands.h"
#include "tools/dossierctl/tail.h"

ABSL_FLAG(std::string, intake_addr, "127.0.0.1:50051", "IntakeService address");
ABSL_FLAG(std::string, sync_addr, "127.0.0.1:50052", "SyncService address");
ABSL_FLAG(std::string, reconciliation_addr, "127.0.0.1:50053", "ReconciliationService address");
ABSL_FLAG(std::string, kafka_brokers, "", "Kafka bootstrap servers (for tail)");
ABSL_FLAG(std::string, token_file, "", "File holding the bearer token for gRPC calls");
ABSL_FLAG(std::string, tls_ca_file, "",
          "CA to verify servers (TLS; with only a client certificate: the system's roots)");
ABSL_FLAG(std::string, tls_cert_file, "", "Client certificate (mutual TLS, with --tls_key_file)");
ABSL_FLAG(std::string, tls_key_file, "", "Key of --tls_cert_file");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify in the server's certificate instead of the address's host");
ABSL_FLAG(std::string, file, "", "submit: JSON lines of SubmitChangeRequest");
ABSL_FLAG(int64_t, generate, 0, "submit: number of generated dossiers (full lifecycles)");
ABSL_FLAG(int64_t, first_index, 0, "submit: index of the first generated dossier");
ABSL_FLAG(uint64_t, seed, 37, "submit: workload seed");
ABSL_FLAG(bool, backfill, false, "submit: one final snapshot per dossier with all its steps");
ABSL_FLAG(bool, unary, false, "submit: unary SubmitChange calls instead of SubmitChanges streams");
ABSL_FLAG(int, concurrency, 4, "submit: streams or concurrent unary callers");
ABSL_FLAG(bool, progress, true, "submit: progress line on stderr");
ABSL_FLAG(bool, from_beginning, true, "tail: start at the earliest offset");
ABSL_FLAG(int64_t, max_messages, 0, "tail: stop after N messages (0 = no limit)");
ABSL_FLAG(bool, repair, false, "reconcile: request repairs of the drift found");
ABSL_FLAG(int32_t, sample, 0,
          "reconcile: check a random sample of this many dossiers, stratified by agency, and "
          "report the consistency with a 99% interval (0: every dossier)");
ABSL_FLAG(int32_t, calls, 1, "kpis: call GetKpis this many times, printing each call's time");
ABSL_FLAG(uint64_t, sample_seed, 0, "reconcile --sample: the draw's seed (0: random)");
ABSL_FLAG(std::string, codes, "",
          "reconcile, dead-letters, replay: only these dossier codes (comma-separated)");
ABSL_FLAG(std::string, agency, "",
          "reconcile, kpis, score, dead-letters, replay: only this agency code");
ABSL_FLAG(std::string, reason_contains, "",
          "dead-letters, replay: only those whose reason (DVCQG's answer) contains this text");
ABSL_FLAG(bool, include_replayed, false, "dead-letters: also those replayed already");
ABSL_FLAG(int32_t, limit, 0, "dead-letters: at most this many (0: 1,000; at most 10,000)");
ABSL_FLAG(bool, dry_run, false, "replay: send nothing, print what would be sent");
ABSL_FLAG(bool, full, false, "resync: push every progress step again");
ABSL_FLAG(std::string, reason, "", "resync, pause: why (the sync logs it)");
ABSL_FLAG(std::string, period, "", "score: yyyy-MM, yyyy-Qn or yyyy (default: this month)");
ABSL_FLAG(std::string, since, "",
          "republish: changes accepted since this time (RFC 3339, e.g. 2026-12-07T09:00:00+07:00) "
          "or this long ago (e.g. 2h)");
ABSL_FLAG(bool, json, false, "score, explain: print the whole answer as JSON");
ABSL_FLAG(bool, no_lookup, false,
          "explain: do not look the dossier up at DVCQG now (show the latest check's view)");
ABSL_FLAG(absl::Duration, run_timeout, absl::Minutes(30),
          "reconcile: how long to wait for the run");
ABSL_FLAG(absl::Duration, idle_timeout, absl::ZeroDuration(),
          "tail: stop after this long without messages (0 = never)");

namespace {

constexpr char kUsage[] =
    "dossierctl <command> [flags]\n"
    "  submit  --generate=N | --file=PATH   send dossier changes to intake\n"
    "  tail TOPIC                           print a Kafka topic as JSON lines\n"
    "  get CODE                             print a dossier as stored by intake\n"
    "  dvcqg lookup CODE                    TraCuuHoSo against --dvcqg_url (exit 3: not found)\n"
    "  reconcile [--repair] [--sample=N]    run a reconciliation and print its report\n"
    "  explain CODE [--no_lookup]           a dossier's story and both snapshots side by side "
    "(exit 3: unknown)\n"
    "  kpis [--agency=CODE]                 the province's figures (GetKpis), per agency\n"
    "  score [--period=P] [--agency=CODE]   the national score forecast and what the sync gap "
    "costs\n"
    "  republish --since=TIME|DURATION      intake publishes the changes it retains again\n"
    "  state CODE...                        the sync's state of dossiers (exit 3: never seen)\n"
    "  resync CODE... [--full]              push dossiers to DVCQG again\n"
    "  pause | resume                       stop / restart the sync's consumption\n"
    "  dead-letters [--agency=CODE] [--reason_contains=TEXT] [--codes=A,B]\n"
    "                                       the dead letters, one JSON line each\n"
    "  replay [filters as dead-letters] [--dry_run]\n"
    "                                       send dead letters again";

dossiersync::ClientOptions Client() {
  auto c = dossiersync::ClientOptionsFrom(
      absl::GetFlag(FLAGS_tls_ca_file), absl::GetFlag(FLAGS_tls_cert_file),
      absl::GetFlag(FLAGS_tls_key_file), absl::GetFlag(FLAGS_token_file),
      absl::GetFlag(FLAGS_tls_server_name),
      {"--tls_ca_file", "--tls_cert_file", "--tls_key_file", "--token_file"});
  if (!c.ok()) dossiersync::ConfigError(std::string(c.status().message()));
  return *c;
}

int Submit() {
  dossiersync::tools::SubmitOptions o;
  o.intake_addr = absl::GetFlag(FLAGS_intake_addr);
  o.client = Client();
  o.file = absl::GetFlag(FLAGS_file);
  o.generate = absl::GetFlag(FLAGS_generate);
  o.first_index = absl::GetFlag(FLAGS_first_index);
  o.workload.seed = absl::GetFlag(FLAGS_seed);
  o.workload.backfill = absl::GetFlag(FLAGS_backfill);
  o.unary = absl::GetFlag(FLAGS_unary);
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.progress = absl::GetFlag(FLAGS_progress);
  auto rep = dossiersync::tools::RunSubmit(o);
  if (!rep.ok()) {
    std::cerr << "submit: " << rep.status().message() << std::endl;
    return 2;
  }
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [k, v] : rep->errors) errors[k] = v;
  nlohmann::json j{{"dossiers", rep->dossiers},
                   {"changes", rep->changes},
                   {"accepted", rep->accepted},
                   {"duplicates", rep->duplicates},
                   {"failed", rep->failed},
                   {"errors", errors},
                   {"seconds", absl::ToDoubleSeconds(rep->elapsed)},
                   {"changes_per_second", static_cast<int64_t>(rep->rate())}};
  std::cout << j.dump() << std::endl;
  return rep->failed == 0 ? 0 : 1;
}

int Tail(const std::vector<std::string>& args) {
  if (args.size() < 3) {
    std::cerr << "usage: dossierctl tail TOPIC --kafka_brokers=HOST:PORT" << std::endl;
    return 2;
  }
  dossiersync::tools::TailOptions o;
  o.brokers = absl::GetFlag(FLAGS_kafka_brokers);
  o.topic = args[2];
  o.from_beginning = absl::GetFlag(FLAGS_from_beginning);
  o.max_messages = absl::GetFlag(FLAGS_max_messages);
  o.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  if (o.brokers.empty()) {
    std::cerr << "tail: --kafka_brokers (or DOSSIERSYNC_KAFKA_BROKERS) is required" << std::endl;
    return 2;
  }
  auto n = dossiersync::tools::RunTail(o, [](const nlohmann::json& j) {
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    std::cout.flush();
  });
  if (!n.ok()) {
    std::cerr << "tail: " << n.status().message() << std::endl;
    return 1;
  }
  return 0;
}

std::unique_ptr<dossiersync::v1::IntakeService::Stub> IntakeStub() {
  auto ch = dossiersync::MakeChannel(absl::GetFlag(FLAGS_intake_addr), Client());
  if (!ch.ok()) dossiersync::ConfigError(std::string(ch.status().message()));
  return dossiersync::v1::IntakeService::NewStub(*ch);
}

int Get(const std::vector<std::string>& args) {
  if (args.size() < 3) {
    std::cerr << "usage: dossierctl get CODE" << std::endl;
    return 2;
  }
  auto stub = IntakeStub();
  auto client = Client();
  auto ctx = dossiersync::MakeContext(client, absl::Seconds(10));
  dossiersync::v1::GetDossierRequest req;
  req.set_code(args[2]);
  dossiersync::v1::Dossier d;
  grpc::Status st = stub->GetDossier(ctx.get(), req, &d);
  if (!st.ok()) {
    std::cerr << "get: " << st.error_code() << " " << st.error_message() << std::endl;
    return 1;
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  po.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(d, &out, po);
  std::cout << out << std::endl;
  return 0;
}

int Republish() {
  const std::string since_flag = absl::GetFlag(FLAGS_since);
  absl::Time since;
  absl::Duration ago;
  std::string err;
  if (absl::ParseDuration(since_flag, &ago) && ago > absl::ZeroDuration()) {
    since = absl::Now() - ago;
  } else if (!absl::ParseTime(absl::RFC3339_full, since_flag, &since, &err)) {
    std::cerr << "republish: --since must be an RFC 3339 time or a duration like 2h (got '"
              << since_flag << "')" << std::endl;
    return 2;
  }
  auto stub = IntakeStub();
  auto ctx = dossiersync::MakeContext(Client(), absl::Minutes(2));
  dossiersync::v1::RepublishRequest req;
  req.mutable_since()->set_seconds(absl::ToUnixSeconds(since));
  dossiersync::v1::RepublishResponse resp;
  grpc::Status st = stub->Republish(ctx.get(), req, &resp);
  if (!st.ok()) {
    std::cerr << "republish: " << st.error_code() << " " << st.error_message() << std::endl;
    return 1;
  }
  nlohmann::json out = {{"since", absl::FormatTime(absl::RFC3339_sec, since, absl::UTCTimeZone())},
                        {"republished", resp.republished()}};
  if (resp.has_oldest_retained()) {
    absl::Time oldest = absl::FromUnixSeconds(resp.oldest_retained().seconds());
    out["oldest_retained"] = absl::FormatTime(absl::RFC3339_sec, oldest, absl::UTCTimeZone());
    if (since < oldest) {
      std::cerr << "republish: changes before " << out["oldest_retained"].get<std::string>()
                << " are no longer retained; `dossierctl reconcile --repair` covers them"
                << std::endl;
    }
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

int DvcqgLookup(const std::vector<std::string>& args) {
  if (args.size() < 4 || args[2] != "lookup") {
    std::cerr << "usage: dossierctl dvcqg lookup CODE --dvcqg_url=URL --dvcqg_credentials_file=FILE"
              << std::endl;
    return 2;
  }
  auto config = dossiersync::dvcqg::ClientConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "dvcqg: " << config.status().message() << std::endl;
    return 2;
  }
  auto client = dossiersync::dvcqg::Client::Create(*config);
  if (!client.ok()) {
    std::cerr << "dvcqg: " << client.status().message() << std::endl;
    return 2;
  }
  auto r = (*client)->Lookup(args[3]);
  nlohmann::json out{{"code", args[3]},
                     {"outcome", dossiersync::dvcqg::OutcomeName(r.call.outcome)},
                     {"found", r.dossier.has_value()},
                     {"latency_ms", absl::ToDoubleMilliseconds(r.call.latency)}};
  if (r.call.outcome != dossiersync::dvcqg::Outcome::kAccepted) {
    out["error_code"] = r.call.error_code;
    out["message"] = r.call.message;
  }
  auto res = r.call.response.find("result");
  if (r.dossier && res != r.call.response.end()) {
    for (const auto& item : *res) {
      if (item.value("MaHoSo", "") == args[3]) out["dvcqg"] = item;
    }
  }
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  if (r.call.outcome != dossiersync::dvcqg::Outcome::kAccepted) return 1;
  return r.dossier ? 0 : 3;
}

// A ReconciliationService stub for --reconciliation_addr, or null after printing why.
std::unique_ptr<dossiersync::v1::ReconciliationService::Stub> ReconciliationStub() {
  auto ch = dossiersync::MakeChannel(absl::GetFlag(FLAGS_reconciliation_addr), Client());
  if (!ch.ok()) {
    std::cerr << ch.status().message() << std::endl;
    return nullptr;
  }
  return dossiersync::v1::ReconciliationService::NewStub(*ch);
}

int Reconcile() {
  auto stub = ReconciliationStub();
  if (!stub) return 2;
  auto client = Client();
  dossiersync::v1::StartRunRequest req;
  req.set_repair(absl::GetFlag(FLAGS_repair));
  req.set_sample_size(absl::GetFlag(FLAGS_sample));
  req.set_sample_seed(absl::GetFlag(FLAGS_sample_seed));
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_codes), ',', absl::SkipEmpty())) {
    req.add_codes(std::string(c));
  }
  if (!absl::GetFlag(FLAGS_agency).empty()) req.add_agency_codes(absl::GetFlag(FLAGS_agency));
  dossiersync::v1::StartRunResponse started;
  absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_run_timeout);
  grpc::Status st;
  // Another run (a scheduled one, or another operator's) holds the lease: wait for it to end.
  for (bool said = false;; said = true) {
    st = stub->StartRun(dossiersync::MakeContext(client, absl::Seconds(10)).get(), req, &started);
    if (st.error_code() != grpc::StatusCode::FAILED_PRECONDITION || absl::Now() > deadline) break;
    if (!said) std::cerr << "reconcile: " << st.error_message() << "; waiting" << std::endl;
    absl::SleepFor(absl::Seconds(1));
  }
  if (!st.ok()) {
    std::cerr << "reconcile: " << st.error_message() << std::endl;
    return 1;
  }
  dossiersync::v1::ReconciliationRun run;
  while (true) {
    dossiersync::v1::GetRunRequest g;
    g.set_run_id(started.run_id());
    st = stub->GetRun(dossiersync::MakeContext(client, absl::Seconds(10)).get(), g, &run);
    if (!st.ok()) {
      std::cerr << "reconcile: " << st.error_message() << std::endl;
      return 1;
    }
    if (run.state() != "RUNNING") break;
    if (absl::Now() > deadline) {
      std::cerr << "reconcile: run " << started.run_id() << " still running" << std::endl;
      return 1;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(run, &out, po);
  std::cout << out << std::endl;
  dossiersync::v1::ListDriftRequest lr;
  lr.set_run_id(run.run_id());
  auto ctx = dossiersync::MakeContext(client, absl::Minutes(5));
  auto reader = stub->ListDrift(ctx.get(), lr);
  dossiersync::v1::DriftItem item;
  while (reader->Read(&item)) {
    std::string line;
    (void)google::protobuf::util::MessageToJsonString(item, &line, po);
    std::cout << line << std::endl;
  }
  return reader->Finish().ok() && run.state() == "FINISHED" ? 0 : 1;
}

int Explain(const std::vector<std::string>& args) {
  if (args.size() != 3) {
    std::cerr << "usage: dossierctl explain CODE [--no_lookup] [--json]" << std::endl;
    return 2;
  }
  auto stub = ReconciliationStub();
  if (!stub) return 2;
  dossiersync::v1::GetDossierTimelineRequest req;
  req.set_code(args[2]);
  req.set_no_lookup(absl::GetFlag(FLAGS_no_lookup));
  dossiersync::v1::DossierTimeline t;
  grpc::Status st = stub->GetDossierTimeline(
      dossiersync::MakeContext(Client(), absl::Seconds(30)).get(), req, &t);
  if (!st.ok()) {
    std::cerr << "explain: " << st.error_message() << std::endl;
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) return 3;
    return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
  }
  if (absl::GetFlag(FLAGS_json)) {
    google::protobuf::util::JsonPrintOptions po;
    po.preserve_proto_field_names = true;
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(t, &out, po);
    std::cout << out << std::endl;
  } else {
    dossiersync::tools::PrintTimeline(t, std::cout);
  }
  return 0;
}

int Kpis() {
  auto stub = ReconciliationStub();
  if (!stub) return 2;
  dossiersync::v1::GetKpisRequest req;
  req.set_agency_code(absl::GetFlag(FLAGS_agency));
  dossiersync::v1::Kpis k;
  // --calls > 1: the call repeated on one channel, each call's time on stderr (for benchmarks).
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_calls)); ++i) {
    const absl::Time t0 = absl::Now();
    grpc::Status st =
        stub->GetKpis(dossiersync::MakeContext(Client(), absl::Minutes(5)).get(), req, &k);
    if (!st.ok()) {
      std::cerr << "kpis: " << st.error_message() << std::endl;
      return 1;
    }
    if (absl::GetFlag(FLAGS_calls) > 1) {
      std::cerr << "{\"get_kpis_ms\":" << absl::ToDoubleMilliseconds(absl::Now() - t0) << "}"
                << std::endl;
    }
  }
  // The province's line first, then one line per agency (each tagged with its code).
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  po.always_print_primitive_fields = true;
  auto print = [&](dossiersync::v1::Kpis m, const std::string& agency) {
    m.clear_by_agency();
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(m, &out, po);
    if (!agency.empty()) out = absl::StrCat("{\"agency_code\":\"", agency, "\",", out.substr(1));
    std::cout << out << std::endl;
  };
  print(k, absl::GetFlag(FLAGS_agency));
  std::map<std::string, dossiersync::v1::Kpis> sorted(k.by_agency().begin(), k.by_agency().end());
  for (const auto& [agency, a] : sorted) print(a, agency);
  return 0;
}

int Score() {
  auto stub = ReconciliationStub();
  if (!stub) return 2;
  dossiersync::v1::GetScoreRequest req;
  req.set_period(absl::GetFlag(FLAGS_period));
  req.set_agency_code(absl::GetFlag(FLAGS_agency));
  dossiersync::v1::Score s;
  grpc::Status st =
      stub->GetScore(dossiersync::MakeContext(Client(), absl::Minutes(5)).get(), req, &s);
  if (!st.ok()) {
    std::cerr << "score: " << st.error_message() << std::endl;
    return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
  }
  if (absl::GetFlag(FLAGS_json)) {
    google::protobuf::util::JsonPrintOptions po;
    po.preserve_proto_field_names = true;
    po.always_print_primitive_fields = true;
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(s, &out, po);
    std::cout << out << std::endl;
  } else {
    dossiersync::tools::PrintScore(s, req.agency_code(), std::cout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = dossiersync::ParseFlags(argc, argv, kUsage);
  if (args.size() < 2) {
    std::cerr << kUsage << std::endl;
    return 2;
  }
  const std::string& cmd = args[1];
  if (cmd == "submit") return Submit();
  if (cmd == "tail") return Tail(args);
  if (cmd == "get") return Get(args);
  if (cmd == "dvcqg") return DvcqgLookup(args);
  if (cmd == "reconcile") return Reconcile();
  if (cmd == "explain") return Explain(args);
  if (cmd == "kpis") return Kpis();
  if (cmd == "score") return Score();
  if (cmd == "republish") return Republish();
  if (dossiersync::tools::IsSyncCommand(cmd)) {
    dossiersync::tools::SyncCommandOptions o;
    o.sync_addr = absl::GetFlag(FLAGS_sync_addr);
    o.client = Client();
    for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_codes), ',', absl::SkipEmpty())) {
      o.codes.emplace_back(c);
    }
    o.agency_code = absl::GetFlag(FLAGS_agency);
    o.reason_contains = absl::GetFlag(FLAGS_reason_contains);
    o.include_replayed = absl::GetFlag(FLAGS_include_replayed);
    o.limit = absl::GetFlag(FLAGS_limit);
    o.dry_run = absl::GetFlag(FLAGS_dry_run);
    o.full = absl::GetFlag(FLAGS_full);
    o.reason = absl::GetFlag(FLAGS_reason);
    return dossiersync::tools::RunSyncCommand(args, o);
  }
  std::cerr << "unknown command '" << cmd << "'\n" << kUsage << std::endl;
  return 2;
}
