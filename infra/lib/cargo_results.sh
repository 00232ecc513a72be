# shellcheck shell=bash
# Reads the combined stdout+stderr log of `cargo test`.

# passed_in_test_binary LOG NAME: the "N passed" of the integration-test
# binary NAME (tests/NAME.rs), or 0 when it did not run.
passed_in_test_binary() {
    awk -v bin="$2" '
        /^ *(Running|Doc-tests) / {
            cur = (index($0, "tests/" bin ".rs") > 0 || $0 ~ ("/" bin "-[0-9a-f]+\\)"))
            next
        }
        cur && /^test result:/ {
            for (i = 2; i <= NF; i++) if ($i ~ /^passed;?$/) { print $(i - 1); found = 1; exit }
        }
        END { if (!found) print 0 }
    ' "$1"
}

# totals_from_log LOG: "PASSED FAILED IGNORED" summed over every test binary.
totals_from_log() {
    awk '
        /^test result:/ {
            for (i = 2; i <= NF; i++) {
                if ($i ~ /^passed;?$/) p += $(i - 1)
                if ($i ~ /^failed;?$/) f += $(i - 1)
                if ($i ~ /^ignored;?$/) g += $(i - 1)
            }
        }
        END { printf "%d %d %d\n", p, f, g }
    ' "$1"
}
