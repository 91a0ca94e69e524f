#!/usr/bin/env bash
# Pins every ClinicFlow image built from one commit in one environment and
# pushes the change: the last step of the Jenkinsfile and of the GitHub
# Actions workflow beside this script, run in a clone of this repository.
#
#   examples/ci/pin-images.sh ENV TAG [SVC=DIGEST ...]
#   e.g. examples/ci/pin-images.sh dev sha-4e1c9a7 web=sha256:4c0e…
#
# Each SVC=DIGEST is the digest `docker push` printed for that service's
# image: the kubelet then pulls exactly what was pushed, whoever moves the
# tag later. Environments that require digests refuse a pin without one.
#
# Each attempt starts again from origin's branch and runs `set-image` there,
# so a push that loses a race is redone on top of the winner, never merged.
#
# CI pushes pins to dev only: staging and production change by a reviewed
# pull request (`promote`), so ENV must be one of CI_PIN_ENVS.
# Environment: GITOPS_BRANCH (default main); XTASK (default `cargo xtask`);
# CI_PIN_ENVS (space-separated, default `dev`).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 ENV TAG [SVC=DIGEST ...]" >&2
  exit 2
fi
env=$1 tag=$2
shift 2
read -r -a allowed <<<"${CI_PIN_ENVS:-dev}"
if [[ " ${allowed[*]} " != *" $env "* ]]; then
  echo "error: CI pins only ${allowed[*]}; \`$env\` changes by a reviewed pull request (\`promote --from … --to $env\`), not by a push from CI" >&2
  exit 2
fi
digests=()
for pair in "$@"; do
  digests+=(--digest "$pair")
done
branch=${GITOPS_BRANCH:-main}
read -r -a xtask <<<"${XTASK:-cargo xtask}"
cd "$(git rev-parse --show-toplevel)"

for attempt in 1 2 3 4 5; do
  git fetch --quiet origin "$branch"
  git checkout --quiet --force -B "$branch" "origin/$branch"
  # Refuses a bad tag and a tree that does not render, and writes nothing then.
  "${xtask[@]}" set-image --env "$env" --all --tag "$tag" "${digests[@]}"
  git add "releases/$env.yaml" deploy
  if git diff --cached --quiet; then
    echo "$env already runs $tag; nothing to push"
    exit 0
  fi
  git commit --quiet -m "Deploy $tag to $env" -m "Pinned by examples/ci/pin-images.sh."
  if git push --quiet origin "HEAD:$branch"; then
    echo "pushed: $(git log -1 --format='%h %s')"
    exit 0
  fi
  echo "push rejected (attempt $attempt of 5); starting again from origin/$branch" >&2
  sleep $((attempt * 2))
done
echo "error: could not push the pin of $tag to $env after 5 attempts" >&2
exit 1
