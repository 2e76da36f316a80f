#include "permute/generator.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "permute/kinds/registry.h"
#include "permute/unicode.h"

namespace squatstream::permute {
namespace {

using internal::EntryOf;
using internal::KindEntry;
using internal::LabelDiff;
using internal::Level;
using internal::NonAsciiNames;

// What the deduplication index holds per slot of its table (value and control byte), and per candidate what
// the Generator keeps besides its names: its Stored entry, and its position in waiting_ (vectors: up to
// twice their size) or ready_.
constexpr std::size_t kIndexSlotBytes = sizeof(std::pair<absl::string_view, std::uint32_t>) + 1;
constexpr std::size_t kPerCandidateBytes = 64 + 3 * sizeof(std::uint32_t);  // Stored: at most 64 bytes
// Scratch strings, the slots around the permutable labels and the containers' own headers.
constexpr std::size_t kSmallStateBytes = 4096;

// The bytes of an index table of `capacity` slots; and its capacity after inserting into one holding `size`.
std::size_t IndexBytes(std::size_t capacity) { return capacity * kIndexSlotBytes; }
std::size_t CapacityAfterInsert(std::size_t capacity, std::size_t size) {
  // absl's SwissTable grows (doubling, 2^k - 1 slots) when an insert would fill it past 7/8.
  if (capacity == 0) return 1;
  return size + 1 > capacity - capacity / 8 ? capacity * 2 + 1 : capacity;
}

// ASCII-form checks the fast path applies to each label (those libidn2 would apply to an LDH label).
bool IsValidAsciiLabel(absl::string_view label) {
  if (label.empty() || label.size() > kMaxLabelBytes || label.front() == '-' || label.back() == '-') return false;
  // Labels with "--" at positions 3-4 are reserved; only a well-formed A-label may have it, and the fast
  // path produces those itself (from a label that does not have it).
  return !(label.size() >= 4 && label[2] == '-' && label[3] == '-');
}

}  // namespace

Generator::Generator(ParsedDomain domain, GeneratorOptions options)
    : domain_(std::move(domain)), options_(std::move(options)) {
  if (options_.kinds.empty()) options_.kinds.assign(AllKinds().begin(), AllKinds().end());
  // The ASCII form has the same labels as the Unicode one, in the same places.
  const std::size_t prefix_labels =
      static_cast<std::size_t>(std::count(domain_.prefix.begin(), domain_.prefix.end(), '.'));
  const std::vector<absl::string_view> ascii = absl::StrSplit(domain_.ascii, '.');
  input_labels_ = absl::StrSplit(domain_.unicode, '.');
  // The text around label `at`: every other label, with the dots next to `at`.
  auto slot_at = [&](std::size_t at) {
    Slot s;
    for (std::size_t i = 0; i < ascii.size(); ++i) {
      if (i < at) {
        absl::StrAppend(&s.before_ascii, ascii[i], ".");
        absl::StrAppend(&s.before_unicode, input_labels_[i], ".");
      } else if (i > at) {
        absl::StrAppend(&s.after_ascii, ".", ascii[i]);
        absl::StrAppend(&s.after_unicode, ".", input_labels_[i]);
      }
    }
    return s;
  };
  registrable_ = slot_at(prefix_labels);
  if (options_.subdomains) {
    for (std::size_t i = 0; i < prefix_labels; ++i) {
      subdomain_slots_.emplace_back(slot_at(i), DecodeUtf8(input_labels_[i]));
    }
  }
  unicode_differs_ = domain_.unicode != domain_.ascii;
  // The kinds' may-produce checks are exact for ASCII input only; an internationalized input runs every
  // kind before its first candidate.
  incremental_ = options_.incremental && !unicode_differs_;
  label_ = DecodeUtf8(domain_.label);
  waiting_.resize(options_.kinds.size());
  for (std::size_t i = options_.kinds.size(); i-- > 0;) {
    const KindEntry& entry = EntryOf(options_.kinds[i]);
    if (entry.non_ascii == NonAsciiNames::kNone) continue;
    NonAsciiMaker& maker = non_ascii_makers_.emplace_back();
    maker.position = i;
    if (incremental_ && entry.non_ascii == NonAsciiNames::kListed) {  // by the kind's own generator
      auto collect = [&](const Slot& slot, const Label& label) {
        entry.Variants(label, [&](const Label& v) {
          maker.names.push_back(absl::StrCat(slot.before_unicode, EncodeUtf8(v), slot.after_unicode));
          return true;
        });
      };
      collect(registrable_, label_);
      for (const auto& subdomain : subdomain_slots_) collect(subdomain.first, subdomain.second);
      for (const std::string& name : maker.names) fixed_bytes_ += sizeof(std::string) + name.capacity();
    }
  }
  // The input's own state, kept to the end: the text around each permutable label, each label.
  auto slot_bytes = [](const Slot& s) {
    return sizeof(Slot) + s.before_ascii.capacity() + s.after_ascii.capacity() + s.before_unicode.capacity() +
           s.after_unicode.capacity();
  };
  input_bytes_ = slot_bytes(registrable_) + label_.capacity() * sizeof(char32_t) +
                 waiting_.capacity() * sizeof(decltype(waiting_)::value_type) +
                 non_ascii_makers_.capacity() * sizeof(NonAsciiMaker);
  for (const auto& subdomain : subdomain_slots_) {
    input_bytes_ +=
        slot_bytes(subdomain.first) + sizeof(std::u32string) + subdomain.second.capacity() * sizeof(char32_t);
  }
  for (const std::string& l : input_labels_) input_bytes_ += sizeof(std::string) + l.capacity();
}

std::size_t Generator::HeldBytes() const {
  static_assert(sizeof(Stored) <= 64, "kPerCandidateBytes counts 64 bytes for a Stored");
  return kSmallStateBytes + input_bytes_ + fixed_bytes_ + names_.allocated() + stored_.size() * kPerCandidateBytes +
         IndexBytes(index_.capacity());
}

bool Generator::HasRoom() {
  if (held_bytes_bound_) return false;
  // The worst one more candidate does: a new arena block for its two forms, its entry, and an index rehash
  // (during which the old and the new table are both allocated).
  const std::size_t capacity = index_.capacity();
  const std::size_t grown = CapacityAfterInsert(capacity, index_.size());
  const std::size_t index_peak = grown == capacity ? IndexBytes(capacity) : IndexBytes(capacity) + IndexBytes(grown);
  // A name's Unicode form may take up to 4 bytes for each byte of its ASCII form (a code point per punycode
  // digit at most, 4 bytes of UTF-8 each).
  const std::size_t after = kSmallStateBytes + input_bytes_ + fixed_bytes_ + names_.allocated() +
                            names_.NextAllocation(5 * kMaxDomainBytes) + (stored_.size() + 1) * kPerCandidateBytes +
                            index_peak;
  if (after <= options_.max_held_bytes) return true;
  held_bytes_bound_ = true;
  return false;
}

void Generator::Drop() {
  dropped_ = true;
  names_ = NameArena();
  std::deque<Stored>().swap(stored_);
  index_ = {};
  std::vector<std::vector<std::uint32_t>>().swap(waiting_);
  std::deque<std::uint32_t>().swap(ready_);
  std::vector<NonAsciiMaker>().swap(non_ascii_makers_);
  fixed_bytes_ = 0;
}

absl::string_view Generator::NameArena::Add(absl::string_view s) {
  if (capacity_ - used_ < s.size()) {
    capacity_ = std::max<std::size_t>(kBlockBytes, s.size());
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(capacity_));
    allocated_ += capacity_ + sizeof(blocks_.front());
    used_ = 0;
  }
  char* at = blocks_.back().get() + used_;
  std::copy(s.begin(), s.end(), at);
  used_ += s.size();
  return {at, s.size()};
}

void Generator::NameArena::RemoveLast(absl::string_view added) { used_ -= added.size(); }

std::size_t Generator::NameArena::NextAllocation(std::size_t size) const {
  // A new block, and the block list's own growth (doubling) when it is full.
  return capacity_ - used_ >= size ? 0 : std::max(kBlockBytes, size) + (blocks_.size() + 1) * sizeof(blocks_.front());
}

std::optional<Candidate> Generator::Next() {
  if (dropped_) return std::nullopt;
  if (generated_ >= options_.max_candidates) {
    Drop();
    return std::nullopt;
  }
  while (ready_.empty() && next_kind_ < options_.kinds.size()) RunKind(next_kind_++);
  if (ready_.empty()) {
    Drop();
    return std::nullopt;
  }
  Stored& s = stored_[ready_.front()];
  ready_.pop_front();
  s.handed_out = true;
  ++generated_;
  Candidate c{.kind = s.kind, .kinds = s.kinds, .ascii = std::string(s.ascii), .unicode = std::string(s.unicode)};
  if (generated_ == options_.max_candidates) Drop();  // the last one: free the names now, not on the next call
  return c;
}

std::optional<std::size_t> Generator::total() const {
  if (dropped_) return generated_;  // all handed out, or the cap reached
  // Every candidate made is handed out in the end (the first max_candidates of them).
  if (next_kind_ == options_.kinds.size() || stored_.size() >= options_.max_candidates) {
    return std::min(stored_.size(), options_.max_candidates);
  }
  return std::nullopt;
}

void Generator::RunAhead() {
  while (!dropped_ && next_kind_ < options_.kinds.size() && stored_.size() < options_.max_candidates) {
    RunKind(next_kind_++);
  }
}

void Generator::RunKind(std::size_t i) {
  if (i == 0) {
    // Room for a short domain's names (example.com: 5,902) from the start, rather than growing the index
    // from empty through a dozen rehashes.
    // Within the bound (a quarter of it at most), so that a small max_held_bytes holds too.
    index_.reserve(
        std::min({options_.max_candidates, std::size_t{8192}, options_.max_held_bytes / (4 * kIndexSlotBytes)}));
    index_.emplace(names_.Add(domain_.ascii), UINT32_MAX);  // the input is never a candidate
  }
  const Kind kind = options_.kinds[i];
  kind_accepted_ = 0;
  const KindEntry& entry = EntryOf(kind);
  kind_budget_ = entry.budget;
  kind_tries_left_ = KindWorkLimit(kind);
  if (entry.level == Level::kName) {
    entry.Names(domain_, [&](const std::string& name) { return TakeTry() && OfferName(kind, name); });
  } else {
    bool go_on = true;
    entry.Variants(label_,
                   [&](const Label& variant) { return go_on = TakeTry() && OfferLabel(kind, registrable_, variant); });
    for (const auto& subdomain : subdomain_slots_) {  // (slot, label); not a structured binding: clang 14
      if (!go_on) break;                              // cannot capture those in the lambda
      entry.Variants(subdomain.second, [&](const Label& variant) {
        return go_on = TakeTry() && OfferLabel(kind, subdomain.first, variant);
      });
    }
  }
  ready_.insert(ready_.end(), waiting_[i].begin(), waiting_[i].end());
  waiting_[i] = {};
  if (next_kind_ == options_.kinds.size()) index_ = {};  // nothing left to deduplicate against
}

bool Generator::TakeTry() {
  if (kind_tries_left_ == 0) return false;
  --kind_tries_left_;
  ++offered_;
  return true;
}

bool Generator::OfferLabel(Kind kind, const Slot& slot, std::u32string_view variant) {
  if (kind_accepted_ >= kind_budget_ || !HasRoom()) return false;
  // Fast path: every code point is ASCII LDH or a vetted look-alike, so no IDNA mapping or normalization
  // can change the label and its A-label is plain punycode. Anything else goes through libidn2.
  name_.assign(slot.before_ascii);
  bool non_ascii = false;
  for (std::size_t start = 0; start <= variant.size();) {
    std::size_t dot = variant.find(U'.', start);
    if (dot == std::u32string_view::npos) dot = variant.size();
    const std::u32string_view part = variant.substr(start, dot - start);
    if (!FastAsciiLabel(part, &label_ascii_)) {
      // Off the fast path (the label holds a character of the input the tables do not cover). A label that
      // mixes scripts is refused here, as OfferName would refuse it after libidn2 (tens of µs a name), so
      // that the variants of a mixed-script input do not all go through libidn2. Its characters are each in
      // IDNA2008's mapped form already (from the parsed input or the tables), and normalizing the label
      // keeps each character's script (NFC composes marks, which have none, onto their base).
      if (!LabelScript(part).has_value() &&
          std::find(input_labels_.begin(), input_labels_.end(), EncodeUtf8(part)) == input_labels_.end()) {
        return true;
      }
      return OfferName(kind, absl::StrCat(slot.before_unicode, EncodeUtf8(variant), slot.after_unicode));
    }
    if (label_ascii_.size() != part.size()) {  // punycode: an internationalized label
      non_ascii = true;
      // A U-label must not start or end with a hyphen nor have "--" at positions 3-4, and must be
      // single-script.
      if (part.front() == U'-' || part.back() == U'-' || (part.size() >= 4 && part[2] == U'-' && part[3] == U'-') ||
          label_ascii_.size() > kMaxLabelBytes || !LabelScript(part).has_value()) {
        return true;
      }
    } else if (!IsValidAsciiLabel(label_ascii_)) {
      return true;
    }
    if (start > 0) name_.push_back('.');
    name_.append(label_ascii_);
    start = dot + 1;
  }
  name_.append(slot.after_ascii);
  if (name_.size() > kMaxDomainBytes) return true;
  if (Merge(kind)) return kind_accepted_ < kind_budget_;
  if (!non_ascii && !unicode_differs_) return Accept(kind, {}, &slot, variant);
  unicode_.assign(slot.before_unicode);
  AppendUtf8(variant, &unicode_);
  unicode_.append(slot.after_unicode);
  return Accept(kind, unicode_, &slot, variant);
}

bool Generator::OfferName(Kind kind, absl::string_view name) {
  if (kind_accepted_ >= kind_budget_ || !HasRoom()) return false;
  absl::StatusOr<NameForms> forms = ToNameForms(name);
  if (!forms.ok()) return true;
  // Every label the kind made must be single-script; the input's own labels are taken as they are.
  for (absl::string_view l : absl::StrSplit(forms->unicode, '.')) {
    if (std::find(input_labels_.begin(), input_labels_.end(), l) == input_labels_.end() &&
        !LabelScript(DecodeUtf8(l)).has_value()) {
      return true;
    }
  }
  name_ = std::move(forms->ascii);
  if (Merge(kind)) return kind_accepted_ < kind_budget_;
  return Accept(kind, forms->unicode);
}

bool Generator::Merge(Kind kind) {
  // One probe: the name goes into the arena and the index at once, and comes out of the arena again when it
  // was there already.
  const absl::string_view key = names_.Add(name_);
  const auto [it, inserted] = index_.try_emplace(key, static_cast<std::uint32_t>(stored_.size()));
  if (inserted) {
    recorded_ = key;
    return false;
  }
  names_.RemoveLast(key);
  if (it->second != UINT32_MAX) {
    // A name an earlier kind made is still one of this kind's names: it counts against this kind's budget
    // (once), so that a budgeted kind makes the same names in any company as it does alone.
    Stored& c = stored_[it->second];
    if (!c.kinds.Contains(kind)) {
      c.kinds.Insert(kind);
      ++kind_accepted_;
      if (c.handed_out) ++late_merges_;
    }
  }
  return true;
}

bool Generator::Accept(Kind kind, absl::string_view unicode, const Slot* slot, std::u32string_view variant) {
  Stored& c = stored_.emplace_back();
  c.kind = kind;
  c.kinds.Insert(kind);
  c.ascii = recorded_;
  c.unicode = unicode.empty() ? c.ascii : names_.Add(unicode);
  const auto position = static_cast<std::uint32_t>(stored_.size() - 1);
  waiting_[ReleaseAfter(c.unicode, slot, variant)].push_back(position);
  return ++kind_accepted_ < kind_budget_;
}

std::size_t Generator::ReleaseAfter(absl::string_view unicode, const Slot* slot, std::u32string_view variant) {
  const std::size_t running = next_kind_ - 1;  // RunKind(next_kind_++)
  const std::size_t last = options_.kinds.size() - 1;
  if (!incremental_ || running == last) return last;
  const bool ascii = std::none_of(unicode.begin(), unicode.end(), [](char c) { return (c & 0x80) != 0; });
  if (!ascii) {
    // From an ASCII input only a few kinds make a name with other characters (homoglyph: most of the
    // names; cyrillic: one name per label, listed in advance).
    for (const NonAsciiMaker& maker : non_ascii_makers_) {
      if (maker.position <= running) break;
      const Kind kind = options_.kinds[maker.position];
      if (EntryOf(kind).non_ascii == NonAsciiNames::kListed
              ? std::find(maker.names.begin(), maker.names.end(), unicode) != maker.names.end()
              : MayProduceByLabel(kind, unicode, slot, variant)) {
        return maker.position;
      }
    }
    return running;
  }
  // The usual case, a variant of the registrable label with no subdomain labels permuted: one diff.
  std::optional<LabelDiff> only;
  if (slot == &registrable_ && subdomain_slots_.empty()) only.emplace(label_, variant);
  for (std::size_t i = last; i > running; --i) {
    const Kind kind = options_.kinds[i];
    const KindEntry& entry = EntryOf(kind);
    if (entry.level == Level::kName
            ? entry.MayProduce(domain_, unicode)
            : (only ? entry.MayProduce(*only) : MayProduceByLabel(kind, unicode, slot, variant))) {
      return i;
    }
  }
  return running;
}

bool Generator::MayProduceByLabel(Kind kind, absl::string_view unicode, const Slot* slot, std::u32string_view variant) {
  // The name as a variant of each permutable label whose surroundings it keeps (usually one): the one it
  // was made from, and any other whose text around it matches.
  const KindEntry& entry = EntryOf(kind);
  auto may = [&](const Slot& s, const Label& label) {
    if (&s == slot) return entry.MayProduce(LabelDiff(label, variant));
    absl::string_view middle = unicode;
    if (!absl::ConsumePrefix(&middle, s.before_unicode) || !absl::ConsumeSuffix(&middle, s.after_unicode)) {
      return false;
    }
    const Label decoded = DecodeUtf8(middle);
    return entry.MayProduce(LabelDiff(label, decoded));
  };
  if (may(registrable_, label_)) return true;
  return std::any_of(subdomain_slots_.begin(), subdomain_slots_.end(),
                     [&](const auto& subdomain) { return may(subdomain.first, subdomain.second); });
}

std::vector<Candidate> GenerateAll(const ParsedDomain& domain, const GeneratorOptions& options) {
  Generator generator(domain, options);
  std::vector<Candidate> out;
  while (std::optional<Candidate> c = generator.Next()) out.push_back(*std::move(c));
  return out;
}

}  // namespace squatstream::permute
