// End to end with a client nobody here wrote: @grpc/grpc-js plus grpc-js-reflection-client discover
// squatstream's API through server reflection (grpc.reflection.v1alpha, as grpcurl does), without any
// .proto file, then call grpc.health.v1.Health/Check and stream a domain from the built squatstreamd.
//
// usage: node stream_by_reflection.mjs path/to/squatstreamd
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const { GrpcReflection } = require('grpc-js-reflection-client');

const binary = process.argv[2];
assert.ok(binary, 'usage: node stream_by_reflection.mjs path/to/squatstreamd');

// Start the server on free loopback ports; it prints the ports it bound.
const server = spawn(binary, ['--grpc_address=127.0.0.1:0', '--metrics_address=127.0.0.1:0', '--stub_enrichers=all',
                              '--stub_geo_latency=1ms', '--stub_whois_latency=1ms', '--stub_banner_latency=1ms'],
                     { stdio: ['ignore', 'inherit', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let log = '';
  const timer = setTimeout(() => reject(new Error(`squatstreamd did not start: ${log}`)), 20000);
  server.stderr.on('data', (chunk) => {
    log += chunk;
    const m = /serving gRPC on port (\d+)/.exec(log);
    if (m) { clearTimeout(timer); resolve(Number(m[1])); }
  });
  server.on('exit', (code) => reject(new Error(`squatstreamd exited with ${code}: ${log}`)));
});
const address = `127.0.0.1:${port}`;
const credentials = grpc.credentials.createInsecure();

try {
  const reflection = new GrpcReflection(address, credentials);
  const services = await reflection.listServices();
  assert.ok(services.includes('squatstream.v1.EnrichmentService'), `services: ${services}`);
  assert.ok(services.includes('grpc.health.v1.Health'), `services: ${services}`);

  // Health/Check through the descriptor served by reflection.
  const healthPkg = (await reflection.getDescriptorBySymbol('grpc.health.v1.Health'))
    .getPackageObject({ keepCase: true, enums: String, longs: String });
  const health = new healthPkg.grpc.health.v1.Health(address, credentials);
  const check = await new Promise((resolve, reject) =>
    health.Check({ service: '' }, (err, res) => (err ? reject(err) : resolve(res))));
  assert.equal(check.status, 'SERVING');

  // Stream a domain.
  const pkg = (await reflection.getDescriptorBySymbol('squatstream.v1.EnrichmentService'))
    .getPackageObject({ keepCase: true, enums: String, longs: String, defaults: true, oneofs: true });
  const client = new pkg.squatstream.v1.EnrichmentService(address, credentials);
  const records = [];
  let messages = 0;
  let lastProgress = null;
  await new Promise((resolve, reject) => {
    const call = client.EnrichDomain({ domain: 'example.com', max_candidates: 200 },
                                     { deadline: Date.now() + 60000 });
    call.on('data', (msg) => { messages++; records.push(...msg.records); lastProgress = msg.progress; });
    call.on('error', reject);
    call.on('end', resolve);
  });
  assert.equal(records.length, 200);
  assert.equal(new Set(records.map((r) => r.domain_ascii)).size, 200, 'every candidate exactly once');
  assert.equal(Number(lastProgress.sent), 200);
  for (const r of records) {
    assert.match(r.kind, /^PERMUTATION_KIND_/);
    assert.equal(r.enrichments.length, 4);
    assert.deepEqual(r.enrichments.map((e) => e.enricher),
                     ['ENRICHER_DNS', 'ENRICHER_GEO', 'ENRICHER_WHOIS', 'ENRICHER_BANNER']);
    for (const e of r.enrichments) {
      if (e.status.code === 0) assert.ok(e.result, `${r.domain_ascii}: OK lookup without a result`);
      else assert.ok(e.status.message.length > 0);
    }
  }

  // A bad domain is INVALID_ARGUMENT with a message naming the fault.
  const err = await new Promise((resolve) => {
    const call = client.EnrichDomain({ domain: 'exa_mple.com' });
    call.on('data', () => {});
    call.on('error', resolve);
    call.on('end', () => resolve(null));
  });
  assert.ok(err, 'a bad domain must fail');
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.match(err.details, /'_'/);

  console.log(`ok: ${records.length} records in ${messages} messages via reflection; health SERVING`);
  reflection.grpcClient?.close?.();
  health.close();
  client.close();
} finally {
  server.kill('SIGTERM');
}
const code = await new Promise((resolve) => server.on('exit', (c) => resolve(c)));
assert.equal(code, 0, 'squatstreamd exits 0 on SIGTERM');
