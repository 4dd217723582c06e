#!/usr/bin/env bash
# Runs every test tier in order (the README's test command, via `make check`), keeps
# going when one fails, and totals the per-tier "N passed, M failed" lines.
set -uo pipefail
cd "$(dirname "$0")/.."

tiers=(check-unit check-toml check-kvm check-api check-fleet check-mmds check-asan check-fuzz check-nested)
total_pass=0 total_fail=0 failed_tiers=()
for t in "${tiers[@]}"; do
	echo "=== $t"
	start=$(date +%s)
	log=$(mktemp)
	make --no-print-directory -j2 all >/dev/null 2>&1 || true
	make --no-print-directory "$t" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# Sum every "N passed, M failed" summary line of this tier.
	read -r p f < <(grep -E '^[A-Za-z0-9_./-]*:? ?[0-9]+ passed, [0-9]+ failed' "$log" |
		grep -E '^(unit|acpi|toml-test|kvm|api|fc-compat|fleet|mmds|fuzz|nested):' |
		sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' |
		awk '{p+=$1; f+=$2} END {print p+0, f+0}')
	rm -f "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1  # the tier failed without counting it (build error, tier could not run)
	fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
	[ "$rc" -eq 0 ] || failed_tiers+=("$t")
	echo "=== $t: exit $rc, $p passed, $f failed, $(( $(date +%s) - start )) s"
done
[ ${#failed_tiers[@]} -eq 0 ] || echo "FAILED TIERS: ${failed_tiers[*]}"
echo "total: $total_pass passed, $total_fail failed"
[ ${#failed_tiers[@]} -eq 0 ]
