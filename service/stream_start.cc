#include "service/stream_start.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "permute/permutations.h"
#include "service/request.h"

namespace squatstream::service {

absl::Status StartStream(ServiceContext& context, Admission& admission, const access::Caller& caller,
                         const v1::EnrichDomainRequest& request, pipeline::StreamTransport& transport,
                         CuttableStream* stream, std::optional<pipeline::StreamDrain>& drain) {
  absl::StatusOr<StreamSpec> spec = ParseRequest(request, context.limits.request);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<pipeline::StagePlan> stages = context.enrichers->Plan(spec->enrichers);
  if (!stages.ok()) return stages.status();
  // The stream's share of the server's memory budget: its Generators' state (built first, so that the
  // grant charges what they hold) and as many buffer slots as it can use, if they are free.
  pipeline::PipelineOptions pipeline_options = context.limits.pipeline;
  const std::size_t candidates = spec->generator.max_candidates * spec->domains.size();
  pipeline::StreamWork work;
  std::size_t generators_bytes = 0;  // what the Generators hold before they run (each input's own state)
  for (permute::ParsedDomain& domain : spec->domains) {
    generators_bytes += work.generators.emplace_back(std::move(domain), spec->generator).HeldBytes();
  }
  // Buffer slots: room for every candidate in flight at once — each reserves what its record may grow to (the
  // stages' bounds: enrich_pipeline.h), and its record once held weighs its bytes — up to the buffer's capacity.
  const std::size_t buffer_need = std::min(pipeline_options.buffer_capacity,
                                           MemoryBudget::SlotsFor(candidates * pipeline::MaxReservationBytes(*stages)));
  if (absl::Status s = admission.TakeGrant(
          MemoryBudget::GenerationSlots(spec->generator.max_held_bytes, generators_bytes), buffer_need);
      !s.ok()) {
    return s;
  }
  // After the server's own limits (a capacity refusal costs the key nothing, and no round trip to Redis).
  // The caller's hourly quota is charged the cap now; what the stream did not generate goes back at its end (a
  // generated candidate is one it may have asked about: a cancelled stream pays for its lookups in flight).
  auto looked_up = std::make_shared<std::weak_ptr<pipeline::EnrichPipeline>>();  // set once the pipeline exists
  if (absl::Status s = admission.TakeQuota(caller, static_cast<std::int64_t>(candidates),
                                           [looked_up]() -> std::int64_t {
                                             const auto p = looked_up->lock();
                                             return p ? static_cast<std::int64_t>(p->generated()) : 0;
                                           });
      !s.ok()) {
    return s;
  }
  pipeline_options.buffer_capacity = admission.buffer();
  pipeline_options.bytes_per_slot = MemoryBudget::kBytesPerSlot;
  work.stages = *std::move(stages);
  work.registered_only = spec->registered_only;
  work.probe_mail = spec->probe_mail;
  work.count_uncapped_up_to = context.limits.request.max_candidates;
  // The running Generator's share goes back once the last one ended — or with the rest at the end, whichever
  // comes first.
  work.generation_done = admission.GenerationDone();
  auto pipeline = pipeline::EnrichPipeline::Create(context.executor->context(), context.cpu_executor->context(),
                                                   std::move(work), pipeline_options, context.metrics->pipeline);
  *looked_up = pipeline;
  // Before the registry can reach it: a drain's CutAll may cut the stream as soon as it is registered.
  drain.emplace(pipeline, context.executor->context(), context.limits.max_batch_records, context.metrics->pipeline,
                transport, context.limits.max_batch_bytes, context.limits.progress_interval);
  if (absl::Status s = admission.Register(stream); !s.ok()) {  // the drain began since the slot was taken
    pipeline->Cancel();
    drain.reset();
    return s;
  }
  pipeline->Start();
  return absl::OkStatus();
}

}  // namespace squatstream::service
