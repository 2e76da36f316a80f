// Permutation engine speed: names per second for each benchmark domain, overall and per kind, and the time
// until the first candidate is available. bench/run_permute_bench.py runs it next to dnstwist and writes the
// side-by-side table in docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "permute/domain.h"
#include "permute/permutations.h"

namespace squatstream::permute {
namespace {

const std::vector<std::string>& Domains() {
  static const std::vector<std::string> domains = {"example.com",        "google.com",
                                                   "paypal.com",         "github.io",
                                                   "xn--80ak6aa92e.com", "internationalbusinessmachines.com"};
  return domains;
}

ParsedDomain MustParse(const std::string& d) {
  absl::StatusOr<ParsedDomain> parsed = ParseDomain(d);
  if (!parsed.ok()) std::abort();
  return *parsed;
}

// Every candidate of one domain (all kinds, or one), drained through Next() as the service does.
void BM_Generate(benchmark::State& state, const std::string& domain, const std::vector<Kind>& kinds) {
  const ParsedDomain parsed = MustParse(domain);
  GenerateAll(parsed, {.kinds = kinds});  // look-alike tables built before the clock runs
  std::size_t names = 0;
  for (auto _ : state) {
    Generator g(parsed, {.kinds = kinds});
    while (std::optional<Candidate> c = g.Next()) benchmark::DoNotOptimize(c->ascii.data());
    names = g.generated();
  }
  state.counters["names"] = static_cast<double>(names);
  state.counters["names_per_second"] = benchmark::Counter(
      static_cast<double>(names) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// From the request's parsed domain to the first candidate in hand.
void BM_FirstCandidate(benchmark::State& state, const std::string& domain) {
  const ParsedDomain parsed = MustParse(domain);
  GenerateAll(parsed, {});
  for (auto _ : state) {
    Generator g(parsed, {});
    benchmark::DoNotOptimize(g.Next());
  }
}

// ClassifyDomain's two costs: building a target's Classifier (a cache miss: the whole generation plus the
// map) and asking it about one name (a hit). The names asked alternate between permutations and not.
void BM_ClassifierBuild(benchmark::State& state, const std::string& domain) {
  const ParsedDomain parsed = MustParse(domain);
  GenerateAll(parsed, {});
  for (auto _ : state) benchmark::DoNotOptimize(Classifier(parsed).size());
}

void BM_ClassifierLookup(benchmark::State& state, const std::string& domain) {
  const ParsedDomain parsed = MustParse(domain);
  const Classifier classifier(parsed);
  std::vector<std::string> names;
  for (const Candidate& c : GenerateAll(parsed, {.kinds = {}, .max_candidates = 500})) {
    names.push_back(c.ascii);
    names.push_back("x" + c.ascii);  // mostly no permutation
  }
  std::size_t i = 0;
  std::size_t twists = 0;
  for (auto _ : state) {
    twists += classifier.Classify(names[i]).empty() ? 0 : 1;
    i = i + 1 == names.size() ? 0 : i + 1;
  }
  benchmark::DoNotOptimize(twists);
}

// What a Generator holds, as glibc's allocator counts it (mallinfo2; meaningless under a sanitizer): the most
// at any Next(), and what it still holds after its last candidate, before it is destroyed — what a stream
// holds while its client reads the candidates out. A capped run's kinds make their names before the cap cuts
// them. Written against the public API only, so the same file measures an older engine.
void BM_GeneratorMemory(benchmark::State& state, const std::string& domain, std::size_t cap, bool subdomains) {
  const ParsedDomain parsed = MustParse(domain);
  const GeneratorOptions options{.kinds = {}, .max_candidates = cap, .subdomains = subdomains};
  GenerateAll(parsed, options);  // tables and library caches built first
  std::size_t most = 0, after_last = 0, names = 0;
  for (auto _ : state) {
    const std::size_t before = mallinfo2().uordblks;
    Generator g(parsed, options);
    while (std::optional<Candidate> c = g.Next()) {
      most = std::max(most, mallinfo2().uordblks - before);
      benchmark::DoNotOptimize(c->ascii.data());
    }
    after_last = mallinfo2().uordblks - before;
    names = g.generated();
  }
  state.counters["names"] = static_cast<double>(names);
  state.counters["most_held_KiB"] = static_cast<double>(most) / 1024;
  state.counters["held_after_last_KiB"] = static_cast<double>(after_last) / 1024;
}

// Inputs whose variants are nearly all refused once made (too long once punycoded; mixing scripts), where
// the budgeted kinds stop at their work limit (KindWorkLimit): every kind, the time for the whole domain.
const std::vector<std::string>& RefusedVariantDomains() {
  static const std::vector<std::string> domains = {
      "thequickbrownfoxjumpsoverthelazydogwhilesquattersregisterlookal.com",  // 63 letters
      "aeiouaeiouaeΐ.com", "ejafΐa9aejafΐa9oeeee.ee"};
  return domains;
}

// Inputs holding letters with two marks (ǖ, ợ), which are no look-alikes but take the fast path: every kind.
const std::vector<std::string>& TwoMarkDomains() {
  static const std::vector<std::string> domains = {"ǖthequickbrownfoxjumpsoverthelazydogwhilesquattersr.com",
                                                   "ǖthequickbrownfoxjumpsoverthela.com", "thượnghải.vn"};
  return domains;
}

int RegisterAll() {
  for (const std::string domain : {"example.com", "internationalbusinessmachines.com"}) {
    for (const std::size_t cap : {std::size_t{100}, std::size_t{500}, std::size_t{100000}}) {
      benchmark::RegisterBenchmark(("BM_GeneratorMemory/" + domain + "/cap:" + std::to_string(cap)).c_str(),
                                   BM_GeneratorMemory, domain, cap, false)
          ->Unit(benchmark::kMillisecond);
    }
  }
  // Four 50-letter labels with their subdomains permuted: the most names one domain can make.
  const std::string l50 = "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvb";
  benchmark::RegisterBenchmark("BM_GeneratorMemory/four-50-letter-labels/subdomains", BM_GeneratorMemory,
                               l50 + "." + l50 + "." + l50 + "." + l50 + ".com", std::size_t{100000}, true)
      ->Unit(benchmark::kMillisecond);
  for (const std::string& d : RefusedVariantDomains()) {
    benchmark::RegisterBenchmark(("BM_RefusedVariants/" + d).c_str(), BM_Generate, d, std::vector<Kind>{})
        ->Unit(benchmark::kMillisecond);
  }
  for (const std::string& d : TwoMarkDomains()) {
    benchmark::RegisterBenchmark(("BM_TwoMarks/" + d).c_str(), BM_Generate, d, std::vector<Kind>{})
        ->Unit(benchmark::kMillisecond);
  }
  for (const std::string& d : Domains()) {
    // github.io itself is a public suffix: benchmark a name under it, as dnstwist's users would ask.
    const std::string domain = d == "github.io" ? "octocat.github.io" : d;
    benchmark::RegisterBenchmark(("BM_Generate/" + domain + "/all").c_str(), BM_Generate, domain, std::vector<Kind>{})
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_FirstCandidate/" + domain).c_str(), BM_FirstCandidate, domain)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_ClassifierBuild/" + domain).c_str(), BM_ClassifierBuild, domain)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_ClassifierLookup/" + domain).c_str(), BM_ClassifierLookup, domain)
        ->Unit(benchmark::kNanosecond);
    for (Kind k : AllKinds()) {
      benchmark::RegisterBenchmark(("BM_Generate/" + domain + "/" + std::string(KindName(k))).c_str(), BM_Generate,
                                   domain, std::vector<Kind>{k})
          ->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}
const int kRegistered = RegisterAll();

// `--list=DOMAIN`: every candidate of DOMAIN, one per line as "ascii<TAB>unicode<TAB>kind,kind…", for the
// name-set overlap that bench/run_permute_bench.py computes against twistrs and dnstwist.
int List(const std::string& domain) {
  absl::StatusOr<ParsedDomain> parsed = ParseDomain(domain);
  if (!parsed.ok()) {
    std::fprintf(stderr, "permute_bench: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  for (const Candidate& c : GenerateAll(*parsed, {})) {
    std::string kinds;
    c.kinds.ForEach([&](Kind k) { absl::StrAppend(&kinds, kinds.empty() ? "" : ",", KindName(k)); });
    std::printf("%s\t%s\t%s\n", c.ascii.c_str(), c.unicode.c_str(), kinds.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace squatstream::permute

int main(int argc, char** argv) {
  constexpr std::string_view kList = "--list=";
  if (argc == 2 && std::string_view(argv[1]).substr(0, kList.size()) == kList) {
    return squatstream::permute::List(std::string(argv[1] + kList.size()));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
