#!/usr/bin/env bash
# Runs the Windows build of frametap under Wine, from Linux, the way a user would: cross-builds frametap.exe, then
# `--help`; `proxy` in front of the built-in simulator with the web UI, in the default home folder
# (%USERPROFILE%\.frametap), a real WebSocket client over loopback sending a Genesys configureSession; a second
# `proxy` in front of an upstream that resets its TCP connection, checking the client gets a reset too; Ctrl-C
# with a connection open (1001 to both sides, capture saved); `inspect` and `convert` of the capture.
# Usage: ./scripts/windows-smoke.sh        (installs Debian's mingw-w64 and wine64 when missing; python3 with the
# `websockets` module must be there)
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/install-missing.sh
install_missing --no-install-recommends x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64 /usr/lib/wine/wine64:wine64
rustup target add x86_64-pc-windows-gnu >/dev/null

echo "==> cargo build --release --target x86_64-pc-windows-gnu"
cargo build --release --quiet --target x86_64-pc-windows-gnu
target="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
exe="$target/x86_64-pc-windows-gnu/release/frametap.exe"

# A fresh Wine prefix: a fresh Windows user profile, so the default capture folder is checked too.
source scripts/wine-prefix.sh
wine_prefix "$target/windows-smoke"

echo "==> frametap.exe under $("$WINE" --version)"
python3 - "$exe" "$target/windows-smoke" <<'EOF'
import asyncio, atexit, base64, hashlib, json, os, re, signal, socket, struct, subprocess, sys, threading, time
import urllib.request, uuid
import websockets

exe, work = sys.argv[1], sys.argv[2]
WINE = "/usr/lib/wine/wine64"
DEPLOYMENT = "00000000-0000-4000-8000-00000000517e"

def frametap(*args, **kw):
    return subprocess.run([WINE, exe, *args], capture_output=True, text=True, timeout=120, **kw)

started = []

@atexit.register
def end_leftovers():
    """A proxy still running when a check failed is ended with the script, not left behind."""
    for proc in started:
        if proc.poll() is None:
            proc.kill()

def start_proxy(*args):
    """frametap.exe proxy on a free port; returns the process and its banner."""
    err = open(os.path.join(work, f"proxy-{time.monotonic_ns()}.err"), "w+")
    out = open(os.path.join(work, f"proxy-{time.monotonic_ns()}.out"), "w+")
    proc = subprocess.Popen([WINE, exe, "proxy", "--listen", "127.0.0.1:0", *args], stdout=out, stderr=err)
    started.append(proc)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        err.seek(0)
        banner = err.read()
        if "Ctrl-C stops" in banner:
            return proc, banner
        if proc.poll() is not None:
            sys.exit(f"frametap.exe proxy exited with {proc.returncode}:\n{banner}")
        time.sleep(0.2)
    sys.exit(f"no banner from frametap.exe proxy:\n{banner}")

def field(banner, name):
    return re.search(rf"^\s+{name}\s+(\S+)", banner, re.M).group(1)

def stop(proc):
    """Ctrl-C: Wine turns the SIGINT into the console's CTRL_C_EVENT."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, f"frametap.exe exited with {proc.returncode}"

def unix_path(windows_path):
    prefix = os.environ["WINEPREFIX"]
    drive, rest = windows_path.split(":", 1)
    return os.path.join(prefix, f"drive_{drive.lower()}", *rest.strip("\\").split("\\"))

help = frametap("--help")
assert help.returncode == 0 and "Usage: frametap.exe <COMMAND>" in help.stdout, help
print("--help: ok")

# The simulator with the web UI (on a free port, as the proxy), capturing to the default folder.
proc, banner = start_proxy("--ui", "127.0.0.1:0")
url, capture, ui = field(banner, "point your WebSocket client at"), field(banner, "capture"), field(banner, "web UI")
assert "\\.frametap\\captures\\" in capture and capture.startswith("C:\\users\\"), capture
assert urllib.request.urlopen(ui, timeout=30).status == 200

async def session(hold):
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"action": "configureSession", "deploymentId": DEPLOYMENT, "token": str(uuid.uuid4())}))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert answer["class"] == "SessionResponse" and answer["body"]["connected"], answer
        if not hold:
            await ws.close(1000, "done")
            return ws.close_code
        stop_thread = threading.Thread(target=stop, args=(proc,))
        stop_thread.start()
        try:
            await asyncio.wait_for(ws.recv(), 60)
        except websockets.ConnectionClosed:
            pass
        stop_thread.join()
        return ws.close_code

assert asyncio.run(session(hold=False)) == 1000
print(f"proxy: configureSession answered through {url}, closed 1000; web UI {ui.split('?')[0]} answered 200")
assert asyncio.run(session(hold=True)) == 1001
print("Ctrl-C with a connection open: the client got 1001, frametap.exe exited 0")
assert os.path.getsize(unix_path(capture)) > 0

inspect = frametap("inspect", capture)
assert inspect.returncode == 0 and "connection 2" in inspect.stdout and "proxy closed: 1001" in inspect.stdout, inspect
har = capture.rsplit("\\", 1)[0] + "\\smoke.har"
convert = frametap("convert", capture, har)
assert convert.returncode == 0 and os.path.exists(unix_path(har)), convert
assert not [f for f in os.listdir(os.path.dirname(unix_path(har))) if f.endswith(".spill")], "a spill was left"
print(f"inspect and convert of {capture}: ok")

# An upstream that answers the upgrade, then resets its TCP connection: the client must see a reset too.
upstream = socket.socket()
upstream.bind(("127.0.0.1", 0))
upstream.listen()
def reset_after_upgrade():
    conn, _ = upstream.accept()
    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(4096)
    key = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", request).group(1)
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    time.sleep(0.5)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
threading.Thread(target=reset_after_upgrade, daemon=True).start()
reset_capture = "C:\\users\\Public\\reset.jsonl"
proc, banner = start_proxy("--upstream", f"ws://127.0.0.1:{upstream.getsockname()[1]}", "--no-ui",
                           "--capture", reset_capture)
port = int(re.search(r"ws://127\.0\.0\.1:(\d+)", banner).group(1))
client = socket.create_connection(("127.0.0.1", port), timeout=30)
client.sendall(f"GET /reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    head += client.recv(4096)
assert head.startswith(b"HTTP/1.1 101"), head
try:
    rest = client.recv(4096)
    reset = False
except ConnectionResetError:
    reset = True
stop(proc)
close = [json.loads(line) for line in open(unix_path(reset_capture)) if '"kind":"close"' in line]
assert close and close[0]["dropped_by"] == "server", close
if reset:
    assert "reset" in close[0]["detail"], close
    print("an upstream's TCP reset reached the client as a reset, and the capture says so")
else:
    # Wine 8: a tokio (mio) read of a reset socket returns 0 bytes where Windows gives WSAECONNRESET (std's
    # blocking read under the same Wine does), so frametap sees an end of stream and passes a FIN on. Its reset
    # itself (a zero SO_LINGER through socket2) does reach a peer as a RST under Wine.
    assert rest == b"" and "without a close frame" in close[0]["detail"], (rest, close)
    print("an upstream's TCP reset reached the client as a FIN: under Wine a peer's reset reads as an end of stream")
EOF
echo "==> frametap.exe ran under Wine: ok"
