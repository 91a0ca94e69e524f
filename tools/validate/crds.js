// The rendered custom resources against their upstream CRD schemas, as the
// kubernetes-models packages carry them: Argo CD (Application, AppProject),
// cert-manager (ClusterIssuer), External Secrets (ExternalSecret,
// SecretStore; the package's newest schema is v1beta1, whose fields the v1
// objects this renderer writes share), Sealed Secrets (SealedSecret) and the
// Prometheus Operator (PrometheusRule, ServiceMonitor). Prints one line per invalid object and
// a summary; exits 1 if any object is invalid.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const models = {
  // ES module only, like the Prometheus Operator's.
  "argoproj.io/v1alpha1": [import("@kubernetes-models/argo-cd/argoproj.io/v1alpha1"), "argoproj.io/v1alpha1"],
  "cert-manager.io/v1": [require("@kubernetes-models/cert-manager/cert-manager.io/v1"), "cert-manager.io/v1"],
  "external-secrets.io/v1": [
    require("@kubernetes-models/external-secrets/external-secrets.io/v1beta1"),
    "external-secrets.io/v1beta1",
  ],
  // An ES module only (its package exports have no `require` condition):
  // imported, and awaited below with the others.
  "bitnami.com/v1alpha1": [import("@kubernetes-models/sealed-secrets/bitnami.com/v1alpha1"), "bitnami.com/v1alpha1"],
  "monitoring.coreos.com/v1": [
    import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1"),
    "monitoring.coreos.com/v1",
  ],
};

function yamlFiles(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yamlFiles(file, out);
    else if (file.endsWith(".yaml") && entry.name !== "kustomization.yaml") out.push(file);
  }
  return out;
}

async function main() {
  for (const entry of Object.values(models)) entry[0] = await entry[0];
  let valid = 0;
  let invalid = 0;
  const unchecked = {};
  for (const root of process.argv.slice(2)) {
    for (const file of yamlFiles(root, []).sort()) {
      const object = yaml.load(fs.readFileSync(file, "utf8"));
      const [module, apiVersion] = models[object.apiVersion] || [];
      if (!module || !module[object.kind]) {
        // Built-in kinds are kubernetes-validate's; other custom resources are listed.
        if (object.apiVersion.includes(".") && !object.apiVersion.endsWith(".k8s.io/v1")) {
          const key = `${object.apiVersion} ${object.kind}`;
          unchecked[key] = (unchecked[key] || 0) + 1;
        }
        continue;
      }
      try {
        new module[object.kind]({ ...object, apiVersion }).validate();
        valid += 1;
      } catch (error) {
        invalid += 1;
        const details = error.errors
          ? error.errors.map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`).join("; ")
          : error.message;
        console.log(`INVALID ${file}: ${details}`);
      }
    }
  }
  console.log(`crd schemas: ${valid} valid, ${invalid} invalid; no schema here for ${JSON.stringify(unchecked)}`);
  process.exit(invalid === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
