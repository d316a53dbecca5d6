#!/usr/bin/env python3
"""Drive the simulator with the official Python XenAPI client (Debian python3-os-xenapi, XML-RPC on /).

Usage: xenapi_fidelity.py MASTER_URL MEMBER_URL USER PASSWORD
Prints one JSON document with what the client saw; the tap test asserts on it.
"""
import json
import sys

from os_xenapi.client import XenAPI

master_url, member_url, user, password = sys.argv[1:5]
out = {}

session = XenAPI.Session(master_url)
session.xenapi.login_with_password(user, password, "1.0", "xcp-sentinel-fidelity")
out["api_version"] = session.API_version
hosts = session.xenapi.host.get_all_records()
out["hosts"] = sorted(h["name_label"] for h in hosts.values())
out["host_fields"] = sorted(next(iter(hosts.values())).keys())
vms = session.xenapi.VM.get_all_records()
out["vm_count"] = len(vms)
out["control_domains"] = sum(1 for v in vms.values() if v["is_control_domain"])
out["templates"] = sum(1 for v in vms.values() if v["is_a_template"])
out["running"] = sum(1 for v in vms.values() if v["power_state"] == "Running" and not v["is_control_domain"])
some_vm = next(v for v in vms.values() if not v["is_control_domain"] and not v["is_a_template"])
out["vm_memory_static_max_type"] = type(some_vm["memory_static_max"]).__name__
out["vm_by_uuid"] = session.xenapi.VM.get_by_uuid(some_vm["uuid"]).startswith("OpaqueRef:")
master_ref = session.xenapi.pool.get_master(session.xenapi.pool.get_all()[0])
out["master_address"] = session.xenapi.host.get_address(master_ref)
try:
    session.xenapi.VM.get_record("OpaqueRef:does-not-exist")
except XenAPI.Failure as e:
    out["bad_ref_error"] = e.details
session.xenapi.session.logout()

member = XenAPI.Session(member_url)
try:
    member.xenapi.login_with_password(user, password, "1.0", "xcp-sentinel-fidelity")
    out["member_login"] = "succeeded"
except XenAPI.Failure as e:
    out["member_login"] = e.details

bad = XenAPI.Session(master_url)
try:
    bad.xenapi.login_with_password(user, "wrong-password", "1.0", "xcp-sentinel-fidelity")
    out["bad_login"] = "succeeded"
except XenAPI.Failure as e:
    out["bad_login"] = e.details

print(json.dumps(out))
