#!/usr/bin/env python3
"""Records what a crusoe-ial binary answers Cycle and what it asks Crusoe, over one fixed scenario,
so that two builds can be compared line by line (a refactor must change neither).

    scripts/record-answers.py BINARY OUT_DIR

Starts BINARY's simulator (seed 0, so ids and addresses repeat) and, between it and BINARY's
`serve`, a recording proxy; then plays the scenario: verify, the catalogue, location configure,
a provision refused for each kind of bad input, a lifecycle (provision, polls until provisioned,
an address allocated and released, restart, decommission) and the calls after it. Writes
OUT_DIR/answers.txt (each IAL call and its answer) and OUT_DIR/crusoe.txt (each request the bridge
sent, sorted within each IAL call, without its signature or date). Status reads use one read per poll (coalescing off) and
polls are a second apart, so the sequence of Crusoe calls does not depend on timing.
Python's standard library only; loopback only.
"""

import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ACCESS, SECRET, PROJECT = "recordAccessKey000000A", "HrbZ3VTUb2YNAq53Md1EsA", "b0b0b0b0-0000-4000-8000-000000000002"
AUTH = {"api_key": ACCESS, "secret": SECRET, "namespace": PROJECT,
        "cycle": {"hub_id": "65f1e2d3c4b5a69788796a5b", "hub_name": "record"}}
LOCATION, MODEL, SERVER = "us-east1-a", "c1a.4x", "6570a1b2c3d4e5f601234567"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on {port}")


def proxy(upstream_port, log):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            shown = body.decode(errors="replace")
            try:
                shown = json.dumps(json.loads(body), sort_keys=True)
            except ValueError:
                pass
            log.append(f"{self.command} {self.path} {shown}".rstrip())
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for k, v in answer.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_one

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def call(port, path, request=None, auth=AUTH):
    body = json.dumps({"auth": auth, "request": request} if request is not None else {"auth": auth})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data.decode(errors="replace")
    return answer.status, parsed


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    sim_port, ial_port = free_port(), free_port()
    procs = []
    try:
        sim = subprocess.Popen([binary, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--seed", "0",
                                "--op-delay-ms", "100", "--key", f"{ACCESS}:{SECRET}:{PROJECT}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sim)
        wait_port(sim_port, sim, "the simulator")
        crusoe_log = []
        recorder = proxy(sim_port, crusoe_log)
        config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        config.write("[bridge.status]\ncoalesce = false\n")
        config.close()
        env = dict(os.environ, CRUSOE_API_ENDPOINT=f"http://127.0.0.1:{recorder.server_port}/v1",
                   IAL_IPXE_URL="https://ipxe.example/ipxe.efi", RUST_LOG="error",
                   IAL_SSH_PUBLIC_KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM3g9GRFIe5gc5dK6L/0YcHRk+tfkGaU+OKbdAoxCNWZ record")
        ial = subprocess.Popen([binary, "serve", "--config", config.name, "--listen", f"127.0.0.1:{ial_port}"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ial)
        wait_port(ial_port, ial, "the bridge")

        lines = []

        def record(what, path, request=None, auth=AUTH):
            crusoe_log.append(f"# {what}")
            status, answer = call(ial_port, path, request, auth)
            lines.append(f"{what}: {status} {json.dumps(answer, sort_keys=True)}")
            return status, answer

        record("verify", "/v1/auth/verify")
        record("verify, wrong secret", "/v1/auth/verify", auth=dict(AUTH, secret="AAAAAAAAAAAAAAAAAAAAAA"))
        record("verify, no key", "/v1/auth/verify", auth={})
        record("locations", "/v1/infrastructure/provider/locations")
        record("server-models", "/v1/infrastructure/provider/server-models")
        _, configured = record("configure", "/v1/location/configure", {"location_id": LOCATION})
        if not isinstance(configured.get("data"), dict):
            sys.exit(f"configure failed: {configured}")
        latest = configured["data"]["configuration_latest"]
        record("configure again", "/v1/location/configure",
               {"location_id": LOCATION, "version": configured["data"]["version"],
                "configuration_current": latest})
        record("configure, unknown location", "/v1/location/configure", {"location_id": "mars-1a"})

        def provision(server=SERVER, **changes):
            request = {"hostname": "rec", "model_id": MODEL, "location_id": LOCATION,
                       "location_configuration": latest, "cycle": {"server_id": server}}
            request.update(changes)
            return request

        bad = [
            ("zero object id", provision(server="0" * 24)),
            ("unknown model", provision(model_id="nope.1x")),
            ("unknown location", provision(location_id="mars-1a")),
            ("hypervisor", provision(model_features={"hypervisor": True})),
            ("encrypted storage", provision(provision_options={"encrypt_storage": True})),
            ("storage not a number", provision(provision_options={"attached_storage_size": "lots"})),
            ("subnet not an id", provision(location_configuration=dict(latest, subnet_id="x"))),
            ("subnet that does not exist", provision(location_configuration=dict(
                latest, subnet_id="00000000-0000-0000-0000-000000000000"))),
        ]
        for what, request in bad:
            record(f"provision, {what}", "/v1/infrastructure/server/provision", request)

        _, provisioned = record("provision", "/v1/infrastructure/server/provision", provision())
        record("provision again", "/v1/infrastructure/server/provision", provision())
        server_id = provisioned["data"]["server_id"]
        extra = provisioned["data"].get("extra")
        for poll in range(30):
            time.sleep(1)
            status, answer = record(f"provision-status {poll + 1}", "/v1/infrastructure/server/provision-status",
                                    {"server_id": server_id, "location_id": LOCATION, "extra": extra})
            if status != 200 or answer["data"]["provisioned"]:
                break
            extra = answer["data"].get("extra")
        _, ip = record("allocate", "/v1/infrastructure/ip/allocate",
                       {"kind": "ipv4", "server_id": server_id, "location_id": LOCATION,
                        "location_configuration": latest, "cycle": {"server_id": SERVER, "pool_id": "pool1"}})
        record("allocate, ipv6", "/v1/infrastructure/ip/allocate",
               {"kind": "ipv6", "server_id": server_id, "location_id": LOCATION,
                "location_configuration": latest, "cycle": {"server_id": SERVER}})
        if isinstance(ip.get("data"), dict):
            record("release", "/v1/infrastructure/ip/release",
                   {"kind": "ipv4", "ip_id": ip["data"]["ip_id"],
                    "ip_assignment_id": ip["data"]["ip_assignment_id"], "server_id": server_id})
        record("release, not ours", "/v1/infrastructure/ip/release",
               {"kind": "ipv4", "ip_id": "x", "ip_assignment_id": "nope"})
        record("restart", "/v1/infrastructure/server/restart", {"server_id": server_id})
        record("restart, not an id we issued", "/v1/infrastructure/server/restart", {"server_id": "vm-1"})
        record("decommission", "/v1/infrastructure/server/decommission", {"server_id": server_id})
        record("decommission again", "/v1/infrastructure/server/decommission", {"server_id": server_id})
        record("provision-status after decommission", "/v1/infrastructure/server/provision-status",
               {"server_id": server_id, "location_id": LOCATION})
        record("restart after decommission", "/v1/infrastructure/server/restart", {"server_id": server_id})

        with open(os.path.join(out, "answers.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        # Within one IAL call, calls the bridge makes at once (the catalogue's three) come in any
        # order: each call's requests are sorted.
        sections, section = [], []
        for line in crusoe_log:
            if line.startswith("# "):
                sections.append(sorted(section))
                sections.append([line])
                section = []
            else:
                section.append(line)
        sections.append(sorted(section))
        with open(os.path.join(out, "crusoe.txt"), "w") as f:
            f.write("\n".join(line for part in sections for line in part) + "\n")
        print(f"{len(lines)} answers, {sum(1 for l in crusoe_log if not l.startswith('#'))} Crusoe requests -> {out}")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
