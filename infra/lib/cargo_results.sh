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

# backend_counts LOG: one line "BINARY EMBEDDED AWS" per test binary that ran
# tests on a backend: the passed tests right inside a module named
# embedded, embedded_store, aws or aws_store (the modules of
# courier_testkit::backend_tests!); the
# conformance binaries count whole, by their name.
backend_counts() {
    awk '
        /^ *(Running|Doc-tests) / {
            bin = ""
            if (match($0, /\/deps\/[A-Za-z0-9_]+-[0-9a-f]+\)/)) {
                bin = substr($0, RSTART + 6, RLENGTH - 7)
                sub(/-[0-9a-f]+$/, "", bin)
            }
            next
        }
        bin != "" && /^test .* \.\.\. ok$/ {
            side = ""
            if (bin == "conformance_embedded") side = "embedded"
            else if (bin == "conformance_aws") side = "aws"
            else {
                # The macro puts each test right inside the module of its backend.
                n = split($2, seg, "::")
                if (n > 1 && seg[n - 1] ~ /^embedded(_store)?$/) side = "embedded"
                if (n > 1 && seg[n - 1] ~ /^aws(_store)?$/) side = "aws"
            }
            if (side == "") next
            seen[bin] = 1
            count[bin, side]++
        }
        END {
            for (b in seen) printf "%s %d %d\n", b, count[b, "embedded"], count[b, "aws"]
        }
    ' "$1" | sort
}
