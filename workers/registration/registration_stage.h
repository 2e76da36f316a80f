// The registration (whois) stage's table entry (workers/stage.h): its flags (--rdap_*, --whois_server,
// --registration_*, --stub_whois_*), how it is built, and its simulated twin.
#ifndef SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_STAGE_H_
#define SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_STAGE_H_

#include "workers/stage.h"

namespace squatstream::workers::registration {

// Its settings are a RegistrationOptions in StageOptions; the addresses it may dial, the server's
// net::AddressPolicy there (--dial_allow_cidrs).
const StageDef& RegistrationStage();

}  // namespace squatstream::workers::registration

#endif  // SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_STAGE_H_
