// What the stages' simulated twins (their StageDef::simulate, in each stage's folder) build their values
// from: a uniform number from a candidate's hash, a pick from a table, documentation-range addresses.
#ifndef SQUATSTREAM_WORKERS_STUB_SIMULATION_H_
#define SQUATSTREAM_WORKERS_STUB_SIMULATION_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace squatstream::workers::stub {

// A uniform value in [0, 1) from 53 bits of h.
inline double Unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

template <typename T, std::size_t N>
const T& Pick(const std::array<T, N>& items, std::uint64_t h) {
  return items[h % N];
}

// An IPv4 address in the documentation ranges (RFC 5737), from h.
inline std::string DocAddress(std::uint64_t h) {
  static constexpr std::array<absl::string_view, 3> kDocNets = {"192.0.2", "198.51.100", "203.0.113"};
  return absl::StrCat(Pick(kDocNets, h >> 8), ".", 1 + (h >> 16) % 254);
}

}  // namespace squatstream::workers::stub

#endif  // SQUATSTREAM_WORKERS_STUB_SIMULATION_H_
