#!/usr/bin/env bash
# Runs every test tier in order (the README's test command, via `make check`), keeps
# going when one fails, and totals the per-tier "N passed, M failed" lines. Each tier's
# line names the KVM it ran on (the "KVM: ..." lines of tests/kvm-host.sh and
# tests/nested/run.sh; "none" for tiers without a VM) and its wall time; the last lines
# give the slowest tiers, the RETRYs the nested test host needed, and the total.
set -uo pipefail
cd "$(dirname "$0")/.."

tiers=(check-unit check-toml check-kvm check-api check-fleet check-mmds check-asan check-fuzz check-nested)
total_pass=0 total_fail=0 failed_tiers=() times=() retries=0
run_start=$(date +%s)
echo "=== KVM for the live-VM tiers: $(tests/kvm-host.sh --where 2>&1 | tail -n1)"
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
	# Where its VMs ran: the distinct "KVM: <where>;" of its runs.
	kvm=$(sed -n 's/^KVM: \([^;]*\);.*/\1/p' "$log" | sort -u | paste -sd, - | sed 's/,/, /g')
	r=$(grep -c '^RETRY ' "$log" || true)
	rm -f "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1  # the tier failed without counting it (build error, tier could not run)
	fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) retries=$((retries + r))
	[ "$rc" -eq 0 ] || failed_tiers+=("$t")
	secs=$(( $(date +%s) - start ))
	times+=("$secs $t")
	echo "=== $t: exit $rc, $p passed, $f failed, $secs s; KVM: ${kvm:-none (no VM)}$([ "$r" -gt 0 ] && echo "; $r RETRY lines")"
done
echo "slowest tiers: $(printf '%s\n' "${times[@]}" | sort -rn | head -n 4 | awk '{printf "%s%s %d s", (NR>1?", ":""), $2, $1}')"
echo "wall time: $(( $(date +%s) - run_start )) s; RETRYs (nested test host attempts that failed and were rerun): $retries"
[ ${#failed_tiers[@]} -eq 0 ] || echo "FAILED TIERS: ${failed_tiers[*]}"
echo "total: $total_pass passed, $total_fail failed"
[ ${#failed_tiers[@]} -eq 0 ]
