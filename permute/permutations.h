// The permutation engine's public API in one include: the kinds (kind.h), the Generator that yields a
// domain's candidates (generator.h) and the Classifier that names the kinds of a given candidate
// (classifier.h). Domain parsing is in domain.h. Each kind's generator and may-produce check are in the
// kind registry, permute/kinds/ (internal).
#ifndef SQUATSTREAM_PERMUTE_PERMUTATIONS_H_
#define SQUATSTREAM_PERMUTE_PERMUTATIONS_H_

#include "permute/classifier.h"  // IWYU pragma: export
#include "permute/domain.h"      // IWYU pragma: export
#include "permute/generator.h"   // IWYU pragma: export
#include "permute/kind.h"        // IWYU pragma: export

#endif  // SQUATSTREAM_PERMUTE_PERMUTATIONS_H_
