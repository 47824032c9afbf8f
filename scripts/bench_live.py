"""Live capacity of one machine, measured in one run: how many 1080p cameras the service's own
camera workers analyse at 1 frame/s, decoding in full, keyframes only, or a sub-stream; a 1080p30
dashcam video at 2 frames/s; and ``GET /tickets`` on 10,000 tickets while 4 cameras run.

Media (made by ffmpeg from ../shared, once, into ``--media``): the four workzone street clips at
1920x1080 25 fps H.264 (4 Mbit/s, a keyframe a second, no B-frames, as cameras send), with the
demo street photos (rubbish bags, graffiti, cones, ...) overlaid as a 4 s slideshow so the rules
open incidents; the same at 640x360 (600 kbit/s) as the sub-stream; the clips at 1080p30
(8 Mbit/s) as a dashcam video. One rtsp-server-perl serves 4 copies of each, 15 s and 0.3 s
apart (cameras are not in step: their keyframes and scenes come at different moments); camera i
views copy i mod 4 and is its own RTSP session (its own decoder).

Per variant and camera count N: ``shirong serve`` on fresh SQLite (SHIRONG_CAMERA_FPS=1, the
variant's SHIRONG_CAMERA_DECODE), N cameras with the demo rules (one pavement zone, 2 s dwell),
15 s warm-up, then a 60 s window: CPU per camera (its worker process), memory per camera (USS),
analysed frames/s per camera, the API process's CPU, and latency from frame capture (the frame's
wall_time, when it was decoded) to its incident row being stored (created_at), p50/p95.

    .venv/bin/python scripts/bench_live.py --out docs/benchmarks/live.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    REPO,
    SHARED,
    Streams,
    cpu_seconds,
    service,
    tree_memory,
    wait,
    worker_processes,
)

WARM_S = 15.0
STREAMS = 4  # copies of each stream, out of step: cameras i, i+4, ... share one
WORKZONE = sorted((SHARED / "videos" / "workzone").glob("*.mp4"))
VARIANTS = {  # name: (SHIRONG_CAMERA_DECODE, analyse the sub-stream)
    "main-all": ("all", False),
    "main-keyframes": ("keyframes", False),
    "sub-all": ("all", True),
    "sub-keyframes": ("keyframes", True),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def prepare(media: Path) -> dict[str, Path]:
    """The camera streams and the dashcam video (kept in ``media`` between runs)."""
    sys.path.insert(0, str(REPO))
    from serving.demo import build_clip, demo_images

    media.mkdir(parents=True, exist_ok=True)
    out = {k: media / f"{k}.mp4" for k in ("slides", "main", "sub", "dashcam")}
    if all(p.exists() for p in out.values()):
        return out
    clips = media / "workzone.txt"
    clips.write_text("".join(f"file '{p}'\n" for p in WORKZONE))
    build_clip(demo_images(SHARED), out["slides"], seconds_each=4.0, fps=25)
    rate = ["-b:v", "4M", "-maxrate", "4M", "-bufsize", "8M"]
    camera = ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "0", "-an"]
    overlay = (
        "[0:v]scale=1920:1080,fps=25,setpts=PTS-STARTPTS[bg];"
        "[1:v]scale=1440:810,setpts=PTS-STARTPTS[fg];"
        "[bg][fg]overlay=480:270:shortest=1,format=yuv420p[v]"
    )
    concat = ["-f", "concat", "-safe", "0", "-i", str(clips)]
    ffmpeg(*concat, "-i", str(out["slides"]), "-filter_complex", overlay, "-map", "[v]",
           *camera, *rate, str(out["main"]))  # fmt: skip
    sub_rate = ["-b:v", "600k", "-maxrate", "600k", "-bufsize", "1200k"]
    ffmpeg("-i", str(out["main"]), "-vf", "scale=640:360", *camera, *sub_rate, str(out["sub"]))
    dash = ["-vf", "scale=1920:1080,fps=30,format=yuv420p", "-c:v", "libx264", "-preset"]
    dash += ["veryfast", "-g", "30", "-bf", "0", "-b:v", "8M", "-an"]
    ffmpeg(*concat, *dash, str(out["dashcam"]))
    return out


def decode_costs(media: dict[str, Path]) -> list[dict[str, Any]]:
    """CPU per second of video, one decoder thread, for each way of reading each file."""
    import av
    import cv2

    def opencv(path: Path, keep_every: int) -> int:
        cv2.setNumThreads(1)
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        n = 0
        while cap.grab():
            if n % keep_every == 0:
                cap.retrieve()
            n += 1
        return n

    def pyav(path: Path, keyframes: bool) -> int:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            n = 0
            for packet in container.demux(stream):
                n += 1
                if packet.size and (packet.is_keyframe or not keyframes):
                    for frame in stream.codec_context.decode(packet):
                        if packet.is_keyframe:
                            frame.to_ndarray(format="bgr24")
            return n

    rows = []
    for name in ("main", "sub", "dashcam"):
        path = media[name]
        with av.open(str(path)) as c:
            seconds = float(c.duration or 0) / av.time_base
        ways = {
            "decode every frame, convert 1 in 25 (OpenCV grab/retrieve)": lambda p: opencv(p, 25),
            "decode every frame, convert every frame (OpenCV read)": lambda p: opencv(p, 1),
            "decode and convert keyframes only (PyAV)": lambda p: pyav(p, True),
        }
        for way, run in ways.items():
            before = psutil.Process().cpu_times()
            wall = time.perf_counter()
            run(path)
            wall = time.perf_counter() - wall
            after = psutil.Process().cpu_times()
            cpu = after.user + after.system - before.user - before.system
            rows.append(
                {
                    "video": name,
                    "way": way,
                    "cpu_per_video_s": round(cpu / seconds, 4),
                    "x_real_time": round(seconds / wall, 1),
                }
            )
    return rows


def camera_body(index: int, streams: Streams, sub: bool) -> dict[str, Any]:
    from serving.demo import demo_config

    body: dict[str, Any] = {
        "code": f"live-{index:02d}",
        "stream_url": streams.url(f"main{index % STREAMS}"),
        "rtsp_transport": "udp",
        "config": demo_config(),
    }
    if sub:
        body["detect_url"] = streams.url(f"sub{index % STREAMS}")
    return body


def frames(client: httpx.Client, ids: list[int]) -> list[int]:
    return [int(client.get(f"/cameras/{i}/status").json()["frames_analysed"]) for i in ids]


def latencies(database: Path, since: datetime, until: datetime) -> list[float]:
    """Seconds from the frame an incident opened on to its row, for rows stored in the window."""
    found = []
    with sqlite3.connect(database) as db:
        for created, record in db.execute("SELECT created_at, record FROM incidents"):
            stored = _utc(datetime.fromisoformat(created))
            opened = (json.loads(record).get("evidence") or {}).get("opened")
            if opened and since <= stored <= until:
                captured = _utc(datetime.fromisoformat(opened["wall_time"]))
                found.append((stored - captured).total_seconds())
    return found


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def run_cameras(
    variant: str, n: int, streams: Streams, work: Path, window_s: float
) -> dict[str, Any]:
    decode, sub = VARIANTS[variant]
    data = work / f"{variant}-{n}"
    env = {
        "SHIRONG_CAMERA_FPS": "1",
        "SHIRONG_CAMERA_DECODE": decode,
        "SHIRONG_RECURRENCE_WINDOW_HOURS": "0",  # every incident its own row: one latency each
    }
    with service(REPO, data, env, before=lambda _: None) as (client, proc, _):
        ids = []
        for i in range(n):
            response = client.post("/cameras", json=camera_body(i, streams, sub))
            response.raise_for_status()
            ids.append(int(response.json()["id"]))
        started = time.monotonic()
        wait(f"{n} cameras analysing", 300, lambda: all(f > 0 for f in frames(client, ids)))
        up_s = time.monotonic() - started
        time.sleep(WARM_S)
        workers = worker_processes(proc.pid)
        api = psutil.Process(proc.pid)
        rtsp = [psutil.Process(pid) for pid in streams.pids]
        since, f0 = datetime.now(UTC), frames(client, ids)
        c0, a0, r0 = cpu_seconds(workers), cpu_seconds([api]), cpu_seconds(rtsp)
        idle0, t0 = psutil.cpu_times().idle, time.monotonic()
        time.sleep(window_s)
        elapsed = time.monotonic() - t0
        c1, a1, r1 = cpu_seconds(workers), cpu_seconds([api]), cpu_seconds(rtsp)
        f1, until = frames(client, ids), datetime.now(UTC)
        idle = (psutil.cpu_times().idle - idle0) / elapsed
        uss = [p.memory_full_info().uss / 2**20 for p in workers if p.is_running()]
        rss, _ = tree_memory(proc.pid)
        statuses = [client.get(f"/cameras/{i}/status").json() for i in ids]
    fps = [(b - a) / elapsed for a, b in zip(f0, f1, strict=True)]
    lat = latencies(data / "shirong.db", since, until)
    worker_cpu = sum(c1[p] - c0[p] for p in c1 if p in c0) / elapsed
    return {
        "variant": variant,
        "cameras": n,
        "up_s": round(up_s, 1),
        "fps_mean": round(statistics.mean(fps), 2),
        "fps_min": round(min(fps), 2),
        "cpu_per_camera": round(worker_cpu / n, 3),
        "api_cpu": round(sum(a1[p] - a0[p] for p in a1) / elapsed, 3),
        "rtsp_cpu": round(sum(r1[p] - r0.get(p, r1[p]) for p in r1) / elapsed, 3),
        "idle_cores": round(idle, 2),
        "uss_per_camera_mb": round(statistics.mean(uss)) if uss else None,
        "service_rss_mb": round(rss),
        "incidents": len(lat),
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p95_s": round(_p(lat, 95), 3) if len(lat) >= 2 else None,
        "decode": sorted({str(s.get("decode")) for s in statuses}),
        "warnings": sorted({s["warning"] for s in statuses if s.get("warning")}),
    }


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_dashcam(video: Path, work: Path) -> dict[str, Any]:
    """The 1080p30 dashcam video uploaded as a job at 2 frames/s: job time against its length."""
    import av

    with av.open(str(video)) as c:
        seconds = float(c.duration or 0) / av.time_base
    env = {"SHIRONG_VIDEO_FPS": "2", "SHIRONG_CAMERA_WORKERS": "false"}
    with service(REPO, work / "dashcam", env, before=lambda _: None) as (client, _, _):
        files = {"file": (video.name, video.read_bytes(), "video/mp4")}
        job = client.post("/ingest/videos", files=files)
        job.raise_for_status()
        job_id = job.json()["id"]
        done = wait("the dashcam job", 900, lambda: _finished(client.get(f"/jobs/{job_id}").json()))
    took = (
        datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"])
    ).total_seconds()
    return {
        "video_s": round(seconds, 1),
        "job_s": round(took, 1),
        "x_real_time": round(seconds / took, 1),
        "frames": done["frames"],
        "status": done["status"],
    }


def _finished(job: dict[str, Any]) -> dict[str, Any] | None:
    return job if job["status"] in {"succeeded", "partial", "failed"} else None


SEED_TICKETS = """
import sys
from datetime import UTC, datetime, timedelta
from sqlalchemy import select
from detection.taxonomy import default_taxonomy
from serving.config import Settings
from serving.db.models import User
from serving.db.session import make_engine, make_session_factory
from serving.services.tickets import NewTicket, create_ticket

settings, taxonomy = Settings(), default_taxonomy()
clauses = [c.id for s in taxonomy.standards for c in s.clauses]
sessions = make_session_factory(make_engine(settings.database_url))
start = datetime(2026, 11, 1, tzinfo=UTC)
with sessions() as session:
    admin = session.scalar(select(User).where(User.username == "demo-admin"))
    for i in range(int(sys.argv[1])):
        new = NewTicket(clause=clauses[i % len(clauses)], description=f"bench ticket {i}",
                        observed_at=start + timedelta(minutes=i), lat=None, lon=None,
                        road=None, camera_id=None, evidence=[], complaint=i % 7 == 0)
        create_ticket(session, settings, taxonomy, admin, new)
        if i % 500 == 499:
            session.commit()
    session.commit()
"""


def run_tickets(streams: Streams, work: Path, count: int, wrk_s: int) -> list[dict[str, Any]]:
    """``GET /tickets`` under wrk (16 connections) on ``count`` tickets while 4 cameras run."""

    def seed(env: dict[str, str]) -> None:
        script = [sys.executable, "-c", SEED_TICKETS, str(count)]
        subprocess.run(script, env=env, cwd=REPO, check=True)

    env = {"SHIRONG_CAMERA_FPS": "1", "SHIRONG_RECURRENCE_WINDOW_HOURS": "0"}
    rows = []
    with service(REPO, work / "tickets", env, before=seed) as (client, _, _):
        ids = [
            client.post("/cameras", json=camera_body(i, streams, False)).json()["id"]
            for i in range(4)
        ]
        wait("4 cameras analysing", 300, lambda: all(f > 0 for f in frames(client, ids)))
        token = client.headers["Authorization"]
        for query in ("/tickets?limit=20", "/tickets?status=new&limit=20", "/tickets"):
            before, start = frames(client, ids), time.monotonic()
            row = {"query": query, **_wrk(str(client.base_url) + query, token, wrk_s)}
            took = time.monotonic() - start
            fps = [(b - a) / took for a, b in zip(before, frames(client, ids), strict=True)]
            rows.append(row | {"camera_fps_min": round(min(fps), 2)})
    return rows


def _wrk(url: str, authorization: str, seconds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("the tickets phase needs wrk: apt-get install wrk (or --skip tickets)")
    command = ["wrk", "-t", "2", "-c", "16", "-d", f"{seconds}s", "--latency"]
    command += ["-H", f"Authorization: {authorization}", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found: dict[str, Any] = {}
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith(("50%", "99%")):
            found[f"p{parts[0].rstrip('%')}_ms"] = _ms(parts[1])
        elif line.startswith("Requests/sec:"):
            found["reads_per_s"] = round(float(parts[1]))
        elif "Non-2xx" in line:
            found["errors"] = int(parts[-1])
    return found


def _ms(text: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return round(float(text[: -len(unit)]) * units[unit], 2)
    raise ValueError(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", default="8,16", help="camera counts to run, e.g. 4,8,16")
    parser.add_argument("--more", default="24", help="counts run only by the cheap variants")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    parser.add_argument("--media", type=Path, default=Path(tempfile.gettempdir()) / "shirong-live")
    parser.add_argument("--window-s", type=float, default=60.0, help="measuring window")
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--wrk-s", type=int, default=20)
    parser.add_argument("--skip", default="", help="phases to skip: decode,cameras,dashcam,tickets")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    media = prepare(args.media)
    results: dict[str, Any] = {}
    if "decode" not in skip:
        results["decode"] = decode_costs(media)
        print(json.dumps(results["decode"], indent=1), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        work = Path(tmp)
        clips = {f"{kind}{i}": media[kind] for i in range(STREAMS) for kind in ("main", "sub")}
        offsets = {path: int(path[-1]) * 60.0 / STREAMS for path in clips}
        streams = Streams(clips, work, offsets)
        try:
            if "cameras" not in skip:
                results["cameras"] = _camera_runs(args, streams, work)
            if "tickets" not in skip:
                results["tickets"] = run_tickets(streams, work, args.tickets, args.wrk_s)
                print(json.dumps(results["tickets"]), flush=True)
        finally:
            streams.close()
        if "dashcam" not in skip:
            results["dashcam"] = run_dashcam(media["dashcam"], work)
            print(json.dumps(results["dashcam"]), flush=True)
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
        args.out.write_text(report(results), encoding="utf-8")


def _camera_runs(args: argparse.Namespace, streams: Streams, work: Path) -> list[dict[str, Any]]:
    rows = []
    for variant in args.variants.split(","):
        counts = [int(n) for n in args.cameras.split(",") if n]
        if VARIANTS[variant][0] == "keyframes" or VARIANTS[variant][1]:
            counts += [int(n) for n in args.more.split(",") if n]
        for n in counts:
            row = run_cameras(variant, n, streams, work, args.window_s)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def report(results: dict[str, Any]) -> str:
    parts = [HEADER]
    for key, title in (
        ("decode", "Decoding alone (one thread, CPU seconds per second of video)"),
        ("cameras", "Cameras through the service at 1 analysed frame/s"),
        ("tickets", "GET /tickets, wrk (2 threads, 16 connections), 4 cameras running"),
    ):
        if results.get(key):
            parts.append(f"## {title}\n\n{_table(results[key])}")
    if results.get("dashcam"):
        parts.append(
            f"## Dashcam video, 1080p30, analysed at 2 frames/s\n\n{_table([results['dashcam']])}"
        )
    return "\n".join(parts)


def _table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|---" * len(keys) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


HEADER = """# Live capacity

`scripts/bench_live.py` (see its docstring for the media and the method), one run on the project's
2-core machine. CPU figures are cores (1.0 = one core busy); `cpu_per_camera` is the camera worker
processes' CPU over the 60 s window divided by the cameras; `idle_cores` is what the machine had
left. Latency is from the frame's decode to its incident row, for incidents opened in the window.

"""


if __name__ == "__main__":
    main()
