"""Write include/contract/siasn.json from BKN's swagger export and the supplements.

    .venv/bin/python include/contract/build_siasn.py          # rewrite siasn.json
    .venv/bin/python include/contract/build_siasn.py --check  # exit 1 if siasn.json is stale

To refresh the source: copy `swagger.json` of github.com/ropegkemenag/apimwsbkn (the paths in
`siapp_siasn.models.contract.ENDPOINTS` and the definitions they reference) into
`source/apisiasn-1.0.swagger.json`, note the commit under `_source`, and rebuild.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from siapp_siasn.models.contract import contract_from_swagger

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source" / "apisiasn-1.0.swagger.json"
SUPPLEMENTS = HERE / "supplements.json"
TARGET = HERE / "siasn.json"


def render() -> str:
    """The contract file's text, built from the source and the supplements."""
    swagger = json.loads(SOURCE.read_text(encoding="utf-8"))
    supplements = json.loads(SUPPLEMENTS.read_text(encoding="utf-8"))
    contract = contract_from_swagger(swagger, supplements)
    return json.dumps(contract, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
