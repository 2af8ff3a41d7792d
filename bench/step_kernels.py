"""What the compiled rollout computes per step: kernels, operations and arrays read, per loop and source line.

    python bench/step_kernels.py                       # 2,048 episodes (chunks of 1,024), the full agent
    python bench/step_kernels.py --lines 30 --kernels  # more source lines, and every kernel of the agent's loop

XLA's CPU compiler fuses each step into kernels (one per stored array: it has no multi-output fusion). A value
that several kernels read is either stored once or recomputed inside each of them; this script shows which.
It compiles the batch as `rollout.run` would, reads `compile().as_text()`, maps every fused operation to its
innermost source line through the module's stack frames, and prints, for each loop body (the agent's loop is
the one with the most kernels): the kernels, the operations in them (per element of a kernel's output, e.g.
one episode-step), the array inputs they read, and the source lines whose operations appear in the most kernels.
It also lists the kernels XLA's CPU backend is likely to emit as scalar code: a reduction over a short axis
(`argmax`, `any`, `jnp.select` in a step), an output whose innermost axis is short (an (episodes, 1) array: the
vectorised loop runs over one element) and an output laid out transposed (it is copied back afterwards).
"""

from __future__ import annotations

import argparse
import collections
import re
import sys

SKIP = ("parameter", "constant", "bitcast", "get-tuple-element", "tuple", "broadcast")


def compiled_text(n_episodes: int, n_steps: int) -> str:
    from hbbatch import jax_setup
    jax_setup.configure()
    import jax
    import jax.numpy as jnp

    from hbbatch.sim import RolloutSpec, make_params, noise, rollout

    spec = RolloutSpec(n_episodes=n_episodes, n_steps=n_steps)
    params = rollout.cast_params(make_params(dtype=spec.dtype), spec.dtype)
    fn, sharding, padded = rollout.compiled_batch(spec)
    episodes = jax.device_put(jnp.arange(padded, dtype=jnp.uint32), sharding)
    masks = jax.device_put(jnp.asarray(rollout._rule_masks(spec, params, None, padded)), sharding)
    return fn.lower(jnp.asarray(noise.seed_words(1)), episodes, masks, params).compile().as_text()


class Module:
    def __init__(self, text: str):
        self.computations: dict[str, list[str]] = {}
        files, functions, locations, self.frames = {}, {}, {}, {}
        section, current = None, None
        for line in text.splitlines():
            stripped = line.strip()
            if stripped in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
                section = stripped
                continue
            header = re.match(r"^(?:ENTRY )?%(\S+) \(", line)
            if header and line.rstrip().endswith("{"):
                section, current = None, header.group(1)
                self.computations[current] = []
            elif line.startswith("}"):
                current = None
            elif current is not None and stripped:
                self.computations[current].append(stripped)
            elif section == "FileNames" and stripped:
                number, name = stripped.split(" ", 1)
                files[int(number)] = name.strip('"').split("/")[-1]
            elif section == "FunctionNames" and stripped:
                number, name = stripped.split(" ", 1)
                functions[int(number)] = name.strip('"')
            elif section == "FileLocations" and stripped:
                m = re.match(r"(\d+) \{file_name_id=(\d+) function_name_id=(\d+) line=(\d+)", stripped)
                if m:
                    locations[int(m[1])] = f"{files[int(m[2])]}:{m[4]} {functions[int(m[3])]}"
            elif section == "StackFrames" and stripped:
                m = re.match(r"(\d+) \{file_location_id=(\d+)", stripped)
                if m:
                    self.frames[int(m[1])] = locations.get(int(m[2]), "?")

    def source(self, instruction: str) -> str:
        m = re.search(r"stack_frame_id=(\d+)", instruction)
        return self.frames.get(int(m[1]), "?") if m else "?"

    @staticmethod
    def opcode(instruction: str) -> str:
        m = re.search(r" = (?:\([^=]*\)|\S+) ([a-z\-]+)\(", instruction)
        return m.group(1) if m else "?"

    def operations(self, computation: str) -> list[tuple[str, str]]:
        out = []
        for instruction in self.computations[computation]:
            op = self.opcode(instruction)
            if op == "fusion":
                out += self.operations(re.search(r"calls=%(\S+?)[,\s]", instruction + " ").group(1))
            elif op not in SKIP:
                out.append((op, self.source(instruction)))
        return out

    def suspects(self, body: str) -> list[str]:
        """Kernels of a loop body likely to run as scalar code, each with the reason."""
        out = []
        for name, shape, _, ops in self.kernels(body):
            reasons = [f"a reduction ({where})" for op, where in ops if op == "reduce"]
            dims = re.match(r"\(?\w+\[([\d,]*)\](?:\{([\d,]*)\})?", shape)
            if dims and dims.group(1) and "," in dims.group(1):
                sizes = [int(d) for d in dims.group(1).split(",")]
                layout = [int(d) for d in dims.group(2).split(",")] if dims.group(2) else None
                minor = sizes[layout[0]] if layout else sizes[-1]
                if minor < 16:
                    reasons.append(f"innermost axis of {minor}")
                if layout and layout != sorted(layout, reverse=True):
                    reasons.append("transposed layout")
            if reasons:
                out.append(f"{name} {shape[:24]}: " + "; ".join(dict.fromkeys(reasons)))
        return out

    def kernels(self, body: str):
        """(name, output shape, inputs, operations) of each kernel of a loop body."""
        for instruction in self.computations[body]:
            op = self.opcode(instruction)
            if op in SKIP:
                continue
            name, shape = re.match(r"(?:ROOT )?%(\S+) = (\S+)", instruction).groups()
            ops = (self.operations(re.search(r"calls=%(\S+?)[,\s]", instruction + " ").group(1)) if op == "fusion"
                   else [(op, self.source(instruction))])
            inputs = len(re.findall(r"%[\w.\-]+", instruction.split("=", 1)[1].split("calls=")[0]))
            yield name, shape, inputs, ops


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=2016)
    parser.add_argument("--lines", type=int, default=15, help="source lines listed per loop")
    parser.add_argument("--kernels", action="store_true", help="list every kernel of the agent's loop")
    args = parser.parse_args(argv)
    module = Module(compiled_text(args.episodes, args.steps))
    bodies = sorted({m.group(1) for line in sum(module.computations.values(), [])
                     for m in [re.search(r"body=%([\w.\-]+)", line)] if m})
    summaries = []
    for body in bodies:
        kernels = list(module.kernels(body))
        if len(kernels) > 3:
            summaries.append((len(kernels), body, kernels))
    for count, body, kernels in sorted(summaries, reverse=True):
        n_ops = sum(len(ops) for *_, ops in kernels)
        n_inputs = sum(inputs for _, _, inputs, _ in kernels)
        print(f"\n{body}: {count} kernels, {n_ops} operations, {n_inputs} inputs")
        by_line = collections.defaultdict(lambda: [set(), 0])
        for name, _, _, ops in kernels:
            for _, where in ops:
                by_line[where][0].add(name)
                by_line[where][1] += 1
        for where, (names, n) in sorted(by_line.items(), key=lambda kv: -len(kv[1][0]))[:args.lines]:
            print(f"  {n:4d} operations in {len(names):3d} kernels  {where}")
        for line in module.suspects(body):
            print(f"  scalar-code suspect: {line}")
    if args.kernels and summaries:
        _, body, kernels = max(summaries)
        print(f"\nkernels of {body} (operations, inputs, output, the lines they come from):")
        for name, shape, inputs, ops in kernels:
            lines = collections.Counter(where.split(" ")[0] for _, where in ops).most_common(4)
            print(f"  {len(ops):4d} {inputs:3d}  {shape[:18]:18s} " + ", ".join(f"{w} x{c}" for w, c in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
