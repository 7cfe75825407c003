#!/bin/sh
# Draws the benchmark chart (SVG, or PNG for a .png name) from a results file of bench/run.sh:
# sync round-trip latency per case and mode, and the parallel-scaling
# speedups. Needs gnuplot (Debian: apt-get install gnuplot-nox).
#
#   bench/chart.sh [RESULTS_JSON [OUT_SVG]]
#     RESULTS_JSON  default bench/results.json (the recorded run)
#     OUT_SVG       default <repo>/build/bench/chart.svg (untracked)
# docs/performance.md shows the chart of the recorded run:
#   bench/chart.sh bench/results.json docs/bench-chart.svg
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
results=${1:-$here/results.json}
out=${2:-$src/build/bench/chart.svg}
command -v gnuplot >/dev/null 2>&1 || {
  echo "bench/chart.sh: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2
  exit 1
}
[ -f "$results" ] || { echo "bench/chart.sh: no results file $results" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Two data files: latency.dat (case, worker p50, owngil p50) and
# scaling.dat (mode, speedup), plus the title line.
python3 - "$results" "$tmp" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
fig = {(f["bench"], f["case"], f["mode"], f["metric"]): f["median"] for f in doc["figures"]}
def q(s): return '"' + s.replace('"', "'") + '"'
rows = []
for bench in ("roundtrip", "eval"):
    for case in sorted({c for b, c, m, k in fig if b == bench and k == "p50_ns"}):
        w, o = fig.get((bench, case, "worker", "p50_ns")), fig.get((bench, case, "owngil", "p50_ns"))
        if w is not None and o is not None:
            rows.append("%s %g %g" % (q(case), w, o))
scaling = [(m, v) for (b, c, m, k), v in fig.items() if b == "scaling" and k == "speedup"]
order = ["sequential", "worker", "python threads", "owngil", "python multiprocessing"]
scaling.sort(key=lambda mv: order.index(mv[0]) if mv[0] in order else len(order))
if not rows or not scaling:
    sys.exit("bench/chart.sh: the results lack the roundtrip/eval p50 or scaling speedup figures")
open(sys.argv[2] + "/latency.dat", "w").write("\n".join(rows) + "\n")
open(sys.argv[2] + "/scaling.dat", "w").write("\n".join("%s %g" % (q(m), v) for m, v in scaling) + "\n")
case = next(c for b, c, m, k in fig if b == "scaling")
n = doc.get("machine", {}).get("nproc", "?")
open(sys.argv[2] + "/title", "w").write(
    "pyctx %s run of %s, Python %s, %s CPUs (medians of %s runs); scaling: %s\n"
    % (doc.get("profile", "?"), doc.get("date", "?"), ", ".join(doc.get("python", [])), n,
       doc.get("runs", "?"), case))
PY

case $out in
  *.png) terminal='pngcairo size 960,420 font "sans,10" background "white"' ;;
  *) terminal='svg size 960,420 dynamic font "sans,12" background "white"' ;;
esac
gnuplot <<GP
set terminal $terminal
set output "$out"
set multiplot layout 1,2 title "$(cat "$tmp/title")" font "sans,12"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set yrange [0:*]
set xtics rotate by 25 right scale 0 nomirror
set offsets 0, 0, graph 0.1, 0
set title "Sync round trip, p50 (ns, lower is better)"
plot "$tmp/latency.dat" using 2:xtic(1) title "worker" lc rgb "#4e79a7", \
     "" using 3 title "owngil" lc rgb "#f28e2b", \
     "" using (\$0 - 0.15):2:(sprintf("%.0f", \$2)) with labels offset 0,0.7 font ",9" notitle, \
     "" using (\$0 + 0.15):3:(sprintf("%.0f", \$3)) with labels offset 0,0.7 font ",9" notitle
set title "Parallel scaling: speedup over sequential (higher is better)"
set key off
plot "$tmp/scaling.dat" using 2:xtic(1) lc rgb "#59a14f", \
     "" using 0:2:(sprintf("%.2fx", \$2)) with labels offset 0,0.8 notitle
unset multiplot
GP
echo "wrote $out"
