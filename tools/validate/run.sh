#!/usr/bin/env bash
# The rendered trees (deploy/, the BrainSAIT and Online Boutique examples') through validators
# this repository does not write:
# - kubernetes-validate (PyPI): every built-in kind against the strict JSON
#   schemas of Kubernetes 1.33 and 1.37 (unknown fields are errors);
# - crds.js: Argo CD, cert-manager, External Secrets, Sealed Secrets and
#   Prometheus Operator objects against their upstream CRD schemas as the
#   kubernetes-models packages (npm) carry them. MetalLB's and Gatekeeper's
#   kinds have no such package: crds.js lists them as unchecked.
# Versions are pinned in requirements.txt and package-lock.json. Without a
# package registry the validators cannot be installed: the step says so and
# is skipped; a tree they find invalid fails it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/validate-venv"
trees=("$root/deploy" "$root/examples/brainsait-rcm/deploy" "$root/examples/online-boutique/deploy" "$root/examples/tutorial/deploy")
# Every workload shape, written by `cargo test` (tests/tests/workloads.rs):
# gRPC probes, native sidecars, CronJobs, hook Jobs, StatefulSets with claims,
# MySQL, Redis, application secrets, headless and LoadBalancer Services.
if [ -d "$root/target/validate-shapes" ]; then
    trees+=("$root/target/validate-shapes")
fi
# ClinicFlow with sync impersonation, written by tests/tests/impersonation.rs.
if [ -d "$root/target/validate-impersonation" ]; then
    trees+=("$root/target/validate-impersonation")
fi

if ! { [ -x "$venv/bin/kubernetes-validate" ] \
        || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet -r "$here/requirements.txt"; }; } \
   || ! (cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null); then
    echo "validate: SKIPPED, the validators could not be installed (pip, npm)"
    exit 0
fi

mapfile -t files < <(find "${trees[@]}" -name '*.yaml' ! -name kustomization.yaml | sort)
for version in 1.33.0 1.37.0; do
    "$venv/bin/kubernetes-validate" --kubernetes-version "$version" --strict --quiet --no-warn "${files[@]}"
    echo "kubernetes $version (strict): ${#files[@]} files, built-in kinds valid"
done
node "$here/crds.js" "${trees[@]}"
