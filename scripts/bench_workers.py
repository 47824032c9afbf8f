"""Where analysis runs, measured in one run: the service as it was (analysis threads inside the API
process, git revision ``--baseline``) against this checkout (worker processes), and what a local
Ray instance alone costs before it runs anything.

For each service variant, on this machine: ``shirong serve`` on a fresh SQLite database with 4
cameras on one loopback RTSP stream (a still street photo with rubbish bags, 5 fps H.264): the
seconds to /health, to all 4 cameras analysing, the memory of the service's process tree (RSS and
USS) once they run, and the latency of ``GET /tickets`` (p50/p95, sequential) while the cameras
and a dashcam job (workzone/boston.mp4) run.

    .venv/bin/python scripts/bench_workers.py --baseline c668146 --out docs/benchmarks/workers.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, SHARED, Streams, service, tree_memory, wait

PHOTO = SHARED / "data" / "trashbags" / "images" / "-2023-11-30-170152_png.jpg"
DASHCAM = SHARED / "videos" / "workzone" / "boston.mp4"
CAMERAS = 4


def run_service(name: str, code: Path, stream_url: str, work: Path) -> dict[str, Any]:
    env = {"SHIRONG_CAMERA_FPS": "1"}
    with service(code, work / name, env, before=lambda _: None) as (client, proc, health_s):
        healthy = time.monotonic()
        ids = [_camera(client, i, stream_url) for i in range(CAMERAS)]
        wait("4 cameras analysing", 180, lambda: all(_frames(client, i) > 0 for i in ids))
        cameras_s = health_s + time.monotonic() - healthy  # from launching the service
        time.sleep(10)
        rss, uss = tree_memory(proc.pid)
        files = {"file": (DASHCAM.name, DASHCAM.read_bytes(), "video/mp4")}
        job = client.post("/ingest/videos", files=files).json()
        wait("the job to run", 120, lambda: client.get(f"/jobs/{job['id']}").json()["frames"])
        latencies = _latencies(client, seconds=20.0)
        frames = sum(_frames(client, i) for i in ids)
        job_state = client.get(f"/jobs/{job['id']}").json()
    return {
        "variant": name,
        "health_s": round(health_s, 2),
        "cameras_s": round(cameras_s, 2),
        "rss_mb": round(rss),
        "uss_mb": round(uss),
        "tickets_p50_ms": round(statistics.median(latencies), 1),
        "tickets_p95_ms": round(statistics.quantiles(latencies, n=20)[18], 1),
        "requests": len(latencies),
        "camera_frames": frames,
        "job_frames": job_state["frames"],
    }


def _camera(client: httpx.Client, index: int, url: str) -> int:
    body = {"code": f"bench-{index}", "stream_url": url, "rtsp_transport": "udp", "config": {}}
    response = client.post("/cameras", json=body)
    response.raise_for_status()
    return int(response.json()["id"])


def _frames(client: httpx.Client, camera_id: int) -> int:
    return int(client.get(f"/cameras/{camera_id}/status").json()["frames_analysed"])


def _latencies(client: httpx.Client, seconds: float) -> list[float]:
    found = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        start = time.perf_counter()
        client.get("/tickets").raise_for_status()
        found.append((time.perf_counter() - start) * 1000)
    return found


def ray_local() -> dict[str, Any]:
    """A local Ray instance alone: ``ray.init`` plus 4 idle actors, and its daemons' memory."""
    script = """
import json, os, time, psutil
t = time.monotonic()
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
@ray.remote(num_cpus=0.25)
class A:
    def ping(self): return os.getpid()
pids = ray.get([a.ping.remote() for a in [A.remote() for _ in range(4)]])
ready = time.monotonic() - t
rss = uss = 0
for p in psutil.process_iter():
    try:
        line = " ".join(p.cmdline())
        if p.pid == os.getpid() or "ray" in line:
            info = p.memory_full_info(); rss += info.rss; uss += info.uss
    except Exception:
        pass
print(json.dumps({"variant": "ray local (4 idle actors)", "cameras_s": round(ready, 2),
                  "rss_mb": round(rss / 2**20), "uss_mb": round(uss / 2**20)}))
ray.shutdown()
"""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="c668146", help="revision with in-process threads")
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from serving.demo import build_clip

    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        work = Path(tmp)
        clip = build_clip([PHOTO], work / "bags.mp4", seconds_each=8.0, fps=5)
        baseline = work / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(baseline), args.baseline],
            check=True,
            capture_output=True,
        )
        stream = Streams({"cam": clip}, work)
        try:
            rows = [
                run_service(
                    f"threads in the API ({args.baseline})", baseline, stream.url("cam"), work
                ),
                run_service("worker processes (this checkout)", REPO, stream.url("cam"), work),
                ray_local(),
            ]
        finally:
            stream.close()
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(baseline)])
    table = _table(rows)
    print(table)
    if args.out:
        args.out.write_text(HEADER.format(baseline=args.baseline) + table, encoding="utf-8")


HEADER = """# Where analysis runs: threads in the API vs worker processes vs a local Ray

`scripts/bench_workers.py --baseline {baseline}`, one run on the project's 2-core machine. Each
service variant: fresh SQLite, 4 cameras at 1 fps on one loopback RTSP stream, then a dashcam job
(workzone/boston.mp4, 31 frames at 2 fps: it ends within the latency window). `health_s` and
`cameras_s` count from launching `shirong serve`; memory is the service's whole process tree
10 s after the cameras run; `GET /tickets` is timed sequentially for 20 s on an empty ticket
table (the figure is the API's responsiveness under analysis load, not query cost).
`camera_frames` is the sum over the 4 cameras at the end. The Ray row is `ray.init` plus 4 idle
actors, no service.

"""


def _table(rows: list[dict[str, Any]]) -> str:
    keys = [
        "health_s",
        "cameras_s",
        "rss_mb",
        "uss_mb",
        "tickets_p50_ms",
        "tickets_p95_ms",
        "requests",
        "camera_frames",
        "job_frames",
    ]
    lines = ["| variant | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for row in rows:
        lines.append(
            f"| {row['variant']} | " + " | ".join(str(row.get(k, "")) for k in keys) + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
