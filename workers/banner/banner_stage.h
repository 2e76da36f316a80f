// The banner stage's table entry (workers/stage.h): its flags (--banner_*, --stub_banner_*), how it is
// built (its HTTP client and connection caps; names through the DNS stage's lookups when DNS is real), and
// its simulated twin.
#ifndef SQUATSTREAM_WORKERS_BANNER_BANNER_STAGE_H_
#define SQUATSTREAM_WORKERS_BANNER_BANNER_STAGE_H_

#include "workers/stage.h"

namespace squatstream::workers::banner {

// Its settings are a BannerOptions in StageOptions; the addresses it may dial, the server's
// net::AddressPolicy there (--dial_allow_cidrs).
const StageDef& BannerStage();

}  // namespace squatstream::workers::banner

#endif  // SQUATSTREAM_WORKERS_BANNER_BANNER_STAGE_H_
