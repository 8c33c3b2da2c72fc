"""The state file ``make dev`` writes (``.dev/state.json``): which Redis, API and sandbox the
dev stack runs on, and where its encryption key is. Every ``ghl-engine`` command run from the
same directory reads it, so ``ghl-engine keys create`` or ``ghl-engine subscriptions list``
talks to the Redis ``make dev`` started; settings given in the environment still win.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_FILE = Path(".dev/state.json")


def save(state: dict[str, Any], path: Path = STATE_FILE) -> None:
    """Write the dev stack's state (no secrets: the key file is named, not copied), readable by
    its owner only (0600, in a 0700 directory) like every file under .dev/."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left by an older run may be 0644
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(state, indent=2) + "\n")


def load(path: Path = STATE_FILE) -> dict[str, Any]:
    """The dev stack's state, or {} when there is none (or it cannot be read)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def apply(path: Path = STATE_FILE) -> dict[str, Any]:
    """Fill REDIS_URL, GHL_BASE_URL and SMSGLOBAL_BASE_URL (the sandbox, when the stack runs
    one) and ENGINE_SECRET_KEYS_FILE from the state file when the environment does not set
    them. Returns the state."""
    state = load(path)
    for name, value in (("REDIS_URL", state.get("redis_url")),
                        ("GHL_BASE_URL", state.get("sandbox_url")),
                        ("SMSGLOBAL_BASE_URL", state.get("sandbox_url"))):
        if value and not os.environ.get(name):
            os.environ[name] = value
    key_file = state.get("secret_keys_file")
    if key_file and not (os.environ.get("ENGINE_SECRET_KEYS")
                         or os.environ.get("ENGINE_SECRET_KEYS_FILE")):
        os.environ["ENGINE_SECRET_KEYS_FILE"] = key_file
    return state
