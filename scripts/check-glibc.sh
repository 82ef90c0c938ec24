#!/usr/bin/env bash
# Checks that a shipped .node loads on the baseline: glibc <= 2.28, no libstdc++ (no GLIBCXX/CXXABI),
# libgcc_s symbol versions <= GCC_7.0.0, and only libc/libm/libgcc_s/libpthread/libdl/librt/ld.so
# as needed libraries. Reads the ELF's version-needs section (readelf -V), so it works for any
# architecture. Usage: scripts/check-glibc.sh path/to/mmpref.node [max glibc, default 2.28]
set -euo pipefail
f=$1
max=${2:-2.28}
[ -f "$f" ] || { echo "check-glibc: no such file: $f"; exit 1; }
bad=0
ver_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }

needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
for lib in $needed; do
  case $lib in
    libc.so.6 | libm.so.6 | libgcc_s.so.1 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux-*.so.*) ;;
    *) echo "check-glibc: $f needs $lib (expected only libc, libm, libgcc_s, libpthread, libdl, librt)"; bad=1 ;;
  esac
done

versions=$(readelf -V "$f" | sed -n 's/.*Name: \([A-Z_]*[0-9][0-9.]*\) .*Flags.*/\1/p' | sort -u)
[ -n "$versions" ] || { echo "check-glibc: $f has no version-needs section (not a dynamic glibc build?)"; exit 1; }
cxx=
top_glibc=$(printf '%s\n' $versions | sed -n 's/^GLIBC_//p' | sort -V | tail -1)
for v in $versions; do
  case $v in
    GLIBC_*) ver_le "${v#GLIBC_}" "$max" || { echo "check-glibc: $f needs $v (> GLIBC_$max):"; readelf --dyn-syms -W "$f" | grep -o "[^ ]*@$v\b" | sort -u | sed 's/^/  /' | head -20; bad=1; } ;;
    GCC_*) ver_le "${v#GCC_}" 7.0.0 || { echo "check-glibc: $f needs libgcc_s $v (> GCC_7.0.0)"; bad=1; } ;;
    GLIBCXX_* | CXXABI_*) cxx="$cxx $v"; bad=1 ;;
  esac
done
[ -z "$cxx" ] || echo "check-glibc: $f needs libstdc++ symbol versions:$cxx"
echo "check-glibc: $f: needs [$(echo $needed)], newest GLIBC_$top_glibc (baseline $max)$([ $bad = 0 ] && echo ': ok' || echo ': FAILED')"
exit $bad
