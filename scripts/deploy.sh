#!/usr/bin/env bash
# Deploy, read the logs of, or remove one stage of the service (AWS credentials and region from the
# usual places: AWS_PROFILE, AWS_REGION, ...).
#
#   scripts/deploy.sh deploy <stage>
#       check the stage's SSM parameters, ensure its DynamoDB table (and, for dev, its STORE_URL
#       parameter) with scripts/provision.py, build the package with its bytecode, then
#       `chalice deploy --stage <stage>` (which ships that package)
#   scripts/deploy.sh logs <stage> [--name FUNCTION]... [--since 10m] [--follow]
#       `chalice logs` of api_handler and health_check (or of the --name'd ones; --follow takes one)
#   scripts/deploy.sh remove <stage> [--delete-table]
#       `chalice delete --stage <stage>`; the table is kept unless --delete-table (dev only: the prod
#       table is deleted by hand, as printed)
#
# <stage> is dev or prod. PYTHON and CHALICE override the tools (default: the repository's .venv).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
CHALICE=${CHALICE:-$ROOT/.venv/bin/chalice}
APP_NAME=whatsapp-evolution
LOG_FUNCTIONS=(api_handler health_check)

usage() {
    sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

die() {
    echo "deploy.sh: $*" >&2
    exit 2
}

provision() {
    "$PYTHON" "$ROOT/scripts/provision.py" "$@"
}

# `chalice deploy` ships sources only, and Lambda's /var/task is read-only: every cold start would
# compile every module. `chalice deploy` reuses the package `chalice package` caches in
# .chalice/deployments (named after a hash of the sources), so build that package first and add the
# bytecode to it; scripts/compile_package.py refuses when the runtime is not this Python's.
package_with_bytecode() {
    local out status=0
    out=$(mktemp -d "${TMPDIR:-/tmp}/deploy-package.XXXXXX")
    "$CHALICE" package --stage "$STAGE" "$out/package" &&
        "$PYTHON" "$ROOT/scripts/compile_package.py" "$out/package" --chalice-cache "$ROOT" || status=$?
    rm -rf "$out"
    return "$status"
}

cmd_deploy() {
    [[ $# -eq 0 ]] || die "deploy takes no options, got: $*"
    provision check "$STAGE"
    provision ensure "$STAGE"
    package_with_bytecode
    "$CHALICE" deploy --stage "$STAGE"
    provision after-deploy "$STAGE"
}

cmd_logs() {
    local names=() options=() follow=false name
    while [[ $# -gt 0 ]]; do
        case $1 in
            -n | --name)
                [[ $# -ge 2 ]] || die "--name needs a function: api_handler, health_check or api_key_auth"
                case $2 in
                    api_handler | health_check | api_key_auth | jobs_worker | events_sweep) names+=("$2") ;;
                    *) die "unknown function '$2': use api_handler, health_check or api_key_auth" ;;
                esac
                shift 2
                ;;
            -s | --since)
                [[ $# -ge 2 ]] || die "--since needs a time, e.g. 10m or 2026-11-25T10:00:00"
                options+=(--since "$2")
                shift 2
                ;;
            -f | --follow)
                follow=true
                shift
                ;;
            *) die "unknown logs option: $1" ;;
        esac
    done
    [[ ${#names[@]} -gt 0 ]] || names=("${LOG_FUNCTIONS[@]}")
    if $follow; then
        [[ ${#names[@]} -eq 1 ]] || die "--follow watches one function: add --name api_handler (or health_check)"
        options+=(--follow)
    fi
    for name in "${names[@]}"; do
        [[ ${#names[@]} -eq 1 ]] || echo "== $name =="
        # ${options[@]+...}: an empty array under `set -u` on bash < 4.4 (macOS)
        "$CHALICE" logs --stage "$STAGE" --name "$name" ${options[@]+"${options[@]}"}
    done
}

cmd_remove() {
    local delete_table=false
    while [[ $# -gt 0 ]]; do
        case $1 in
            --delete-table) delete_table=true ;;
            *) die "unknown remove option: $1" ;;
        esac
        shift
    done
    if $delete_table && [[ $STAGE == prod ]]; then
        die "the prod table is never deleted by this script; run 'remove prod' and follow what it prints"
    fi
    "$CHALICE" delete --stage "$STAGE"
    local table="$APP_NAME-$STAGE"
    if $delete_table; then
        provision delete-table "$STAGE"
    elif [[ $STAGE == prod ]]; then
        cat <<EOF
The table $table (deletion-protected, with point-in-time recovery) and the SSM parameters
under /$APP_NAME/$STAGE are kept on purpose. To delete the table and all its data by hand:
  aws dynamodb update-table --table-name $table --no-deletion-protection-enabled
  aws dynamodb delete-table --table-name $table
EOF
    else
        echo "The table $table is kept; 'scripts/deploy.sh remove $STAGE --delete-table' deletes it too."
    fi
}

[[ $# -ge 1 && $1 != -h && $1 != --help ]] || usage
[[ $# -ge 2 ]] || die "$1 needs a stage: dev or prod"
COMMAND=$1
STAGE=$2
shift 2
case $STAGE in
    dev | prod) ;;
    *) die "stage must be dev or prod, not '$STAGE'" ;;
esac
cd "$ROOT" # chalice reads .chalice/ from the working directory
case $COMMAND in
    deploy) cmd_deploy "$@" ;;
    logs) cmd_logs "$@" ;;
    remove) cmd_remove "$@" ;;
    *) die "unknown command '$COMMAND': use deploy, logs or remove" ;;
esac
