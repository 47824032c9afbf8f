#!/usr/bin/env bash
# The main command: the whole service on a live camera. Sets up (if needed), builds a street-photo
# slideshow clip, serves it as a loopback RTSP camera (rtsp-server-perl + ffmpeg), registers that
# camera with a pavement zone, and runs the ticket service on it with demo squads and users.
# Open the printed URL, log in, and watch incidents arrive. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" YOLO_OFFLINE=1

HTTP_PORT="${SHIRONG_DEMO_PORT:-8000}"
RTSP_PORT="${SHIRONG_DEMO_RTSP_PORT:-8554}"       # viewers (the service)
PUBLISH_PORT="${SHIRONG_DEMO_PUBLISH_PORT:-8555}" # the ffmpeg publisher
RTP_PORT="${SHIRONG_DEMO_RTP_PORT:-31000}"        # UDP media ports start here
DATA="$PWD/data/demo"
export SHIRONG_ENV=development
export SHIRONG_DATABASE_URL="sqlite:///$DATA/shirong.db"
export SHIRONG_EVIDENCE_ROOT="$DATA/evidence"
export SHIRONG_PUBLIC_BASE_URL="http://127.0.0.1:$HTTP_PORT"

work="$(mktemp -d)"
pids=()
stop_all() {
  trap - EXIT INT TERM
  echo; echo "demo: stopping"
  # Reverse order: the service first (closes open incidents), then the publisher (SIGINT makes
  # ffmpeg send TEARDOWN), then the RTSP server.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -INT "${pids[i]}" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap stop_all EXIT INT TERM

wait_for() {  # wait_for DESCRIPTION SECONDS COMMAND...
  local what="$1" seconds="$2"; shift 2
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "demo: $what did not come up in ${seconds}s; logs in $work" >&2
  return 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for port in "$HTTP_PORT" "$RTSP_PORT" "$PUBLISH_PORT"; do
  if port_open "$port"; then
    echo "demo: port $port is in use; set SHIRONG_DEMO_PORT / SHIRONG_DEMO_RTSP_PORT /" \
      "SHIRONG_DEMO_PUBLISH_PORT to free ports" >&2
    exit 1
  fi
done

rm -rf "$DATA"  # a fresh demo each run, so the printed passwords are the ones that work
mkdir -p "$DATA"
python -m serving.demo clip "$work/street.mp4"

rtsp-server-perl --clientport "$RTSP_PORT" --serverport "$PUBLISH_PORT" \
  --rtp_start_port "$RTP_PORT" --client_listen_address 127.0.0.1 \
  --source_listen_address 127.0.0.1 >"$work/rtsp-server.log" 2>&1 &
pids+=($!)
wait_for "rtsp-server-perl" 30 port_open "$PUBLISH_PORT"
wait_for "rtsp-server-perl" 30 port_open "$RTSP_PORT"

ffmpeg -nostdin -loglevel error -re -stream_loop -1 -i "$work/street.mp4" -c copy -an \
  -rtsp_transport udp -f rtsp "rtsp://127.0.0.1:$PUBLISH_PORT/demo" >"$work/publisher.log" 2>&1 &
pids+=($!)
camera_url="rtsp://127.0.0.1:$RTSP_PORT/demo"

logins="$(shirong seed-demo 2>"$work/seed.log")" || { cat "$work/seed.log" >&2; exit 1; }
python -m serving.demo camera "$camera_url"

shirong serve --host 127.0.0.1 --port "$HTTP_PORT" >"$work/service.log" 2>&1 &
pids+=($!)
wait_for "shirong serve" 120 python -c \
  "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
  "http://127.0.0.1:$HTTP_PORT/health"

cat <<INFO

  Shirong demo is running.
  Web UI:    http://127.0.0.1:$HTTP_PORT/ui/      API docs: http://127.0.0.1:$HTTP_PORT/docs
  Camera:    cam-lsw-01 ← $camera_url (a street-photo slideshow, looping)
  Data:      $DATA   Service log: $work/service.log

  Logins (passwords are new each run):
$(sed 's/^/    /' <<<"$logins")

  Try:  TOKEN=\$(curl -s http://127.0.0.1:$HTTP_PORT/auth/login \\
          -d username=demo-admin -d password=<above> \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
        curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$HTTP_PORT/cameras/1/status
        curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$HTTP_PORT/incidents

  Ctrl-C stops the service, the publisher and the RTSP server.
INFO
wait "${pids[-1]}"
