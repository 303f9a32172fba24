# Helpers the benchmark scripts share; sourced, not run.

# Runs a command as a whole process and prints its wall and CPU time and
# peak RSS.
timev() { /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB peak RSS" "$@"; }

# The stages of the run for AS_OF (a glob: "*" for any) in OUTPUT's
# manifests: seconds, and each stage's peak RSS / the engine's share of it
# in GiB; the cache's counts.
stages() {
    python3 - "$1" "$2" <<'PY'
import glob, json, sys
m = json.load(open(glob.glob(f"{sys.argv[1]}/_runs/as_of={sys.argv[2]}/2*.json")[0]))
gib = lambda b: f"{b / 2**30:.2f}"
print("stages (s, peak RSS GiB / engine GiB):", ", ".join(
    f"{s['stage']} {s['seconds']:.1f} ({gib(s['memory']['rss_bytes'])}/{gib(s['memory']['engine_bytes'])})"
    if s.get("memory") else f"{s['stage']} {s['seconds']:.1f}" for s in m["stages"]))
print("cache:", m.get("cache"))
PY
}
