#!/usr/bin/env bash
# Regenerates the report screenshots in docs/ from `vigie demo`'s real
# output (never from a hand-made page):
#   docs/report-screenshot.png   desktop, 1400 px wide (the README's)
#   docs/report-phone.png        phone, 390 px wide (the answer)
#   docs/report-phone-tables.png phone, the machines table as cards
#   docs/report-fr-*.png         the same in French, once `vigie demo`
#                                 speaks it (LANG=fr_FR.UTF-8)
#   docs/console-*.png           the console (incidents, a detection),
#                                 desktop and phone
# The pictures are taken by an ignored test of crates/report/tests/layout.rs
# (over the DevTools protocol), which first checks that nothing on the
# page is wider than the screen. Needs Debian's chromium; pngquant
# (optional) makes the files small.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build -q -p vigie
bin="${CARGO_TARGET_DIR:-target}/debug/vigie"
shots() { # report prefix
    VIGIE_DEMO_REPORT="$1" VIGIE_SHOTS_DIR="$PWD/docs" VIGIE_SHOTS_PREFIX="$2" \
        cargo test -q -p vigie-report --test layout screenshots_of_the_demo_report -- --ignored >/dev/null
    if command -v pngquant >/dev/null 2>&1; then
        for f in docs/"$2"-*.png; do
            pngquant --force --skip-if-larger --quality 60-90 --output "$f" "$f" || true
        done
    fi
}

LC_ALL=C.UTF-8 LANG=C.UTF-8 "$bin" demo --dir "$work/en" --quiet >/dev/null
shots "$work/en/report.html" report

LC_ALL=fr_FR.UTF-8 LANG=fr_FR.UTF-8 "$bin" demo --dir "$work/fr" --quiet >/dev/null
if grep -q '<html lang="fr"' "$work/fr/report.html"; then
    shots "$work/fr/report.html" report-fr
fi

# The console's pages (docs/console-*.png: incidents and a detection, at
# 1,400 and 390 px), from a real `vigie serve` holding the demo's logs:
# an ignored test of crates/cli/tests/console.rs.
VIGIE_SHOTS_DIR="$PWD/docs" cargo test -q -p vigie --test console console_screenshots -- --ignored >/dev/null
if command -v pngquant >/dev/null 2>&1; then
    for f in docs/console-*.png; do
        pngquant --force --skip-if-larger --quality 60-90 --output "$f" "$f" || true
    done
fi
ls -l docs/report-*.png docs/console-*.png
