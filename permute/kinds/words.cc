// Words: a number word for its digit (or back), a common word joined to the label, a sound-alike spelling.
// Each kind's generator next to its may-produce check (see families.h).
#include "permute/kinds/families.h"

namespace squatstream::permute::internal {
namespace {

// Number words and their digits, each direction listed.
constexpr Replacement kNumberWords[] = {
    {U"zero", U"0"},  {U"one", U"1"},   {U"two", U"2"},   {U"to", U"2"},    {U"too", U"2"},
    {U"three", U"3"}, {U"four", U"4"},  {U"for", U"4"},   {U"five", U"5"},  {U"six", U"6"},
    {U"seven", U"7"}, {U"eight", U"8"}, {U"nine", U"9"},  {U"0", U"zero"},  {U"1", U"one"},
    {U"2", U"two"},   {U"2", U"to"},    {U"3", U"three"}, {U"4", U"four"},  {U"4", U"for"},
    {U"5", U"five"},  {U"6", U"six"},   {U"7", U"seven"}, {U"8", U"eight"}, {U"9", U"nine"},
};

// Words squatters put before or after a brand.
constexpr std::u32string_view kDictionaryWords[] = {
    U"login", U"secure", U"account", U"support", U"online", U"app",    U"mail",    U"my",
    U"web",   U"shop",   U"pay",     U"auth",    U"verify", U"update", U"service",
};

// Sound-alike spellings and common misspellings, each direction listed, replaced one occurrence at a time.
constexpr Replacement kHomophones[] = {
    {U"ph", U"f"},      {U"f", U"ph"},      {U"ck", U"k"},      {U"k", U"ck"},      {U"c", U"k"},     {U"k", U"c"},
    {U"ee", U"ea"},     {U"ea", U"ee"},     {U"oo", U"u"},      {U"u", U"oo"},      {U"ou", U"ow"},   {U"ow", U"ou"},
    {U"ai", U"ay"},     {U"ay", U"ai"},     {U"ie", U"ei"},     {U"ei", U"ie"},     {U"er", U"re"},   {U"re", U"er"},
    {U"s", U"z"},       {U"z", U"s"},       {U"x", U"ks"},      {U"ks", U"x"},      {U"qu", U"kw"},   {U"kw", U"qu"},
    {U"able", U"ible"}, {U"ible", U"able"}, {U"ance", U"ence"}, {U"ence", U"ance"}, {U"ant", U"ent"}, {U"ent", U"ant"},
    {U"tion", U"sion"}, {U"sion", U"tion"}, {U"y", U"ie"},      {U"ie", U"y"},      {U"wr", U"r"},    {U"kn", U"n"},
    {U"gh", U"g"},      {U"mb", U"m"},      {U"ght", U"t"},     {U"ch", U"sh"},
};

}  // namespace

std::span<const std::u32string_view> DictionaryWords() { return kDictionaryWords; }

// number-word: a number word for its digit, or a digit for its word.
void NumberWordVariants(const Label& l, LabelEmit emit) {
  for (const auto& [from, to] : kNumberWords) ReplaceEach(l, from, to, emit);
}
bool NumberWordMayProduce(const LabelDiff& d) { return ReplacedByAny(d, kNumberWords); }

// dictionary: word+label, word-label, label+word, label-word.
void DictionaryVariants(const Label& l, LabelEmit emit) {
  if (!IsLatinOrScriptless(l)) return;  // English words would mix scripts
  for (std::u32string_view w : kDictionaryWords) {
    emit(Label(w) + l);
    emit(Label(w) + U"-" + l);
    emit(l + Label(w));
    emit(l + U"-" + Label(w));
  }
}
bool DictionaryMayProduce(const LabelDiff& d) {
  for (std::u32string_view w : kDictionaryWords) {
    for (std::u32string_view sep : {std::u32string_view(), std::u32string_view(U"-")}) {
      if (d.m != d.n + w.size() + sep.size()) continue;
      if (d.v.substr(0, w.size()) == w && d.v.substr(w.size(), sep.size()) == sep && d.suffix >= d.n) return true;
      if (d.prefix >= d.n && d.v.substr(d.n, sep.size()) == sep && d.v.substr(d.n + sep.size()) == w) return true;
    }
  }
  return false;
}

// homophone: a sound-alike spelling or common misspelling, one occurrence at a time.
void HomophoneVariants(const Label& l, LabelEmit emit) {
  for (const auto& [from, to] : kHomophones) ReplaceEach(l, from, to, emit);
}
bool HomophoneMayProduce(const LabelDiff& d) { return ReplacedByAny(d, kHomophones); }

}  // namespace squatstream::permute::internal
