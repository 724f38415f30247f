#!/usr/bin/env bash
# The linker of every build in this workspace (.cargo/config.toml): it runs
# `cc` as rustc asked, and for a release `tollgate` it links a second time
# with the functions that start-up and the first requests run placed
# together at the start of .text (lld's --symbol-ordering-file).
#
# Why: the kernel maps a binary's code into a process in windows of 64 KiB
# or more around each page it runs (fault-around; whole large folios), and
# code that runs at start-up lies spread over the whole 24 MB of .text. So
# an idle tollgate had 18 MB of its binary resident for 4.5 MB of pages it
# ever ran. Ordered (and with packed relocations, below), its idle RSS with
# seed 001's config went from 21.8 to 15.6 MB (glibc) and from 19.0 to
# 13.2 MB (musl): proxy/benches/RESULTS.md, "Idle RSS".
#
# hot-functions.TARGET.gz list those functions (record-hot-functions.py
# writes them); a function renamed since is left where the linker puts it.
#
# Anything unexpected (no list, no lld, a second link that fails) leaves
# the first, ordinary link in place: the ordering saves memory, it is never
# a reason for a build to fail.
set -u
cc=${TOLLGATE_LINK_CC:-cc}
here=$(dirname "$0")
out='' prev=''
for arg in "$@"; do
  [ "$prev" = -o ] && out=$arg
  prev=$arg
done
[[ $out =~ /release/deps/tollgate-[0-9a-f]{16}$ ]] || exec "$cc" "$@"
# One list per target: a list recorded from a build of the same target
# names its functions exactly, hashes included.
case $out in
  */x86_64-unknown-linux-musl/*) list=$here/hot-functions.musl.gz ;;
  *) list=$here/hot-functions.gnu.gz ;;
esac
[ -f "$list" ] || exec "$cc" "$@"
"$cc" "$@" || exit

# lld: rustc passes it for x86_64-unknown-linux-gnu; for musl, gcc uses
# GNU ld unless told to take rustup's (ld.lld in the toolchain's gcc-ld).
extra=()
if [[ " $* " != *" -fuse-ld=lld "* ]]; then
  gcc_ld=$(compgen -G "$(rustc --print sysroot 2>/dev/null)/lib/rustlib/*/bin/gcc-ld" | head -1)
  [ -x "$gcc_ld/ld.lld" ] || exit 0
  extra=(-fuse-ld=lld "-B$gcc_ld")
fi

# A listed name found in the binary is taken as it is. Otherwise its key,
# the name without what varies between builds (legacy mangling: the
# trailing hash; v0: crate disambiguators and back-references), stands for
# every symbol with that key: a list from an older build still orders most
# of the code, at the price of all instances of a generic function sharing
# a legacy name.
nm --defined-only "$out" | awk '
  function key(s) {
    if (s ~ /^_ZN/) sub(/17h[0-9a-f]+E$/, "E", s)
    else if (s ~ /^_R/) { gsub(/Cs[0-9A-Za-z]*_/, "Cs_", s); gsub(/B[0-9A-Za-z]*_/, "B_", s) }
    return s
  }
  NR == FNR { listed[$0] = FNR; k = key($0); if (!(k in rank)) rank[k] = FNR; next }
  $2 ~ /^[tTwW]$/ {
    if ($3 in listed) { print listed[$3], $3; exact[key($3)] = 1 }
    else if (key($3) in rank) { loose[++n] = $3 }
  }
  END { for (i = 1; i <= n; i++) { k = key(loose[i]); if (!(k in exact)) print rank[k], loose[i] } }
' <(zcat "$list") - | sort -n -k1,1 | cut -d' ' -f2 >"$out.order"

cp "$out" "$out.unordered"
# -z pack-relative-relocs (DT_RELR, glibc 2.36, musl 1.2.4): the loader
# reads the whole relocation table at every start; packed, it is 14 KB
# instead of 1.2 MB of RSS.
if "$cc" "$@" "${extra[@]}" "-Wl,--symbol-ordering-file=$out.order" -Wl,--no-warn-symbol-ordering \
  -Wl,-z,pack-relative-relocs; then
  rm -f "$out.unordered"
else
  mv "$out.unordered" "$out"
fi
exit 0
