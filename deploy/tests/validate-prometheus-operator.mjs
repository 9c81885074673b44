// Validates prometheus-operator custom resources (monitoring.coreos.com/v1) with the published
// validators of @kubernetes-models/prometheus-operator (deploy/package.json), generated from the
// prometheus-operator API types. Used by deploy/tests/validate_deploy.py.
//
//   node validate-prometheus-operator.mjs NODE_MODULES_DIR < objects.json
// stdin: [{"source": "...", "object": {...}}, ...]; stdout: [{"source", "kind", "name", "error"|null}]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
if (!modules) {
  console.error("usage: validate-prometheus-operator.mjs NODE_MODULES_DIR < objects.json");
  process.exit(2);
}
const items = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const { source, object } of items) {
  const [group, version] = String(object.apiVersion || "").split("/");
  const kind = String(object.kind || "");
  const name = object.metadata && object.metadata.name;
  let error = null;
  if (group !== "monitoring.coreos.com" || !/^[A-Za-z]+$/.test(kind) || !/^v[0-9a-z]+$/.test(version || "")) {
    error = `not a prometheus-operator resource: ${object.apiVersion} ${kind}`;
  } else {
    const file = join(modules, "@kubernetes-models/prometheus-operator", group, version, `${kind}.js`);
    let Model;
    try {
      Model = (await import(pathToFileURL(file).href))[kind];
    } catch (e) {
      error = `no published schema for ${object.apiVersion} ${kind} (${file}): ${e.message}`;
    }
    if (Model) {
      try {
        new Model(object).validate();
      } catch (e) {
        error = e.message;
      }
    }
  }
  results.push({ source, kind, name, error });
}
process.stdout.write(JSON.stringify(results));
