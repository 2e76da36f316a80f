#include "workers/dns/dns_enricher.h"

#include <algorithm>
#include <array>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asio/post.hpp"

namespace squatstream::workers::dns {
namespace {

// Asked in parallel once NS said NOERROR; their answers go on the record in this order, after NS.
constexpr std::array<RrType, 5> kRecordTypes = {RrType::kA, RrType::kAaaa, RrType::kMx, RrType::kCname, RrType::kTxt};

std::string RandomLabel() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::mt19937_64 rng(device());
  std::string label = "sq-";
  for (int i = 0; i < 20; ++i) label += kChars[rng() % (sizeof(kChars) - 1)];
  return label;
}

// What an answer costs a record: its value twice (the query's answer and the result's list) and the fields
// around them.
std::size_t AnswerBytes(const ResourceRecord& rr) { return 2 * rr.value.size() + 16; }

bool Failed(const QueryResult& r) {
  return !r.response.ok() || (r.response->rcode != kNoError && r.response->rcode != kNxDomain);
}

}  // namespace

struct DnsEnricher::Candidate {
  std::string name;
  asio::any_io_executor executor;
  Callback done;
  std::shared_ptr<bool> cancelled = std::make_shared<bool>(false);
  bool finished = false;  // resolver strand only, like the rest
  v1::DnsResult result;
  bool delegated = false;  // NS records for the name itself (answer, or a referral's authority)
  std::array<std::optional<QueryResult>, kRecordTypes.size()> records;
  std::size_t outstanding = 0;
  std::size_t bytes = 0;         // what the result holds, counted against kMaxResultBytes
  std::uint64_t omitted = 0;     // answers not kept (the parser's bound and the result's)
  std::uint64_t values_cut = 0;  // TXT values kept cut at kMaxTxtBytes
};

// Writes one query's outcome: its type, rcode and the answers of its own type — those that fit in what is
// left of the result's bound (addresses, bounded by the parser's count and their length, always fit: a zone
// cannot hide its addresses behind long names); the rest counted in answers_omitted. `kept` (optional) gets
// the answers kept.
void DnsEnricher::AddQuery(Candidate& c, RrType type, const QueryResult& r, v1::DnsQuery* out,
                           std::vector<const ResourceRecord*>* kept) {
  const bool address = type == RrType::kA || type == RrType::kAaaa;
  out->set_type(RrTypeName(static_cast<std::uint16_t>(type)));
  out->set_rcode(r.RcodeText());
  if (!r.response.ok()) return;
  std::uint32_t omitted = r.response->AnswersOmitted(static_cast<std::uint16_t>(type));
  for (const ResourceRecord& rr : r.response->answers) {
    if (rr.type != static_cast<std::uint16_t>(type)) continue;
    if (!address) {
      if (c.bytes + AnswerBytes(rr) > kMaxResultBytes) {
        ++omitted;
        continue;
      }
      c.bytes += AnswerBytes(rr);
    }
    if (kept != nullptr) kept->push_back(&rr);
    c.values_cut += rr.cut ? 1 : 0;
    v1::DnsAnswer* a = out->add_answers();
    a->set_value(rr.value);
    a->set_ttl(rr.ttl);
    if (type == RrType::kMx) a->set_preference(rr.preference);
  }
  out->set_answers_omitted(omitted);
  c.omitted += omitted;
}

DnsEnricher::DnsEnricher(Resolver* resolver, ResolverMetrics* metrics)
    : resolver_(resolver), metrics_(metrics), probe_label_(RandomLabel()) {}

void DnsEnricher::Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
                         Callback done) {
  auto c = std::make_shared<Candidate>();
  c->name = std::string(input.domain_ascii);
  c->executor = std::move(executor);
  c->done = std::move(done);
  if (cancel.is_connected()) {
    // Emitted on the caller's strand; the candidate's state lives on the resolver's: its queries still
    // queued are never sent, the answers of those in flight are dropped.
    cancel.assign([this, c](asio::cancellation_type) {
      asio::post(resolver_->strand(), [this, c] {
        if (c->finished) return;
        *c->cancelled = true;
        Finish(c, absl::CancelledError("lookup cancelled"));
      });
    });
  }
  resolver_->Query(c->name, RrType::kNs, c->cancelled, [this, c](QueryResult r) { OnNs(c, std::move(r)); });
}

void DnsEnricher::OnNs(const std::shared_ptr<Candidate>& c, QueryResult r) {
  std::vector<const ResourceRecord*> kept_ns;
  AddQuery(*c, RrType::kNs, r, c->result.add_queries(), &kept_ns);
  if (!r.response.ok() && !absl::IsDeadlineExceeded(r.response.status()) && !absl::IsCancelled(r.response.status())) {
    // Not an answer and not a silence: the resolver could not be asked at all (connection refused, no route),
    // every try. A lookup failure with its cause, not a verdict about the name: the record says why, and a
    // client can tell a resolver that is down from names that are unknown.
    Finish(c,
           absl::UnavailableError(absl::StrCat("the DNS resolver could not be asked (", r.response.status().message(),
                                               "): is it running and reachable? (squatstreamd's --dns_servers)")));
    return;
  }
  if (Failed(r)) {
    c->result.set_verdict(v1::DNS_VERDICT_UNKNOWN);
    Finish(c, absl::OkStatus());
    return;
  }
  const DnsMessage& m = *r.response;
  if (m.rcode == kNxDomain) {
    c->result.set_verdict(v1::DNS_VERDICT_UNREGISTERED);
    for (const ResourceRecord& rr : m.authority) {
      if (rr.type == static_cast<std::uint16_t>(RrType::kSoa)) {
        c->result.set_soa_zone(rr.owner);
        break;
      }
    }
    Finish(c, absl::OkStatus());
    return;
  }
  // The name's own NS records: those of the answer section the NS query kept (counted there, twice), then a
  // referral's in the authority section, within what is left of the bound.
  for (const ResourceRecord* rr : kept_ns) {
    if (rr->owner != c->name) continue;
    c->delegated = true;
    c->result.add_name_servers(rr->value);
  }
  for (const ResourceRecord& rr : m.authority) {
    if (rr.type != static_cast<std::uint16_t>(RrType::kNs) || rr.owner != c->name) continue;
    c->delegated = true;
    if (c->bytes + AnswerBytes(rr) > kMaxResultBytes) {
      ++c->omitted;
      continue;
    }
    c->bytes += AnswerBytes(rr);
    c->result.add_name_servers(rr.value);
  }
  c->outstanding = kRecordTypes.size();
  for (std::size_t i = 0; i < kRecordTypes.size(); ++i) {
    resolver_->Query(
        c->name, kRecordTypes[i], c->cancelled,
        [this, c, i](QueryResult result) {
          c->records[i] = std::move(result);
          if (--c->outstanding == 0) OnRecords(c);
        },
        Resolver::Priority::kFollowUp);  // the name exists: its record completes before new names are asked
  }
}

void DnsEnricher::OnRecords(const std::shared_ptr<Candidate>& c) {
  bool any_answer = false, any_failure = false;
  std::vector<std::string> v4;
  std::vector<std::pair<std::uint32_t, std::string>> mx;
  for (std::size_t i = 0; i < kRecordTypes.size(); ++i) {
    const QueryResult& r = *c->records[i];
    v1::DnsQuery* q = c->result.add_queries();
    AddQuery(*c, kRecordTypes[i], r, q);
    any_answer |= q->answers_size() > 0;
    any_failure |= Failed(r);
    for (const v1::DnsAnswer& a : q->answers()) {
      switch (kRecordTypes[i]) {
        case RrType::kA:
          v4.push_back(a.value());
          c->result.add_addresses(a.value());
          break;
        case RrType::kAaaa:
          c->result.add_addresses(a.value());
          break;
        case RrType::kMx:
          mx.emplace_back(a.preference(), a.value());
          break;
        default:
          break;
      }
    }
  }
  std::stable_sort(mx.begin(), mx.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [preference, host] : mx) c->result.add_mail_exchangers(std::move(host));
  if (!c->delegated && !any_answer && any_failure) {
    c->result.set_verdict(v1::DNS_VERDICT_UNKNOWN);
    Finish(c, absl::OkStatus());
    return;
  }
  // NOERROR: the name exists (a delegation, answers, or a name with no data of these types).
  c->result.set_verdict(v1::DNS_VERDICT_REGISTERED);
  const std::size_t dot = c->name.find('.');
  if (c->delegated || v4.empty() || dot == std::string::npos) {
    Finish(c, absl::OkStatus());
    return;
  }
  // Answers without a delegation of its own: the same as a random label's under the parent is a wildcard.
  std::string parent = c->name.substr(dot + 1);
  resolver_->Query(
      probe_label_ + "." + parent, RrType::kA, c->cancelled,
      [this, c, parent, v4 = std::move(v4)](QueryResult probe) mutable {
        std::vector<std::string> wild;
        if (probe.response.ok()) {
          for (const ResourceRecord& rr : probe.response->answers) {
            if (rr.type == static_cast<std::uint16_t>(RrType::kA)) wild.push_back(rr.value);
          }
        }
        std::sort(wild.begin(), wild.end());
        std::sort(v4.begin(), v4.end());
        if (!wild.empty() && wild == v4) {
          c->result.set_verdict(v1::DNS_VERDICT_WILDCARD);
          c->result.set_wildcard_zone(parent);
          if (wildcard_zones_.size() < 100000 && wildcard_zones_.insert(parent).second) {
            metrics_->wildcard_zones->Increment();
          }
        }
        Finish(c, absl::OkStatus());
      },
      Resolver::Priority::kFollowUp);
}

void DnsEnricher::Finish(const std::shared_ptr<Candidate>& c, absl::Status status) {
  if (c->finished) return;
  c->finished = true;
  LookupResult result;
  result.status = std::move(status);
  if (result.status.ok()) {
    switch (c->result.verdict()) {
      case v1::DNS_VERDICT_REGISTERED:
        metrics_->verdict_registered->Increment();
        break;
      case v1::DNS_VERDICT_UNREGISTERED:
        metrics_->verdict_unregistered->Increment();
        break;
      case v1::DNS_VERDICT_WILDCARD:
        metrics_->verdict_wildcard->Increment();
        break;
      default:
        metrics_->verdict_unknown->Increment();
        break;
    }
    *result.value.mutable_dns() = std::move(c->result);
    std::vector<std::string> cut;
    if (c->omitted > 0) cut.push_back(absl::StrCat(c->omitted, " DNS answers over the bounds not kept"));
    if (c->values_cut > 0) cut.push_back(absl::StrCat(c->values_cut, " TXT values cut at ", kMaxTxtBytes, " bytes"));
    result.value.set_truncated(absl::StrJoin(cut, ", "));
  }
  asio::post(c->executor,
             [done = std::move(c->done), result = std::move(result)]() mutable { std::move(done)(std::move(result)); });
}

}  // namespace squatstream::workers::dns
