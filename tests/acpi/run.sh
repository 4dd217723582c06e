#!/bin/bash
# ACPI tables through ACPICA (acpica-tools, Debian's): for several machines, every table
# must disassemble cleanly, the DSDT must recompile with 0 errors, and the interpreter
# must evaluate each virtio device's _CRS to the window and GSI Ember gave it, and \_S5.
set -u
dump=$1
for t in iasl acpiexec; do
	command -v $t >/dev/null || { echo "FAIL acpi: $t missing (apt-get install acpica-tools)"; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

for cfg in "1 0" "2 3" "4 17" "254 32"; do
	set -- $cfg
	name="acpi-${1}cpu-${2}virtio"
	d=$work/$name
	mkdir -p "$d"
	if ! "$dump" "$d" "$1" "$2" >"$d/dump.log" 2>&1; then
		bad "$name" "acpi_dump failed: $(cat "$d/dump.log")"; continue
	fi
	(cd "$d" && iasl -d ./*.dat >iasl-d.log 2>&1)
	if grep -qiE "error|warning|invalid|unknown" "$d"/*.dsl "$d/iasl-d.log"; then
		bad "$name" "disassembly reports problems: $(grep -iE 'error|warning|invalid|unknown' "$d"/*.dsl "$d/iasl-d.log" | head -3)"; continue
	fi
	n=$(grep -c '"LNRO0005"' "$d/DSDT.dsl")
	[ "$n" = "$2" ] || { bad "$name" "DSDT has $n virtio devices, want $2"; continue; }
	lapics=$(grep -c "Subtable Type : 00 \[Processor Local APIC\]" "$d/APIC.dsl")
	[ "$lapics" = "$1" ] || { bad "$name" "MADT has $lapics local APICs, want $1"; continue; }
	(cd "$d" && iasl -p recompiled DSDT.dsl >iasl-c.log 2>&1)
	grep -q "Compilation successful. 0 Errors" "$d/iasl-c.log" ||
		{ bad "$name" "DSDT does not recompile: $(tail -3 "$d/iasl-c.log")"; continue; }
	cmds="evaluate \\_S5"
	for ((i = 0; i < $2; i++)); do cmds+="; evaluate \\_SB.VR$(printf %02d $i)._CRS"; done
	(cd "$d" && timeout 60 acpiexec -b "$cmds" DSDT.dat FACP.dat APIC.dat >exec.log 2>&1)
	good=1
	for ((i = 0; i < $2; i++)); do
		base=$(printf "%08X" $((0xd0000000 + i * 0x1000)))
		# Memory32Fixed bytes: 86 09 00 01 then the base little-endian.
		want="86 09 00 01 ${base:6:2} ${base:4:2} ${base:2:2} ${base:0:2}"
		gsi=$(printf "%02X" $((5 + i)))
		if ! grep -A3 "Evaluating \\\\_SB.VR$(printf %02d $i)._CRS" "$d/exec.log" | grep -q "$want"; then
			good=0; bad "$name" "VR$(printf %02d $i)._CRS does not evaluate to base 0x$base"; break
		fi
		if ! grep -A4 "Evaluating \\\\_SB.VR$(printf %02d $i)._CRS" "$d/exec.log" | tr '\n' ' ' |
			grep -q "89 06 00 03 .*01 $gsi 00 00 00 79"; then
			good=0; bad "$name" "VR$(printf %02d $i)._CRS does not carry GSI 0x$gsi"; break
		fi
	done
	[ $good = 1 ] || continue
	grep -A2 "Evaluation of \\\\_S5" "$d/exec.log" | grep -q "Integer\] = 0000000000000005" ||
		{ bad "$name" "\\_S5 does not evaluate to SLP_TYP 5"; continue; }
	ok "$name"
done
echo "acpi: $pass passed, $fail failed"
[ $fail = 0 ]
