#include "workers/stub/stub_enricher.h"

#include <array>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asio/bind_cancellation_slot.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"

namespace squatstream::workers {
namespace {

// FNV-1a, 64 bits: stable across processes and platforms (unlike std::hash or absl::Hash), which is what
// makes the stubs deterministic.
std::uint64_t StableHash(absl::string_view s, std::uint64_t salt) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ salt;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  // Final avalanche (from splitmix64) so that nearby names spread over all bits.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

// A uniform value in [0, 1) from 53 bits of h.
double Unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

template <typename T, std::size_t N>
const T& Pick(const std::array<T, N>& items, std::uint64_t h) {
  return items[h % N];
}

struct Place {
  absl::string_view country;
  absl::string_view city;
  double latitude;
  double longitude;
};

constexpr std::array<Place, 12> kPlaces = {{
    {"US", "Ashburn", 39.04, -77.49},
    {"US", "San Jose", 37.34, -121.89},
    {"DE", "Frankfurt", 50.11, 8.68},
    {"NL", "Amsterdam", 52.37, 4.90},
    {"GB", "London", 51.51, -0.13},
    {"FR", "Paris", 48.86, 2.35},
    {"SG", "Singapore", 1.35, 103.82},
    {"JP", "Tokyo", 35.68, 139.69},
    {"RU", "Moscow", 55.76, 37.62},
    {"CN", "Hong Kong", 22.32, 114.17},
    {"BR", "São Paulo", -23.55, -46.63},
    {"CA", "Toronto", 43.65, -79.38},
}};
constexpr std::array<absl::string_view, 4> kNameServerHosts = {"parking.example", "dns.example.net",
                                                               "hosting.example.org", "registrar.example"};
constexpr std::array<absl::string_view, 3> kDocNets = {"192.0.2", "198.51.100", "203.0.113"};
constexpr std::array<absl::string_view, 8> kRegistrars = {"NameCheap, Inc.", "GoDaddy.com, LLC", "Tucows Domains Inc.",
                                                          "Gandi SAS",       "OVH SAS",          "Porkbun LLC",
                                                          "NameSilo, LLC",   "Dynadot Inc"};
constexpr std::array<std::uint32_t, 8> kHttpStatuses = {200, 200, 200, 301, 302, 403, 404, 0};
constexpr std::array<absl::string_view, 6> kServers = {
    "nginx/1.22.1", "Apache/2.4.57 (Debian)", "cloudflare", "Microsoft-IIS/10.0", "LiteSpeed", "openresty"};
constexpr std::array<absl::string_view, 6> kTitles = {"Domain for sale", "Welcome to nginx!", "Parked domain",
                                                      "Sign in",         "Coming soon",       "Index of /"};

// YYYY-MM-DD for a four-digit year (StrFormat cost more than the rest of a lookup; this runs per record).
std::string IsoDate(int year, int month, int day) {
  std::string out = "0000-00-00";
  for (int i = 3, y = year; i >= 0; --i, y /= 10) out[static_cast<std::size_t>(i)] = static_cast<char>('0' + y % 10);
  out[5] = static_cast<char>('0' + month / 10);
  out[6] = static_cast<char>('0' + month % 10);
  out[8] = static_cast<char>('0' + day / 10);
  out[9] = static_cast<char>('0' + day % 10);
  return out;
}

// Fills `out`'s result for `id`; `h` is the candidate's hash, `input` the record so far.
void ComputeValue(v1::Enricher id, const LookupInput& input, std::uint64_t h, double registered_rate,
                  v1::Enrichment* out) {
  const absl::string_view domain = input.domain_ascii;
  switch (id) {
    case v1::ENRICHER_DNS: {
      v1::DnsResult* dns = out->mutable_dns();
      v1::DnsQuery* ns = dns->add_queries();
      ns->set_type("NS");
      if (Unit(h ^ 0xd15) >= registered_rate) {
        dns->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
        ns->set_rcode("NXDOMAIN");
        const std::size_t dot = domain.find('.');
        dns->set_soa_zone(std::string(dot == absl::string_view::npos ? domain : domain.substr(dot + 1)));
        return;
      }
      dns->set_verdict(v1::DNS_VERDICT_REGISTERED);
      ns->set_rcode("NOERROR");
      const std::string server = absl::StrCat("ns", 1 + h % 4, ".", Pick(kNameServerHosts, h >> 4));
      v1::DnsAnswer* nsa = ns->add_answers();
      nsa->set_value(server);
      nsa->set_ttl(86400);
      dns->add_name_servers(server);
      v1::DnsQuery* a = dns->add_queries();
      a->set_type("A");
      a->set_rcode("NOERROR");
      std::string ip = absl::StrCat(Pick(kDocNets, h >> 8), ".", 1 + (h >> 16) % 254);
      v1::DnsAnswer* aa = a->add_answers();
      aa->set_value(ip);
      aa->set_ttl(300);
      dns->add_addresses(std::move(ip));
      return;
    }
    case v1::ENRICHER_GEO: {
      const Place& place = Pick(kPlaces, h);
      v1::GeoResult* geo = out->mutable_geo();
      const v1::DnsResult* dns = DnsResultOf(input.record);
      geo->set_ip(dns != nullptr && dns->addresses_size() > 0
                      ? dns->addresses(0)
                      : absl::StrCat(Pick(kDocNets, h >> 8), ".", 1 + (h >> 16) % 254));
      geo->set_country_code(std::string(place.country));
      geo->set_city(std::string(place.city));
      geo->set_asn(static_cast<std::uint32_t>(64496 + (h >> 24) % 16));
      geo->set_latitude(place.latitude);
      geo->set_longitude(place.longitude);
      return;
    }
    case v1::ENRICHER_WHOIS: {
      v1::WhoisResult* whois = out->mutable_whois();
      whois->set_registered((h % 4) != 0);
      if (whois->registered()) {
        const auto year = static_cast<int>(1996 + (h >> 8) % 30);
        const auto month = static_cast<int>(1 + (h >> 16) % 12);
        const auto day = static_cast<int>(1 + (h >> 24) % 28);
        whois->set_registrar(std::string(Pick(kRegistrars, h >> 32)));
        whois->set_created(IsoDate(year, month, day));
        whois->set_expires(IsoDate(2027 + static_cast<int>((h >> 40) % 5), month, day));
      }
      return;
    }
    case v1::ENRICHER_BANNER: {
      v1::BannerResult* banner = out->mutable_banner();
      banner->set_http_status(Pick(kHttpStatuses, h));
      if (banner->http_status() != 0) {
        banner->set_server(std::string(Pick(kServers, h >> 8)));
        banner->set_title(absl::StrCat(Pick(kTitles, h >> 16), " — ", domain));
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace

StubEnricher::StubEnricher(v1::Enricher id, StubConfig config) : id_(id), config_(config) {}

absl::Span<const v1::Enricher> StubEnricher::needs() const {
  static constexpr v1::Enricher kDns[] = {v1::ENRICHER_DNS};
  if (id_ == v1::ENRICHER_DNS) return {};
  return kDns;
}

std::optional<LookupResult> StubEnricher::Skip(const LookupInput& input) const {
  switch (id_) {
    case v1::ENRICHER_GEO:
    case v1::ENRICHER_BANNER:
      return NeedAddresses(input);
    case v1::ENRICHER_WHOIS:
      return NeedNotUnregistered(input);
    default:
      return std::nullopt;
  }
}

LookupResult StubEnricher::Compute(const LookupInput& input) const {
  const auto salt = static_cast<std::uint64_t>(id_);
  const std::uint64_t h = StableHash(input.domain_ascii, salt);
  const std::uint64_t fate = StableHash(input.domain_ascii, salt + 0x9e3779b97f4a7c15ULL);
  LookupResult result;
  if (config_.latency > absl::ZeroDuration()) result.latency = config_.latency * (0.5 + Unit(fate ^ 0x5555));
  if (Unit(fate) < config_.failure_rate) {
    result.status = absl::UnavailableError(
        absl::StrFormat("simulated %s lookup failure for %s", EnricherName(id_), input.domain_ascii));
    return result;
  }
  ComputeValue(id_, input, h, config_.registered_rate, &result.value);
  result.value.set_simulated(true);
  return result;
}

std::optional<LookupResult> StubEnricher::TryLookupNow(const LookupInput& input) {
  if (std::optional<LookupResult> skipped = Skip(input)) return skipped;
  if (config_.latency > absl::ZeroDuration()) return std::nullopt;  // every result waits (0.5x-1.5x of it)
  return Compute(input);
}

void StubEnricher::Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
                          Callback done) {
  std::optional<LookupResult> skipped = Skip(input);
  LookupResult result = skipped ? *std::move(skipped) : Compute(input);
  if (result.latency <= absl::ZeroDuration()) {
    asio::post(executor,
               [done = std::move(done), result = std::move(result)]() mutable { std::move(done)(std::move(result)); });
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(executor, absl::ToChronoNanoseconds(result.latency));
  timer->async_wait(asio::bind_cancellation_slot(
      cancel, [timer, done = std::move(done), result = std::move(result)](const asio::error_code& ec) mutable {
        if (ec) {
          result.status = absl::CancelledError("lookup cancelled");
          result.value.Clear();
        }
        std::move(done)(std::move(result));
      }));
}

}  // namespace squatstream::workers
