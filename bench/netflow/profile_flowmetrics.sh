#!/usr/bin/env bash
# One flowmetrics run of the NetFlow benchmark (bench/netflow/measure.py's configuration and
# phases: warm-up over 100k keys at 100k records/s, then 500k records/s), optionally under
# perf record, for before/after comparisons of one change. Prints CPU-s per million records,
# loss, bytes per key, drops, the load, and the mappings above 2 MB resident after the warm-up.
#   bench/netflow/profile_flowmetrics.sh URI BIN PROTO(9|10) FSYNC(batch|none) [perf|none] [SECONDS]
# With `perf`, the run directory (printed) keeps perf.data:
#   perf report -i DIR/perf.data --no-children -g none --sort symbol
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
uri=$1; bin=$2; proto=$3; fsync=$4; mode=${5:-none}; secs=${6:-10}
w=$(mktemp -d /tmp/netflow-profile-XXXXXX)
replay=${BUILD_DIR:-$root/build}/bench/netflow/netflow_replay
stream=/tmp/netflow-profile-stream-$proto.bin
[ -f $stream ] || $replay --version $proto --keys 100000 --records-per-datagram 30 --write $stream --seconds 0 >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c "import sys; sys.path.insert(0, '$root/bench/netflow'); import measure
sys.stdout.write(measure.flowmetrics_config('$uri', '$$', $http, $port, '$w/spool', '$fsync'))" > $w/f.toml
$bin serve --config $w/f.toml > $w/log 2>&1 &
pid=$!
sleep 2
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
rss() { grep VmRSS /proc/$pid/status | awk '{print $2}'; }
idle=$(rss)
$replay --read $stream --target 127.0.0.1:$port --rate 100000 --seconds 1.05 >/dev/null
settle() { local last=$(cpu) still=0; while [ $still -lt 4 ]; do sleep 0.25; n=$(cpu); if [ $((n-last)) -lt 1 ]; then still=$((still+1)); else still=0; fi; last=$n; done; }
settle; sleep 1.5
keyed=$(rss); awk '/^[0-9a-f]+-/{m=$0} /^Rss:/{if ($2>2000) print $2, m}' /proc/$pid/smaps > $w/smaps.txt
m0=$(curl -s 127.0.0.1:$http/metrics | awk '/^flowmetrics_records_accepted_total/{s+=$2} END{print s+0}')
c0=$(cpu)
if [ $mode = perf ]; then perf record -F 999 -g -p $pid -o $w/perf.data -- sleep $((secs+4)) 2>/dev/null & ppid=$!; fi
$replay --read $stream --target 127.0.0.1:$port --rate 500000 --seconds $secs > $w/replay.json
settle
c1=$(cpu)
met=$(curl -s 127.0.0.1:$http/metrics)
m1=$(echo "$met" | awk '/^flowmetrics_records_accepted_total/{s+=$2} END{print s+0}')
pd=$(echo "$met" | awk '/^flowmetrics_netflow_pipeline_drops_total/{s+=$2} END{print s+0}')
kd=$(echo "$met" | awk '/^flowmetrics_netflow_kernel_drops_total/{s+=$2} END{print s+0}')
[ $mode = perf ] && wait $ppid || true
offered=$(python3 -c "import json;print(json.loads(open('$w/replay.json').read().strip().splitlines()[-1])['records'])")
kill -9 $pid; wait $pid 2>/dev/null || true
python3 -c "
c=($c1-$c0)/100; n=$m1-$m0
print(f'proto $proto fsync $fsync: cpu {c:.2f}s counted {n} offered $offered loss {1-n/$offered:.2%} cpu/M {c/(n/1e6):.3f} B/key {($keyed-$idle)*1024/100000:.0f} pipeline_drops $pd kernel_drops_dgrams $kd load $(cut -d' ' -f1 /proc/loadavg)')"
echo "work $w"
cat $w/smaps.txt; [ $mode = perf ] || rm -rf $w
