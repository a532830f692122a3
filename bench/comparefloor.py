"""The least a compare must do, as a hand-written script would: read the recording and a
target file, parse every line and every answer, and test each pair with `==`. Its
exchanges per CPU second are the floor `shadow compare` is measured against.

    python -m bench.comparefloor RECORDING TARGET_FILE
"""

from __future__ import annotations

import json
import sys


def _answers(path: str) -> dict[int, object]:
    answers: dict[int, object] = {}
    with open(path, encoding="utf-8") as file:
        next(file)
        for line in file:
            exchange = json.loads(line)
            body = (exchange.get("response") or {}).get("body", "")
            answers[exchange["seq"]] = json.loads(body) if body[:1] in "{[" and body else body
    return answers


def main(argv: list[str]) -> int:
    recorded, replayed = _answers(argv[0]), _answers(argv[1])
    equal = sum(1 for seq, answer in replayed.items() if recorded.get(seq) == answer)
    print(json.dumps({"exchanges": len(replayed), "equal": equal}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
