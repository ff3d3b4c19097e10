#!/usr/bin/env bash
# Install the Debian packages the test suite uses as real peers, when missing.
# Without root or apt this only reports what is missing (tests needing them skip,
# or fail under WATCHKEEPER_REQUIRE_SERVICES=1).
set -u
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)          # the dashboard's browser test (Playwright)
command -v openssl >/dev/null 2>&1 || need+=(openssl)   # TLS probe tests make certificates
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
  # The package starts a Prometheus service; tests start their own on free ports.
  pkill -x prometheus >/dev/null 2>&1 || true
  pkill -x prometheus-alert >/dev/null 2>&1 || true
else
  echo "missing (install them for the full suite): ${need[*]}" >&2
fi
