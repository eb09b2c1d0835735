#!/usr/bin/env bash
# The Debian packages the test suites need, in one place (.ci/run and the vitest global setup,
# tests/setup/system-packages.ts, both call this script):
#   chromium              the renderer's end-to-end tests (else @sparticuz/chromium from npm)
#   openssl               the HTTPS server's own CA in the transport tests
#   python3-pydicom (+ numpy, gdcm)  pydicom's test files: the DICOM tests' data
#   orthanc, orthanc-dicomweb        a real PACS for the DICOMweb import tests
#   redis-server          the synthesis queue (BullMQ) in the queue and worker tests
#   postgresql (15)       the server store's second engine
# All servers are started by the tests themselves, on loopback ports in temp dirs.
#
#   system-packages.sh check     exit 0 when everything is present, else 1 and the missing list
#   system-packages.sh install   apt-get install what is missing (needs root)
set -euo pipefail

PACKAGES=(chromium openssl python3-pydicom python3-numpy python3-gdcm orthanc orthanc-dicomweb redis-server postgresql)

missing() {
  [ -x /usr/bin/chromium ] || echo chromium
  command -v openssl >/dev/null || echo openssl
  [ -f /usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm ] || echo python3-pydicom
  [ -x /usr/sbin/Orthanc ] || echo orthanc
  [ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || echo orthanc-dicomweb
  [ -x /usr/bin/redis-server ] || echo redis-server
  [ -x /usr/lib/postgresql/15/bin/initdb ] || echo postgresql
}

case "${1:-check}" in
  check)
    m="$(missing | tr '\n' ' ')"
    if [ -n "$m" ]; then
      echo "missing: $m"
      exit 1
    fi
    ;;
  install)
    if [ -z "$(missing)" ]; then exit 0; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
    ;;
  *)
    echo "usage: $0 check|install" >&2
    exit 2
    ;;
esac
