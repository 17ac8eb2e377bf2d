"""`rdflow demo` on an empty database, then every role signs in over the API and sees the sample project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.e2e.conftest import running_api, sqlite_settings

ROLES = {
    "admin": "SUPER_ADMIN",
    "lead": "PROJECT_ADMIN",
    "developer": "DEVELOPER",
    "tester": "TESTER",
    "guest": "GUEST",
}

PROJECT = """{ projects(first: 2) { totalCount nodes {
  name status members { username role }
  requirements(first: 10) { totalCount nodes { title status } }
  tasks(first: 10) { totalCount nodes { status
    artifacts(first: 10) { nodes { reviewStatus testResults(first: 5) { nodes { testType status } } } } } }
  deployments(first: 10) { nodes { environment status } }
  jobs(first: 20) { nodes { kind status error } }
} } }"""


def demo(tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RDFLOW_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    for key in ("REDIS_URL", "RDFLOW_ENV", "JWT_SECRET", "S3_BUCKET", "ANTHROPIC_API_KEY"):
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "demo"], env=env, capture_output=True, text=True, timeout=600, check=False
    )


async def test_demo_fills_an_empty_database_and_every_role_sees_it(tmp_path):
    done = demo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    passwords = dict(re.findall(r"^  (\w+)\s+[A-Z_]+\s+(\S+)$", done.stdout, re.MULTILINE))
    assert set(passwords) == set(ROLES), done.stdout
    assert "Traceback" not in done.stderr and " ERROR " not in done.stderr, done.stderr

    async with running_api(sqlite_settings(tmp_path, "demo"), first=False) as api:
        for name, role in ROLES.items():
            signed_in = await api.gql(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
                {"u": name, "p": passwords[name]},
                as_=None,
            )
            api.tokens[name] = signed_in["login"]["accessToken"]
            assert (await api.gql("{ me { role } }", as_=name))["me"]["role"] == role

            projects = (await api.gql(PROJECT, as_=name))["projects"]
            assert projects["totalCount"] == 1, (name, projects)
            project = projects["nodes"][0]
            assert (project["name"], project["status"]) == ("Billing Portal", "ACTIVE")
            assert {m["username"]: m["role"] for m in project["members"]} == {
                n: r for n, r in ROLES.items() if n != "admin"
            }
            requirements = Counter(r["status"] for r in project["requirements"]["nodes"])
            assert requirements == {"IN_PROGRESS": 1, "ANALYZING": 1, "DRAFT": 1, "REJECTED": 1}, name
            tasks = project["tasks"]["nodes"]
            assert Counter(t["status"] for t in tasks) == {"DONE": 1, "IN_PROGRESS": 2, "BLOCKED": 1, "PENDING": 3}
            artifacts = [a for t in tasks for a in t["artifacts"]["nodes"]]
            assert artifacts and {a["reviewStatus"] for a in artifacts} == {"APPROVED"}
            results = Counter((r["testType"], r["status"]) for a in artifacts for r in a["testResults"]["nodes"])
            assert results == {("UNIT", "PASSED"): 1, ("INTEGRATION", "FAILED"): 1, ("E2E", "PASSED"): 1}
            deployments = {d["environment"]: d["status"] for d in project["deployments"]["nodes"]}
            assert deployments == {"DEV": "SUCCEEDED", "STAGING": "FAILED", "PROD": "AWAITING_APPROVAL"}
            jobs = Counter((j["kind"], j["status"]) for j in project["jobs"]["nodes"])
            assert jobs == {
                ("ai.prd", "SUCCEEDED"): 2,
                ("ai.decompose", "SUCCEEDED"): 1,
                ("ai.code", "SUCCEEDED"): 1,
                ("ai.review", "SUCCEEDED"): 1,
                ("ai.code", "FAILED"): 1,
                ("ai.prd", "FAILED"): 1,
                ("ai.decompose", "CANCELLED"): 1,
                ("deploy.rollout", "SUCCEEDED"): 2,  # the job ends; the STAGING deployment it rolled out FAILED
            }
            assert all("not found" in j["error"] for j in project["jobs"]["nodes"] if j["status"] == "FAILED")

        # The story went through the services: each step is in the audit trail, by who did it.
        audited = "query($a: String!) { auditLog(first: 100, filter: {action: $a}) { nodes { actor { username } } } }"
        for action, actors in {
            "user.create": [None] + ["admin"] * 4,  # the first super admin is created by the operator
            "prd.approve": ["lead"],
            "deployment.create": ["developer", "lead", "lead"],
            "test_result.create": ["developer", "tester", "tester"],
            "job.cancel": ["developer"],
        }.items():
            entries = (await api.gql(audited, {"a": action}, as_="admin"))["auditLog"]["nodes"]
            assert Counter((e["actor"] or {}).get("username") for e in entries) == Counter(actors), action

        again = demo(tmp_path)
        assert again.returncode == 1 and "already has data" in again.stderr, again.stdout + again.stderr
        assert "Traceback" not in again.stderr
        users = await api.gql("{ users(first: 50) { totalCount } }", as_="admin")
        assert users["users"]["totalCount"] == len(ROLES)
