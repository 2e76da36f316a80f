// Validates rendered Kubernetes manifests (multi-document YAML, e.g. `kubectl kustomize` output) offline
// against the Kubernetes OpenAPI schemas (kubernetes-models) and the prometheus-operator CRDs
// (@kubernetes-models/prometheus-operator). Exits 1, naming the object and the fault, if any is invalid or of
// a kind it does not know.
//
// usage: node validate_k8s.mjs rendered.yaml
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import YAML from 'yaml';

const require = createRequire(import.meta.url);

// apiVersion/kind → the model class that validates it.
function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const candidates = group === 'monitoring.coreos.com'
    ? [`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`]
    : [group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`];
  for (const path of candidates) {
    try {
      const mod = require(path);
      if (mod[kind]) return mod[kind];
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
    }
  }
  return null;
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate_k8s.mjs rendered.yaml');
  process.exit(2);
}
const docs = YAML.parseAllDocuments(readFileSync(file, 'utf8'));
let failures = 0;
let checked = 0;
for (const doc of docs) {
  if (doc.errors.length > 0) {
    console.error(`YAML error: ${doc.errors[0].message}`);
    failures++;
    continue;
  }
  const obj = doc.toJSON();
  if (obj == null) continue;
  const name = `${obj.kind}/${obj.metadata?.name}`;
  const Model = modelFor(String(obj.apiVersion), String(obj.kind));
  if (Model == null) {
    console.error(`${name}: unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`);
    failures++;
    continue;
  }
  try {
    new Model(obj).validate();
    checked++;
  } catch (e) {
    console.error(`${name}: ${e.message}`);
    failures++;
  }
}
if (checked === 0 && failures === 0) {
  console.error('no objects found');
  process.exit(1);
}
console.log(`validate_k8s: ${checked} objects valid, ${failures} invalid`);
process.exit(failures === 0 ? 0 : 1);
