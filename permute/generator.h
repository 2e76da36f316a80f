// The Generator: the look-alike candidates of one ParsedDomain, every selected kind, each candidate once.
//
// Pure, no I/O. A Generator runs the selected kinds one at a time (their generators are in the kind
// registry, permute/kinds/), as Next() needs candidates, and hands a candidate out as soon as every kind
// that could also produce it has run (each kind's may-produce check says which), so that its kinds are
// complete: for an ASCII domain the first candidates come out after the first kind ran (microseconds), not
// after all of them (milliseconds; docs/BENCHMARKS.md, bench/permute_bench). Every
// candidate is a valid IDNA2008 hostname whose permuted label is single-script (as registries require),
// differs from the input, and appears once, carrying every kind that produced it. Each kind has a
// deterministic budget (KindBudget) and work limit (KindWorkLimit), so long labels stay bounded; the order
// is stable for a given input and options.
//
// Memory: what a Generator holds (its names, its deduplication index, the candidates waiting for a later
// kind) is counted as it grows (HeldBytes) and bounded by options.max_held_bytes: a kind offering a name
// that could take it past the bound stops, and so do the kinds after it — the names made so far are the
// output, the same every time. Once Next() has returned nullopt (every kind ran, or the cap was reached) the
// Generator holds almost nothing: a capped run does not keep the names its kinds made beyond the cap.
#ifndef SQUATSTREAM_PERMUTE_GENERATOR_H_
#define SQUATSTREAM_PERMUTE_GENERATOR_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "permute/domain.h"
#include "permute/kind.h"

namespace squatstream::permute {

struct Candidate {
  Kind kind;            // the first kind, in generation order (options.kinds's), that produced it
  KindSet kinds;        // every selected kind that produced it
  std::string ascii;    // lower-case punycode form
  std::string unicode;  // Unicode form (equal to ascii when no label is internationalized)
};

// The default bound on what one Generator holds (GeneratorOptions::max_held_bytes): above every domain
// of the test corpus without permute_subdomains, so that it binds only where subdomain labels multiply the
// names (the figures: docs/BENCHMARKS.md, bench/permute_bench GeneratorMemory).
// tests/permute/generator_memory_test.cc checks that the count is what the allocator sees.
inline constexpr std::size_t kDefaultMaxHeldBytes = std::size_t{6} << 20;

struct GeneratorOptions {
  // Kinds to generate, in this order; empty means AllKinds() (run order: the likely hits first). A caller
  // holding a selection as a set passes InRunOrder(set); any order works (the tests shuffle it).
  std::vector<Kind> kinds;
  std::size_t max_candidates = SIZE_MAX;
  // Also apply the label-level kinds to each subdomain label (login.example.com -> 1ogin.example.com), one
  // label changed per candidate, after the registrable label's variants of the same kind. Off: only the
  // registrable label is permuted.
  bool subdomains = false;
  // Hand candidates out while kinds are still to run (above). Off, every kind runs before the first
  // candidate and the order is plain generation order; the candidates and their kinds are the same. For a
  // domain with an internationalized label the generator always works as if it were off.
  bool incremental = true;
  // What the Generator may hold (HeldBytes) before its kinds stop offering names; see above.
  std::size_t max_held_bytes = kDefaultMaxHeldBytes;
};

// Yields the candidates of one domain. Not thread-safe: one owner drives it; the accessors may be read
// between calls to Next() by that owner.
class Generator {
 public:
  Generator(ParsedDomain domain, GeneratorOptions options);

  // Returns the next candidate, or nullopt once every kind ran or max_candidates were returned.
  std::optional<Candidate> Next();

  // Candidates returned so far.
  std::size_t generated() const { return generated_; }

  // The input domain.
  const ParsedDomain& domain() const { return domain_; }

  // The options it was made with.
  const GeneratorOptions& options() const { return options_; }

  // Kinds run so far (of options.kinds).
  std::size_t kinds_run() const { return next_kind_; }

  // Variants the kinds run so far have tried (made and offered, whatever became of them): at most the sum
  // of their KindWorkLimit.
  std::size_t offered() const { return offered_; }

  // Times a kind produced a candidate that had been handed out already, so that the candidate went out
  // without that kind among its kinds (the candidate itself is never repeated). Public so that callers can
  // watch it (a pipeline may export it as a metric, summed over streams): it stays zero unless a kind's
  // may-produce check (its entry in permute/kinds/registry.cc) misses a way its generator makes a name, a
  // bug the tests and the fuzzer look for. Never counts in a run with options.incremental off or an
  // internationalized input (nothing is handed out before every kind ran). Monotonic over the Generator's
  // life.
  std::size_t late_merges() const { return late_merges_; }

  // What the Generator holds now, in bytes of heap: the input's own state (the text around each permutable
  // label), its names, the candidates it keeps and their index, as allocated (block and table capacities,
  // not sizes). At most options.max_held_bytes; after the last candidate only the input's state, as before
  // the first.
  std::size_t HeldBytes() const;

  // Whether a kind stopped early because the names would have taken HeldBytes past options.max_held_bytes.
  bool held_bytes_bound() const { return held_bytes_bound_; }

  // Whether Next() will return nothing more (every kind ran and every candidate went, or the cap was
  // reached): the names are freed then.
  bool exhausted() const { return dropped_; }

  // How many candidates this Generator hands out in all (those returned so far included), once that is
  // known: when every kind has run, or the kinds run so far made max_candidates; nullopt before.
  std::optional<std::size_t> total() const;

  // Runs now the kinds Next() would run later, until total() is known (every kind, or until the cap is
  // made): for a caller that wants to say early how many candidates are left. The candidates, their order
  // and their kinds are the same; the kinds' work is done in this call instead of in later Next() calls,
  // and what the Generator holds grows as it would have (within options.max_held_bytes).
  void RunAhead();

 private:
  // A candidate as the generator keeps it; the names live in names_.
  struct Stored {
    absl::string_view ascii, unicode;
    Kind kind;
    KindSet kinds;
    bool handed_out = false;
  };
  // Append-only storage for names: what Add returns stays valid as long as the arena (moves included).
  class NameArena {
   public:
    static constexpr std::size_t kBlockBytes = std::size_t{64} << 10;

    NameArena() = default;
    NameArena(NameArena&&) noexcept = default;
    NameArena& operator=(NameArena&&) noexcept = default;
    NameArena(const NameArena&) = delete;  // views into it would point into the original
    NameArena& operator=(const NameArena&) = delete;

    absl::string_view Add(absl::string_view s);
    // Takes back what the last Add returned.
    void RemoveLast(absl::string_view added);
    // Bytes allocated (whole blocks), and what the next Add of up to `size` bytes may allocate.
    std::size_t allocated() const { return allocated_; }
    std::size_t NextAllocation(std::size_t size) const;

   private:
    std::vector<std::unique_ptr<char[]>> blocks_;
    std::size_t used_ = 0, capacity_ = 0, allocated_ = 0;
  };
  // The text around one permutable label (the registrable one, or a subdomain label), with its dots.
  struct Slot {
    std::string before_ascii, after_ascii;      // e.g. "www." and ".co.uk"
    std::string before_unicode, after_unicode;  // the same in Unicode
  };
  // A selected kind that makes non-ASCII names from an ASCII label (the registry's NonAsciiNames).
  struct NonAsciiMaker {
    std::size_t position;            // in options.kinds
    std::vector<std::string> names;  // a kListed kind's names (Unicode), when incremental_
  };

  // Runs options.kinds[i], then releases the candidates that waited for it.
  void RunKind(std::size_t i);
  // Whether one more candidate (its names, its record and index entry, a rehash of the index it may
  // cause) keeps HeldBytes within options.max_held_bytes; false sets held_bytes_bound_, for good.
  bool HasRoom();
  // Frees what the Generator holds once it has nothing more to hand out.
  void Drop();
  // Counts one variant the running kind tried; false, counting nothing, once its work limit is spent.
  bool TakeTry();
  // Validates a variant of the label at `slot` and offers the whole name; false once the kind's budget is
  // spent.
  bool OfferLabel(Kind kind, const Slot& slot, std::u32string_view variant);
  // Validates a whole name (a name-level kind, or a label variant off the fast path) and offers it.
  bool OfferName(Kind kind, absl::string_view name);
  // If name_ was recorded already, adds `kind` to it (counting it against the kind's budget if the kind had
  // not made it yet) and returns true. Else records name_ in the index and returns false; the caller then
  // calls Accept.
  bool Merge(Kind kind);
  // Completes the candidate Merge just recorded (unicode empty: same as name_), made from `variant` of the
  // label at `slot` (nullptr: a whole name); false once the budget is spent.
  bool Accept(Kind kind, absl::string_view unicode, const Slot* slot = nullptr, std::u32string_view variant = {});
  // The position in options.kinds of the last kind after the one running that may also produce the
  // candidate `unicode` (the running one's when none may): the candidate waits until that kind has run.
  std::size_t ReleaseAfter(absl::string_view unicode, const Slot* slot, std::u32string_view variant);
  // Whether the label-level `kind` may make the name `unicode` from some permutable label (see ReleaseAfter).
  bool MayProduceByLabel(Kind kind, absl::string_view unicode, const Slot* slot, std::u32string_view variant);

  ParsedDomain domain_;
  GeneratorOptions options_;
  bool incremental_ = false;                                      // options.incremental, and the input is all ASCII
  std::u32string label_;                                          // the registrable label
  std::vector<NonAsciiMaker> non_ascii_makers_;                   // last position first
  Slot registrable_;                                              // around the registrable label
  std::vector<std::pair<Slot, std::u32string>> subdomain_slots_;  // each subdomain label (options.subdomains)
  bool unicode_differs_ = false;                                  // the input has an internationalized label
  std::vector<std::string> input_labels_;  // the input's Unicode labels (owned: a Generator is moved)
  std::string name_;                       // the ASCII form being offered (reused)
  std::string label_ascii_;                // scratch for one label's ASCII form
  std::string unicode_;                    // scratch for a candidate's Unicode form
  absl::string_view recorded_;             // the name Merge recorded last (in names_)
  std::size_t next_kind_ = 0;              // options.kinds position of the next kind to run
  std::size_t kind_accepted_ = 0;          // candidates the running kind produced (its budget)
  std::size_t kind_budget_ = 0;
  std::size_t kind_tries_left_ = 0;  // of the running kind's KindWorkLimit
  std::size_t offered_ = 0;          // variants tried by every kind run so far (offered())
  NameArena names_;
  std::deque<Stored> stored_;  // every candidate, in generation order (a deque: grows without copying)
  absl::flat_hash_map<absl::string_view, std::uint32_t> index_;  // ASCII form -> stored_ position
  std::vector<std::vector<std::uint32_t>> waiting_;              // per kind position: released after it ran
  std::deque<std::uint32_t> ready_;                              // released, not handed out yet
  std::size_t generated_ = 0;
  std::size_t late_merges_ = 0;
  std::size_t input_bytes_ = 0;    // the input's slots and labels (kept to the end)
  std::size_t fixed_bytes_ = 0;    // the non-ASCII makers' listed names
  bool held_bytes_bound_ = false;  // HasRoom said no: no kind offers more
  bool dropped_ = false;           // Drop ran: Next() returns nullopt
};

// Convenience for tests and tools: every candidate of `domain` with `options`, in order.
std::vector<Candidate> GenerateAll(const ParsedDomain& domain, const GeneratorOptions& options);

}  // namespace squatstream::permute

#endif  // SQUATSTREAM_PERMUTE_GENERATOR_H_
