// StartStream: what every stream of enriched records does after its slot was taken — the request checked, its
// stages planned, its Generators built, its share of the memory budget granted, its pipeline and drain created,
// its registry entry taken — for the two kinds of stream the server runs: EnrichDomain's reactor and a watch's
// scan (service/watch_scan_runner.h), so that both go through the same limits.
#ifndef SQUATSTREAM_SERVICE_STREAM_START_H_
#define SQUATSTREAM_SERVICE_STREAM_START_H_

#include <optional>

#include "absl/status/status.h"
#include "access/gatekeeper.h"
#include "pipeline/stream_drain.h"
#include "service/admission.h"
#include "service/service_context.h"
#include "service/stream_registry.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::service {

// After admission.TakeSlot: on OK the pipeline runs and *drain is set (the caller then calls drain->Start());
// else the status says why the request is refused and nothing runs (*drain stays empty). `transport` and
// `stream` (the registry's handle on the caller) outlive the drain.
// `caller` is charged the stream's quotas (an anonymous one, as a watch's scan is, nothing).
absl::Status StartStream(ServiceContext& context, Admission& admission, const access::Caller& caller,
                         const v1::EnrichDomainRequest& request, pipeline::StreamTransport& transport,
                         CuttableStream* stream, std::optional<pipeline::StreamDrain>& drain);

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_STREAM_START_H_
