#!/bin/sh
# Refreshes the screenshots in docs/ from the Chromium tests that take them
# (they write test-artifacts/screenshots/): the hosted flow's brand page,
# failure screen and device choice at 1280 and 375 px, and the report page.
# Needs the local Postgres (./scripts/pg.sh up) and Chromium.
set -eu
cd "$(dirname "$0")/.."
NOX_TEST_DATABASE_URL="${NOX_TEST_DATABASE_URL:-$(./scripts/pg.sh url)}" CI=true \
	go test -count=1 -run 'TestBrowserManagerFiltersReportAndDownloadsCSV|TestBrowserFailureScreenTryAgainReturnAndOff|TestBrowserUserFiltersBrandsSignsInAllowsAndReturnsConnected|TestBrowserUserChoosesWhichDevicesToLink' ./handlers/
shots=test-artifacts/screenshots
for f in connect-brands-1280 connect-brands-375 flow-failure-1280 flow-failure-375 flow-devices-1280 flow-devices-375; do
	cp "$shots/$f.png" "docs/screenshots/$f.png"
done
cp "$shots/reports.png" docs/reports.png
echo "screenshots: docs/screenshots/ and docs/reports.png refreshed"
