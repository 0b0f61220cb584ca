#!/usr/bin/env python3
"""Assembles bench/run.sh's outputs into report.json and report.md: every figure beside the baseline
measured in the same run, the ratio, and the goal from issue #16 it is held against.

    report.py RESULTS_DIR OUT_JSON OUT_MD
RESULTS_DIR holds decode.txt, policy.json, ingest.json, failover.txt, agent.json and machine.json."""

import json
import re
import sys


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def decode_figures(text):
    rows = {}
    for name, key in (("baseline: msgpack unpack", "baseline"), ("hale::heartbeat::Decoder", "hale")):
        m = re.search(re.escape(name) + r".*?([0-9.]+) us/msg.*?([0-9.]+) allocations/msg", text)
        if not m:
            raise SystemExit("report: no '%s' line in the decode benchmark's output" % name)
        rows[key] = {"us_per_msg": float(m.group(1)), "allocations_per_msg": float(m.group(2))}
    rows["ratio"] = rows["baseline"]["us_per_msg"] / rows["hale"]["us_per_msg"]
    return rows


def failover_figures(text):
    out = {}
    for stage in ("detect", "decide", "complete"):
        m = re.search(r"^%s\s+([0-9]+) ms\s+([0-9]+) ms" % stage, text, re.M)
        if not m:
            raise SystemExit("report: no '%s' line in bench_failover's output" % stage)
        out[stage] = {"median_ms": int(m.group(1)), "p95_ms": int(m.group(2))}
    m = re.search(r"^([0-9]+) of ([0-9]+) runs completed", text, re.M)
    out["runs_completed"], out["runs"] = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    out["budget_ms"] = 5000
    out["ratio"] = out["complete"]["p95_ms"] / out["budget_ms"]
    return out


def verdict(ok):
    return "met" if ok else "**not met**"


def main():
    results, out_json, out_md = sys.argv[1:4]
    report = {
        "machine": json.loads(read(results + "/machine.json")),
        "decode": decode_figures(read(results + "/decode.txt")),
        "policy": json.loads(read(results + "/policy.json")),
        "ingest": json.loads(read(results + "/ingest.json")),
        "failover": failover_figures(read(results + "/failover.txt")),
        "agent": json.loads(read(results + "/agent.json")),
    }
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    m = report["machine"]
    fp = report["agent"]["footprint"]
    agent = fp["processes"]["hale-agent"]
    exporter = fp["processes"]["prometheus-node-exporter"]
    monit = fp["processes"]["monit"]
    bare_spawn = fp["processes"].get("posix_spawn /bin/true every 1 s")
    hz = report["agent"]["healthz"]
    ing = report["ingest"]
    pol = report["policy"]
    fo = report["failover"]
    dec = report["decode"]
    lines = [
        "# hale benchmark report",
        "",
        "`%s` on %s: %s, %s CPUs, %s, Linux %s, commit %s." % (
            m["command"], m["date"], m["cpu"], m["cpus"], m["memory"], m["kernel"], m["commit"]),
        "Every figure has its baseline from the same run; ratios are hale / baseline unless said.",
        "",
        "| figure | hale | baseline (same run) | ratio | goal | |",
        "|---|---|---|---|---|---|",
    ]

    def row(figure, hale, base, ratio, goal, ok):
        lines.append("| %s | %s | %s | %s | %s | %s |" % (figure, hale, base, ratio, goal, verdict(ok) if ok is not None else ""))

    def ingest_cpu(c, run):  # run: "aggregator" or "bare"; absent from reports before the CPU figures
        if "receiver_cpu_us_per_frame" not in c:
            return ""
        return "; CPU a frame %.2f µs (senders %.2f), machine busy %.2f cores" % (
            c["receiver_cpu_us_per_frame"][run], c["sender_cpu_us_per_frame"]["with_" + run],
            c["cpu_%s_run" % run]["machine_busy_cores"])

    for name in ("plain", "curve"):
        c = ing[name]
        goal = 0.5 if name == "plain" else 0.7
        row("ingest, %s, %d nodes over %d connections" % ("plaintext" if name == "plain" else "CURVE", c["nodes"], c["connections"]),
            "%.0f accepted/s%s" % (c["aggregator_accepted_per_s"], ingest_cpu(c, "aggregator")),
            "bare ZeroMQ %.0f/s%s" % (c["bare_zeromq_per_s"], ingest_cpu(c, "bare")),
            "%.2f" % c["ratio"], "≥ %.1f" % goal, c["ratio"] >= goal)

    def wrk_cpu(s):  # the server's and wrk's CPU over the same runs (absent from older reports)
        if "server_cores_median" not in s:
            return ""
        return "; server %.2f cores, %.1f µs a request; wrk %.2f cores; machine busy %.2f cores" % (
            s["server_cores_median"], s["server_cpu_us_per_request_median"], s["wrk_cores_median"], s["machine_busy_cores_median"])

    for t in ("1", "2"):
        r = hz["wrk_threads_" + t]
        a, n = r["hale-agent"], r["nginx"]
        row("`/healthz`, wrk -t%s -c%d, median of %d" % (t, hz["connections"], hz["rounds"]),
            "%.0f req/s, p50 %.2f ms, p99 %.2f ms%s" % (a["rps_median"], a["p50_ms_median"], a["p99_ms_median"], wrk_cpu(a)),
            "nginx `return 200`: %.0f req/s, p50 %.2f ms, p99 %.2f ms%s" % (
                n["rps_median"], n["p50_ms_median"], n["p99_ms_median"], wrk_cpu(n)),
            "%.2f" % r["ratio_median"], "≥ 1.0", r["ratio_median"] >= 1.0)
    if "fixed_rate" in hz:
        fr = hz["fixed_rate"]
        a, n = fr["hale-agent"], fr["nginx"]
        baseline = "nginx `return 200`: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms" % (
            n["p50_ms_median"], n["p99_ms_median"], n["p999_ms_median"])
        if "p99_aa_ratio_median" in fr:  # nginx measured twice per round: the noise of this run
            baseline += "; nginx against itself (A/A): p99 %.2f×" % fr["p99_aa_ratio_median"]
        row("`/healthz` at a fixed %.0f req/s, open loop, %d connections, median of %d" % (fr["rate_per_s"], fr["connections"], fr["rounds"]),
            "p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms" % (a["p50_ms_median"], a["p99_ms_median"], a["p999_ms_median"]),
            baseline, "p99 %.2f× nginx" % fr["p99_ratio_median"], "p99 ≤ nginx's", fr["p99_ratio_median"] <= 1.0)
    peers = "node_exporter %.2f %%, monit %.2f %%" % (exporter["cpu_percent"], monit["cpu_percent"])
    if bare_spawn:
        peers += "; the exec check's floor, a bare loop spawning /bin/true every 1 s: %.2f %% (children %.2f %%)" % (
            bare_spawn["cpu_percent"], bare_spawn["cpu_children_percent"])
    row("agent CPU incl. children, six checks every 1 s, %.0f s" % fp["seconds"],
        "%.2f %% of a core (children %.2f %%)" % (agent["cpu_percent"], agent["cpu_children_percent"]), peers,
        "%.1f× node_exporter" % (agent["cpu_percent"] / max(exporter["cpu_percent"], 1e-9)), "≤ 0.5 %",
        agent["cpu_percent"] <= 0.5)
    row("agent RSS (PSS)", "%.1f MB (%.1f MB)" % (agent["rss_mb"], agent["pss_mb"]),
        "node_exporter %.1f (%.1f), monit %.1f (%.1f)" % (exporter["rss_mb"], exporter["pss_mb"], monit["rss_mb"], monit["pss_mb"]),
        "%.2f× monit" % (agent["rss_mb"] / monit["rss_mb"]), "≤ 10 MB", agent["rss_mb"] <= 10)
    row("agent anonymous memory, first → last sample", "%.2f → %.2f MB" % (agent["anon_mb_first"], agent["anon_mb_last"]),
        "node_exporter %.2f → %.2f, monit %.2f → %.2f" % (exporter["anon_mb_first"], exporter["anon_mb_last"],
                                                        monit["anon_mb_first"], monit["anon_mb_last"]),
        "%.2f× monit" % (agent["anon_mb_last"] / monit["anon_mb_last"]), "≤ 2.0 MB, flat",
        agent["peak_anon_mb"] <= 2.0)
    if "footprint_light" in report["agent"]:
        light = report["agent"]["footprint_light"]
        row("agent RSS (PSS), anonymous, tcp/http/exec checks only, %.0f s" % light["seconds"],
            "%.1f MB (%.1f MB), %.2f MB" % (light["rss_mb"], light["pss_mb"], light["anon_mb_last"]),
            "monit %.1f (%.1f), %.2f MB" % (monit["rss_mb"], monit["pss_mb"], monit["anon_mb_last"]),
            "%.2f× monit" % (light["rss_mb"] / monit["rss_mb"]), "< 7.5 MB", light["peak_rss_mb"] < 7.5)
    row("agent threads", "%d" % agent["threads"], "node_exporter %d, monit %d" % (exporter["threads"], monit["threads"]), "", "", None)
    row("heartbeat decode, %s" % "258-byte frame, 4 checks",
        "%.3f µs, %.0f allocations" % (dec["hale"]["us_per_msg"], dec["hale"]["allocations_per_msg"]),
        "msgpack unpack + convert %.3f µs, %.0f allocations" % (dec["baseline"]["us_per_msg"], dec["baseline"]["allocations_per_msg"]),
        "%.2f× the rate" % dec["ratio"], "0 allocations", dec["hale"]["allocations_per_msg"] == 0)
    row("policy, one evaluation, %d nodes in %d regions" % (pol["fleet"]["nodes"], pol["fleet"]["regions"]),
        "%.2f ms (a heartbeat %.0f ns)" % (pol["fleet"]["evaluation_ms"], pol["fleet"]["heartbeat_ns"]),
        "%d nodes: %.3f ms (%.0f ns)" % (pol["baseline"]["nodes"], pol["baseline"]["evaluation_ms"], pol["baseline"]["heartbeat_ns"]),
        "%.2f per node" % pol["per_node_ratio"], "", None)
    row("failover drill, kill → plan done, %d of %d runs" % (fo["runs_completed"], fo["runs"]),
        "median %d ms, p95 %d ms" % (fo["complete"]["median_ms"], fo["complete"]["p95_ms"]), "budget 5000 ms",
        "%.2f of the budget" % fo["ratio"], "p95 ≤ 5000 ms", fo["complete"]["p95_ms"] <= 5000)
    lines += [
        "",
        "How each is measured: `bench/README.md`.",
        "",
    ]
    with open(out_md, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
