#!/usr/bin/env bash
# drplan in any CI: keep the committed plans honest, rehearse every scenario on sim,
# and write (and, when asked, post or update) one pull-request comment with the
# changed plans and the drill verdicts. Exits 1 when a committed plan is out of date
# or a drill fails (misses its RTO, loses writes beyond an RPO, or a step fails).
#
# Usage: examples/ci/drplan-ci.sh [ENVIRONMENT.toml …]   (default: environments/*.toml)
#
#   DRPLAN             the drplan binary (default: drplan on PATH)
#   DRPLAN_PLANS_DIR   where the committed plans are, one folder per environment (default: plans)
#   DRPLAN_CI_COMMENT  where the comment is written (default: drplan-ci.md)
#   DRPLAN_CI_BASE     a git revision: only environments whose file or plans changed
#                      since it get their plans in the comment (default: every environment)
#   DRPLAN_CI_POST     set to 1 to post the comment on pull request $DRPLAN_CI_PR with
#                      `gh`, editing drplan's last comment there instead of adding one
#   DRPLAN_TIME_SCALE  the sim time scale of the drills (drplan's default when unset)
set -uo pipefail

drplan="${DRPLAN:-drplan}"
plans_dir="${DRPLAN_PLANS_DIR:-plans}"
comment="${DRPLAN_CI_COMMENT:-drplan-ci.md}"
if [[ $# -eq 0 ]]; then
  set -- environments/*.toml
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
checks="" drills="" changed=""

changed_since_base() {
  [[ -z "${DRPLAN_CI_BASE:-}" ]] && return 0
  ! git diff --quiet "$DRPLAN_CI_BASE" -- "$1" "$plans_dir/$2"
}

for env in "$@"; do
  name="$(basename "$env" .toml)"
  # 1. The committed plans are what drplan plans now.
  if [[ -d "$plans_dir/$name" ]]; then
    if "$drplan" plan "$env" --all --offline --check "$plans_dir/$name" > "$work/$name.diff" 2> "$work/$name.err"; then
      checks+="| \`$env\` | up to date |"$'\n'
    else
      failed=1
      checks+="| \`$env\` | **out of date**: run \`drplan plan $env --all --offline --out $plans_dir/$name\` |"$'\n'
      changed+=$'\n'"<details><summary>How <code>$plans_dir/$name</code> differs</summary>"$'\n\n```diff\n'"$(cat "$work/$name.diff")"$'\n```\n\n'"</details>"$'\n'
    fi
  else
    checks+="| \`$env\` | no committed plans under \`$plans_dir/$name\` |"$'\n'
  fi
  if changed_since_base "$env" "$name"; then
    "$drplan" plan "$env" --all --offline > "$work/$name.md" 2> /dev/null
    changed+=$'\n'"<details><summary>Plans of <code>$env</code></summary>"$'\n\n'"$(cat "$work/$name.md")"$'\n\n'"</details>"$'\n'
  fi
  # 2. Every scenario rehearsed on a sim copy: recovery and failback.
  mkdir -p "$work/$name.plans"
  "$drplan" plan "$env" --all --offline --out "$work/$name.plans" > /dev/null 2>&1
  for plan in "$work/$name.plans"/*.md; do
    scenario="$(basename "$plan" .md)"
    [[ "$scenario" == failback ]] && continue
    if "$drplan" drill "$env" --scenario "$scenario" > "$work/drill.out" 2> "$work/drill.err"; then
      verdict="passed"
    else
      failed=1
      verdict="**FAILED**: $(grep -m1 -v '^\s*$' "$work/drill.err" | sed 's/|/\\|/g')"
    fi
    report="$(sed -n 's/^report: //p' "$work/drill.out")"
    drills+="| \`$env\` | \`$scenario\` | $verdict | ${report:+\`$report\`} |"$'\n'
  done
done

{
  echo "<!-- drplan-ci -->"
  echo "## drplan: plans and drills"
  echo
  echo "| Environment | Committed plans |"
  echo "|---|---|"
  printf '%s' "$checks"
  echo
  echo "| Environment | Scenario | Drill on sim | Report |"
  echo "|---|---|---|---|"
  printf '%s' "$drills"
  printf '%s' "$changed"
} > "$comment"
echo "drplan-ci: wrote $comment"

if [[ "${DRPLAN_CI_POST:-}" == 1 ]]; then
  gh pr comment "${DRPLAN_CI_PR:?set DRPLAN_CI_PR to the pull request number}" --edit-last --body-file "$comment" \
    || gh pr comment "$DRPLAN_CI_PR" --body-file "$comment"
fi
exit "$failed"
