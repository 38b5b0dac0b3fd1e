#!/usr/bin/env python3
"""guardctl top against a stand-in daemon speaking guardian's protocol:
without a terminal one snapshot, soonest to memory.max first; on a
pseudo-terminal a live table that refreshes, follows the terminal's width,
and on `q` or SIGTERM leaves the terminal as it found it.

Usage: guardctl-top.py GUARDCTL"""
import json, os, pty, select, signal, socket, struct, subprocess, sys, tempfile, termios, threading, time, fcntl

guardctl = sys.argv[1]
failed = 0


def ok(cond, desc, detail=""):
    global failed
    print(("ok: " if cond else "FAIL: ") + desc)
    if not cond:
        failed = 1
        if detail:
            print("#   " + detail.replace("\n", "\n#   "))


def svc(name, ws_mb, max_mb, ttm_ms, **extra):
    s = {"name": name, "state": "running", "working_set": ws_mb << 20,
         "memory_max": (max_mb << 20) if max_mb else "max", "psi_some_avg10": 0.0,
         "growth_bps": 1 << 20 if ttm_ms is not None else None, "time_to_max_ms": ttm_ms,
         "last_action": None, "kubernetes": None}
    s.update(extra)
    return s


services = [svc("calm", 10, 100, None), svc("slow", 50, 256, 120000), svc("nolimit", 400, 0, None),
            svc("fast", 30, 256, 4000,
                last_action={"action": "throttle", "verdict": "act", "undo": False, "ago_ms": 3000}),
            svc("kubepods.slice/pod-x", 60, 128, 30000,
                kubernetes={"namespace": "shop", "pod": "cart", "container": "app"})]
want = ["fast", "shop/cart/app", "slow", "calm", "nolimit"]
requests = []

tmp = tempfile.mkdtemp()
path = os.path.join(tmp, "sock")
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)


def serve():
    while True:
        c, _ = srv.accept()
        req = json.loads(c.makefile().readline())
        requests.append(req)
        c.sendall((json.dumps({"ok": True, "version": "0", "dry_run": False, "services": services}) + "\n").encode())
        c.close()


threading.Thread(target=serve, daemon=True).start()

# --- no terminal: one snapshot ------------------------------------------------
p = subprocess.run([guardctl, "--socket", path, "top"], capture_output=True, text=True, timeout=30)
lines = p.stdout.splitlines()
names = [l.split()[0] for l in lines[1:]]
ok(p.returncode == 0, "snapshot: exit 0 (%d, %s)" % (p.returncode, p.stderr.strip()))
ok(lines and lines[0].split()[:2] == ["SERVICE", "STATE"], "snapshot: a header first", p.stdout)
ok(names == want, "snapshot: soonest to memory.max first, pods by namespace/pod/container (%s)" % names)
ok("\033" not in p.stdout, "snapshot: no terminal escapes when stdout is not a terminal")
ok(requests and requests[-1].get("command") == "status", "snapshot: asks the daemon for its status")
fast = [l for l in lines if l.startswith("fast ")]
ok(fast and "4.0s" in fast[0] and "throttle 3.0s ago" in fast[0], "snapshot: time to max and the last action", p.stdout)

p = subprocess.run([guardctl, "--socket", path, "top", "--interval", "0"], capture_output=True, text=True, timeout=30)
ok(p.returncode == 2 and "--interval" in p.stderr and "'0'" in p.stderr,
   "a bad --interval names the option and its value (%s)" % p.stderr.strip())
p = subprocess.run([guardctl, "--socket", os.path.join(tmp, "none"), "top"], capture_output=True, text=True, timeout=30)
ok(p.returncode == 1 and "not running" in p.stderr, "no daemon: exit 1 and says why (%s)" % p.stderr.strip())


# --- on a terminal ---------------------------------------------------------------
def start_tty(cols=120, rows=30):
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([guardctl, "--socket", path, "top", "--interval", "0.2"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    return master, slave, before, proc


def read_until(master, pred, timeout=20):
    """The output so far once pred(output) holds, or at the deadline."""
    out = b""
    deadline = time.monotonic() + timeout
    while not pred(out) and time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    return out


def screens(out):
    return out.split(b"\033[H")[1:]


def ended(proc, master):
    """Its exit status (None: killed after 20 s) and what it wrote up to
    leaving the alternate screen."""
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    return rc, read_until(master, lambda o: b"\033[?1049l" in o, timeout=5)


n0 = len(requests)  # before top starts: its first request may come before the next line
master, slave, before, proc = start_tty()
out = read_until(master, lambda o: len(screens(o)) >= 3 and b"nolimit" in screens(o)[-1])
ok(out.startswith(b"\033[?1049h"), "tty: draws on the alternate screen")
ok(len(screens(out)) >= 3 and len(requests) - n0 >= 3, "tty: refreshes (%d screens, %d requests)"
   % (len(screens(out)), len(requests) - n0))
last = screens(out)[-1].decode(errors="replace")
order = [l.split()[0] for l in [l for l in last.replace("\033[K", "").splitlines() if l.strip()][2:]
         if "\033" not in l.split()[0]]
ok(order[:5] == want, "tty: the same order as the snapshot (%s)" % order)
ok(termios.tcgetattr(slave)[3] & termios.ECHO == 0, "tty: echo off while it runs")
# A service appears: the next refresh shows it.
services.append(svc("newcomer", 1, 100, 1000))
out = read_until(master, lambda o: b"newcomer" in o)
ok(b"newcomer" in out, "tty: a service the daemon reports later shows at the next refresh")
# A narrower terminal: the next screen fits it.
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 70, 0, 0))
os.kill(proc.pid, signal.SIGWINCH)
out = read_until(master, lambda o: len(screens(o)) >= 2)
scr = screens(out)[-1].decode(errors="replace").replace("\033[K", "").replace("\033[J", "")
widths = [len(l.rstrip("\r")) for l in scr.split("\n")]
ok(max(widths) <= 70, "tty: after SIGWINCH the lines fit a 70-column terminal (widest %d)" % max(widths))
os.write(master, b"q")
rc, out = ended(proc, master)
ok(rc == 0, "tty: q quits with exit 0 (%s)" % rc)
ok(out.endswith(b"\033[?25h\033[?1049l"), "tty: cursor shown and the main screen back", repr(out[-40:]))
ok(termios.tcgetattr(slave) == before, "tty: the terminal's modes restored after q")
os.close(master)
os.close(slave)

master, slave, before, proc = start_tty()
read_until(master, lambda o: len(screens(o)) >= 1)
proc.send_signal(signal.SIGTERM)
rc, out = ended(proc, master)
ok(rc == 128 + signal.SIGTERM, "tty: SIGTERM ends it (exit %s)" % rc)
ok(b"\033[?1049l" in out and termios.tcgetattr(slave) == before, "tty: the terminal restored after SIGTERM")
os.close(master)
os.close(slave)
sys.exit(failed)
