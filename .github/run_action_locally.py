"""Run the steps of a composite action (``action.yml``) in order on this machine, as a GitHub runner would.

    python .github/run_action_locally.py ACTION_DIR --workspace DIR [--base-ref BRANCH] [--input NAME=VALUE ...]

Each ``run`` step runs in ``bash --noprofile --norc -eo pipefail`` (GitHub's ``shell: bash``) in the
workspace, with its ``env``, and with ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_PATH`` and
``RUNNER_TEMP`` as files and directories of its own; ``uses`` steps (another action, e.g. the artifact
upload) exist only on GitHub and are listed as skipped. Expressions are limited to what the action uses:
``inputs.*``, ``github.action_path``, ``github.base_ref``, ``runner.temp`` and ``steps.<id>.outputs.*``;
any other stops the run, so a new expression cannot pass untested. Exit code: the first failing step's, else 0.
Needs PyYAML.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


class Runner:
    def __init__(self, action_dir: Path, workspace: Path, base_ref: str, inputs: dict[str, str], temp: Path):
        self.action = yaml.safe_load((action_dir / "action.yml").read_text(encoding="utf-8"))
        declared = self.action.get("inputs", {})
        unknown = set(inputs) - set(declared)
        if unknown:
            raise SystemExit(f"run_action_locally: unknown input(s) {', '.join(sorted(unknown))}")
        self.inputs = {name: str(spec.get("default", "")) for name, spec in declared.items()} | inputs
        self.context = {"github.action_path": str(action_dir.resolve()), "github.base_ref": base_ref}
        self.context["runner.temp"] = str(temp)
        self.workspace = workspace
        self.temp = temp
        self.outputs: dict[str, dict[str, str]] = {}
        self.summary = temp / "step-summary.md"
        self.path_file = temp / "github-path"
        self.summary.touch()
        self.path_file.touch()

    def expand(self, text: Any) -> str:
        return EXPRESSION.sub(lambda match: self.evaluate(match.group(1)), str(text))

    def evaluate(self, expression: str) -> str:
        if expression.startswith("inputs."):
            return self.inputs[expression.removeprefix("inputs.")]
        if expression in self.context:
            return self.context[expression]
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if step:
            return self.outputs.get(step.group(1), {}).get(step.group(2), "")
        raise SystemExit(f"run_action_locally: expression not supported here: ${{{{ {expression} }}}}")

    def environment(self, step: dict[str, Any], output: Path) -> dict[str, str]:
        environ = dict(os.environ)
        added = [line for line in self.path_file.read_text().splitlines() if line.strip()]
        environ["PATH"] = os.pathsep.join([*reversed(added), environ.get("PATH", "")])
        environ |= {
            "GITHUB_ACTION_PATH": self.context["github.action_path"],
            "GITHUB_BASE_REF": self.context["github.base_ref"],
            "GITHUB_OUTPUT": str(output),
            "GITHUB_PATH": str(self.path_file),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.temp),
        }
        environ |= {name: self.expand(value) for name, value in (step.get("env") or {}).items()}
        return environ

    def run_step(self, number: int, step: dict[str, Any]) -> int:
        name = step.get("name") or step.get("id") or f"step {number}"
        if "uses" in step:
            print(f"[{number}] {name}: skipped (uses: {step['uses']} runs on GitHub only)", flush=True)
            return 0
        if step.get("shell") != "bash":
            raise SystemExit(f"run_action_locally: step {name!r}: only shell: bash is supported")
        output = self.temp / f"output-{number}"
        output.write_text("")
        print(f"[{number}] {name}", flush=True)
        command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", self.expand(step["run"])]
        status = subprocess.run(command, cwd=self.workspace, env=self.environment(step, output), check=False)
        values = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        if step.get("id"):
            self.outputs[step["id"]] = values
        if status.returncode:
            print(f"[{number}] {name}: exit {status.returncode}", flush=True)
        return status.returncode

    def run(self) -> int:
        status = 0
        for number, step in enumerate(self.action["runs"]["steps"], 1):
            status = self.run_step(number, step)
            if status:
                break
        for name, spec in (self.action.get("outputs") or {}).items():
            print(f"output {name}={self.expand(spec['value'])}")
        print(f"step summary: {self.summary}")
        return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action_dir", type=Path, help="the directory holding action.yml")
    parser.add_argument("--workspace", type=Path, required=True, help="the repository the action runs in")
    parser.add_argument("--base-ref", default="", help="the pull request's base branch (github.base_ref)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=VALUE", help="an input (repeatable)")
    parser.add_argument("--runner-temp", type=Path, help="RUNNER_TEMP (default: a new temporary directory)")
    arguments = parser.parse_args(argv)
    inputs = dict(text.split("=", 1) for text in arguments.input)
    temp = arguments.runner_temp or Path(tempfile.mkdtemp(prefix="runner-temp-"))
    temp.mkdir(parents=True, exist_ok=True)
    runner = Runner(arguments.action_dir, arguments.workspace.resolve(), arguments.base_ref, inputs, temp.resolve())
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
