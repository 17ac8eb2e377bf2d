"""Code from the offline provider runs: its own tests pass under pytest (and node), and a broken copy fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from domain.ai import contracts
from integrations.llm_offline import OfflineLLM

pytestmark = pytest.mark.slow

REQUIREMENTS = {
    "invoices": "Invoice approval\n\nAccountants create, edit and delete invoices. Managers approve or reject "
    "invoices. Each invoice has a customer name, an amount, a due date and a status. Users export "
    "invoices to CSV.",
    "contacts": "Contacts\n\nSales staff manage contacts. A contact has a full name, an email, a phone, an age and "
    "an active flag. Staff can search contacts and archive or restore them.",
    "classes": "School classes\n\nAdmins manage classes and publish them. A class has a title, a start date, a "
    "public flag and a number of seats.",  # `class` is a keyword: the generator must rename variables
    "orders": "Order shipping\n\nCustomers pay orders. Warehouse staff ship paid orders, and support can refund "
    "shipped orders. Each order has a quantity, a total price and a delivery date.",
}


async def generate(requirement: str, **overrides) -> dict:
    context = {
        "task_name": "[Backend] Implement the API",
        "task_description": "",
        "task_type": "BACKEND",
        "language": "python",
        "framework": "starlette",
        "include_tests": True,
        "include_docs": True,
        "coding_standards": "",
        "requirement": requirement,
        **overrides,
    }
    result = await OfflineLLM().complete_json(
        step="code", system=contracts.system_prompt("code"), prompt="", schema=contracts.schema("code"), context=context
    )
    return result.data


def materialise(code: dict, root: Path) -> Path:
    for f in code["files"]:
        path = root / f["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f["content"], encoding="utf-8")
    return root


def run_pytest(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(REQUIREMENTS))
async def test_generated_python_tests_pass(tmp_path, name):
    root = materialise(await generate(REQUIREMENTS[name]), tmp_path)
    run = run_pytest(root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout
    assert int(run.stdout.strip().splitlines()[-1].split()[0]) >= 15  # service and HTTP tests both ran


async def test_a_broken_copy_fails_its_tests(tmp_path):
    root = materialise(await generate(REQUIREMENTS["invoices"]), tmp_path)
    model = root / "invoices" / "model.py"
    source = model.read_text()
    broken = source.replace('raise ValidationError(field, "must not be negative")', "pass")
    assert broken != source
    model.write_text(broken)
    run = run_pytest(root)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "test_create_rejects_an_invalid_value[amount--1]" in run.stdout


async def test_a_broken_status_rule_fails_its_tests(tmp_path):
    root = materialise(await generate(REQUIREMENTS["orders"]), tmp_path)
    service = root / "orders" / "service.py"
    source = service.read_text()
    broken = source.replace('"ship": ("SHIPPED", ("PAID",)),', '"ship": ("SHIPPED", ("OPEN", "PAID")),')
    assert broken != source
    service.write_text(broken)
    run = run_pytest(root)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "test_ship_is_refused_for_an_open_order" in run.stdout


async def test_framework_free_service_without_routes_passes_alone(tmp_path):
    code = await generate(REQUIREMENTS["contacts"], framework="django")
    assert "contacts/routes.py" not in [f["path"] for f in code["files"]]
    run = run_pytest(materialise(code, tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("name", sorted(REQUIREMENTS))
async def test_generated_javascript_tests_pass_under_node(tmp_path, name):
    root = materialise(await generate(REQUIREMENTS[name], language="javascript"), tmp_path)
    run = subprocess.run(["node", "--test"], cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
