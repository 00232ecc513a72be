#!/usr/bin/env bash
# The static checks of template.yaml, a step of infra/test.sh and runnable
# alone (seconds, no emulator, no build):
#
#   1. checkov (framework cloudformation): 0 failed checks, and every skipped
#      check skipped inline in the template with a reason (Metadata: checkov:
#      skip: - id, comment). Prints the passed/skipped/failed counts and
#      each skip with its reason.
#   2. sam validate --lint on the template as it is (no VPC), and on a copy
#      whose defaults set the delivery function's VPC parameters
#      (DeliverySubnetIds, DeliverySecurityGroupId): sam validate takes no
#      parameter values, and cfn-lint's --parameters does not evaluate them.
#      checkov runs on that copy too.
#
# Installs checkov into ${COURIER_CACHE:-~/.cache/courier}/checkov-venv from
# infra/requirements/checkov.txt when missing (the SAM CLI comes from
# infra/test.sh's install step; run that once first).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/install.sh
source "$COURIER_INFRA_DIR/lib/install.sh"

TEMPLATE="$COURIER_REPO_ROOT/template.yaml"
# Sample ids of the shapes the parameters take: only their form matters here.
VPC_SUBNETS="subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788"
VPC_SECURITY_GROUP="sg-0123456789abcdef0"

# run_checkov TEMPLATE LABEL [LIST_SKIPS=1]: fails on any failed check, a
# parsing error, or a skip without a reason.
run_checkov() {
    local template="$1" label="$2" list_skips="${3:-1}" json rc=0
    json="$(mktemp)"
    # --skip-download: no call to the vendor's platform (guidelines, policies).
    (cd "$(dirname "$template")" &&
        "$CACHE/checkov-venv/bin/checkov" --file "$(basename "$template")" \
            --framework cloudformation --skip-download --output json) >"$json" || rc=$?
    # checkov exits 1 when a check fails; the summary below says which.
    if ((rc > 1)) || [[ ! -s "$json" ]]; then
        log "checkov failed to run (exit $rc)"
        rm -f "$json"
        return 1
    fi
    rc=0
    python3 - "$json" "$label" "$list_skips" <<'PY' || rc=$?
import json, sys

data = json.load(open(sys.argv[1]))
label, list_skips = sys.argv[2], sys.argv[3] == "1"
# One framework gives one report; several would give a list.
reports = data if isinstance(data, list) else [data]
results = {"passed_checks": [], "failed_checks": [], "skipped_checks": []}
parsing_errors = resources = 0
for r in reports:
    for k in results:
        results[k] += r.get("results", {}).get(k, [])
    parsing_errors += r.get("summary", {}).get("parsing_errors", 0)
    resources += r.get("summary", {}).get("resource_count", 0)
passed, failed, skipped = (results[k] for k in ("passed_checks", "failed_checks", "skipped_checks"))
print(f"checkov ({label}): {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")
for c in skipped if list_skips else []:
    reason = (c.get("check_result") or {}).get("suppress_comment") or ""
    print(f"  skipped {c['check_id']} on {c['resource']}: {reason or 'NO REASON'}")
problems = []
for c in failed:
    problems.append(f"FAILED {c['check_id']} ({c['check_name']}) on {c['resource']}, lines {c['file_line_range']}")
for c in skipped:
    # checkov fills in "No comment provided" for a skip without one.
    reason = ((c.get("check_result") or {}).get("suppress_comment") or "").strip()
    if reason in ("", "No comment provided"):
        problems.append(f"{c['check_id']} on {c['resource']} is skipped without a comment")
if parsing_errors or resources == 0:
    problems.append(f"checkov parsed {resources} resources with {parsing_errors} parsing errors")
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
    rm -f "$json"
    return "$rc"
}

sam_lint() {
    AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
        "$CACHE/sam-venv/bin/sam" validate --lint --template "$1"
}

# with_vpc_defaults SRC DEST: the template with the VPC parameters' defaults
# set, so every tool sees the stack as deployed with them.
with_vpc_defaults() {
    python3 - "$1" "$2" "$VPC_SUBNETS" "$VPC_SECURITY_GROUP" <<'PY'
import re, sys

src, dest, subnets, group = sys.argv[1:]
text = open(src).read()
for name, value in [("DeliverySubnetIds", subnets), ("DeliverySecurityGroupId", group)]:
    # The parameter's block: its own line, then lines indented deeper.
    pattern = re.compile(rf'(\n  {name}:\n(?:    .*\n)*?    Default: )""\n')
    text, n = pattern.subn(rf'\g<1>"{value}"\n', text)
    if n != 1:
        sys.exit(f"template.yaml: parameter {name} with Default \"\" not found")
open(dest, "w").write(text)
PY
}

main() {
    [[ -f "$TEMPLATE" ]] || die "template.yaml not found at the repo root"
    [[ -x "$CACHE/sam-venv/bin/sam" ]] || die "no SAM CLI in $CACHE/sam-venv: run infra/test.sh once (its install step)"
    install_venv_locked "$CACHE/checkov-venv" "$COURIER_REQ_DIR/checkov.txt"
    local dir rc=0
    dir="$(mktemp -d)"
    trap 'rm -rf "$dir"' RETURN
    with_vpc_defaults "$TEMPLATE" "$dir/template.yaml"
    run_checkov "$TEMPLATE" "template.yaml" || rc=1
    run_checkov "$dir/template.yaml" "with the VPC parameters" 0 || rc=1
    log "sam validate --lint: template.yaml (no VPC)"
    sam_lint "$TEMPLATE" || rc=1
    log "sam validate --lint: with DeliverySubnetIds=$VPC_SUBNETS DeliverySecurityGroupId=$VPC_SECURITY_GROUP"
    sam_lint "$dir/template.yaml" || rc=1
    return "$rc"
}

main "$@"
