"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does, without needing Quarto).

Markdown cells are copied (links to notebooks become links to the documentation site); code cells become ```python blocks with their stored text output;
cells marked `#| hide` are left out. `python tools/make_readme.py --check` fails if README.md is stale.
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root / "nbs" / "index.ipynb").read_text())
parts = []
for cell in nb["cells"]:
    src = "".join(cell["source"])
    if cell["cell_type"] == "markdown":
        parts.append(src)
    elif cell["cell_type"] == "code" and not src.lstrip().startswith("#| hide"):
        parts.append(f"```python\n{src}\n```")
        text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) 
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")
        if text.strip():
            parts.append("    " + text.rstrip().replace("\n", "\n    "))
readme = "\n\n".join(parts).strip() + "\n"
# links between notebooks are relative to nbs/ (right on the site, 404 on GitHub and PyPI): point them at the site
cfg = dict(re.findall(r"^(\w+)\s*=\s*(.*)$", (root / "settings.ini").read_text(), re.M))
site = cfg["doc_host"].rstrip("/") + "/" + cfg["doc_baseurl"].strip("/") + "/"
PREFIX = re.compile(r"^\d+[a-z]?_")              # nbdev drops it: 10_methods.npo.ipynb -> methods.npo.html
page = lambda m: "](" + site + PREFIX.sub("", m.group(1)) + ".html" + (m.group(2) or "") + ")"
readme = re.sub(r"\]\(([\w.\-]+)\.ipynb(#[\w.\-]+)?\)", page, readme)
readme = "<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook -->\n\n" + readme
path = root / "README.md"
if "--check" in sys.argv:
    if path.read_bytes().decode("utf-8") != readme:
        sys.exit("README.md is out of date with nbs/index.ipynb: run python tools/make_readme.py")
else:
    path.write_bytes(readme.encode("utf-8"))
