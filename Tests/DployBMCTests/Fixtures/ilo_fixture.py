#!/usr/bin/env python3
"""A small stand-in for an HPE iLO 5 / iLO 6 Redfish service, for DployBMCTests.

It serves the recorded documents in ilo5/ (see SOURCES.md), or with --tree DIR a whole tree
recorded by DMTF's Mockup Creator (HPE's captures in ../shared/fixtures/hpe-ilo-mockups: each
resource is <URI below /redfish/v1>/index.json), read in place, and adds the behaviour
sushy-tools lacks: sessions (X-Auth-Token, Location, logout, expiry), firmware
inventory, SimpleUpdate followed through iLO 5's Oem.Hpe.State or an iLO 6 task that
vanishes once finished, PATCH with If-Match, 503 + Retry-After on demand, and BIOS
settings: the pending resource (Bios/Settings) takes a PATCH only with If-Match equal to
its ETag (else 412), a reboot (/_fixture/reboot) makes the pending values current, and
/_fixture/bios-drop removes a field of either (a BMC without Attributes or a settings object).

Smart Array (iLO 5 trees): SmartStorageConfig/Settings takes a PUT of the whole LogicalDrives
array only with If-Match equal to its ETag (else 412), by HPE's DataGuard rules (Strict:
a delete action or an existing drive left out is refused; Permissive: only drives with the
delete action go; Disabled: left-out drives go too); a reboot applies it (new drives get a
VolumeUniqueIdentifier, counted drives are picked from free ones of the media).
/_fixture/add-disks slides new disks into the first array controller. The real controller
checks the array at POST and reports in @Redfish.Settings.Messages; the fixture refuses a
DataGuard violation at the PUT with 400, which a test can see without a reboot.
DMTF volumes (iLO 6 trees): a POST to a Volumes collection creates a volume (RAIDType from
Volumes/Capabilities, Links.Drives free drives of that Storage, DisplayName at most 15
characters), a DELETE of a volume removes it and frees its drives.

Listens on 127.0.0.1 only, on the port given (0: any free one, printed as "PORT n").
Control endpoints under /_fixture/ let a test read what happened and arrange faults;
/_fixture/hold makes the next requests of a method and path wait (logged with "held") until
/_fixture/release, so a test can catch a client in the middle of a request.

With --count N it is N iLOs in one process, each on a port of its own with its own state
(printed as "PORTS p1 p2 ..."), for tests of many BMCs; /_fixture/all-logs on any of them
answers every one's request log. With --update-seconds S an iLO 5 flash takes S seconds of
wall time (Writing with a percentage, then Complete) instead of moving on at each look, and
an image URI containing "bad" (or any, after /_fixture/fail-updates) ends in Error; with --flash-to "NAME=VERSION" as well, a
flash that completes makes the firmware inventory list component NAME at VERSION, as an
iLO does once the new firmware runs. Every logged request carries "t", seconds on the
process's monotonic clock.
"""
import argparse
import copy
import json
import os
import secrets
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


def norm(path):
    path = path.split("?", 1)[0]
    while len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path.lower()


# MessageIds this server answers with. Success, NoValidSession, ResourceMissingAtURI,
# PreconditionFailed and ActionParameterValueNotInList are standard Base registry ids that
# iLO uses; the failure ids (ServiceUnavailable, UpdateFailedFlashError,
# UpdateFailedInvalidFile) are made up for the fixture's failure paths, not recorded.
def ilo_error(message_id):
    return {"error": {"code": "iLO.0.10.ExtendedInfo",
                      "message": "See @Message.ExtendedInfo for more information.",
                      "@Message.ExtendedInfo": [{"MessageId": message_id}]}}


def lower_links(value):
    """iLO 6 spells its links in lower case (its v1.68 resource map: /redfish/v1/systems/1)."""
    if isinstance(value, dict):
        return {k: (v.lower() if k in ("@odata.id", "target") and isinstance(v, str) else lower_links(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [lower_links(v) for v in value]
    return value


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.user = args.user
        with open(args.password_file) as f:
            self.password = f.read().strip()
        self.generation = args.generation
        self.docs = {}
        if args.tree:
            self.load_tree(args.tree)
        for name in ([] if args.tree else sorted(os.listdir(os.path.join(HERE, "ilo5")))):
            with open(os.path.join(HERE, "ilo5", name)) as f:
                doc = json.load(f)
            if self.generation == 6:
                doc = self.as_ilo6(name, doc)
            self.docs[norm(doc["@odata.id"])] = doc
        self.tokens = {}
        self.log = []
        self.fail_next = []
        # /_fixture/hold: the next `count` requests of a method and path wait for /_fixture/release.
        self.holds = []
        self.released = threading.Event()
        self.update = None  # iLO 5: states still to show; iLO 6: the task
        self.update_seconds = args.update_seconds
        self.flash_to = args.flash_to.split("=", 1) if args.flash_to else None
        self.fail_updates = False
        self.stuck_power = False  # /_fixture/stuck-power: power requests are taken, the state stays
        self.port = None
        self.etag_counter = 0

    def load_tree(self, tree):
        """Every <path>/index.json, by its URI and its @odata.id (the captures spell some links
        in lower case and some with a trailing slash; norm() makes them one key)."""
        for folder, _, files in os.walk(tree):
            if "index.json" not in files:
                continue
            with open(os.path.join(folder, "index.json")) as f:
                doc = json.load(f)
            relative = os.path.relpath(folder, tree)
            uri = "/redfish/v1" + ("" if relative == "." else "/" + relative)
            self.docs[norm(uri)] = doc
            if isinstance(doc, dict) and isinstance(doc.get("@odata.id"), str):
                self.docs.setdefault(norm(doc["@odata.id"]), doc)

    def new_etag(self):
        self.etag_counter += 1
        return 'W/"%08X"' % (0x5E771000 + self.etag_counter)

    def bios_pair(self):
        """The current Bios resource and its pending settings resource, found by links; None
        when the documents have no settings object (the trimmed ilo5/bios.json has none)."""
        system = self.docs.get("/redfish/v1/systems/1", {})
        bios = self.docs.get(norm(system.get("Bios", {}).get("@odata.id", "")))
        link = (bios or {}).get("@Redfish.Settings", {}).get("SettingsObject", {}).get("@odata.id")
        settings = self.docs.get(norm(link)) if link else None
        return (bios, settings) if settings else None

    def ssc_pair(self):
        """The first SmartStorageConfig and its settings resource, found by links; None on a
        tree without them (iLO 6, the trimmed ilo5/ documents)."""
        system = self.docs.get("/redfish/v1/systems/1", {})
        links = system.get("Oem", {}).get("Hpe", {}).get("SmartStorageConfig") or []
        current = self.docs.get(norm(links[0]["@odata.id"])) if links else None
        link = (current or {}).get("@Redfish.Settings", {}).get("SettingsObject", {}).get("@odata.id")
        settings = self.docs.get(norm(link)) if link else None
        return (current, settings) if settings else None

    def array_disks(self):
        """The first array controller's DiskDrives collection, by its link."""
        system = self.docs.get("/redfish/v1/systems/1", {})
        smart = self.docs.get(norm(system.get("Oem", {}).get("Hpe", {}).get("Links", {}).get("SmartStorage", {}).get("@odata.id", "")), {})
        arrays = self.docs.get(norm(smart.get("Links", {}).get("ArrayControllers", {}).get("@odata.id", "")), {})
        first = self.docs.get(norm(arrays.get("Members", [{}])[0].get("@odata.id", "")), {})
        return self.docs.get(norm(first.get("Links", {}).get("PhysicalDrives", {}).get("@odata.id", "")))

    def add_disks(self, locations, media):
        disks = self.array_disks()
        current, settings = self.ssc_pair()
        for number, location in enumerate(locations):
            uri = disks["@odata.id"].rstrip("/") + "/%d" % (100 + len(disks["Members"]) + number)
            self.docs[norm(uri)] = {"@odata.id": uri, "Id": uri.rsplit("/", 1)[1], "Location": location,
                                    "LocationFormat": "ControllerPort:Box:Bay", "MediaType": media,
                                    "CapacityGB": 960, "InterfaceType": "SAS", "Status": {"Health": "OK", "State": "Enabled"}}
            disks["Members"].append({"@odata.id": uri})
            for doc in (current, settings):
                doc["PhysicalDrives"].append({"Location": location, "LocationFormat": "ControllerPort:Box:Bay"})

    def apply_smart_storage(self):
        pair = self.ssc_pair()
        if not pair:
            return
        current, settings = pair
        media = {}
        for member in (self.array_disks() or {}).get("Members", []):
            disk = self.docs.get(norm(member["@odata.id"]), {})
            media[disk.get("Location")] = disk.get("MediaType")
        drives = copy.deepcopy(settings["LogicalDrives"])
        used = {loc for d in drives if isinstance(d.get("DataDrives"), list) for loc in d["DataDrives"] + d.get("SpareDrives", [])}
        for number, drive in enumerate(drives):
            if isinstance(drive.get("DataDrives"), dict):
                want = drive["DataDrives"]
                free = sorted(loc for loc, m in media.items() if m == want.get("DataDriveMediaType") and loc not in used)
                drive["DataDrives"] = free[:want.get("DataDriveCount", 0)]
                used.update(drive["DataDrives"])
            if not drive.get("VolumeUniqueIdentifier"):
                drive["VolumeUniqueIdentifier"] = "600508B1001C%020X" % (self.new_etag_number() + number)
        current["LogicalDrives"] = drives
        settings["LogicalDrives"] = copy.deepcopy(drives)
        settings["DataGuard"] = "Strict"
        settings["@odata.etag"] = self.new_etag()
        current["@Redfish.Settings"]["Messages"] = [{"MessageId": "Base.1.0.Success"}]
        current["@odata.etag"] = self.new_etag()

    def new_etag_number(self):
        self.etag_counter += 1
        return self.etag_counter

    def as_ilo6(self, name, doc):
        doc = lower_links(doc)
        if name == "manager.json":
            doc["FirmwareVersion"] = "iLO 6 v1.76"
            doc["Model"] = "iLO 6"
            doc["Oem"]["Hpe"]["Firmware"]["Current"]["VersionString"] = "iLO 6 v1.76"
        if name == "system.json":
            doc["Model"] = "ProLiant DL380 Gen11"
            doc["SerialNumber"] = "CZ2D1F0BK1"
        if name == "firmware_inventory.json":
            # Not expanded: links only, one member document each.
            for member in doc["Members"]:
                self_docs = copy.deepcopy(member)
                if self_docs["Name"] == "iLO 5":
                    self_docs["Name"] = "iLO 6"
                    self_docs["Version"] = "1.76 Jul 03 2026"
                self_docs.pop("Updateable", None)  # like some firmware: no Updateable at all
                self.__dict__.setdefault("extra", []).append(self_docs)
            doc["Members"] = [{"@odata.id": m["@odata.id"]} for m in doc["Members"]]
        return doc

    def all_docs(self):
        for doc in getattr(self, "extra", []):
            self.docs.setdefault(norm(doc["@odata.id"]), doc)
        return self.docs


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # -- plumbing --------------------------------------------------------------
    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def send(self, status, doc=None, headers=None):
        data = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
            etag = doc.get("@odata.etag") if isinstance(doc, dict) else None
            if etag:
                self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        st = self.server.state
        token = self.headers.get("X-Auth-Token")
        if token:
            return token in st.tokens
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            import base64
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user == st.user and password == st.password
        return False

    def handle_any(self, method):
        st = self.server.state
        path = norm(self.path)
        body = self.body() if method in ("POST", "PATCH", "PUT") else None
        held = None
        with st.lock:
            if not path.startswith("/_fixture"):
                entry = {"method": method, "path": self.path, "t": time.monotonic(),
                         "token": bool(self.headers.get("X-Auth-Token")),
                         "basic": self.headers.get("Authorization", "").startswith("Basic "),
                         "ifMatch": self.headers.get("If-Match"),
                         # Bodies of writes, never of a login (it holds the password).
                         "body": body if method in ("PATCH", "PUT") or (method == "POST" and "/volumes" in path) else None}
                st.log.append(entry)
                if st.fail_next:
                    status, retry_after = st.fail_next.pop(0)
                    return self.send(status, ilo_error("iLO.2.8.ServiceUnavailable"),
                                     {"Retry-After": str(retry_after)} if retry_after is not None else {})
                for hold in st.holds:
                    if hold["count"] > 0 and hold["method"] == method and norm(hold["path"]) == path:
                        hold["count"] -= 1
                        entry["held"] = True
                        held = st.released
                        break
            if held is None:
                return self.route(method, path, body)
        # Logged as it arrived, answered only after /_fixture/release: the caller is caught
        # in the middle of its request (outside the lock, so other requests go on).
        held.wait()
        with st.lock:
            return self.route(method, path, body)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # -- the service -----------------------------------------------------------
    def route(self, method, path, body):
        st = self.server.state
        docs = st.all_docs()
        if path == "/_fixture/log":
            return self.send(200, {"log": st.log, "sessions": len(st.tokens)})
        if path == "/_fixture/all-logs":
            # Each state's log is read under its own lock (this one's is held already).
            logs = []
            for other in ALL_STATES:
                if other is st:
                    logs.append({"port": other.port, "log": list(other.log)})
                else:
                    with other.lock:
                        logs.append({"port": other.port, "log": list(other.log)})
            return self.send(200, {"bmcs": logs})
        if path == "/_fixture/stuck-power":
            # {"PowerState": "Off"}: the system shows this and stays so, whatever reset is asked
            # (a dead power supply): each request is answered Success all the same.
            docs["/redfish/v1/systems/1"]["PowerState"] = body["PowerState"]
            st.stuck_power = True
            return self.send(204)
        if path == "/_fixture/fail-updates":
            # This iLO's flashes from now on end in Error (a bad flash part, a refused image).
            st.fail_updates = True
            return self.send(204)
        if path == "/_fixture/hold":
            # {"method": "POST", "path": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", "count": 1}
            if st.released.is_set():
                st.released = threading.Event()
            st.holds.append({"method": body["method"], "path": body["path"], "count": body.get("count", 1)})
            return self.send(204)
        if path == "/_fixture/release":
            st.holds = []
            st.released.set()
            return self.send(204)
        if path == "/_fixture/expire-sessions":
            st.tokens.clear()
            return self.send(204)
        if path == "/_fixture/fail-next":
            for _ in range(body.get("count", 1)):
                st.fail_next.append((body["status"], body.get("retryAfter")))
            return self.send(204)
        if path == "/_fixture/reboot":
            # POST validates the pending settings and makes them current, as iLO's BIOS does,
            # and the Smart Array controller builds the pending logical drives.
            pair = st.bios_pair()
            if pair:
                bios, settings = pair
                bios["Attributes"] = copy.deepcopy(settings["Attributes"])
                bios["@Redfish.Settings"]["Messages"] = [{"MessageId": "Base.1.0.Success"}]
                bios["@odata.etag"] = st.new_etag()
            st.apply_smart_storage()
            return self.send(204)
        if path == "/_fixture/add-disks":
            st.add_disks(body.get("locations", []), body.get("media", "SSD"))
            return self.send(204)
        if path == "/_fixture/ssc-other-writer":
            # Someone else writes the Smart Array settings now: a PUT with the ETag read before meets a 412.
            _, settings = st.ssc_pair()
            settings["@odata.etag"] = st.new_etag()
            return self.send(204)
        if path == "/_fixture/bios-drop":
            # A BMC that answers a Bios (or its pending settings, with "settings": true)
            # without one of its fields: {"field": "Attributes"} or "@Redfish.Settings".
            bios, settings = st.bios_pair()
            (settings if body.get("settings") else bios).pop(body["field"], None)
            return self.send(204)
        if path == "/_fixture/bios-other-writer":
            # Another writer changes the pending settings now: a PATCH with the ETag read
            # before meets a 412.
            _, settings = st.bios_pair()
            settings["Attributes"]["AdminName"] = "changed in the iLO page"
            settings["@odata.etag"] = st.new_etag()
            return self.send(204)

        if path == "/redfish/v1" and method == "GET":
            return self.send(200, docs[path])
        if path == "/redfish/v1/sessionservice/sessions" and method == "POST":
            if (body or {}).get("UserName") == st.user and (body or {}).get("Password") == st.password:
                token = secrets.token_hex(16)
                location = "/redfish/v1/SessionService/Sessions/%s%d/" % (st.user, len(st.log))
                st.tokens[token] = norm(location)
                host = "https://127.0.0.1:%d" % self.server.server_address[1]
                return self.send(201, {"@odata.id": location, "UserName": st.user},
                                 {"X-Auth-Token": token, "Location": host + location})
            return self.send(401, ilo_error("Base.1.4.NoValidSession"))
        if not self.authorized():
            return self.send(401, ilo_error("Base.1.4.NoValidSession"))

        if method == "DELETE" and path.startswith("/redfish/v1/sessionservice/sessions/"):
            for token, location in list(st.tokens.items()):
                if location == path:
                    del st.tokens[token]
                    return self.send(200, ilo_error("Base.1.4.Success"))
            return self.send(404, ilo_error("Base.1.4.ResourceMissingAtURI"))

        system = docs["/redfish/v1/systems/1"]
        if method == "POST" and path == "/redfish/v1/systems/1/actions/computersystem.reset":
            kind = (body or {}).get("ResetType")
            allowed = system["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"]
            if kind not in allowed:
                return self.send(400, ilo_error("Base.1.4.ActionParameterValueNotInList"))
            if st.stuck_power:
                return self.send(200, ilo_error("Base.1.4.Success"))
            system["PowerState"] = {"On": "On", "ForceOff": "Off", "ForceRestart": "On",
                                    "PushPowerButton": "Off" if system["PowerState"] == "On" else "On"}.get(kind, system["PowerState"])
            return self.send(200, ilo_error("Base.1.4.Success"))
        if method == "PATCH" and path == "/redfish/v1/systems/1":
            match = self.headers.get("If-Match")
            if match and match != system["@odata.etag"]:
                return self.send(412, ilo_error("Base.1.4.PreconditionFailed"))
            for key, value in (body or {}).get("Boot", {}).items():
                system["Boot"][key] = value
            st.etag_counter += 1
            system["@odata.etag"] = 'W/"%08X"' % (0x0E79655D + st.etag_counter)
            return self.send(200, ilo_error("Base.1.4.Success"))
        if method == "PATCH" and path == "/redfish/v1/managers/1/virtualmedia/2":
            media = docs[path]
            if "Image" in (body or {}):
                media["Image"] = body["Image"] or ""
                media["Inserted"] = bool(body["Image"])
                media["ConnectedVia"] = "URI" if body["Image"] else "NotConnected"
            boot = (body or {}).get("Oem", {}).get("Hpe", {}).get("BootOnNextServerReset")
            if boot is not None:
                media["Oem"]["Hpe"]["BootOnNextServerReset"] = boot
            return self.send(200, ilo_error("Base.1.4.Success"))

        ssc = st.ssc_pair()
        if ssc and path == norm(ssc[1]["@odata.id"]):
            current, settings = ssc
            if method == "GET":
                return self.send(200, copy.deepcopy(settings))
            if method == "PUT":
                if self.headers.get("If-Match") != settings["@odata.etag"]:
                    return self.send(412, ilo_error("Base.1.4.PreconditionFailed"))
                problem, drives = smart_storage_put(current["LogicalDrives"], body or {})
                if problem:
                    return self.send(400, ilo_error(problem))
                settings["LogicalDrives"] = drives
                settings["DataGuard"] = (body or {}).get("DataGuard")
                settings["@odata.etag"] = st.new_etag()
                return self.send(200, ilo_error("iLO.2.17.SystemResetRequired"))
            return self.send(405, ilo_error("iLO.2.17.MethodNotAllowed"))
        if method == "POST" and docs.get(path, {}).get("@odata.type", "").startswith("#VolumeCollection"):
            return self.create_volume(path, docs, body or {})
        if method == "DELETE" and docs.get(path, {}).get("@odata.type", "").startswith("#Volume.") and not path.endswith("/capabilities"):
            return self.delete_volume(path, docs)

        pair = st.bios_pair()
        if pair:
            bios, settings = pair
            if path == norm(settings["@odata.id"]):
                if method == "GET":
                    return self.send(200, copy.deepcopy(settings))
                if method == "PATCH":
                    # iLO 6 and recent iLO 5 want the ETag of the resource they change.
                    if self.headers.get("If-Match") != settings["@odata.etag"]:
                        return self.send(412, ilo_error("Base.1.4.PreconditionFailed"))
                    settings["Attributes"].update((body or {}).get("Attributes", {}))
                    settings["@odata.etag"] = st.new_etag()
                    # HPE's answer to a pending-settings write: applied at the next reset.
                    return self.send(200, ilo_error("iLO.2.17.SystemResetRequired"))
            if path == norm(bios["@odata.id"]) and method == "PATCH":
                return self.send(405, ilo_error("iLO.2.17.PropertyNotWritableOrUnknown"))

        if method == "POST" and path == "/redfish/v1/updateservice/actions/updateservice.simpleupdate":
            uri = (body or {}).get("ImageURI", "")
            failing = "bad" in uri
            if st.generation == 5 and st.update_seconds:
                # iLO 5 flashing for a while of wall time, whoever looks.
                st.update = {"started": time.monotonic(), "failing": failing or st.fail_updates}
                return self.send(200, ilo_error("iLO.2.8.Success"))
            if st.generation == 5:
                # iLO 5: no task; the state moves on each time a client looks.
                states = [("Uploading", 0), ("Verifying", 0), ("Writing", 40), ("Writing", 80)]
                states.append(("Error", 80) if failing else ("Complete", 100))
                st.update = states
                return self.send(200, ilo_error("iLO.2.8.Success"))
            task = {"@odata.id": "/redfish/v1/TaskService/Tasks/22/", "@odata.type": "#Task.v1_4_3.Task",
                    "Id": "22", "Name": "Task 22", "TaskState": "New", "PercentComplete": 0, "Messages": []}
            steps = [("Running", 10), ("Running", 60)]
            steps.append(("Exception", 60) if failing else ("Completed", 100))
            st.update = {"task": task, "steps": steps, "shown_done": 0}
            return self.send(202, task, {"Location": "/redfish/v1/TaskService/Tasks/22/"})
        if method == "GET" and path == "/redfish/v1/updateservice" and st.generation == 5 and isinstance(st.update, dict):
            doc = docs[path]
            elapsed = time.monotonic() - st.update["started"]
            if elapsed < st.update_seconds:
                state, percent = "Writing", int(100 * elapsed / st.update_seconds)
            else:
                state, percent = ("Error", 80) if st.update["failing"] else ("Complete", 100)
                if state == "Complete" and st.flash_to:
                    name, version = st.flash_to
                    for member in docs["/redfish/v1/updateservice/firmwareinventory"]["Members"]:
                        if member.get("Name") == name:
                            member["Version"] = version
            doc["Oem"]["Hpe"]["State"] = state
            doc["Oem"]["Hpe"]["FlashProgressPercent"] = percent
            doc["Oem"]["Hpe"]["Result"] = {"MessageId": "iLO.2.8.UpdateFailedFlashError" if state == "Error" else "Base.1.0.Success"}
            return self.send(200, doc)
        if method == "GET" and path == "/redfish/v1/updateservice" and st.generation == 5 and st.update:
            doc = docs[path]
            state, percent = st.update.pop(0)
            doc["Oem"]["Hpe"]["State"] = state
            doc["Oem"]["Hpe"]["FlashProgressPercent"] = percent
            doc["Oem"]["Hpe"]["Result"] = {"MessageId": "iLO.2.8.UpdateFailedFlashError" if state == "Error" else "Base.1.0.Success"}
            return self.send(200, doc)
        if method == "GET" and path == "/redfish/v1/taskservice/tasks/22" and st.generation == 6 and st.update:
            up = st.update
            if up["steps"]:
                state, percent = up["steps"].pop(0)
                up["task"]["TaskState"], up["task"]["PercentComplete"] = state, percent
                if state == "Exception":
                    up["task"]["TaskStatus"] = "Critical"
                    up["task"]["Messages"] = [{"MessageId": "iLO.2.17.UpdateFailedInvalidFile", "Message": "The component could not be verified."}]
                return self.send(202 if state == "Running" else 200, up["task"])
            # Finished and gone, as iLO does.
            return self.send(404, ilo_error("Base.1.4.ResourceMissingAtURI"))

        if method == "GET" and path in docs:
            return self.send(200, docs[path])
        return self.send(404, ilo_error("Base.1.4.ResourceMissingAtURI"))


    def create_volume(self, path, docs, body):
        st = self.server.state
        collection = docs[path]
        storage = docs.get(path.rsplit("/", 1)[0], {})
        capabilities = docs.get(path + "/capabilities", {})
        allowed = capabilities.get("RAIDType@Redfish.AllowableValues", [])
        if body.get("RAIDType") not in allowed:
            return self.send(400, ilo_error("Base.1.4.PropertyValueNotInList"))
        links = [norm(d.get("@odata.id", "")) for d in body.get("Links", {}).get("Drives", [])]
        members = [norm(d["@odata.id"]) for d in storage.get("Drives", [])]
        if not links or any(l not in members or l not in docs or docs[l].get("Links", {}).get("Volumes") for l in links):
            return self.send(400, ilo_error("Base.1.4.PropertyValueConflict"))
        name = body.get("DisplayName", "")
        if len(name) > 15:
            return self.send(400, ilo_error("Base.1.4.PropertyValueFormatError"))
        st.volume_counter = getattr(st, "volume_counter", 0) + 1
        uri = collection["@odata.id"].rstrip("/") + "/%d" % (300 + st.volume_counter)
        volume = {"@odata.id": uri, "@odata.type": "#Volume.v1_9_0.Volume", "Id": uri.rsplit("/", 1)[1],
                  "Name": "MR Volume", "DisplayName": name, "RAIDType": body["RAIDType"],
                  "Links": {"Drives": [{"@odata.id": docs[l]["@odata.id"]} for l in links], "DedicatedSpareDrives": []},
                  "Status": {"State": "Enabled", "Health": "OK"}}
        docs[norm(uri)] = volume
        collection["Members"].append({"@odata.id": uri})
        collection["Members@odata.count"] = len(collection["Members"])
        for l in links:
            docs[l].setdefault("Links", {})["Volumes"] = [{"@odata.id": uri}]
        return self.send(201, volume, {"Location": uri})

    def delete_volume(self, path, docs):
        volume = docs.pop(path)
        collection = docs[path.rsplit("/", 1)[0]]
        collection["Members"] = [m for m in collection["Members"] if norm(m["@odata.id"]) != path]
        collection["Members@odata.count"] = len(collection["Members"])
        for drive in volume.get("Links", {}).get("Drives", []):
            doc = docs.get(norm(drive["@odata.id"]))
            if doc:
                doc.setdefault("Links", {})["Volumes"] = []
        return self.send(200, ilo_error("Base.1.4.Success"))


def smart_storage_put(existing, body):
    """The pending LogicalDrives a PUT leaves, by HPE's DataGuard rules, or the problem."""
    guard = body.get("DataGuard")
    if guard not in ("Strict", "Permissive", "Disabled"):
        return "Base.1.4.PropertyValueNotInList", None
    entries = body.get("LogicalDrives", [])
    deleting = {e.get("VolumeUniqueIdentifier") for e in entries
                if any(a.get("Action") == "LogicalDriveDelete" for a in e.get("Actions", []))}
    named = {e.get("VolumeUniqueIdentifier") for e in entries if e.get("VolumeUniqueIdentifier")}
    left_out = [d for d in existing if d["VolumeUniqueIdentifier"] not in named]
    if guard == "Strict" and (deleting or left_out):
        # Made up for the fixture (real iLO reports it after POST): Strict destroys nothing.
        return "iLO.2.17.DataGuardStrictViolation", None
    kept = [copy.deepcopy(d) for d in left_out] if guard == "Permissive" else []
    new = [{k: v for k, v in e.items() if k != "Actions"} for e in entries
           if e.get("VolumeUniqueIdentifier") not in deleting]
    return None, kept + new


ALL_STATES = []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", default="Administrator")
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--generation", type=int, choices=(5, 6), default=5)
    parser.add_argument("--tree", help="a recorded Mockup Creator tree to serve instead of ilo5/")
    parser.add_argument("--count", type=int, default=1, help="how many iLOs, each on a port of its own")
    parser.add_argument("--update-seconds", type=float, default=0.0, help="iLO 5: a flash takes this long")
    parser.add_argument("--flash-to", help="NAME=VERSION: what a completed flash makes the inventory say")
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    servers = []
    for _ in range(args.count):
        server = ThreadingHTTPServer(("127.0.0.1", args.port if args.count == 1 else 0), Handler)
        server.daemon_threads = True
        server.state = State(args)
        server.state.port = server.server_address[1]
        ALL_STATES.append(server.state)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers.append(server)
    if args.count == 1:
        print("PORT %d" % servers[0].server_address[1], flush=True)
    else:
        print("PORTS " + " ".join(str(s.server_address[1]) for s in servers), flush=True)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    sys.exit(main())
