// The DNS stage's table entry (workers/stage.h): its flags (--dns_*, --stub_dns_*), how it is built (a
// resolver of its own, shared by every stream, and the host lookups it offers the stages after it), and
// its simulated twin.
#ifndef SQUATSTREAM_WORKERS_DNS_DNS_STAGE_H_
#define SQUATSTREAM_WORKERS_DNS_DNS_STAGE_H_

#include "workers/stage.h"

namespace squatstream::workers::dns {

const StageDef& DnsStage();

}  // namespace squatstream::workers::dns

#endif  // SQUATSTREAM_WORKERS_DNS_DNS_STAGE_H_
