"""A PostgreSQL 15 server for `make bench --store postgres`: initdb into a folder of its
own under /tmp, listening only on a Unix socket there, password login for `dploy`, run as
nobody under root (PostgreSQL refuses root). Removed by stop()."""
import os
import shutil
import subprocess
import tempfile
import time
import uuid

BIN = "/usr/lib/postgresql/15/bin"


class Server:
    def __init__(self):
        if not os.path.exists(f"{BIN}/postgres"):
            raise SystemExit("PostgreSQL 15 is not installed (bash .ci/setup bench installs it)")
        self.folder = tempfile.mkdtemp(prefix="dploy-bench-pg-")
        self.password = uuid.uuid4().hex
        password_file = os.path.join(self.folder, "password")
        with open(password_file, "w") as f:
            f.write(self.password + "\n")
        prefix = []
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "nobody:nogroup", self.folder], check=True)
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        data = os.path.join(self.folder, "data")
        subprocess.run(prefix + [f"{BIN}/initdb", "-D", data, "-U", "dploy", "-E", "UTF8", "--locale=C",
                                 "--auth=scram-sha-256", f"--pwfile={password_file}"], check=True, capture_output=True)
        self.process = subprocess.Popen(prefix + [f"{BIN}/postgres", "-D", data, "-k", self.folder, "-c", "listen_addresses=",
                                                  "-c", "unix_socket_permissions=0777"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while subprocess.run(self.psql_command("SELECT 1"), capture_output=True).returncode != 0:
            if time.time() > deadline or self.process.poll() is not None:
                raise SystemExit("PostgreSQL did not start")
            time.sleep(0.1)
        subprocess.run(self.psql_command("CREATE DATABASE dploy"), check=True, capture_output=True)

    def psql_command(self, sql):
        return ["env", f"PGPASSWORD={self.password}", f"{BIN}/psql", "-X", "-q", "-h", self.folder, "-U", "dploy",
                "-d", "postgres", "-c", sql]

    def store_yaml(self, password_file):
        """The `store:` line of dploy.yaml; writes the password to password_file (mode 0600)."""
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(self.password + "\n")
        return (f"store: {{postgres: {{url: 'postgres://dploy@/dploy?host={self.folder}', "
                f"passwordFile: {password_file}, tls: disable}}}}\n")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)
