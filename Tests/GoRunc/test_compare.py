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
## Legitimately differ
| field | reason |
|---|---|
| `latency.*` | timing |
"""


def run(tmp_path, a, b):
    (tmp_path / "F.md").write_text(FIELDS)
    for name, cases in (("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(json.dumps({"runtime": "/x/" + name[0], "cases": cases}))
    p = subprocess.run([sys.executable, str(COMPARE), "--fields", str(tmp_path / "F.md"),
                        str(tmp_path / "a.json"), str(tmp_path / "b.json")], capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


BASE = {"run_x": {"status": 3}, "errors": {"state": {"ok": False, "msg": "container does not exist"}},
        "exec": {"update": {"ok": True}}, "latency": {"first_ms": 10.0}}


def test_equal_results_pass(tmp_path):
    other = json.loads(json.dumps(BASE))
    other["latency"]["first_ms"] = 99.0  # documented as differing
    assert run(tmp_path, BASE, other) == (0, [])


def test_each_disagreement_is_one_line(tmp_path):
    other = json.loads(json.dumps(BASE))
    other["run_x"]["status"] = 4
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
