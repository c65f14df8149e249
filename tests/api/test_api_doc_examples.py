"""docs/api.md's shell examples, run for real with curl against a live server.

The demo data (``manage.py seed_demo``, as ``make run`` has it) is seeded and a
key with every role is made with ``manage.py create_api_key``, as the doc's
first example does. Then every ``sh`` block of the doc runs, in the doc's
order, in one bash session: the blocks build on each other (``$SEV``,
``$TASK``, …) as a reader typing them would. The only changes: ``$TOKEN`` and
``$API`` are set beforehand (the doc's lines that set them are dropped), the
doc's ``http://127.0.0.1:8000`` is the live server, and ``curl`` reports each
answer's status on stderr.

Every request must answer 2xx, except in a block the doc follows with an
error body: there, the status that body shows. The block runs in a fresh git
repository (one example commits the learning flow).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from incidentio.incidents.models import FollowUp, IncidentType
from learning.api_serializers import LearningTaskOut
from learning.models import LearningTask
from orgs.models import ApiKeyRole

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
DOC_SERVER = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# Each answer on stderr, after the body on stdout; %{stderr} needs curl 7.63.
CURL = """curl() { command curl --write-out '%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n' "$@"; }"""
BLOCK_MARK = "=== block "
# Variables the examples pick out of responses with jq: each must have been found.
PICKED = ("SECURITY", "SEV", "FIXING", "FOLLOW_UP", "STATUS", "ROLE", "TYPE", "DOCUMENTING", "TASK", "UNTIL", "FLOW")


@pytest.fixture(autouse=True)
def advance_in_process(eager_celery):
    """Completing tasks advances the flow in the server's request, on commit."""


def doc_blocks() -> list[tuple[str, int | None]]:
    """The doc's ``sh`` blocks, each with the status of the error body that follows it, if one does."""
    fences = [(m.group(1), m.group(2)) for m in FENCE.finditer(DOC.read_text())]
    blocks = []
    for index, (language, text) in enumerate(fences):
        if language != "sh":
            continue
        expected = None
        if index + 1 < len(fences) and fences[index + 1][0] == "json":
            status = re.search(r'"status":\s*(\d{3})', fences[index + 1][1])
            expected = int(status.group(1)) if status else None
        blocks.append((text, expected))
    return blocks


def runnable(block: str) -> str:
    """The block as bash runs it: continuation lines joined, the lines setting $TOKEN and $API dropped."""
    lines = block.replace("\\\n", " ").splitlines()
    kept = [line for line in lines if not re.match(r"\s*(TOKEN|API)=", line)]
    return "\n".join(kept).replace(DOC_SERVER, "$SERVER")


def test_every_curl_example_in_api_md_runs(live_server, tmp_path):
    for tool in ("curl", "jq", "git", "bash"):
        if shutil.which(tool) is None:
            pytest.skip(f"the examples need {tool}")
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("create_api_key", "--org", "acme", "--name", "demo",
                 *[f"--role={role}" for role in ApiKeyRole.values], stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert token.startswith("inc_")

    blocks = doc_blocks()
    assert len(blocks) >= 10, "the doc's sh blocks were not found"
    script = ["set -u", CURL]
    for number, (block, _expected) in enumerate(blocks):
        script += [f"echo '{BLOCK_MARK}{number}' >&2", runnable(block)]
    script.append(" ".join(f'echo "picked {name}=${{{name}}}" >&2;' for name in PICKED))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "TOKEN": token,
        "SERVER": live_server.url, "API": f"{live_server.url}/api/v2",
        "GIT_AUTHOR_NAME": "Doc", "GIT_AUTHOR_EMAIL": "doc@example.com",
        "GIT_COMMITTER_NAME": "Doc", "GIT_COMMITTER_EMAIL": "doc@example.com",
    }
    run = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]

    calls, wrong, block, picked = 0, [], None, {}
    for line in run.stderr.splitlines():
        if line.startswith(BLOCK_MARK):
            block = int(line[len(BLOCK_MARK):])
        elif line.startswith("HTTP "):
            calls += 1
            _, status, method, url = line.split(" ", 3)
            expected = blocks[block][1]
            ok = int(status) == expected if expected else 200 <= int(status) < 300
            if not ok:
                wrong.append(f"block {block}: {method} {url} → {status} (expected {expected or '2xx'})")
        elif line.startswith("picked "):
            name, _, value = line[len("picked "):].partition("=")
            assert value and value != "null", f"${name} was not found in the response it is picked from"
            picked[name] = value
        elif line.strip():
            wrong.append(f"block {block}: {line}")  # curl or jq complained
    assert not wrong, "\n".join(wrong)
    assert calls >= 60, run.stderr[-3000:]

    # The git examples committed the learning flow as the API returned it after each PUT.
    committed = json.loads((tmp_path / "learning_flow.json").read_text())
    assert committed["version"] == 2
    default, security = committed["learning_flows"]
    titles = [t["title"] for t in default["learning_statuses"][0]["task_templates"]]
    assert "Tell support what changed" in titles
    assert [s["name"] for s in security["learning_statuses"]] == ["Security review"]
    rotate = security["learning_statuses"][0]["task_templates"][0]
    assert (rotate["title"], rotate["due_days"], rotate["due_from"]) == (
        "Rotate the exposed credentials", 2, "incident_resolved")
    rules = {t["id"]: t for t in committed["incident_types"]}
    security_type = str(IncidentType.objects.get(org__slug="acme", name="Security").public_id)
    assert rules[security_type]["learning_flow_id"] == security["id"]
    assert rules[security_type]["auto_enter_all"] is True
    log = subprocess.run(["git", "log", "--format=%s"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert log.stdout.splitlines() == [
        "Learning flow: Security incidents run the Security flow", "Learning flow: tell support"]

    # The snoozes are on the items the doc snoozed.
    assert LearningTask.objects.get(public_id=picked["TASK"]).snoozed_until is not None
    assert FollowUp.objects.get(public_id=picked["FOLLOW_UP"]).snoozed_until is not None


def test_the_learning_task_example_has_the_fields_a_task_has():
    """The doc's ``{"learning_task": …}`` example lists exactly the fields the API sends."""
    example = next(json.loads(text) for language, text in
                   ((m.group(1), m.group(2)) for m in FENCE.finditer(DOC.read_text()))
                   if language == "json" and text.lstrip().startswith('{"learning_task"'))
    assert set(example["learning_task"]) == set(LearningTaskOut().fields)
