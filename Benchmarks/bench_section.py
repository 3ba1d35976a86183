"""One numbered section of BENCHMARKS.md, written by the script that measured it (oci, guest, snapshot, metrics,
images): the section replaces its older self, or goes before the first section with a higher number, else before
"## Exact commands", else at the end. Every other section stays as it is."""
import re
from pathlib import Path


def write_section(bench_md, title, section):
    path = Path(bench_md)
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    existing = re.search(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", text, flags=re.M | re.S)
    if existing:
        text = text[:existing.start()] + section + text[existing.end():]
    else:
        number = int(re.match(r"## (\d+)\.", title).group(1))
        later = [m for m in re.finditer(r"^## (\d+)\.", text, flags=re.M) if int(m.group(1)) > number]
        anchor = later[0].start() if later else text.find("\n## Exact commands") + 1
        if anchor > 0:
            text = text[:anchor] + section + "\n" + text[anchor:]
        else:
            text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
