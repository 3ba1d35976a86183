"""compare.py against small hand-made results and field tables (run by test-oci.sh with pytest)."""
import json
import subprocess
import sys
from pathlib import Path

COMPARE = Path(__file__).with_name("compare.py")
FIELDS = """# t
## Must agree
| field | why |
|---|---|
| `run_*.status` | |
| `errors.*` | |
## Must match
| field | regex | why |
|---|---|---|
| `exec.update.ok` | `^(true\\|false)$` | |
| `exec.update.msg` | `^".+"$` | |
## Required of fc-supervisor
| field | regex | why |
|---|---|---|
| `bad_x.refused` | `^true$` | |
## Legitimately differ
| field | reason |
|---|---|
| `latency.*` | timing |
"""


def run(tmp_path, a, b, names=("a.json", "b.json")):
    """compare.py on a and b; the runtime of each is named by its file name's first letter."""
    (tmp_path / "F.md").write_text(FIELDS)
    for name, cases in zip(names, (a, b)):
        (tmp_path / name).write_text(json.dumps({"runtime": "/x/" + name[0], "cases": cases}))
    p = subprocess.run([sys.executable, str(COMPARE), "--fields", str(tmp_path / "F.md"),
                        *(str(tmp_path / n) for n in names)], capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


BASE = {"run_x": {"status": 3}, "errors": {"state": {"ok": False, "msg": "container does not exist"}},
        "exec": {"update": {"ok": True}}, "latency": {"first_ms": 10.0}, "bad_x": {"refused": False}}


def test_equal_results_pass(tmp_path):
    other = json.loads(json.dumps(BASE))
    other["latency"]["first_ms"] = 99.0  # documented as differing
    other["bad_x"]["refused"] = True  # required of the other runtime only
    assert run(tmp_path, BASE, other) == (0, [])


def test_required_rows_bind_only_another_runtime(tmp_path):
    assert run(tmp_path, BASE, BASE, names=("a.json", "a2.json")) == (0, [])
    code, out = run(tmp_path, BASE, BASE)
    assert (code, out) == (1, ["REQUIRED bad_x.refused: b=false does not match /^true$/"])


def test_each_disagreement_is_one_line(tmp_path):
    other = json.loads(json.dumps(BASE))
    other["run_x"]["status"] = 4
    other["bad_x"]["refused"] = True
    del other["errors"]["state"]["msg"]
    other["exec"]["update"] = {"ok": False, "msg": ""}
    other["surprise"] = {"field": 1}
    code, out = run(tmp_path, BASE, other)
    assert code == 1
    assert out == [
        "DIFFER errors.state.msg: a=\"container does not exist\" b=(missing)",
        "NO-MATCH exec.update.msg: b=\"\" does not match /^\".+\"$/",
        "DIFFER run_x.status: a=3 b=4",
        "UNCLASSIFIED surprise.field: a=(missing) b=1 (add it to a table in F.md)",
    ]
