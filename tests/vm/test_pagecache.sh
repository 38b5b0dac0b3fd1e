#!/usr/bin/env bash
# A service that streams a file larger than its memory.max through the
# page cache sits at its limit the whole time, yet its working set is
# small: the pressure engine must leave it alone. Needs a real filesystem
# (the 9p shares have no page cache, /tmp is shmem): ext4 on a zram disk,
# so vmrun runs this test with --zram (which loads zram and ext4).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/guardian-lib.sh"
need_helper MEMHOG memhog

[ -e /sys/class/zram-control/hot_add ] || bail "no zram (run through vmrun --zram)"
dev=/dev/zram$(cat /sys/class/zram-control/hot_add)
echo 512M >"/sys/block/${dev#/dev/}/disksize" || bail "zram disksize"
mkfs.ext4 -q "$dev" || bail "mkfs.ext4 $dev"
mkdir -p "$T/fs" && mount -t ext4 "$dev" "$T/fs" || bail "mount $dev"
trap '_st=$?; guardian_cleanup; umount "$T/fs" 2>/dev/null; (exit $_st); _lib_cleanup' EXIT
# 300 MB of file data: over twice the service's memory.max.
head -c 300M /dev/urandom >"$T/fs/big" || bail "write the big file"
sync && echo 3 >/proc/sys/vm/drop_caches

mkdir -p "$T/policies"
cat >"$T/policies/reader.yaml" <<YAML
service: reader
command: ["$MEMHOG", "--file", "$T/fs/big", "--read-loop"]
limits: {memory_max: 128M, memory_swap_max: 0}
YAML
guardian_start "$T/policies"
check "reader is running" wait_for 10000 svc_state_is reader running
pid=$(svc_field reader pid)
cg=/sys/fs/cgroup/guardian.slice/reader.service

# Three whole passes over 300 MB through a 128M limit: the page cache is
# reclaimed the whole time, which is the case to leave alone.
reads_done() { grep -qE 'memhog: pass ([3-9]|[1-9][0-9]+) ' "$T/state/logs/reader.log"; }
check "reader read the file three times" wait_for 120000 reads_done
check "reader's page cache filled its limit" [ "$(cg_key "$cg" memory.stat file)" -gt $((64 << 20)) ]
check "its working set stayed small" [ "$(svc_field reader working_set)" -lt $((48 << 20)) ]
check "reader: same pid, never restarted" \
	[ "$(svc_field reader pid)" = "$pid" ] && [ "$(svc_field reader restarts)" = 0 ]
check "reader: no kernel OOM kill" [ "$(cg_key "$cg" memory.events oom_kill)" = 0 ]
engine_records() { grep '"service":"reader"' "$T/state/actions.jsonl" 2>/dev/null | grep -c '"source":"engine"'; }
check "the engine made no decision about reader" [ "$(engine_records)" = 0 ]
"$GUARDCTL" status reader | sed 's/^/# /'
done_testing
