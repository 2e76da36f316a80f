// The differ over hand-built records: the baseline, debounce, UNKNOWN, failed lookups, wildcard zones, triage,
// and what a scan writes (inserts, updates, `absent`; nothing for a candidate that did not change). The store is a
// map here: ScanCommit applied as the store's contract says (updates keep triage; `absent` marks a row absent,
// its last_seen the watch's previous last_scan; the watch's last_scan becomes the scan's time).
#include "watch/differ.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "watch/fingerprint.h"

namespace squatstream::watch {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A record as the pipeline makes it: DNS first, then whois and banner when set.
class Rec {
 public:
  explicit Rec(const std::string& name, v1::DnsVerdict verdict = v1::DNS_VERDICT_REGISTERED) {
    r_.set_domain_ascii(name);
    r_.set_domain_unicode(name);
    r_.set_kind(v1::PERMUTATION_KIND_ADDITION);
    r_.set_input("example.com");
    v1::Enrichment* dns = r_.add_enrichments();
    dns->set_enricher(v1::ENRICHER_DNS);
    dns->mutable_dns()->set_verdict(verdict);
  }
  Rec& Addresses(const std::vector<std::string>& a) {
    for (const std::string& x : a) Dns()->add_addresses(x);
    return *this;
  }
  Rec& NameServers(const std::vector<std::string>& ns) {
    for (const std::string& x : ns) Dns()->add_name_servers(x);
    return *this;
  }
  Rec& Wildcard(const std::string& zone) {
    Dns()->set_verdict(v1::DNS_VERDICT_WILDCARD);
    Dns()->set_wildcard_zone(zone);
    return *this;
  }
  // SERVFAIL: the DNS stage failed.
  Rec& DnsFailed() {
    r_.mutable_enrichments(0)->mutable_status()->set_code(14);
    r_.mutable_enrichments(0)->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNKNOWN);
    return *this;
  }
  Rec& Whois(const std::string& registrar, const std::string& expires) {
    v1::Enrichment* e = r_.add_enrichments();
    e->set_enricher(v1::ENRICHER_WHOIS);
    e->mutable_whois()->set_registered(true);
    e->mutable_whois()->set_registrar(registrar);
    e->mutable_whois()->set_expires(expires);
    return *this;
  }
  Rec& WhoisFailed() {
    v1::Enrichment* e = r_.add_enrichments();
    e->set_enricher(v1::ENRICHER_WHOIS);
    e->mutable_status()->set_code(14);
    e->mutable_status()->set_message("the registry did not answer");
    return *this;
  }
  // The banner stage: one http probe with this status code (0: OK) and title.
  Rec& Web(const std::string& title, int probe_code = 0) {
    v1::Enrichment* e = r_.add_enrichments();
    e->set_enricher(v1::ENRICHER_BANNER);
    v1::HttpProbe* p = e->mutable_banner()->add_http();
    p->set_scheme("http");
    p->mutable_status()->set_code(probe_code);
    if (probe_code == 0) {
      p->set_final_status(200);
      p->set_final_url("http://" + r_.domain_ascii() + "/");
      p->set_title(title);
    } else {
      p->mutable_status()->set_message(probe_code == 4 ? "timed out" : "Connection refused");
    }
    return *this;
  }
  Rec& Kind(v1::PermutationKind k) {
    r_.set_kind(k);
    return *this;
  }
  operator v1::Record() const { return r_; }  // NOLINT(google-explicit-constructor): a builder

 private:
  v1::DnsResult* Dns() { return r_.mutable_enrichments(0)->mutable_dns(); }
  v1::Record r_;
};

// One watch and its observations, kept as the store would.
class Watch {
 public:
  explicit Watch(int confirmations = 2) : confirmations_(confirmations) {
    row_.id = 7;
    row_.domain = "example.com";
    row_.domain_unicode = "example.com";
  }

  store::ScanCommit Scan(const std::vector<v1::Record>& records) {
    ScanInput in;
    in.watch = &row_;
    for (const auto& [name, row] : rows_) {
      in.previous.push_back(row);
      in.previous.back().record.clear();  // LoadObservations leaves records out
    }
    in.records = records;
    in.confirmations = confirmations_;
    now_ += absl::Hours(6);
    in.now = now_;
    in.lease_owner = "test";
    in.next_scan = now_ + absl::Hours(6);
    store::ScanCommit c = EvaluateScan(std::move(in));
    EXPECT_EQ(c.watch_id, 7);
    EXPECT_EQ(c.scanned_at, now_);
    EXPECT_TRUE(c.baseline_done);
    for (const store::ObservationRow& r : c.inserts) {
      EXPECT_EQ(rows_.count(r.candidate), 0u) << r.candidate;
      rows_[r.candidate] = r;
    }
    for (const store::ObservationRow& r : c.updates) {
      EXPECT_EQ(rows_.count(r.candidate), 1u) << r.candidate;
      store::ObservationRow& kept = rows_[r.candidate];
      const v1::Triage triage = kept.triage;
      kept = r;
      kept.triage = triage;
    }
    for (const std::string& s : c.absent) {
      store::ObservationRow& kept = rows_.at(s);
      EXPECT_FALSE(kept.absent) << s << " marked absent twice";
      kept.absent = true;
      kept.last_seen = row_.last_scan;
    }
    row_.baseline_done = true;
    row_.last_scan = now_;
    return c;
  }

  v1::Observation Observation(const std::string& name) { return ToObservation(row_, rows_.at(name)); }
  void Triage(const std::string& name, v1::Triage t) { rows_.at(name).triage = t; }
  absl::Time now() const { return now_; }

 private:
  int confirmations_;
  store::WatchRow row_;
  std::map<std::string, store::ObservationRow> rows_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

std::vector<std::string> Candidates(const std::vector<store::ObservationRow>& rows) {
  std::vector<std::string> names;
  names.reserve(rows.size());
  for (const auto& r : rows) names.push_back(r.candidate);
  return names;
}

std::string Describe(const v1::WatchEvent& e) {
  std::string s = v1::EventType_Name(e.type()) + " " + e.candidate_ascii();
  for (const v1::FieldChange& c : e.changes()) s += " " + c.field() + ":" + c.before() + "->" + c.after();
  return s;
}

std::vector<std::string> Events(const store::ScanCommit& c) {
  std::vector<std::string> out;
  for (const v1::WatchEvent& e : c.events) out.push_back(Describe(e));
  return out;
}

TEST(DifferTest, BaselineIsOneEventWithTheCounts) {
  Watch w;
  const store::ScanCommit c = w.Scan({Rec("a.com").Addresses({"192.0.2.1"}), Rec("b.com", v1::DNS_VERDICT_UNREGISTERED),
                                      Rec("c.com").DnsFailed(), Rec("x.z.com").Wildcard("z.com"),
                                      Rec("y.z.com").Wildcard("z.com"), Rec("d.com").Addresses({"192.0.2.4"})});
  ASSERT_EQ(c.events.size(), 1u);
  const v1::WatchEvent& e = c.events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_BASELINE);
  EXPECT_EQ(e.watch(), "example.com");
  EXPECT_EQ(e.time().seconds(), absl::ToUnixSeconds(w.now()));
  EXPECT_EQ(e.baseline().candidates(), 6u);
  EXPECT_EQ(e.baseline().registered(), 3u);  // a, d and the zone z.com once
  EXPECT_EQ(e.baseline().unknown(), 1u);
  EXPECT_THAT(Candidates(c.inserts), ElementsAre("a.com", "b.com", "c.com", "x.z.com", "y.z.com", "d.com"));
  EXPECT_THAT(c.updates, IsEmpty());
  EXPECT_THAT(c.absent, IsEmpty());
  EXPECT_EQ(c.inserts[0].verdict, v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ(c.inserts[0].first_seen, w.now());
  EXPECT_EQ(c.inserts[1].verdict, v1::DNS_VERDICT_UNREGISTERED);
  EXPECT_EQ(c.inserts[1].first_seen, absl::InfinitePast());
  EXPECT_EQ(c.inserts[2].verdict, v1::DNS_VERDICT_UNKNOWN);  // not confirmed
  EXPECT_FALSE(c.inserts[0].record.empty());

  const v1::Observation a = w.Observation("a.com");
  EXPECT_THAT(a.fingerprint().addresses(), ElementsAre("192.0.2.1"));
  EXPECT_EQ(a.pending_scans(), 0u);
  EXPECT_EQ(a.watch(), "example.com");
  EXPECT_EQ(a.first_seen().seconds(), absl::ToUnixSeconds(w.now()));
  EXPECT_EQ(a.record().domain_ascii(), "a.com");
  EXPECT_FALSE(w.Observation("b.com").has_first_seen());
}

TEST(DifferTest, ALookAlikeAppearsAfterTwoScansAgree) {
  Watch w(2);
  w.Scan({Rec("a.com", v1::DNS_VERDICT_UNREGISTERED), Rec("b.com", v1::DNS_VERDICT_UNREGISTERED)});
  store::ScanCommit c = w.Scan({Rec("a.com").Addresses({"192.0.2.1"}), Rec("b.com", v1::DNS_VERDICT_UNREGISTERED)});
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(Candidates(c.updates), ElementsAre("a.com"));  // b.com: nothing written
  EXPECT_THAT(c.absent, IsEmpty());
  EXPECT_EQ(w.Observation("a.com").pending_scans(), 1u);
  EXPECT_EQ(w.Observation("a.com").verdict(), v1::DNS_VERDICT_UNREGISTERED);

  c = w.Scan({Rec("a.com").Addresses({"192.0.2.1"}), Rec("b.com", v1::DNS_VERDICT_UNREGISTERED)});
  EXPECT_THAT(Events(c), ElementsAre("EVENT_TYPE_APPEARED a.com verdict:UNREGISTERED->REGISTERED"));
  const v1::WatchEvent& e = c.events[0];
  EXPECT_EQ(e.watch(), "example.com");
  EXPECT_EQ(e.candidate_unicode(), "a.com");
  EXPECT_EQ(e.kind(), v1::PERMUTATION_KIND_ADDITION);
  EXPECT_EQ(e.record().domain_ascii(), "a.com");
  EXPECT_EQ(e.time().seconds(), absl::ToUnixSeconds(w.now()));
  const v1::Observation a = w.Observation("a.com");
  EXPECT_EQ(a.verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ(a.pending_scans(), 0u);
  EXPECT_EQ(a.first_seen().seconds(), absl::ToUnixSeconds(w.now()));
  EXPECT_EQ(a.last_changed().seconds(), absl::ToUnixSeconds(w.now()));
}

TEST(DifferTest, AddressesChangeIsChangedWithBeforeAndAfter) {
  Watch w(2);
  w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).NameServers({"NS1.Host.NET."})});
  const v1::Record moved = Rec("a.com").Addresses({"192.0.2.9", "192.0.2.2"}).NameServers({"ns1.host.net"});
  EXPECT_THAT(w.Scan({moved}).events, IsEmpty());
  EXPECT_THAT(Events(w.Scan({moved})),
              ElementsAre("EVENT_TYPE_CHANGED a.com addresses:192.0.2.1->192.0.2.2, 192.0.2.9"));
  EXPECT_THAT(w.Observation("a.com").fingerprint().addresses(), ElementsAre("192.0.2.2", "192.0.2.9"));
}

TEST(DifferTest, Gone) {
  Watch w(2);
  w.Scan({Rec("a.com").Addresses({"192.0.2.1"})});
  EXPECT_THAT(w.Scan({Rec("a.com", v1::DNS_VERDICT_UNREGISTERED)}).events, IsEmpty());
  EXPECT_THAT(Events(w.Scan({Rec("a.com", v1::DNS_VERDICT_UNREGISTERED)})),
              ElementsAre("EVENT_TYPE_GONE a.com verdict:REGISTERED->UNREGISTERED"));
  EXPECT_EQ(w.Observation("a.com").verdict(), v1::DNS_VERDICT_UNREGISTERED);
}

TEST(DifferTest, FlappingIsNeverConfirmed) {
  Watch w(2);
  const v1::Record a = Rec("a.com").Addresses({"192.0.2.1"});
  const v1::Record b = Rec("a.com").Addresses({"192.0.2.2"});
  w.Scan({a});
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(w.Scan({b}).events, IsEmpty());
    EXPECT_THAT(w.Scan({a}).events, IsEmpty());
    EXPECT_EQ(w.Observation("a.com").pending_scans(), 0u);
  }
  // Registered and not, in turn: never an event either.
  const v1::Record gone = Rec("a.com", v1::DNS_VERDICT_UNREGISTERED);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(w.Scan({gone}).events, IsEmpty());
    EXPECT_THAT(w.Scan({a}).events, IsEmpty());
  }
}

TEST(DifferTest, UnknownNeitherResetsNorCounts) {
  Watch w(2);
  const v1::Record a = Rec("a.com").Addresses({"192.0.2.1"});
  const v1::Record b = Rec("a.com").Addresses({"192.0.2.2"});
  const v1::Record servfail = Rec("a.com").DnsFailed();
  w.Scan({a});
  EXPECT_THAT(w.Scan({b}).events, IsEmpty());
  store::ScanCommit c = w.Scan({servfail});
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(c.updates, IsEmpty());  // nothing of it written
  EXPECT_THAT(c.absent, IsEmpty());
  EXPECT_EQ(w.Observation("a.com").pending_scans(), 1u);
  EXPECT_THAT(w.Scan({servfail}).events, IsEmpty());
  EXPECT_THAT(Events(w.Scan({b})), ElementsAre("EVENT_TYPE_CHANGED a.com addresses:192.0.2.1->192.0.2.2"));

  // A name that answers nothing (the resolver timed out) is never GONE.
  for (int i = 0; i < 4; ++i) EXPECT_THAT(w.Scan({servfail}).events, IsEmpty());
  EXPECT_EQ(w.Observation("a.com").verdict(), v1::DNS_VERDICT_REGISTERED);
}

TEST(DifferTest, AFailedWhoisIsNoChange) {
  Watch w(2);
  w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Whois("Registrar A", "2030-01-01")});
  for (int i = 0; i < 3; ++i) {
    const store::ScanCommit c = w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).WhoisFailed()});
    EXPECT_THAT(c.events, IsEmpty());
    EXPECT_THAT(c.updates, IsEmpty());  // the same as confirmed: nothing written
  }
  EXPECT_EQ(w.Observation("a.com").fingerprint().registrar(), "Registrar A");
  // A whois failure while the addresses change: the change is about the addresses only.
  const v1::Record moved_failed = Rec("a.com").Addresses({"192.0.2.5"}).WhoisFailed();
  EXPECT_THAT(w.Scan({moved_failed}).events, IsEmpty());
  EXPECT_THAT(Events(w.Scan({Rec("a.com").Addresses({"192.0.2.5"}).Whois("Registrar A", "2030-01-01")})),
              ElementsAre("EVENT_TYPE_CHANGED a.com addresses:192.0.2.1->192.0.2.5"));
  // A real change of registrar is one.
  const v1::Record transferred = Rec("a.com").Addresses({"192.0.2.5"}).Whois("Registrar B", "2031-01-01");
  w.Scan({transferred});
  EXPECT_THAT(
      Events(w.Scan({transferred})),
      ElementsAre("EVENT_TYPE_CHANGED a.com registrar:Registrar A->Registrar B expires:2030-01-01->2031-01-01"));
}

TEST(DifferTest, AFailedLookupNeitherResetsNorCountsAPendingChange) {
  Watch w(2);
  w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Whois("Registrar A", "2030-01-01")});
  const v1::Record transferred = Rec("a.com").Addresses({"192.0.2.1"}).Whois("Registrar B", "2030-01-01");
  const v1::Record failed = Rec("a.com").Addresses({"192.0.2.1"}).WhoisFailed();
  EXPECT_THAT(w.Scan({transferred}).events, IsEmpty());
  const store::ScanCommit c = w.Scan({failed});
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(c.updates, IsEmpty());
  EXPECT_EQ(w.Observation("a.com").pending_scans(), 1u);
  EXPECT_THAT(Events(w.Scan({transferred})),
              ElementsAre("EVENT_TYPE_CHANGED a.com registrar:Registrar A->Registrar B"));
  // A pending change of addresses, then a scan with the addresses as confirmed: the change did not hold.
  EXPECT_THAT(w.Scan({Rec("a.com").Addresses({"192.0.2.2"}).WhoisFailed()}).events, IsEmpty());
  EXPECT_EQ(w.Observation("a.com").pending_scans(), 1u);
  EXPECT_THAT(w.Scan({failed}).updates.size(), 1u);
  EXPECT_EQ(w.Observation("a.com").pending_scans(), 0u);
}

TEST(DifferTest, AGroupSeenForTheFirstTimeIsLearntNotChanged) {
  Watch w(1);
  w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).WhoisFailed()});
  const store::ScanCommit c = w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Whois("Registrar A", "2030-01-01")});
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(Candidates(c.updates), ElementsAre("a.com"));  // learnt: written once
  EXPECT_EQ(w.Observation("a.com").fingerprint().registrar(), "Registrar A");
  EXPECT_THAT(w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Whois("Registrar A", "2030-01-01")}).updates, IsEmpty());
}

TEST(DifferTest, AWebServerThatTimedOutIsUnknownOneThatRefusesIsNone) {
  Watch w(1);
  w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Web("Parked")});
  EXPECT_THAT(w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Web("", 4)}).events, IsEmpty());
  EXPECT_THAT(Events(w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Web("Log in to your bank")})),
              ElementsAre("EVENT_TYPE_CHANGED a.com http_title:Parked->Log in to your bank"));
  EXPECT_THAT(Events(w.Scan({Rec("a.com").Addresses({"192.0.2.1"}).Web("", 14)})),
              ElementsAre("EVENT_TYPE_CHANGED a.com http_final_url:http://a.com/-> http_status:200-> "
                          "http_title:Log in to your bank->"));
}

TEST(DifferTest, AWildcardZoneIsOneEvent) {
  Watch w(2);
  std::vector<v1::Record> before, after;
  for (const char* name : {"a.com", "w1.z.com", "w2.z.com", "w3.z.com", "w4.z.com", "w5.z.com"}) {
    before.push_back(Rec(name, v1::DNS_VERDICT_UNREGISTERED));
    after.push_back(std::string(name) == "a.com" ? v1::Record(Rec(name, v1::DNS_VERDICT_UNREGISTERED))
                                                 : v1::Record(Rec(name).Wildcard("z.com").Addresses({"192.0.2.7"})));
  }
  w.Scan(before);
  EXPECT_THAT(w.Scan(after).events, IsEmpty());
  store::ScanCommit c = w.Scan(after);
  EXPECT_THAT(Events(c), ElementsAre("EVENT_TYPE_APPEARED w1.z.com verdict:UNREGISTERED->WILDCARD"));
  EXPECT_EQ(c.updates.size(), 5u);  // every name observed
  EXPECT_EQ(w.Observation("w4.z.com").verdict(), v1::DNS_VERDICT_WILDCARD);
  EXPECT_EQ(w.Observation("w4.z.com").fingerprint().wildcard_zone(), "z.com");
  // The zone's addresses change: one CHANGED; the zone goes: one GONE.
  for (auto& r : after) {
    if (r.domain_ascii() != "a.com") r.mutable_enrichments(0)->mutable_dns()->set_addresses(0, "192.0.2.8");
  }
  w.Scan(after);
  EXPECT_THAT(Events(w.Scan(after)), ElementsAre("EVENT_TYPE_CHANGED w1.z.com addresses:192.0.2.7->192.0.2.8"));
  w.Scan(before);
  EXPECT_THAT(Events(w.Scan(before)), ElementsAre("EVENT_TYPE_GONE w1.z.com verdict:WILDCARD->UNREGISTERED"));
}

TEST(DifferTest, TriageSilencesButMaliciousDoesNot) {
  Watch w(1);
  w.Scan({Rec("owned.com").Addresses({"192.0.2.1"}), Rec("ignored.com").Addresses({"192.0.2.1"}),
          Rec("fp.com").Addresses({"192.0.2.1"}), Rec("bad.com").Addresses({"192.0.2.1"})});
  w.Triage("owned.com", v1::TRIAGE_OWNED);
  w.Triage("ignored.com", v1::TRIAGE_IGNORED);
  w.Triage("fp.com", v1::TRIAGE_FALSE_POSITIVE);
  w.Triage("bad.com", v1::TRIAGE_MALICIOUS);
  const store::ScanCommit c =
      w.Scan({Rec("owned.com").Addresses({"192.0.2.2"}), Rec("ignored.com", v1::DNS_VERDICT_UNREGISTERED),
              Rec("fp.com").Addresses({"192.0.2.2"}), Rec("bad.com").Addresses({"192.0.2.2"})});
  EXPECT_THAT(Events(c), ElementsAre("EVENT_TYPE_CHANGED bad.com addresses:192.0.2.1->192.0.2.2"));
  EXPECT_EQ(c.updates.size(), 4u);  // their observations still follow the scans
  EXPECT_THAT(w.Observation("owned.com").fingerprint().addresses(), ElementsAre("192.0.2.2"));
  EXPECT_EQ(w.Observation("ignored.com").verdict(), v1::DNS_VERDICT_UNREGISTERED);
  EXPECT_EQ(w.Observation("owned.com").triage(), v1::TRIAGE_OWNED);
}

TEST(DifferTest, OneConfirmationIsImmediate) {
  Watch w(1);
  w.Scan({Rec("a.com", v1::DNS_VERDICT_UNREGISTERED)});
  EXPECT_THAT(Events(w.Scan({Rec("a.com").Addresses({"192.0.2.1"})})),
              ElementsAre("EVENT_TYPE_APPEARED a.com verdict:UNREGISTERED->REGISTERED"));
  EXPECT_THAT(Events(w.Scan({Rec("a.com", v1::DNS_VERDICT_UNREGISTERED)})),
              ElementsAre("EVENT_TYPE_GONE a.com verdict:REGISTERED->UNREGISTERED"));
}

TEST(DifferTest, NothingChangedWritesNothing) {
  Watch w(2);
  const std::vector<v1::Record> scan = {Rec("a.com").Addresses({"192.0.2.1"}).Whois("R", "2030-01-01").Web("Hi"),
                                        Rec("b.com", v1::DNS_VERDICT_UNREGISTERED)};
  w.Scan(scan);
  // The same again (a latency is no part of the fingerprint).
  std::vector<v1::Record> again = scan;
  again[0].mutable_enrichments(0)->set_latency_micros(12345);  // not in the fingerprint
  for (int i = 0; i < 3; ++i) {
    const store::ScanCommit c = w.Scan(again);
    EXPECT_THAT(c.events, IsEmpty());
    EXPECT_THAT(c.inserts, IsEmpty());
    EXPECT_THAT(c.updates, IsEmpty());
    EXPECT_THAT(c.absent, IsEmpty());
    // Seen at this scan all the same: the watch's last_scan.
    EXPECT_EQ(w.Observation("a.com").last_seen().seconds(), absl::ToUnixSeconds(w.now()));
    EXPECT_EQ(w.Observation("b.com").last_seen().seconds(), absl::ToUnixSeconds(w.now()));
  }
}

TEST(DifferTest, ACandidateNewAfterTheBaselineIsBaselinedSilently) {
  Watch w(2);
  w.Scan({Rec("a.com", v1::DNS_VERDICT_UNREGISTERED)});
  // The watch's kinds changed: new candidates, one registered, one not, one unknown. A name registered all along
  // is not news: no APPEARED for it, now or on the next scans.
  const std::vector<v1::Record> scan = {Rec("a.com", v1::DNS_VERDICT_UNREGISTERED),
                                        Rec("new.com").Addresses({"192.0.2.3"}).Kind(v1::PERMUTATION_KIND_HOMOGLYPH),
                                        Rec("free.com", v1::DNS_VERDICT_UNREGISTERED), Rec("odd.com").DnsFailed()};
  store::ScanCommit c = w.Scan(scan);
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(Candidates(c.inserts), ElementsAre("new.com", "free.com", "odd.com"));
  EXPECT_EQ(w.Observation("new.com").verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ(w.Observation("new.com").pending_scans(), 0u);
  EXPECT_EQ(w.Observation("free.com").verdict(), v1::DNS_VERDICT_UNREGISTERED);
  c = w.Scan(scan);
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(c.inserts, IsEmpty());
  EXPECT_THAT(c.updates, IsEmpty());  // nothing changed since it was baselined
  // Then a real change of the new one is an event like any other (after 2 scans).
  std::vector<v1::Record> moved = scan;
  moved[1] = Rec("new.com").Addresses({"192.0.2.9"}).Kind(v1::PERMUTATION_KIND_HOMOGLYPH);
  c = w.Scan(moved);
  EXPECT_THAT(c.events, IsEmpty());
  c = w.Scan(moved);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].type(), v1::EVENT_TYPE_CHANGED);
  EXPECT_EQ(c.events[0].kind(), v1::PERMUTATION_KIND_HOMOGLYPH);
}

TEST(DifferTest, ACandidateDroppedFromTheScansIsMarkedAbsentOnceAndBackIsAnUpdate) {
  Watch w(1);
  const v1::Record a = Rec("a.com").Addresses({"192.0.2.1"});
  const v1::Record b = Rec("b.com").Addresses({"192.0.2.1"});
  w.Scan({a, b});
  const absl::Time last_in_scan = w.now();
  // The watch's kinds changed: b.com is no longer a candidate. Marked absent, nothing else of it written.
  store::ScanCommit c = w.Scan({a});
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(c.inserts, IsEmpty());
  EXPECT_THAT(c.updates, IsEmpty());
  EXPECT_THAT(c.absent, ElementsAre("b.com"));
  EXPECT_EQ(w.Observation("b.com").verdict(), v1::DNS_VERDICT_REGISTERED);  // left as it was
  EXPECT_EQ(w.Observation("b.com").last_seen().seconds(), absl::ToUnixSeconds(last_in_scan));
  EXPECT_EQ(w.Observation("a.com").last_seen().seconds(), absl::ToUnixSeconds(w.now()));
  // Not again on the next scan: its last_seen stays the last scan it was in.
  c = w.Scan({a});
  EXPECT_THAT(c.absent, IsEmpty());
  EXPECT_THAT(c.updates, IsEmpty());
  EXPECT_EQ(w.Observation("b.com").last_seen().seconds(), absl::ToUnixSeconds(last_in_scan));
  // It comes back with nothing changed: an update that says it is here again, no event.
  c = w.Scan({a, b});
  EXPECT_THAT(c.events, IsEmpty());
  EXPECT_THAT(c.inserts, IsEmpty());
  EXPECT_THAT(c.absent, IsEmpty());
  ASSERT_THAT(Candidates(c.updates), ElementsAre("b.com"));
  EXPECT_FALSE(c.updates[0].absent);
  EXPECT_EQ(c.updates[0].verdict, v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ(w.Observation("b.com").last_seen().seconds(), absl::ToUnixSeconds(w.now()));
  // Then nothing is written for it again.
  c = w.Scan({a, b});
  EXPECT_THAT(c.updates, IsEmpty());
  EXPECT_THAT(c.absent, IsEmpty());
  // Dropped again, and back changed: the change counts as any other (one confirmation here).
  EXPECT_THAT(w.Scan({a}).absent, ElementsAre("b.com"));
  c = w.Scan({a, Rec("b.com").Addresses({"192.0.2.2"})});
  EXPECT_THAT(Events(c), ElementsAre("EVENT_TYPE_CHANGED b.com addresses:192.0.2.1->192.0.2.2"));
  ASSERT_THAT(Candidates(c.updates), ElementsAre("b.com"));
  EXPECT_FALSE(c.updates[0].absent);
}

TEST(FingerprintTest, ReadsEveryFieldAndSaysWhatIsKnown) {
  v1::Record r = Rec("a.com").Addresses({"2001:db8::1", "192.0.2.1", "192.0.2.1"}).NameServers({"B.ns.", "a.ns"});
  r.mutable_enrichments(0)->mutable_dns()->add_mail_exchangers("MX.a.com.");
  v1::Enrichment* banner = r.add_enrichments();
  banner->set_enricher(v1::ENRICHER_BANNER);
  v1::BannerResult* b = banner->mutable_banner();
  v1::HttpProbe* https = b->add_http();
  https->set_scheme("https");
  https->set_final_status(301);
  v1::HttpProbe* http = b->add_http();
  http->set_scheme("http");
  http->set_final_status(200);
  http->set_final_url("http://a.com/login");
  http->set_title("Sign in");
  b->set_parked(true);
  b->set_similarity(87);
  b->set_similarity_known(true);
  b->mutable_tls()->add_chain()->set_sha256("AA:BB");
  b->mutable_tls()->mutable_chain(0)->set_issuer("CN=R3");
  b->mutable_ssh()->set_identification("SSH-2.0-OpenSSH_9.2");
  b->mutable_smtp()->set_banner("220 mx ESMTP");
  b->mutable_smtp()->mutable_status()->set_code(4);  // the RCPT check timed out: the greeting came
  const Observed o = Observe(r);
  EXPECT_EQ(o.verdict, v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ(o.known, kAllGroups & ~kWhoisGroup);  // whois not run
  EXPECT_THAT(o.fingerprint.addresses(), ElementsAre("192.0.2.1", "2001:db8::1"));
  EXPECT_THAT(o.fingerprint.name_servers(), ElementsAre("a.ns", "b.ns"));
  EXPECT_THAT(o.fingerprint.mail_exchangers(), ElementsAre("mx.a.com"));
  EXPECT_EQ(o.fingerprint.http_final_url(), "http://a.com/login");  // http before https
  EXPECT_EQ(o.fingerprint.http_status(), 200u);
  EXPECT_EQ(o.fingerprint.http_title(), "Sign in");
  EXPECT_TRUE(o.fingerprint.parked());
  EXPECT_EQ(o.fingerprint.similarity_bucket(), 8);
  EXPECT_EQ(o.fingerprint.certificate_sha256(), "AA:BB");
  EXPECT_EQ(o.fingerprint.certificate_issuer(), "CN=R3");
  EXPECT_EQ(o.fingerprint.ssh_banner(), "SSH-2.0-OpenSSH_9.2");
  EXPECT_EQ(o.fingerprint.smtp_banner(), "220 mx ESMTP");

  EXPECT_EQ(Observe(Rec("a.com").DnsFailed()).verdict, v1::DNS_VERDICT_UNKNOWN);
  v1::Record no_dns;
  no_dns.set_domain_ascii("a.com");
  EXPECT_EQ(Observe(no_dns).verdict, v1::DNS_VERDICT_UNKNOWN);
  EXPECT_EQ(Observe(no_dns).known, 0u);
  EXPECT_EQ(Observe(Rec("a.com", v1::DNS_VERDICT_UNREGISTERED)).known, kAllGroups);
  EXPECT_EQ(Observe(Rec("a.com").Web("", 4)).known, kDnsGroup | kTlsGroup | kSshGroup | kSmtpGroup);
}

}  // namespace
}  // namespace squatstream::watch
